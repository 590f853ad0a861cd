export * from './meshplane.js'

/** Version of the SignedRecord envelope this build writes and accepts. */
export const RECORD_SCHEMA_VERSION = 1
export type { DecodeOptions } from 'protons-runtime'
