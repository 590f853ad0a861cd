import { decodeMessage, encodeMessage, enumeration, MaxLengthError, MaxSizeError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface SignedRecord {
  schema: number
  record: Uint8Array<ArrayBuffer>
  signature: Uint8Array<ArrayBuffer>
}

export namespace SignedRecord {
  let _codec: Codec<SignedRecord>

  export const codec = (): Codec<SignedRecord> => {
    if (_codec == null) {
      _codec = message<SignedRecord>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.schema != null && obj.schema !== 0)) {
          w.uint32(8)
          w.uint32(obj.schema)
        }

        if ((obj.record != null && obj.record.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.record)
        }

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.signature)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          schema: 0,
          record: uint8ArrayAlloc(0),
          signature: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.schema = reader.uint32()
              break
            }
            case 2: {
              obj.record = reader.bytes()
              break
            }
            case 3: {
              obj.signature = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.schema`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.record`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.signature`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface SignedRecordSchemaFieldEvent {
    field: '$.schema'
    value: number
  }

  export interface SignedRecordRecordFieldEvent {
    field: '$.record'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedRecordSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<SignedRecord>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SignedRecord.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedRecord>): SignedRecord {
    return decodeMessage(buf, SignedRecord.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedRecord>): Generator<SignedRecordSchemaFieldEvent | SignedRecordRecordFieldEvent | SignedRecordSignatureFieldEvent> {
    return streamMessage(buf, SignedRecord.codec(), opts)
  }
}

export interface RecordBundle {
  records: Uint8Array<ArrayBuffer>[]
}

export namespace RecordBundle {
  let _codec: Codec<RecordBundle>

  export const codec = (): Codec<RecordBundle> => {
    if (_codec == null) {
      _codec = message<RecordBundle>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.records != null && obj.records.length > 0) {
          for (const value of obj.records) {
            w.uint32(10)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          records: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.records != null && obj.records.length === opts.limits.records) {
                throw new MaxLengthError('Decode error - repeated field "records" had too many elements')
              }

              obj.records.push(reader.bytes())
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          records: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.records != null && obj.records === opts.limits.records) {
                throw new MaxLengthError('Streaming decode error - repeated field "records" had too many elements')
              }

              yield {
                field: `${prefix}.records[]`,
                index: obj.records,
                value: reader.bytes()
              }

              obj.records++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface RecordBundleRecordsFieldEvent {
    field: '$.records[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<RecordBundle>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, RecordBundle.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RecordBundle>): RecordBundle {
    return decodeMessage(buf, RecordBundle.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RecordBundle>): Generator<RecordBundleRecordsFieldEvent> {
    return streamMessage(buf, RecordBundle.codec(), opts)
  }
}

export enum RecordKind {
  KIND_UNSPECIFIED = 'KIND_UNSPECIFIED',
  KIND_HOST = 'KIND_HOST',
  KIND_NETWORK = 'KIND_NETWORK',
  KIND_ENDPOINT = 'KIND_ENDPOINT',
  KIND_RANGES = 'KIND_RANGES'
}

enum __RecordKindValues {
  KIND_UNSPECIFIED = 0,
  KIND_HOST = 1,
  KIND_NETWORK = 2,
  KIND_ENDPOINT = 3,
  KIND_RANGES = 4
}

export namespace RecordKind {
  export const codec = (): Codec<RecordKind> => {
    return enumeration<RecordKind>(__RecordKindValues)
  }
}

export interface Record {
  kind: RecordKind
  key: string
  writer: string
  lamport: bigint
  deleted: boolean
  deletedAtMs: bigint
  body: Uint8Array<ArrayBuffer>
  writtenAtMs?: bigint
}

export namespace Record {
  let _codec: Codec<Record>

  export const codec = (): Codec<Record> => {
    if (_codec == null) {
      _codec = message<Record>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.kind != null && __RecordKindValues[obj.kind] !== 0) {
          w.uint32(8)
          RecordKind.codec().encode(obj.kind, w)
        }

        if ((obj.key != null && obj.key !== '')) {
          w.uint32(18)
          w.string(obj.key)
        }

        if ((obj.writer != null && obj.writer !== '')) {
          w.uint32(26)
          w.string(obj.writer)
        }

        if ((obj.lamport != null && obj.lamport !== 0n)) {
          w.uint32(32)
          w.uint64(obj.lamport)
        }

        if ((obj.deleted != null && obj.deleted !== false)) {
          w.uint32(40)
          w.bool(obj.deleted)
        }

        if ((obj.deletedAtMs != null && obj.deletedAtMs !== 0n)) {
          w.uint32(48)
          w.uint64(obj.deletedAtMs)
        }

        if ((obj.body != null && obj.body.byteLength > 0)) {
          w.uint32(58)
          w.bytes(obj.body)
        }

        if (obj.writtenAtMs != null) {
          w.uint32(64)
          w.uint64(obj.writtenAtMs)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          kind: RecordKind.KIND_UNSPECIFIED,
          key: '',
          writer: '',
          lamport: 0n,
          deleted: false,
          deletedAtMs: 0n,
          body: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.kind = RecordKind.codec().decode(reader)
              break
            }
            case 2: {
              obj.key = reader.string()
              break
            }
            case 3: {
              obj.writer = reader.string()
              break
            }
            case 4: {
              obj.lamport = reader.uint64()
              break
            }
            case 5: {
              obj.deleted = reader.bool()
              break
            }
            case 6: {
              obj.deletedAtMs = reader.uint64()
              break
            }
            case 7: {
              obj.body = reader.bytes()
              break
            }
            case 8: {
              obj.writtenAtMs = reader.uint64()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.kind`,
                value: RecordKind.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.key`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.writer`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.lamport`,
                value: reader.uint64()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.deleted`,
                value: reader.bool()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.deletedAtMs`,
                value: reader.uint64()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.body`,
                value: reader.bytes()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.writtenAtMs`,
                value: reader.uint64()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface RecordKindFieldEvent {
    field: '$.kind'
    value: RecordKind
  }

  export interface RecordKeyFieldEvent {
    field: '$.key'
    value: string
  }

  export interface RecordWriterFieldEvent {
    field: '$.writer'
    value: string
  }

  export interface RecordLamportFieldEvent {
    field: '$.lamport'
    value: bigint
  }

  export interface RecordDeletedFieldEvent {
    field: '$.deleted'
    value: boolean
  }

  export interface RecordDeletedAtMsFieldEvent {
    field: '$.deletedAtMs'
    value: bigint
  }

  export interface RecordBodyFieldEvent {
    field: '$.body'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RecordWrittenAtMsFieldEvent {
    field: '$.writtenAtMs'
    value: bigint
  }

  export function encode (obj: Partial<Record>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Record.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Record>): Record {
    return decodeMessage(buf, Record.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Record>): Generator<RecordKindFieldEvent | RecordKeyFieldEvent | RecordWriterFieldEvent | RecordLamportFieldEvent | RecordDeletedFieldEvent | RecordDeletedAtMsFieldEvent | RecordBodyFieldEvent | RecordWrittenAtMsFieldEvent> {
    return streamMessage(buf, Record.codec(), opts)
  }
}

export interface HostBody {
  underlayIp: string
  vxlanPort: number
  agentVersion: string
  startedAtMs: bigint
  incarnation: bigint
  leaving: boolean
  multiaddrs: string[]
}

export namespace HostBody {
  let _codec: Codec<HostBody>

  export const codec = (): Codec<HostBody> => {
    if (_codec == null) {
      _codec = message<HostBody>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.underlayIp != null && obj.underlayIp !== '')) {
          w.uint32(10)
          w.string(obj.underlayIp)
        }

        if ((obj.vxlanPort != null && obj.vxlanPort !== 0)) {
          w.uint32(16)
          w.uint32(obj.vxlanPort)
        }

        if ((obj.agentVersion != null && obj.agentVersion !== '')) {
          w.uint32(26)
          w.string(obj.agentVersion)
        }

        if ((obj.startedAtMs != null && obj.startedAtMs !== 0n)) {
          w.uint32(32)
          w.uint64(obj.startedAtMs)
        }

        if ((obj.incarnation != null && obj.incarnation !== 0n)) {
          w.uint32(40)
          w.uint64(obj.incarnation)
        }

        if ((obj.leaving != null && obj.leaving !== false)) {
          w.uint32(48)
          w.bool(obj.leaving)
        }

        if (obj.multiaddrs != null && obj.multiaddrs.length > 0) {
          for (const value of obj.multiaddrs) {
            w.uint32(58)
            w.string(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          underlayIp: '',
          vxlanPort: 0,
          agentVersion: '',
          startedAtMs: 0n,
          incarnation: 0n,
          leaving: false,
          multiaddrs: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.underlayIp = reader.string()
              break
            }
            case 2: {
              obj.vxlanPort = reader.uint32()
              break
            }
            case 3: {
              obj.agentVersion = reader.string()
              break
            }
            case 4: {
              obj.startedAtMs = reader.uint64()
              break
            }
            case 5: {
              obj.incarnation = reader.uint64()
              break
            }
            case 6: {
              obj.leaving = reader.bool()
              break
            }
            case 7: {
              if (opts.limits?.multiaddrs != null && obj.multiaddrs.length === opts.limits.multiaddrs) {
                throw new MaxLengthError('Decode error - repeated field "multiaddrs" had too many elements')
              }

              obj.multiaddrs.push(reader.string())
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          multiaddrs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.underlayIp`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.vxlanPort`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.agentVersion`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.startedAtMs`,
                value: reader.uint64()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.incarnation`,
                value: reader.uint64()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.leaving`,
                value: reader.bool()
              }
              break
            }
            case 7: {
              if (opts.limits?.multiaddrs != null && obj.multiaddrs === opts.limits.multiaddrs) {
                throw new MaxLengthError('Streaming decode error - repeated field "multiaddrs" had too many elements')
              }

              yield {
                field: `${prefix}.multiaddrs[]`,
                index: obj.multiaddrs,
                value: reader.string()
              }

              obj.multiaddrs++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface HostBodyUnderlayIpFieldEvent {
    field: '$.underlayIp'
    value: string
  }

  export interface HostBodyVxlanPortFieldEvent {
    field: '$.vxlanPort'
    value: number
  }

  export interface HostBodyAgentVersionFieldEvent {
    field: '$.agentVersion'
    value: string
  }

  export interface HostBodyStartedAtMsFieldEvent {
    field: '$.startedAtMs'
    value: bigint
  }

  export interface HostBodyIncarnationFieldEvent {
    field: '$.incarnation'
    value: bigint
  }

  export interface HostBodyLeavingFieldEvent {
    field: '$.leaving'
    value: boolean
  }

  export interface HostBodyMultiaddrsFieldEvent {
    field: '$.multiaddrs[]'
    index: number
    value: string
  }

  export function encode (obj: Partial<HostBody>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, HostBody.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<HostBody>): HostBody {
    return decodeMessage(buf, HostBody.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<HostBody>): Generator<HostBodyUnderlayIpFieldEvent | HostBodyVxlanPortFieldEvent | HostBodyAgentVersionFieldEvent | HostBodyStartedAtMsFieldEvent | HostBodyIncarnationFieldEvent | HostBodyLeavingFieldEvent | HostBodyMultiaddrsFieldEvent> {
    return streamMessage(buf, HostBody.codec(), opts)
  }
}

export interface NetworkBody {
  name: string
  vni: number
  subnet: string
  gateway: string
  mtu: number
  options: Map<string, string>
  creator: string
  createdAtMs: bigint
  internal: boolean
}

export namespace NetworkBody {
  export interface NetworkBody$optionsEntry {
    key: string
    value: string
  }

  export namespace NetworkBody$optionsEntry {
    let _codec: Codec<NetworkBody$optionsEntry>

    export const codec = (): Codec<NetworkBody$optionsEntry> => {
      if (_codec == null) {
        _codec = message<NetworkBody$optionsEntry>((obj, w, opts = {}) => {
          if (opts.lengthDelimited !== false) {
            w.fork()
          }

          if ((obj.key != null && obj.key !== '')) {
            w.uint32(10)
            w.string(obj.key)
          }

          if ((obj.value != null && obj.value !== '')) {
            w.uint32(18)
            w.string(obj.value)
          }

          if (opts.lengthDelimited !== false) {
            w.ldelim()
          }
        }, (reader, length, opts = {}) => {
          const obj: any = {
            key: '',
            value: ''
          }

          const end = length == null ? reader.len : reader.pos + length

          while (reader.pos < end) {
            const tag = reader.uint32()

            switch (tag >>> 3) {
              case 1: {
                obj.key = reader.string()
                break
              }
              case 2: {
                obj.value = reader.string()
                break
              }
              default: {
                reader.skipType(tag & 7)
                break
              }
            }
          }

          return obj
        }, function * (reader, length, prefix, opts = {}) {
          const end = length == null ? reader.len : reader.pos + length

          while (reader.pos < end) {
            const tag = reader.uint32()

            switch (tag >>> 3) {
              case 1: {
                yield {
                  field: `${prefix}.key`,
                  value: reader.string()
                }
                break
              }
              case 2: {
                yield {
                  field: `${prefix}.value`,
                  value: reader.string()
                }
                break
              }
              default: {
                reader.skipType(tag & 7)
                break
              }
            }
          }
        })
      }

      return _codec
    }

    export interface NetworkBody$optionsEntryKeyFieldEvent {
      field: '$.key'
      value: string
    }

    export interface NetworkBody$optionsEntryValueFieldEvent {
      field: '$.value'
      value: string
    }

    export function encode (obj: Partial<NetworkBody$optionsEntry>): Uint8Array<ArrayBuffer> {
      return encodeMessage(obj, NetworkBody$optionsEntry.codec())
    }

    export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<NetworkBody$optionsEntry>): NetworkBody$optionsEntry {
      return decodeMessage(buf, NetworkBody$optionsEntry.codec(), opts)
    }

    export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<NetworkBody$optionsEntry>): Generator<NetworkBody$optionsEntryKeyFieldEvent | NetworkBody$optionsEntryValueFieldEvent> {
      return streamMessage(buf, NetworkBody$optionsEntry.codec(), opts)
    }
  }

  let _codec: Codec<NetworkBody>

  export const codec = (): Codec<NetworkBody> => {
    if (_codec == null) {
      _codec = message<NetworkBody>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(10)
          w.string(obj.name)
        }

        if ((obj.vni != null && obj.vni !== 0)) {
          w.uint32(16)
          w.uint32(obj.vni)
        }

        if ((obj.subnet != null && obj.subnet !== '')) {
          w.uint32(26)
          w.string(obj.subnet)
        }

        if ((obj.gateway != null && obj.gateway !== '')) {
          w.uint32(34)
          w.string(obj.gateway)
        }

        if ((obj.mtu != null && obj.mtu !== 0)) {
          w.uint32(40)
          w.uint32(obj.mtu)
        }

        if (obj.options != null && obj.options.size > 0) {
          for (const [key, value] of obj.options.entries()) {
            w.uint32(50)
            NetworkBody.NetworkBody$optionsEntry.codec().encode({ key, value }, w)
          }
        }

        if ((obj.creator != null && obj.creator !== '')) {
          w.uint32(58)
          w.string(obj.creator)
        }

        if ((obj.createdAtMs != null && obj.createdAtMs !== 0n)) {
          w.uint32(64)
          w.uint64(obj.createdAtMs)
        }

        if ((obj.internal != null && obj.internal !== false)) {
          w.uint32(72)
          w.bool(obj.internal)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          name: '',
          vni: 0,
          subnet: '',
          gateway: '',
          mtu: 0,
          options: new Map<string, string>(),
          creator: '',
          createdAtMs: 0n,
          internal: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.name = reader.string()
              break
            }
            case 2: {
              obj.vni = reader.uint32()
              break
            }
            case 3: {
              obj.subnet = reader.string()
              break
            }
            case 4: {
              obj.gateway = reader.string()
              break
            }
            case 5: {
              obj.mtu = reader.uint32()
              break
            }
            case 6: {
              if (opts.limits?.options != null && obj.options.size === opts.limits.options) {
                throw new MaxSizeError('Decode error - map field "options" had too many elements')
              }

              const entry = NetworkBody.NetworkBody$optionsEntry.codec().decode(reader, reader.uint32(), {
                limits: {
                  value: opts.limits?.options$value
                }
              })
              obj.options.set(entry.key, entry.value)
              break
            }
            case 7: {
              obj.creator = reader.string()
              break
            }
            case 8: {
              obj.createdAtMs = reader.uint64()
              break
            }
            case 9: {
              obj.internal = reader.bool()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          options: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.vni`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.subnet`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.gateway`,
                value: reader.string()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.mtu`,
                value: reader.uint32()
              }
              break
            }
            case 6: {
              if (opts.limits?.options != null && obj.options === opts.limits.options) {
                throw new MaxLengthError('Decode error - map field "options" had too many elements')
              }

              yield * NetworkBody.NetworkBody$optionsEntry.codec().stream(reader, reader.uint32(), `${prefix}.options{}`, {
                limits: {
                  value: opts.limits?.options$value
                }
              })

              obj.options++

              break
            }
            case 7: {
              yield {
                field: `${prefix}.creator`,
                value: reader.string()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.createdAtMs`,
                value: reader.uint64()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.internal`,
                value: reader.bool()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface NetworkBodyNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface NetworkBodyVniFieldEvent {
    field: '$.vni'
    value: number
  }

  export interface NetworkBodySubnetFieldEvent {
    field: '$.subnet'
    value: string
  }

  export interface NetworkBodyGatewayFieldEvent {
    field: '$.gateway'
    value: string
  }

  export interface NetworkBodyMtuFieldEvent {
    field: '$.mtu'
    value: number
  }

  export interface NetworkBodyOptionsFieldEvent {
    field: '$.options{}'
    key: string
    value: string
  }

  export interface NetworkBodyCreatorFieldEvent {
    field: '$.creator'
    value: string
  }

  export interface NetworkBodyCreatedAtMsFieldEvent {
    field: '$.createdAtMs'
    value: bigint
  }

  export interface NetworkBodyInternalFieldEvent {
    field: '$.internal'
    value: boolean
  }

  export function encode (obj: Partial<NetworkBody>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, NetworkBody.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<NetworkBody>): NetworkBody {
    return decodeMessage(buf, NetworkBody.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<NetworkBody>): Generator<NetworkBodyNameFieldEvent | NetworkBodyVniFieldEvent | NetworkBodySubnetFieldEvent | NetworkBodyGatewayFieldEvent | NetworkBodyMtuFieldEvent | NetworkBodyOptionsFieldEvent | NetworkBodyCreatorFieldEvent | NetworkBodyCreatedAtMsFieldEvent | NetworkBodyInternalFieldEvent> {
    return streamMessage(buf, NetworkBody.codec(), opts)
  }
}

export interface EndpointBody {
  network: string
  id: string
  mac: string
  ipv4: string
  ipv6: string
  name: string
  labels: Map<string, string>
  aliases: string[]
}

export namespace EndpointBody {
  export interface EndpointBody$labelsEntry {
    key: string
    value: string
  }

  export namespace EndpointBody$labelsEntry {
    let _codec: Codec<EndpointBody$labelsEntry>

    export const codec = (): Codec<EndpointBody$labelsEntry> => {
      if (_codec == null) {
        _codec = message<EndpointBody$labelsEntry>((obj, w, opts = {}) => {
          if (opts.lengthDelimited !== false) {
            w.fork()
          }

          if ((obj.key != null && obj.key !== '')) {
            w.uint32(10)
            w.string(obj.key)
          }

          if ((obj.value != null && obj.value !== '')) {
            w.uint32(18)
            w.string(obj.value)
          }

          if (opts.lengthDelimited !== false) {
            w.ldelim()
          }
        }, (reader, length, opts = {}) => {
          const obj: any = {
            key: '',
            value: ''
          }

          const end = length == null ? reader.len : reader.pos + length

          while (reader.pos < end) {
            const tag = reader.uint32()

            switch (tag >>> 3) {
              case 1: {
                obj.key = reader.string()
                break
              }
              case 2: {
                obj.value = reader.string()
                break
              }
              default: {
                reader.skipType(tag & 7)
                break
              }
            }
          }

          return obj
        }, function * (reader, length, prefix, opts = {}) {
          const end = length == null ? reader.len : reader.pos + length

          while (reader.pos < end) {
            const tag = reader.uint32()

            switch (tag >>> 3) {
              case 1: {
                yield {
                  field: `${prefix}.key`,
                  value: reader.string()
                }
                break
              }
              case 2: {
                yield {
                  field: `${prefix}.value`,
                  value: reader.string()
                }
                break
              }
              default: {
                reader.skipType(tag & 7)
                break
              }
            }
          }
        })
      }

      return _codec
    }

    export interface EndpointBody$labelsEntryKeyFieldEvent {
      field: '$.key'
      value: string
    }

    export interface EndpointBody$labelsEntryValueFieldEvent {
      field: '$.value'
      value: string
    }

    export function encode (obj: Partial<EndpointBody$labelsEntry>): Uint8Array<ArrayBuffer> {
      return encodeMessage(obj, EndpointBody$labelsEntry.codec())
    }

    export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<EndpointBody$labelsEntry>): EndpointBody$labelsEntry {
      return decodeMessage(buf, EndpointBody$labelsEntry.codec(), opts)
    }

    export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<EndpointBody$labelsEntry>): Generator<EndpointBody$labelsEntryKeyFieldEvent | EndpointBody$labelsEntryValueFieldEvent> {
      return streamMessage(buf, EndpointBody$labelsEntry.codec(), opts)
    }
  }

  let _codec: Codec<EndpointBody>

  export const codec = (): Codec<EndpointBody> => {
    if (_codec == null) {
      _codec = message<EndpointBody>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.network != null && obj.network !== '')) {
          w.uint32(10)
          w.string(obj.network)
        }

        if ((obj.id != null && obj.id !== '')) {
          w.uint32(18)
          w.string(obj.id)
        }

        if ((obj.mac != null && obj.mac !== '')) {
          w.uint32(26)
          w.string(obj.mac)
        }

        if ((obj.ipv4 != null && obj.ipv4 !== '')) {
          w.uint32(34)
          w.string(obj.ipv4)
        }

        if ((obj.ipv6 != null && obj.ipv6 !== '')) {
          w.uint32(42)
          w.string(obj.ipv6)
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(50)
          w.string(obj.name)
        }

        if (obj.labels != null && obj.labels.size > 0) {
          for (const [key, value] of obj.labels.entries()) {
            w.uint32(58)
            EndpointBody.EndpointBody$labelsEntry.codec().encode({ key, value }, w)
          }
        }

        if (obj.aliases != null && obj.aliases.length > 0) {
          for (const value of obj.aliases) {
            w.uint32(66)
            w.string(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          network: '',
          id: '',
          mac: '',
          ipv4: '',
          ipv6: '',
          name: '',
          labels: new Map<string, string>(),
          aliases: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.network = reader.string()
              break
            }
            case 2: {
              obj.id = reader.string()
              break
            }
            case 3: {
              obj.mac = reader.string()
              break
            }
            case 4: {
              obj.ipv4 = reader.string()
              break
            }
            case 5: {
              obj.ipv6 = reader.string()
              break
            }
            case 6: {
              obj.name = reader.string()
              break
            }
            case 7: {
              if (opts.limits?.labels != null && obj.labels.size === opts.limits.labels) {
                throw new MaxSizeError('Decode error - map field "labels" had too many elements')
              }

              const entry = EndpointBody.EndpointBody$labelsEntry.codec().decode(reader, reader.uint32(), {
                limits: {
                  value: opts.limits?.labels$value
                }
              })
              obj.labels.set(entry.key, entry.value)
              break
            }
            case 8: {
              if (opts.limits?.aliases != null && obj.aliases.length === opts.limits.aliases) {
                throw new MaxLengthError('Decode error - repeated field "aliases" had too many elements')
              }

              obj.aliases.push(reader.string())
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          labels: 0,
          aliases: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.network`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.id`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.mac`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.ipv4`,
                value: reader.string()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.ipv6`,
                value: reader.string()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 7: {
              if (opts.limits?.labels != null && obj.labels === opts.limits.labels) {
                throw new MaxLengthError('Decode error - map field "labels" had too many elements')
              }

              yield * EndpointBody.EndpointBody$labelsEntry.codec().stream(reader, reader.uint32(), `${prefix}.labels{}`, {
                limits: {
                  value: opts.limits?.labels$value
                }
              })

              obj.labels++

              break
            }
            case 8: {
              if (opts.limits?.aliases != null && obj.aliases === opts.limits.aliases) {
                throw new MaxLengthError('Streaming decode error - repeated field "aliases" had too many elements')
              }

              yield {
                field: `${prefix}.aliases[]`,
                index: obj.aliases,
                value: reader.string()
              }

              obj.aliases++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface EndpointBodyNetworkFieldEvent {
    field: '$.network'
    value: string
  }

  export interface EndpointBodyIdFieldEvent {
    field: '$.id'
    value: string
  }

  export interface EndpointBodyMacFieldEvent {
    field: '$.mac'
    value: string
  }

  export interface EndpointBodyIpv4FieldEvent {
    field: '$.ipv4'
    value: string
  }

  export interface EndpointBodyIpv6FieldEvent {
    field: '$.ipv6'
    value: string
  }

  export interface EndpointBodyNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface EndpointBodyLabelsFieldEvent {
    field: '$.labels{}'
    key: string
    value: string
  }

  export interface EndpointBodyAliasesFieldEvent {
    field: '$.aliases[]'
    index: number
    value: string
  }

  export function encode (obj: Partial<EndpointBody>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, EndpointBody.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<EndpointBody>): EndpointBody {
    return decodeMessage(buf, EndpointBody.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<EndpointBody>): Generator<EndpointBodyNetworkFieldEvent | EndpointBodyIdFieldEvent | EndpointBodyMacFieldEvent | EndpointBodyIpv4FieldEvent | EndpointBodyIpv6FieldEvent | EndpointBodyNameFieldEvent | EndpointBodyLabelsFieldEvent | EndpointBodyAliasesFieldEvent> {
    return streamMessage(buf, EndpointBody.codec(), opts)
  }
}

export interface AddressRange {
  start: string
  end: string
  gen: bigint
}

export namespace AddressRange {
  let _codec: Codec<AddressRange>

  export const codec = (): Codec<AddressRange> => {
    if (_codec == null) {
      _codec = message<AddressRange>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.start != null && obj.start !== '')) {
          w.uint32(10)
          w.string(obj.start)
        }

        if ((obj.end != null && obj.end !== '')) {
          w.uint32(18)
          w.string(obj.end)
        }

        if ((obj.gen != null && obj.gen !== 0n)) {
          w.uint32(24)
          w.uint64(obj.gen)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          start: '',
          end: '',
          gen: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.start = reader.string()
              break
            }
            case 2: {
              obj.end = reader.string()
              break
            }
            case 3: {
              obj.gen = reader.uint64()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.start`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.end`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.gen`,
                value: reader.uint64()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface AddressRangeStartFieldEvent {
    field: '$.start'
    value: string
  }

  export interface AddressRangeEndFieldEvent {
    field: '$.end'
    value: string
  }

  export interface AddressRangeGenFieldEvent {
    field: '$.gen'
    value: bigint
  }

  export function encode (obj: Partial<AddressRange>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, AddressRange.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AddressRange>): AddressRange {
    return decodeMessage(buf, AddressRange.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AddressRange>): Generator<AddressRangeStartFieldEvent | AddressRangeEndFieldEvent | AddressRangeGenFieldEvent> {
    return streamMessage(buf, AddressRange.codec(), opts)
  }
}

export interface Grant {
  id: string
  to: string
  ranges: AddressRange[]
}

export namespace Grant {
  let _codec: Codec<Grant>

  export const codec = (): Codec<Grant> => {
    if (_codec == null) {
      _codec = message<Grant>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id !== '')) {
          w.uint32(10)
          w.string(obj.id)
        }

        if ((obj.to != null && obj.to !== '')) {
          w.uint32(18)
          w.string(obj.to)
        }

        if (obj.ranges != null && obj.ranges.length > 0) {
          for (const value of obj.ranges) {
            w.uint32(26)
            AddressRange.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: '',
          to: '',
          ranges: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.string()
              break
            }
            case 2: {
              obj.to = reader.string()
              break
            }
            case 3: {
              if (opts.limits?.ranges != null && obj.ranges.length === opts.limits.ranges) {
                throw new MaxLengthError('Decode error - repeated field "ranges" had too many elements')
              }

              obj.ranges.push(AddressRange.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.ranges$
              }))
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          ranges: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.id`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.to`,
                value: reader.string()
              }
              break
            }
            case 3: {
              if (opts.limits?.ranges != null && obj.ranges === opts.limits.ranges) {
                throw new MaxLengthError('Streaming decode error - repeated field "ranges" had too many elements')
              }

              for (const evt of AddressRange.codec().stream(reader, reader.uint32(), `${prefix}.ranges[]`, {
                limits: opts.limits?.ranges$
              })) {
                yield {
                  ...evt,
                  index: obj.ranges
                }
              }

              obj.ranges++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface GrantIdFieldEvent {
    field: '$.id'
    value: string
  }

  export interface GrantToFieldEvent {
    field: '$.to'
    value: string
  }

  export interface GrantRangesStartFieldEvent {
    field: '$.ranges[].start'
    value: string
    index: number
  }

  export interface GrantRangesEndFieldEvent {
    field: '$.ranges[].end'
    value: string
    index: number
  }

  export interface GrantRangesGenFieldEvent {
    field: '$.ranges[].gen'
    value: bigint
    index: number
  }

  export function encode (obj: Partial<Grant>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Grant.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Grant>): Grant {
    return decodeMessage(buf, Grant.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Grant>): Generator<GrantIdFieldEvent | GrantToFieldEvent | GrantRangesStartFieldEvent | GrantRangesEndFieldEvent | GrantRangesGenFieldEvent> {
    return streamMessage(buf, Grant.codec(), opts)
  }
}

export interface Claim {
  from: string
  id: string
}

export namespace Claim {
  let _codec: Codec<Claim>

  export const codec = (): Codec<Claim> => {
    if (_codec == null) {
      _codec = message<Claim>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.from != null && obj.from !== '')) {
          w.uint32(10)
          w.string(obj.from)
        }

        if ((obj.id != null && obj.id !== '')) {
          w.uint32(18)
          w.string(obj.id)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          from: '',
          id: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.from = reader.string()
              break
            }
            case 2: {
              obj.id = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.from`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.id`,
                value: reader.string()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ClaimFromFieldEvent {
    field: '$.from'
    value: string
  }

  export interface ClaimIdFieldEvent {
    field: '$.id'
    value: string
  }

  export function encode (obj: Partial<Claim>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Claim.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Claim>): Claim {
    return decodeMessage(buf, Claim.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Claim>): Generator<ClaimFromFieldEvent | ClaimIdFieldEvent> {
    return streamMessage(buf, Claim.codec(), opts)
  }
}

export interface Reclaim {
  peer: string
  ranges: AddressRange[]
  atMs: bigint
}

export namespace Reclaim {
  let _codec: Codec<Reclaim>

  export const codec = (): Codec<Reclaim> => {
    if (_codec == null) {
      _codec = message<Reclaim>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.peer != null && obj.peer !== '')) {
          w.uint32(10)
          w.string(obj.peer)
        }

        if (obj.ranges != null && obj.ranges.length > 0) {
          for (const value of obj.ranges) {
            w.uint32(18)
            AddressRange.codec().encode(value, w)
          }
        }

        if ((obj.atMs != null && obj.atMs !== 0n)) {
          w.uint32(24)
          w.uint64(obj.atMs)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          peer: '',
          ranges: [],
          atMs: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.peer = reader.string()
              break
            }
            case 2: {
              if (opts.limits?.ranges != null && obj.ranges.length === opts.limits.ranges) {
                throw new MaxLengthError('Decode error - repeated field "ranges" had too many elements')
              }

              obj.ranges.push(AddressRange.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.ranges$
              }))
              break
            }
            case 3: {
              obj.atMs = reader.uint64()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          ranges: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.peer`,
                value: reader.string()
              }
              break
            }
            case 2: {
              if (opts.limits?.ranges != null && obj.ranges === opts.limits.ranges) {
                throw new MaxLengthError('Streaming decode error - repeated field "ranges" had too many elements')
              }

              for (const evt of AddressRange.codec().stream(reader, reader.uint32(), `${prefix}.ranges[]`, {
                limits: opts.limits?.ranges$
              })) {
                yield {
                  ...evt,
                  index: obj.ranges
                }
              }

              obj.ranges++

              break
            }
            case 3: {
              yield {
                field: `${prefix}.atMs`,
                value: reader.uint64()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ReclaimPeerFieldEvent {
    field: '$.peer'
    value: string
  }

  export interface ReclaimRangesStartFieldEvent {
    field: '$.ranges[].start'
    value: string
    index: number
  }

  export interface ReclaimRangesEndFieldEvent {
    field: '$.ranges[].end'
    value: string
    index: number
  }

  export interface ReclaimRangesGenFieldEvent {
    field: '$.ranges[].gen'
    value: bigint
    index: number
  }

  export interface ReclaimAtMsFieldEvent {
    field: '$.atMs'
    value: bigint
  }

  export function encode (obj: Partial<Reclaim>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Reclaim.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Reclaim>): Reclaim {
    return decodeMessage(buf, Reclaim.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Reclaim>): Generator<ReclaimPeerFieldEvent | ReclaimRangesStartFieldEvent | ReclaimRangesEndFieldEvent | ReclaimRangesGenFieldEvent | ReclaimAtMsFieldEvent> {
    return streamMessage(buf, Reclaim.codec(), opts)
  }
}

export interface RangesBody {
  network: string
  ranges: AddressRange[]
  lineage: string
  grants: Grant[]
  claims: Claim[]
  reclaims: Reclaim[]
  freeHint: number
}

export namespace RangesBody {
  let _codec: Codec<RangesBody>

  export const codec = (): Codec<RangesBody> => {
    if (_codec == null) {
      _codec = message<RangesBody>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.network != null && obj.network !== '')) {
          w.uint32(10)
          w.string(obj.network)
        }

        if (obj.ranges != null && obj.ranges.length > 0) {
          for (const value of obj.ranges) {
            w.uint32(18)
            AddressRange.codec().encode(value, w)
          }
        }

        if ((obj.lineage != null && obj.lineage !== '')) {
          w.uint32(26)
          w.string(obj.lineage)
        }

        if (obj.grants != null && obj.grants.length > 0) {
          for (const value of obj.grants) {
            w.uint32(34)
            Grant.codec().encode(value, w)
          }
        }

        if (obj.claims != null && obj.claims.length > 0) {
          for (const value of obj.claims) {
            w.uint32(42)
            Claim.codec().encode(value, w)
          }
        }

        if (obj.reclaims != null && obj.reclaims.length > 0) {
          for (const value of obj.reclaims) {
            w.uint32(50)
            Reclaim.codec().encode(value, w)
          }
        }

        if ((obj.freeHint != null && obj.freeHint !== 0)) {
          w.uint32(56)
          w.uint32(obj.freeHint)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          network: '',
          ranges: [],
          lineage: '',
          grants: [],
          claims: [],
          reclaims: [],
          freeHint: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.network = reader.string()
              break
            }
            case 2: {
              if (opts.limits?.ranges != null && obj.ranges.length === opts.limits.ranges) {
                throw new MaxLengthError('Decode error - repeated field "ranges" had too many elements')
              }

              obj.ranges.push(AddressRange.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.ranges$
              }))
              break
            }
            case 3: {
              obj.lineage = reader.string()
              break
            }
            case 4: {
              if (opts.limits?.grants != null && obj.grants.length === opts.limits.grants) {
                throw new MaxLengthError('Decode error - repeated field "grants" had too many elements')
              }

              obj.grants.push(Grant.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.grants$
              }))
              break
            }
            case 5: {
              if (opts.limits?.claims != null && obj.claims.length === opts.limits.claims) {
                throw new MaxLengthError('Decode error - repeated field "claims" had too many elements')
              }

              obj.claims.push(Claim.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.claims$
              }))
              break
            }
            case 6: {
              if (opts.limits?.reclaims != null && obj.reclaims.length === opts.limits.reclaims) {
                throw new MaxLengthError('Decode error - repeated field "reclaims" had too many elements')
              }

              obj.reclaims.push(Reclaim.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.reclaims$
              }))
              break
            }
            case 7: {
              obj.freeHint = reader.uint32()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          ranges: 0,
          grants: 0,
          claims: 0,
          reclaims: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.network`,
                value: reader.string()
              }
              break
            }
            case 2: {
              if (opts.limits?.ranges != null && obj.ranges === opts.limits.ranges) {
                throw new MaxLengthError('Streaming decode error - repeated field "ranges" had too many elements')
              }

              for (const evt of AddressRange.codec().stream(reader, reader.uint32(), `${prefix}.ranges[]`, {
                limits: opts.limits?.ranges$
              })) {
                yield {
                  ...evt,
                  index: obj.ranges
                }
              }

              obj.ranges++

              break
            }
            case 3: {
              yield {
                field: `${prefix}.lineage`,
                value: reader.string()
              }
              break
            }
            case 4: {
              if (opts.limits?.grants != null && obj.grants === opts.limits.grants) {
                throw new MaxLengthError('Streaming decode error - repeated field "grants" had too many elements')
              }

              for (const evt of Grant.codec().stream(reader, reader.uint32(), `${prefix}.grants[]`, {
                limits: opts.limits?.grants$
              })) {
                yield {
                  ...evt,
                  index: obj.grants
                }
              }

              obj.grants++

              break
            }
            case 5: {
              if (opts.limits?.claims != null && obj.claims === opts.limits.claims) {
                throw new MaxLengthError('Streaming decode error - repeated field "claims" had too many elements')
              }

              for (const evt of Claim.codec().stream(reader, reader.uint32(), `${prefix}.claims[]`, {
                limits: opts.limits?.claims$
              })) {
                yield {
                  ...evt,
                  index: obj.claims
                }
              }

              obj.claims++

              break
            }
            case 6: {
              if (opts.limits?.reclaims != null && obj.reclaims === opts.limits.reclaims) {
                throw new MaxLengthError('Streaming decode error - repeated field "reclaims" had too many elements')
              }

              for (const evt of Reclaim.codec().stream(reader, reader.uint32(), `${prefix}.reclaims[]`, {
                limits: opts.limits?.reclaims$
              })) {
                yield {
                  ...evt,
                  index: obj.reclaims
                }
              }

              obj.reclaims++

              break
            }
            case 7: {
              yield {
                field: `${prefix}.freeHint`,
                value: reader.uint32()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface RangesBodyNetworkFieldEvent {
    field: '$.network'
    value: string
  }

  export interface RangesBodyRangesStartFieldEvent {
    field: '$.ranges[].start'
    value: string
    index: number
  }

  export interface RangesBodyRangesEndFieldEvent {
    field: '$.ranges[].end'
    value: string
    index: number
  }

  export interface RangesBodyRangesGenFieldEvent {
    field: '$.ranges[].gen'
    value: bigint
    index: number
  }

  export interface RangesBodyLineageFieldEvent {
    field: '$.lineage'
    value: string
  }

  export interface RangesBodyGrantsIdFieldEvent {
    field: '$.grants[].id'
    value: string
    index: number
  }

  export interface RangesBodyGrantsToFieldEvent {
    field: '$.grants[].to'
    value: string
    index: number
  }

  export interface RangesBodyGrantsRangesStartFieldEvent {
    field: '$.grants[].ranges[].start'
    value: string
    index: number
  }

  export interface RangesBodyGrantsRangesEndFieldEvent {
    field: '$.grants[].ranges[].end'
    value: string
    index: number
  }

  export interface RangesBodyGrantsRangesGenFieldEvent {
    field: '$.grants[].ranges[].gen'
    value: bigint
    index: number
  }

  export interface RangesBodyClaimsFromFieldEvent {
    field: '$.claims[].from'
    value: string
    index: number
  }

  export interface RangesBodyClaimsIdFieldEvent {
    field: '$.claims[].id'
    value: string
    index: number
  }

  export interface RangesBodyReclaimsPeerFieldEvent {
    field: '$.reclaims[].peer'
    value: string
    index: number
  }

  export interface RangesBodyReclaimsRangesStartFieldEvent {
    field: '$.reclaims[].ranges[].start'
    value: string
    index: number
  }

  export interface RangesBodyReclaimsRangesEndFieldEvent {
    field: '$.reclaims[].ranges[].end'
    value: string
    index: number
  }

  export interface RangesBodyReclaimsRangesGenFieldEvent {
    field: '$.reclaims[].ranges[].gen'
    value: bigint
    index: number
  }

  export interface RangesBodyReclaimsAtMsFieldEvent {
    field: '$.reclaims[].atMs'
    value: bigint
    index: number
  }

  export interface RangesBodyFreeHintFieldEvent {
    field: '$.freeHint'
    value: number
  }

  export function encode (obj: Partial<RangesBody>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, RangesBody.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RangesBody>): RangesBody {
    return decodeMessage(buf, RangesBody.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RangesBody>): Generator<RangesBodyNetworkFieldEvent | RangesBodyRangesStartFieldEvent | RangesBodyRangesEndFieldEvent | RangesBodyRangesGenFieldEvent | RangesBodyLineageFieldEvent | RangesBodyGrantsIdFieldEvent | RangesBodyGrantsToFieldEvent | RangesBodyGrantsRangesStartFieldEvent | RangesBodyGrantsRangesEndFieldEvent | RangesBodyGrantsRangesGenFieldEvent | RangesBodyClaimsFromFieldEvent | RangesBodyClaimsIdFieldEvent | RangesBodyReclaimsPeerFieldEvent | RangesBodyReclaimsRangesStartFieldEvent | RangesBodyReclaimsRangesEndFieldEvent | RangesBodyReclaimsRangesGenFieldEvent | RangesBodyReclaimsAtMsFieldEvent | RangesBodyFreeHintFieldEvent> {
    return streamMessage(buf, RangesBody.codec(), opts)
  }
}

export interface IpamRequest {
  network: string
  size: number
  address: string
}

export namespace IpamRequest {
  let _codec: Codec<IpamRequest>

  export const codec = (): Codec<IpamRequest> => {
    if (_codec == null) {
      _codec = message<IpamRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.network != null && obj.network !== '')) {
          w.uint32(10)
          w.string(obj.network)
        }

        if ((obj.size != null && obj.size !== 0)) {
          w.uint32(16)
          w.uint32(obj.size)
        }

        if ((obj.address != null && obj.address !== '')) {
          w.uint32(26)
          w.string(obj.address)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          network: '',
          size: 0,
          address: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.network = reader.string()
              break
            }
            case 2: {
              obj.size = reader.uint32()
              break
            }
            case 3: {
              obj.address = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.network`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.size`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.address`,
                value: reader.string()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface IpamRequestNetworkFieldEvent {
    field: '$.network'
    value: string
  }

  export interface IpamRequestSizeFieldEvent {
    field: '$.size'
    value: number
  }

  export interface IpamRequestAddressFieldEvent {
    field: '$.address'
    value: string
  }

  export function encode (obj: Partial<IpamRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, IpamRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<IpamRequest>): IpamRequest {
    return decodeMessage(buf, IpamRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<IpamRequest>): Generator<IpamRequestNetworkFieldEvent | IpamRequestSizeFieldEvent | IpamRequestAddressFieldEvent> {
    return streamMessage(buf, IpamRequest.codec(), opts)
  }
}

export interface IpamResponse {
  ok: boolean
  error: string
  grant?: SignedRecord
  code: string
}

export namespace IpamResponse {
  let _codec: Codec<IpamResponse>

  export const codec = (): Codec<IpamResponse> => {
    if (_codec == null) {
      _codec = message<IpamResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.ok != null && obj.ok !== false)) {
          w.uint32(8)
          w.bool(obj.ok)
        }

        if ((obj.error != null && obj.error !== '')) {
          w.uint32(18)
          w.string(obj.error)
        }

        if (obj.grant != null) {
          w.uint32(26)
          SignedRecord.codec().encode(obj.grant, w)
        }

        if ((obj.code != null && obj.code !== '')) {
          w.uint32(34)
          w.string(obj.code)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          ok: false,
          error: '',
          code: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.ok = reader.bool()
              break
            }
            case 2: {
              obj.error = reader.string()
              break
            }
            case 3: {
              obj.grant = SignedRecord.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.grant
              })
              break
            }
            case 4: {
              obj.code = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.ok`,
                value: reader.bool()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.error`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield * SignedRecord.codec().stream(reader, reader.uint32(), `${prefix}.grant`, {
                limits: opts.limits?.grant
              })

              break
            }
            case 4: {
              yield {
                field: `${prefix}.code`,
                value: reader.string()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface IpamResponseOkFieldEvent {
    field: '$.ok'
    value: boolean
  }

  export interface IpamResponseErrorFieldEvent {
    field: '$.error'
    value: string
  }

  export interface IpamResponseGrantSchemaFieldEvent {
    field: '$.grant.schema'
    value: number
  }

  export interface IpamResponseGrantRecordFieldEvent {
    field: '$.grant.record'
    value: Uint8Array<ArrayBuffer>
  }

  export interface IpamResponseGrantSignatureFieldEvent {
    field: '$.grant.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export interface IpamResponseCodeFieldEvent {
    field: '$.code'
    value: string
  }

  export function encode (obj: Partial<IpamResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, IpamResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<IpamResponse>): IpamResponse {
    return decodeMessage(buf, IpamResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<IpamResponse>): Generator<IpamResponseOkFieldEvent | IpamResponseErrorFieldEvent | IpamResponseGrantSchemaFieldEvent | IpamResponseGrantRecordFieldEvent | IpamResponseGrantSignatureFieldEvent | IpamResponseCodeFieldEvent> {
    return streamMessage(buf, IpamResponse.codec(), opts)
  }
}

export interface Probe {
  incarnation: bigint
  seq: bigint
  suspect: boolean
  relayTo: string
  wantView: boolean
  id: number
}

export namespace Probe {
  let _codec: Codec<Probe>

  export const codec = (): Codec<Probe> => {
    if (_codec == null) {
      _codec = message<Probe>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.incarnation != null && obj.incarnation !== 0n)) {
          w.uint32(8)
          w.uint64(obj.incarnation)
        }

        if ((obj.seq != null && obj.seq !== 0n)) {
          w.uint32(16)
          w.uint64(obj.seq)
        }

        if ((obj.suspect != null && obj.suspect !== false)) {
          w.uint32(24)
          w.bool(obj.suspect)
        }

        if ((obj.relayTo != null && obj.relayTo !== '')) {
          w.uint32(34)
          w.string(obj.relayTo)
        }

        if ((obj.wantView != null && obj.wantView !== false)) {
          w.uint32(40)
          w.bool(obj.wantView)
        }

        if ((obj.id != null && obj.id !== 0)) {
          w.uint32(48)
          w.uint32(obj.id)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          incarnation: 0n,
          seq: 0n,
          suspect: false,
          relayTo: '',
          wantView: false,
          id: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.incarnation = reader.uint64()
              break
            }
            case 2: {
              obj.seq = reader.uint64()
              break
            }
            case 3: {
              obj.suspect = reader.bool()
              break
            }
            case 4: {
              obj.relayTo = reader.string()
              break
            }
            case 5: {
              obj.wantView = reader.bool()
              break
            }
            case 6: {
              obj.id = reader.uint32()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.incarnation`,
                value: reader.uint64()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.seq`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.suspect`,
                value: reader.bool()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.relayTo`,
                value: reader.string()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.wantView`,
                value: reader.bool()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.id`,
                value: reader.uint32()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ProbeIncarnationFieldEvent {
    field: '$.incarnation'
    value: bigint
  }

  export interface ProbeSeqFieldEvent {
    field: '$.seq'
    value: bigint
  }

  export interface ProbeSuspectFieldEvent {
    field: '$.suspect'
    value: boolean
  }

  export interface ProbeRelayToFieldEvent {
    field: '$.relayTo'
    value: string
  }

  export interface ProbeWantViewFieldEvent {
    field: '$.wantView'
    value: boolean
  }

  export interface ProbeIdFieldEvent {
    field: '$.id'
    value: number
  }

  export function encode (obj: Partial<Probe>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Probe.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Probe>): Probe {
    return decodeMessage(buf, Probe.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Probe>): Generator<ProbeIncarnationFieldEvent | ProbeSeqFieldEvent | ProbeSuspectFieldEvent | ProbeRelayToFieldEvent | ProbeWantViewFieldEvent | ProbeIdFieldEvent> {
    return streamMessage(buf, Probe.codec(), opts)
  }
}

export interface ProbeAck {
  ok: boolean
  incarnation: bigint
  seq: bigint
  unreachable: ViewEntry[]
  id: number
}

export namespace ProbeAck {
  let _codec: Codec<ProbeAck>

  export const codec = (): Codec<ProbeAck> => {
    if (_codec == null) {
      _codec = message<ProbeAck>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.ok != null && obj.ok !== false)) {
          w.uint32(8)
          w.bool(obj.ok)
        }

        if ((obj.incarnation != null && obj.incarnation !== 0n)) {
          w.uint32(16)
          w.uint64(obj.incarnation)
        }

        if ((obj.seq != null && obj.seq !== 0n)) {
          w.uint32(24)
          w.uint64(obj.seq)
        }

        if (obj.unreachable != null && obj.unreachable.length > 0) {
          for (const value of obj.unreachable) {
            w.uint32(34)
            ViewEntry.codec().encode(value, w)
          }
        }

        if ((obj.id != null && obj.id !== 0)) {
          w.uint32(40)
          w.uint32(obj.id)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          ok: false,
          incarnation: 0n,
          seq: 0n,
          unreachable: [],
          id: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.ok = reader.bool()
              break
            }
            case 2: {
              obj.incarnation = reader.uint64()
              break
            }
            case 3: {
              obj.seq = reader.uint64()
              break
            }
            case 4: {
              if (opts.limits?.unreachable != null && obj.unreachable.length === opts.limits.unreachable) {
                throw new MaxLengthError('Decode error - repeated field "unreachable" had too many elements')
              }

              obj.unreachable.push(ViewEntry.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.unreachable$
              }))
              break
            }
            case 5: {
              obj.id = reader.uint32()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          unreachable: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.ok`,
                value: reader.bool()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.incarnation`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.seq`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              if (opts.limits?.unreachable != null && obj.unreachable === opts.limits.unreachable) {
                throw new MaxLengthError('Streaming decode error - repeated field "unreachable" had too many elements')
              }

              for (const evt of ViewEntry.codec().stream(reader, reader.uint32(), `${prefix}.unreachable[]`, {
                limits: opts.limits?.unreachable$
              })) {
                yield {
                  ...evt,
                  index: obj.unreachable
                }
              }

              obj.unreachable++

              break
            }
            case 5: {
              yield {
                field: `${prefix}.id`,
                value: reader.uint32()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ProbeAckOkFieldEvent {
    field: '$.ok'
    value: boolean
  }

  export interface ProbeAckIncarnationFieldEvent {
    field: '$.incarnation'
    value: bigint
  }

  export interface ProbeAckSeqFieldEvent {
    field: '$.seq'
    value: bigint
  }

  export interface ProbeAckUnreachablePeerFieldEvent {
    field: '$.unreachable[].peer'
    value: string
    index: number
  }

  export interface ProbeAckUnreachableIncarnationFieldEvent {
    field: '$.unreachable[].incarnation'
    value: bigint
    index: number
  }

  export interface ProbeAckUnreachableSeqFieldEvent {
    field: '$.unreachable[].seq'
    value: bigint
    index: number
  }

  export interface ProbeAckIdFieldEvent {
    field: '$.id'
    value: number
  }

  export function encode (obj: Partial<ProbeAck>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ProbeAck.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ProbeAck>): ProbeAck {
    return decodeMessage(buf, ProbeAck.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ProbeAck>): Generator<ProbeAckOkFieldEvent | ProbeAckIncarnationFieldEvent | ProbeAckSeqFieldEvent | ProbeAckUnreachablePeerFieldEvent | ProbeAckUnreachableIncarnationFieldEvent | ProbeAckUnreachableSeqFieldEvent | ProbeAckIdFieldEvent> {
    return streamMessage(buf, ProbeAck.codec(), opts)
  }
}

export interface ViewEntry {
  peer: string
  incarnation: bigint
  seq: bigint
}

export namespace ViewEntry {
  let _codec: Codec<ViewEntry>

  export const codec = (): Codec<ViewEntry> => {
    if (_codec == null) {
      _codec = message<ViewEntry>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.peer != null && obj.peer !== '')) {
          w.uint32(10)
          w.string(obj.peer)
        }

        if ((obj.incarnation != null && obj.incarnation !== 0n)) {
          w.uint32(16)
          w.uint64(obj.incarnation)
        }

        if ((obj.seq != null && obj.seq !== 0n)) {
          w.uint32(24)
          w.uint64(obj.seq)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          peer: '',
          incarnation: 0n,
          seq: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.peer = reader.string()
              break
            }
            case 2: {
              obj.incarnation = reader.uint64()
              break
            }
            case 3: {
              obj.seq = reader.uint64()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.peer`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.incarnation`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.seq`,
                value: reader.uint64()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ViewEntryPeerFieldEvent {
    field: '$.peer'
    value: string
  }

  export interface ViewEntryIncarnationFieldEvent {
    field: '$.incarnation'
    value: bigint
  }

  export interface ViewEntrySeqFieldEvent {
    field: '$.seq'
    value: bigint
  }

  export function encode (obj: Partial<ViewEntry>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ViewEntry.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ViewEntry>): ViewEntry {
    return decodeMessage(buf, ViewEntry.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ViewEntry>): Generator<ViewEntryPeerFieldEvent | ViewEntryIncarnationFieldEvent | ViewEntrySeqFieldEvent> {
    return streamMessage(buf, ViewEntry.codec(), opts)
  }
}

export enum NewsKind {
  NEWS_ALIVE = 'NEWS_ALIVE',
  NEWS_SUSPECT = 'NEWS_SUSPECT',
  NEWS_LEAVE = 'NEWS_LEAVE'
}

enum __NewsKindValues {
  NEWS_ALIVE = 0,
  NEWS_SUSPECT = 1,
  NEWS_LEAVE = 2
}

export namespace NewsKind {
  export const codec = (): Codec<NewsKind> => {
    return enumeration<NewsKind>(__NewsKindValues)
  }
}

export interface LivenessNews {
  kind: NewsKind
  peer: string
  incarnation: bigint
  seq: bigint
}

export namespace LivenessNews {
  let _codec: Codec<LivenessNews>

  export const codec = (): Codec<LivenessNews> => {
    if (_codec == null) {
      _codec = message<LivenessNews>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.kind != null && __NewsKindValues[obj.kind] !== 0) {
          w.uint32(8)
          NewsKind.codec().encode(obj.kind, w)
        }

        if ((obj.peer != null && obj.peer !== '')) {
          w.uint32(18)
          w.string(obj.peer)
        }

        if ((obj.incarnation != null && obj.incarnation !== 0n)) {
          w.uint32(24)
          w.uint64(obj.incarnation)
        }

        if ((obj.seq != null && obj.seq !== 0n)) {
          w.uint32(32)
          w.uint64(obj.seq)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          kind: NewsKind.NEWS_ALIVE,
          peer: '',
          incarnation: 0n,
          seq: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.kind = NewsKind.codec().decode(reader)
              break
            }
            case 2: {
              obj.peer = reader.string()
              break
            }
            case 3: {
              obj.incarnation = reader.uint64()
              break
            }
            case 4: {
              obj.seq = reader.uint64()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.kind`,
                value: NewsKind.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.peer`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.incarnation`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.seq`,
                value: reader.uint64()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface LivenessNewsKindFieldEvent {
    field: '$.kind'
    value: NewsKind
  }

  export interface LivenessNewsPeerFieldEvent {
    field: '$.peer'
    value: string
  }

  export interface LivenessNewsIncarnationFieldEvent {
    field: '$.incarnation'
    value: bigint
  }

  export interface LivenessNewsSeqFieldEvent {
    field: '$.seq'
    value: bigint
  }

  export function encode (obj: Partial<LivenessNews>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, LivenessNews.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<LivenessNews>): LivenessNews {
    return decodeMessage(buf, LivenessNews.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<LivenessNews>): Generator<LivenessNewsKindFieldEvent | LivenessNewsPeerFieldEvent | LivenessNewsIncarnationFieldEvent | LivenessNewsSeqFieldEvent> {
    return streamMessage(buf, LivenessNews.codec(), opts)
  }
}

export interface SyncHello {
  bucketHashes: Uint8Array<ArrayBuffer>[]
}

export namespace SyncHello {
  let _codec: Codec<SyncHello>

  export const codec = (): Codec<SyncHello> => {
    if (_codec == null) {
      _codec = message<SyncHello>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.bucketHashes != null && obj.bucketHashes.length > 0) {
          for (const value of obj.bucketHashes) {
            w.uint32(10)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          bucketHashes: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.bucketHashes != null && obj.bucketHashes.length === opts.limits.bucketHashes) {
                throw new MaxLengthError('Decode error - repeated field "bucketHashes" had too many elements')
              }

              obj.bucketHashes.push(reader.bytes())
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          bucketHashes: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.bucketHashes != null && obj.bucketHashes === opts.limits.bucketHashes) {
                throw new MaxLengthError('Streaming decode error - repeated field "bucketHashes" had too many elements')
              }

              yield {
                field: `${prefix}.bucketHashes[]`,
                index: obj.bucketHashes,
                value: reader.bytes()
              }

              obj.bucketHashes++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface SyncHelloBucketHashesFieldEvent {
    field: '$.bucketHashes[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<SyncHello>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SyncHello.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SyncHello>): SyncHello {
    return decodeMessage(buf, SyncHello.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SyncHello>): Generator<SyncHelloBucketHashesFieldEvent> {
    return streamMessage(buf, SyncHello.codec(), opts)
  }
}

export interface DigestEntry {
  id: string
  lamport: bigint
  writer: string
  hash: Uint8Array<ArrayBuffer>
}

export namespace DigestEntry {
  let _codec: Codec<DigestEntry>

  export const codec = (): Codec<DigestEntry> => {
    if (_codec == null) {
      _codec = message<DigestEntry>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id !== '')) {
          w.uint32(10)
          w.string(obj.id)
        }

        if ((obj.lamport != null && obj.lamport !== 0n)) {
          w.uint32(16)
          w.uint64(obj.lamport)
        }

        if ((obj.writer != null && obj.writer !== '')) {
          w.uint32(26)
          w.string(obj.writer)
        }

        if ((obj.hash != null && obj.hash.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.hash)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: '',
          lamport: 0n,
          writer: '',
          hash: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.string()
              break
            }
            case 2: {
              obj.lamport = reader.uint64()
              break
            }
            case 3: {
              obj.writer = reader.string()
              break
            }
            case 4: {
              obj.hash = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.id`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.lamport`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.writer`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.hash`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface DigestEntryIdFieldEvent {
    field: '$.id'
    value: string
  }

  export interface DigestEntryLamportFieldEvent {
    field: '$.lamport'
    value: bigint
  }

  export interface DigestEntryWriterFieldEvent {
    field: '$.writer'
    value: string
  }

  export interface DigestEntryHashFieldEvent {
    field: '$.hash'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<DigestEntry>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, DigestEntry.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DigestEntry>): DigestEntry {
    return decodeMessage(buf, DigestEntry.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DigestEntry>): Generator<DigestEntryIdFieldEvent | DigestEntryLamportFieldEvent | DigestEntryWriterFieldEvent | DigestEntryHashFieldEvent> {
    return streamMessage(buf, DigestEntry.codec(), opts)
  }
}

export interface SyncDigest {
  buckets: number[]
  entries: DigestEntry[]
}

export namespace SyncDigest {
  let _codec: Codec<SyncDigest>

  export const codec = (): Codec<SyncDigest> => {
    if (_codec == null) {
      _codec = message<SyncDigest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.buckets != null && obj.buckets.length > 0) {
          for (const value of obj.buckets) {
            w.uint32(8)
            w.uint32(value)
          }
        }

        if (obj.entries != null && obj.entries.length > 0) {
          for (const value of obj.entries) {
            w.uint32(18)
            DigestEntry.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          buckets: [],
          entries: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.buckets != null && obj.buckets.length === opts.limits.buckets) {
                throw new MaxLengthError('Decode error - repeated field "buckets" had too many elements')
              }

              obj.buckets.push(reader.uint32())
              break
            }
            case 2: {
              if (opts.limits?.entries != null && obj.entries.length === opts.limits.entries) {
                throw new MaxLengthError('Decode error - repeated field "entries" had too many elements')
              }

              obj.entries.push(DigestEntry.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.entries$
              }))
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          buckets: 0,
          entries: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.buckets != null && obj.buckets === opts.limits.buckets) {
                throw new MaxLengthError('Streaming decode error - repeated field "buckets" had too many elements')
              }

              yield {
                field: `${prefix}.buckets[]`,
                index: obj.buckets,
                value: reader.uint32()
              }

              obj.buckets++

              break
            }
            case 2: {
              if (opts.limits?.entries != null && obj.entries === opts.limits.entries) {
                throw new MaxLengthError('Streaming decode error - repeated field "entries" had too many elements')
              }

              for (const evt of DigestEntry.codec().stream(reader, reader.uint32(), `${prefix}.entries[]`, {
                limits: opts.limits?.entries$
              })) {
                yield {
                  ...evt,
                  index: obj.entries
                }
              }

              obj.entries++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface SyncDigestBucketsFieldEvent {
    field: '$.buckets[]'
    index: number
    value: number
  }

  export interface SyncDigestEntriesIdFieldEvent {
    field: '$.entries[].id'
    value: string
    index: number
  }

  export interface SyncDigestEntriesLamportFieldEvent {
    field: '$.entries[].lamport'
    value: bigint
    index: number
  }

  export interface SyncDigestEntriesWriterFieldEvent {
    field: '$.entries[].writer'
    value: string
    index: number
  }

  export interface SyncDigestEntriesHashFieldEvent {
    field: '$.entries[].hash'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export function encode (obj: Partial<SyncDigest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SyncDigest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SyncDigest>): SyncDigest {
    return decodeMessage(buf, SyncDigest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SyncDigest>): Generator<SyncDigestBucketsFieldEvent | SyncDigestEntriesIdFieldEvent | SyncDigestEntriesLamportFieldEvent | SyncDigestEntriesWriterFieldEvent | SyncDigestEntriesHashFieldEvent> {
    return streamMessage(buf, SyncDigest.codec(), opts)
  }
}

export interface SyncRecords {
  records: SignedRecord[]
  want: string[]
}

export namespace SyncRecords {
  let _codec: Codec<SyncRecords>

  export const codec = (): Codec<SyncRecords> => {
    if (_codec == null) {
      _codec = message<SyncRecords>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.records != null && obj.records.length > 0) {
          for (const value of obj.records) {
            w.uint32(10)
            SignedRecord.codec().encode(value, w)
          }
        }

        if (obj.want != null && obj.want.length > 0) {
          for (const value of obj.want) {
            w.uint32(18)
            w.string(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          records: [],
          want: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.records != null && obj.records.length === opts.limits.records) {
                throw new MaxLengthError('Decode error - repeated field "records" had too many elements')
              }

              obj.records.push(SignedRecord.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.records$
              }))
              break
            }
            case 2: {
              if (opts.limits?.want != null && obj.want.length === opts.limits.want) {
                throw new MaxLengthError('Decode error - repeated field "want" had too many elements')
              }

              obj.want.push(reader.string())
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          records: 0,
          want: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.records != null && obj.records === opts.limits.records) {
                throw new MaxLengthError('Streaming decode error - repeated field "records" had too many elements')
              }

              for (const evt of SignedRecord.codec().stream(reader, reader.uint32(), `${prefix}.records[]`, {
                limits: opts.limits?.records$
              })) {
                yield {
                  ...evt,
                  index: obj.records
                }
              }

              obj.records++

              break
            }
            case 2: {
              if (opts.limits?.want != null && obj.want === opts.limits.want) {
                throw new MaxLengthError('Streaming decode error - repeated field "want" had too many elements')
              }

              yield {
                field: `${prefix}.want[]`,
                index: obj.want,
                value: reader.string()
              }

              obj.want++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface SyncRecordsRecordsSchemaFieldEvent {
    field: '$.records[].schema'
    value: number
    index: number
  }

  export interface SyncRecordsRecordsRecordFieldEvent {
    field: '$.records[].record'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface SyncRecordsRecordsSignatureFieldEvent {
    field: '$.records[].signature'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface SyncRecordsWantFieldEvent {
    field: '$.want[]'
    index: number
    value: string
  }

  export function encode (obj: Partial<SyncRecords>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SyncRecords.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SyncRecords>): SyncRecords {
    return decodeMessage(buf, SyncRecords.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SyncRecords>): Generator<SyncRecordsRecordsSchemaFieldEvent | SyncRecordsRecordsRecordFieldEvent | SyncRecordsRecordsSignatureFieldEvent | SyncRecordsWantFieldEvent> {
    return streamMessage(buf, SyncRecords.codec(), opts)
  }
}
