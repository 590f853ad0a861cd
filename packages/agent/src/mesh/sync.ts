/**
 * Anti-entropy over /meshplane/sync/1.0.0, run by the dialling side on every new
 * connection and periodically with a random peer:
 *
 *   client → SyncHello    256 bucket hashes (XOR of the entry hashes in each bucket)
 *   server → SyncDigest   the buckets that differ, with the server's entries in them
 *   client → SyncRecords  the envelopes the server lacks or holds older, and the ids it wants
 *   server → SyncRecords  the wanted envelopes
 *
 * Two replicas in sync exchange 2 KiB; a replica that is behind gets exactly the records
 * it misses, in both directions, in one round trip and a half.
 */
import { lpStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import type { DecodeOptions } from '@meshplane/proto'
import { SyncHello, SyncDigest, SyncRecords, SignedRecord, type DigestEntry } from '@meshplane/proto'
import type { ClusterState, OpenedRecord } from '../state/index.js'
import { compareVersions, SYNC_BUCKETS } from '../state/index.js'
import { SYNC_MAX_MESSAGE_BYTES, SYNC_TIMEOUT_MS, MAX_SYNC_PUSH_RECORDS } from './constants.js'

export interface SyncStats {
  sent: number
  received: number
  updated: number
  rejected: number
  bytes: number
}

const timeout = (): { signal: AbortSignal } => ({ signal: AbortSignal.timeout(SYNC_TIMEOUT_MS) })

interface Codec<T> { encode: (m: T) => Uint8Array, decode: (b: Uint8Array, o?: DecodeOptions<T>) => T }

/** One framed protobuf channel that counts the bytes it moves (for the sync metrics). */
function channel (stream: Stream, stats: SyncStats) {
  const lp = lpStream(stream, { maxDataLength: SYNC_MAX_MESSAGE_BYTES, maxBufferSize: SYNC_MAX_MESSAGE_BYTES })
  return {
    async send<T> (codec: Codec<T>, message: T): Promise<void> {
      const bytes = codec.encode(message)
      stats.bytes += bytes.byteLength
      await lp.write(bytes, timeout())
    },
    async receive<T> (codec: Codec<T>, limits?: DecodeOptions<T>['limits']): Promise<T> {
      const bytes = (await lp.read(timeout())).subarray()
      stats.bytes += bytes.byteLength
      return codec.decode(bytes, { limits })
    }
  }
}

const newStats = (): SyncStats => ({ sent: 0, received: 0, updated: 0, rejected: 0, bytes: 0 })

function toEnvelope (o: OpenedRecord): SignedRecord {
  return SignedRecord.decode(o.envelope)
}

function digestOf (o: OpenedRecord): DigestEntry {
  return { id: o.record.id, lamport: o.record.lamport, writer: o.record.writer, hash: o.hash }
}

/** Newer-than test between a digest entry and what we hold. */
function isNewer (entry: DigestEntry, held: OpenedRecord | undefined): boolean {
  return held === undefined || compareVersions(entry, { ...held.record, hash: held.hash }) > 0
}

async function applyEnvelopes (state: ClusterState, records: SignedRecord[], stats: SyncStats): Promise<void> {
  if (records.length === 0) return
  const result = await state.apply(records.map(r => SignedRecord.encode(r)))
  stats.received += records.length
  stats.updated += result.updated
  stats.rejected += result.rejected
}

/**
 * The records a sync server sends for `want`: each distinct id once, only ids its digest
 * offered (the client learnt of no others from it), within one message's bytes. A
 * request can never make a reply larger than itself times one record.
 */
export function answerWants (state: Pick<ClusterState, 'getEnvelope'>, want: string[], offered: Set<string>): OpenedRecord[] {
  const out: OpenedRecord[] = []
  const seen = new Set<string>()
  let bytes = 0
  for (const id of want) {
    if (seen.has(id) || !offered.has(id)) continue
    seen.add(id)
    const o = state.getEnvelope(id)
    if (o === undefined) continue
    bytes += o.envelope.byteLength + 8
    if (bytes > SYNC_MAX_MESSAGE_BYTES) break // the rest in a later round
    out.push(o)
  }
  return out
}

/** The first records that fit one message (the server refuses more); the rest go in
 * later rounds. */
function withinMessage (records: OpenedRecord[], max: number): OpenedRecord[] {
  let bytes = 0
  let n = 0
  for (const o of records) {
    bytes += o.envelope.byteLength + 8
    if (bytes > SYNC_MAX_MESSAGE_BYTES || n === max) break
    n++
  }
  return records.slice(0, n)
}

export async function runSyncClient (state: ClusterState, stream: Stream): Promise<SyncStats> {
  const stats = newStats()
  const ch = channel(stream, stats)
  await ch.send(SyncHello, { bucketHashes: state.bucketHashes() })
  const digest = await ch.receive(SyncDigest, { buckets: SYNC_BUCKETS })
  if (digest.buckets.length === 0) {
    await stream.close()
    return stats
  }
  const theirs = new Map(digest.entries.map(e => [e.id, e]))
  const want = digest.entries.filter(e => isNewer(e, state.getEnvelope(e.id))).map(e => e.id)
  const give = withinMessage(state.entriesInBuckets(new Set(digest.buckets)).filter(o => {
    const t = theirs.get(o.record.id)
    return t === undefined || compareVersions(digestOf(o), t) > 0
  }), MAX_SYNC_PUSH_RECORDS)
  await ch.send(SyncRecords, { records: give.map(toEnvelope), want })
  stats.sent += give.length
  // the answer carries at most what was asked for
  const reply = await ch.receive(SyncRecords, { records: want.length, want: 0 })
  await applyEnvelopes(state, reply.records, stats)
  await stream.close()
  return stats
}

export async function runSyncServer (state: ClusterState, stream: Stream): Promise<SyncStats> {
  const stats = newStats()
  const ch = channel(stream, stats)
  const hello = await ch.receive(SyncHello, { bucketHashes: SYNC_BUCKETS })
  const mine = state.bucketHashes()
  const differing: number[] = []
  for (let b = 0; b < SYNC_BUCKETS; b++) {
    const theirs = hello.bucketHashes[b]
    if (theirs === undefined || Buffer.compare(theirs, mine[b]!) !== 0) differing.push(b)
  }
  const entries = state.entriesInBuckets(new Set(differing)).map(digestOf)
  await ch.send(SyncDigest, { buckets: differing, entries })
  if (differing.length === 0) {
    await stream.close()
    return stats
  }
  // Bounded before decoding: the client can want only what the digest listed.
  const push = await ch.receive(SyncRecords, { records: MAX_SYNC_PUSH_RECORDS, want: entries.length })
  await applyEnvelopes(state, push.records, stats)
  const wanted = answerWants(state, push.want, new Set(entries.map(e => e.id)))
  await ch.send(SyncRecords, { records: wanted.map(toEnvelope), want: [] })
  stats.sent += wanted.length
  await stream.close()
  return stats
}
