/**
 * Pure arithmetic on IPv4 address ranges held as unsigned 32-bit integers, inclusive at
 * both ends. No I/O, no clock. A `Span` is a plain range; a `GenSpan` also carries the
 * IPAM generation of its addresses (see ownership.ts for what generations mean).
 */
import type { AddressRange } from '@meshplane/proto'
import { ipToInt, intToIp } from '../net/addr.js'

export interface Span {
  start: number
  end: number
}

export interface GenSpan extends Span {
  gen: number
}

export function spanSize (s: Span): number {
  return s.end - s.start + 1
}

export function totalSize (spans: readonly Span[]): number {
  let n = 0
  for (const s of spans) n += spanSize(s)
  return n
}

export function containsAddress (spans: readonly Span[], n: number): boolean {
  for (const s of spans) if (n >= s.start && n <= s.end) return true
  return false
}

/** Splits one span before `at`: [start, at-1] and [at, end]; either may be absent. */
export function splitSpan<S extends Span> (s: S, at: number): [S | undefined, S | undefined] {
  if (at <= s.start) return [undefined, s]
  if (at > s.end) return [s, undefined]
  return [{ ...s, end: at - 1 }, { ...s, start: at }]
}

/** Sorted, with overlapping and adjacent spans merged. */
export function normalize (spans: readonly Span[]): Span[] {
  const sorted = spans.map(s => ({ start: s.start, end: s.end })).sort((a, b) => a.start - b.start)
  const out: Span[] = []
  for (const s of sorted) {
    const last = out[out.length - 1]
    if (last !== undefined && s.start <= last.end + 1) last.end = Math.max(last.end, s.end)
    else out.push(s)
  }
  return out
}

/**
 * Sorted, with adjacent spans merged. Merged spans take the higher generation, which is
 * safe: per address the generation only grows along its history, so every stale listing
 * of an address anywhere has a lower generation than its holder's, before or after the
 * merge. Overlaps inside one host's list do not happen; if they did, the higher
 * generation is kept for the overlap.
 */
export function normalizeGen (spans: readonly GenSpan[]): GenSpan[] {
  const sorted = spans.map(s => ({ ...s })).sort((a, b) => a.start - b.start)
  const out: GenSpan[] = []
  for (const s of sorted) {
    const last = out[out.length - 1]
    if (last !== undefined && s.start <= last.end + 1) {
      last.end = Math.max(last.end, s.end)
      last.gen = Math.max(last.gen, s.gen)
    } else {
      out.push(s)
    }
  }
  return out
}

/** `from` minus `remove`: the pieces of `from` (keeping their other fields) outside every
 * span of `remove`. */
export function subtract<S extends Span> (from: readonly S[], remove: readonly Span[]): S[] {
  const cut = normalize(remove)
  const out: S[] = []
  for (const s of from) {
    let rest: S | undefined = { ...s }
    for (const c of cut) {
      if (rest === undefined) break
      if (c.end < rest.start) continue
      if (c.start > rest.end) break
      const [before] = splitSpan(rest, c.start)
      if (before !== undefined) out.push(before)
      rest = splitSpan(rest, c.end + 1)[1]
    }
    if (rest !== undefined) out.push(rest)
  }
  return out.sort((a, b) => a.start - b.start)
}

/** The pieces of `from` (keeping their other fields) inside `within`. */
export function intersect<S extends Span> (from: readonly S[], within: readonly Span[]): S[] {
  const keep = normalize(within)
  const out: S[] = []
  for (const s of from) {
    for (const k of keep) {
      const start = Math.max(s.start, k.start)
      const end = Math.min(s.end, k.end)
      if (start <= end) out.push({ ...s, start, end })
    }
  }
  return out.sort((a, b) => a.start - b.start)
}

/**
 * Free space: the spans of `owned` minus the addresses in `taken` (any iterable of
 * integers, e.g. allocations, reserved addresses). Result sorted, each piece keeping the
 * fields of the owned span it came from.
 */
export function freeSpans<S extends Span> (owned: readonly S[], taken: Iterable<number>): S[] {
  const points = [...new Set(taken)].sort((a, b) => a - b)
  const out: S[] = []
  for (const s of [...owned].sort((a, b) => a.start - b.start)) {
    let cursor = s.start
    // first point >= s.start (binary search)
    let lo = 0
    let hi = points.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (points[mid]! < s.start) lo = mid + 1
      else hi = mid
    }
    for (let i = lo; i < points.length && points[i]! <= s.end; i++) {
      const p = points[i]!
      if (p > cursor) out.push({ ...s, start: cursor, end: p - 1 })
      cursor = p + 1
    }
    if (cursor <= s.end) out.push({ ...s, start: cursor, end: s.end })
  }
  return out
}

/**
 * Picks `count` addresses out of `free` to give away: from the top of the largest run
 * first, so the giver keeps its low addresses contiguous and a grant is as few ranges as
 * possible. Returns the picked spans (fields kept), sorted.
 */
export function pickForGrant<S extends Span> (free: readonly S[], count: number): S[] {
  if (count <= 0) return []
  // Runs of adjacent free spans (they may differ in generation), largest first.
  const runs: S[][] = []
  for (const s of [...free].sort((a, b) => a.start - b.start)) {
    const run = runs[runs.length - 1]
    const last = run?.[run.length - 1]
    if (run !== undefined && last !== undefined && last.end + 1 === s.start) run.push(s)
    else runs.push([s])
  }
  runs.sort((a, b) => totalSize(b) - totalSize(a) || a[0]!.start - b[0]!.start)
  const out: S[] = []
  let left = count
  for (const run of runs) {
    for (let i = run.length - 1; i >= 0 && left > 0; i--) {
      const s = run[i]!
      const n = Math.min(left, spanSize(s))
      out.push({ ...s, start: s.end - n + 1 })
      left -= n
    }
    if (left === 0) break
  }
  return out.sort((a, b) => a.start - b.start)
}

// ---- conversion at the wire boundary ---------------------------------------------------

export function toWire (s: GenSpan): AddressRange {
  return { start: intToIp(s.start), end: intToIp(s.end), gen: BigInt(s.gen) }
}

/** Undefined when the range is malformed (not IPv4, start after end). */
export function fromWire (r: AddressRange): GenSpan | undefined {
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(r.start) || !/^\d+\.\d+\.\d+\.\d+$/.test(r.end)) return undefined
  const start = ipToInt(r.start)
  const end = ipToInt(r.end)
  if (!(start <= end)) return undefined
  return { start, end, gen: Number(r.gen) }
}

export function fromWireAll (ranges: readonly AddressRange[]): GenSpan[] {
  return ranges.map(fromWire).filter((s): s is GenSpan => s !== undefined)
}

export function formatSpan (s: Span): string {
  return s.start === s.end ? intToIp(s.start) : `${intToIp(s.start)}-${intToIp(s.end)}`
}
