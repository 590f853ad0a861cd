/**
 * The merge rule of the replicated state: a last-writer-wins register per record id,
 * ordered by (lamport, writer, envelope hash). A total order over versions makes merge
 * commutative, associative and idempotent: every replica that has seen the same set of
 * envelopes holds the same winner for each id, whatever the order or duplication.
 * Pure: no I/O, no clock.
 */
export interface Versioned {
  lamport: bigint
  writer: string
  hash: Uint8Array
}

export function compareVersions (a: Versioned, b: Versioned): number {
  if (a.lamport !== b.lamport) return a.lamport < b.lamport ? -1 : 1
  if (a.writer !== b.writer) return a.writer < b.writer ? -1 : 1
  return Buffer.compare(a.hash, b.hash)
}

/** True when `incoming` should replace `current`. */
export function supersedes (incoming: Versioned, current: Versioned | undefined): boolean {
  return current === undefined || compareVersions(incoming, current) > 0
}

/** A sync bucket for a record id: a stable spread of ids over `buckets` buckets. */
export function bucketOf (id: string, buckets: number): number {
  // FNV-1a: cheap, stable across versions and platforms.
  let h = 0x811c9dc5
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h % buckets
}
