/**
 * The stdio of the dataplane drivers, the processes a netns test starts inside a host
 * namespace (bulk-driver, dataplane-driver, dataplane-control): JSON lines on stdout are
 * what the test reads, pino logs and failures go to stderr.
 */
import { pino } from 'pino'

/** One JSON line on stdout. */
export function emit (message: object): void {
  process.stdout.write(`${JSON.stringify(message)}\n`)
}

/** Logs to stderr, so stdout carries nothing but the JSON lines; level from LOG_LEVEL. */
export function driverLogger (base?: Record<string, unknown>): pino.Logger {
  return pino({ level: process.env.LOG_LEVEL ?? 'info', ...(base === undefined ? {} : { base }) }, pino.destination(2))
}

/** The driver's JSON config, its only argument. */
export function driverConfig<T> (script: string): T {
  const raw = process.argv[2]
  if (raw === undefined) throw new Error(`usage: ${script} <json>`)
  return JSON.parse(raw) as T
}

/** Exits once `stopping` settles: 0, or 1 with the error on stderr. */
export function exitAfter (stopping: Promise<unknown>): void {
  stopping.then(() => { process.exit(0) }, (err: unknown) => {
    process.stderr.write(`stop failed: ${String(err)}\n`)
    process.exit(1)
  })
}

/** Runs a driver's main: a failure goes to stderr and exits 1 (the test sees the exit). */
export function runDriver (name: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`${name} failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    process.exit(1)
  })
}
