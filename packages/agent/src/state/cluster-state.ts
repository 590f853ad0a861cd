/**
 * The replicated cluster state of one agent: verified records in memory, persisted in
 * LevelDB. Records come in two ways: `apply` for envelopes from the network (verified
 * here), and `write` for this agent's own changes (signed here, then announced through
 * the 'local' event for the mesh to publish; the records written inside one `together`
 * call are announced in one event).
 *
 * Durability differs by origin:
 *  - this agent's own records are on disk before anyone is told of them, so a crash can
 *    never make it reuse a version it already published;
 *  - other hosts' records take effect in memory at once and are written behind, in the
 *    order they were applied, coalesced per record. The disk therefore always holds a
 *    prefix of what was applied: a crash looks as if the last records had not arrived
 *    yet, which the protocol tolerates anyway (sync fetches them again). Waiting for the
 *    disk here was a third of a record's hop at N = 30 (docs/performance.md).
 * Holds no sockets; knows nothing of libp2p or the kernel.
 */
import { EventEmitter } from 'node:events'
import { AsyncLocalStorage } from 'node:async_hooks'
import type { PrivateKey } from '@libp2p/interface'
import type { Logger } from 'pino'
import { openRecord, sealRecord, encodeBody, type OpenedRecord } from './codec.js'
import { supersedes, bucketOf } from './merge.js'
import type { DataStore } from './store.js'
import { SYNC_BUCKETS, DEFAULT_TOMBSTONE_TTL_MS, WRITE_RETRY_MIN_MS, WRITE_RETRY_MAX_MS, MAX_LAMPORT } from './constants.js'
import { refusal } from './admission.js'
import type { RecordKindName, StateRecord, HostRecord, NetworkRecord, EndpointRecord, RangesRecord } from './types.js'
import { MeshplaneError } from '../errors.js'
import { Serial } from './serial.js'

/** Records verified between two turns of the event loop in `apply` (~3 ms of Ed25519). */
const VERIFY_SLICE = 64

export interface ClusterStateComponents {
  store: DataStore
  privateKey: PrivateKey
  peerId: string
  logger: Logger
}

export interface ClusterStateInit {
  tombstoneTtlMs?: number
}

export interface RecordChange {
  record: StateRecord
  previous: StateRecord | undefined
  /** written by this agent */
  local: boolean
}

export interface ApplyResult {
  accepted: number
  updated: number
  rejected: number
}

type BodyOf<K extends RecordKindName> =
  K extends 'host' ? NonNullable<HostRecord['body']>
    : K extends 'network' ? NonNullable<NetworkRecord['body']>
      : K extends 'endpoint' ? NonNullable<EndpointRecord['body']>
        : NonNullable<RangesRecord['body']>

type RecordOf<K extends RecordKindName> = Extract<StateRecord, { kind: K }>

export interface ClusterStateEvents {
  change: [RecordChange]
  /** records this agent wrote, to publish: one, or those of one `together` call */
  local: [OpenedRecord[]]
}


export class ClusterState extends EventEmitter<ClusterStateEvents> {
  readonly #store: DataStore
  readonly #privateKey: PrivateKey
  readonly #log: Logger
  readonly #tombstoneTtlMs: number
  readonly #entries = new Map<string, OpenedRecord>()
  readonly #buckets = new BigUint64Array(SYNC_BUCKETS)
  // Merges one batch at a time (a local write holds it until its record is on disk), so
  // an older version can never overtake a newer one for the same id.
  readonly #serial = new Serial()
  // Disk writes, one at a time and in the order they were staged.
  readonly #disk = new Serial()
  /** Records applied in memory but not yet written (the latest envelope per id). */
  #unwritten = new Map<string, Uint8Array>()
  /** Those of them in the batch being written now. */
  #writing = new Map<string, Uint8Array>()
  #writeBehind: Promise<void> | undefined
  #retryTimer: NodeJS.Timeout | undefined
  #retryMs = 0
  #closed = false
  /** When each record's current version arrived here (wall clock, not persisted): the
   * propagation delay a bench or a metric reads. */
  readonly #appliedAtMs = new Map<string, number>()
  readonly peerId: string
  #clock = 0n
  /** Verified records waiting for the next merge (applyOpened), and that merge. */
  readonly #pending: OpenedRecord[] = []
  #pendingBatch: Promise<number> | undefined
  /** The records written so far inside the current `together` call of this async context;
   * `open` turns false when the call ends (a write it started but did not await is then
   * announced on its own, not lost). */
  readonly #together = new AsyncLocalStorage<{ records: OpenedRecord[], open: boolean }>()

  constructor (components: ClusterStateComponents, init: ClusterStateInit = {}) {
    super()
    this.#store = components.store
    this.#privateKey = components.privateKey
    this.peerId = components.peerId
    this.#log = components.logger.child({ component: 'state' })
    this.#tombstoneTtlMs = init.tombstoneTtlMs ?? DEFAULT_TOMBSTONE_TTL_MS
  }

  /** Loads what the data directory holds. Records were verified before they were stored. */
  async load (): Promise<void> {
    for await (const [, envelope] of this.#store.records.iterator()) {
      try {
        const opened = await openRecord(envelope)
        this.#put(opened)
      } catch (err) {
        this.#log.warn({ err }, 'dropping an unreadable stored record')
      }
    }
    const clock = await this.#store.getMeta<string>('clock')
    if (clock !== undefined && BigInt(clock) > this.#clock) this.#clock = BigInt(clock)
    this.#log.info({ records: this.#entries.size, clock: this.#clock.toString() }, 'state loaded')
  }

  get clock (): bigint { return this.#clock }
  get size (): number { return this.#entries.size }

  get (id: string): StateRecord | undefined {
    return this.#entries.get(id)?.record
  }

  appliedAtMs (id: string): number | undefined {
    return this.#appliedAtMs.get(id)
  }

  getEnvelope (id: string): OpenedRecord | undefined {
    return this.#entries.get(id)
  }

  /** Live (non-deleted) records of one kind. */
  list<K extends RecordKindName> (kind: K): Array<RecordOf<K> & { body: BodyOf<K> }> {
    const out: Array<RecordOf<K> & { body: BodyOf<K> }> = []
    for (const { record } of this.#entries.values()) {
      if (record.kind === kind && !record.deleted) out.push(record as RecordOf<K> & { body: BodyOf<K> })
    }
    return out
  }

  countByKind (): Record<RecordKindName | 'tombstone', number> {
    const counts = { host: 0, network: 0, endpoint: 0, ranges: 0, tombstone: 0 }
    for (const { record } of this.#entries.values()) {
      if (record.deleted) counts.tombstone++
      else counts[record.kind]++
    }
    return counts
  }

  /** Envelopes from the network: verified and merged in one batch. Invalid ones
   * are counted and skipped, never thrown: one bad record must not cost the good ones. */
  async apply (envelopes: Uint8Array[]): Promise<ApplyResult> {
    const opened: OpenedRecord[] = []
    let rejected = 0
    for (const [i, envelope] of envelopes.entries()) {
      // Verifying is synchronous CPU work: a large sync push must not hold the event loop
      // (probes, gossip, the API) for its whole length.
      if (i % VERIFY_SLICE === VERIFY_SLICE - 1) await new Promise(resolve => setImmediate(resolve))
      try {
        opened.push(await openRecord(envelope))
      } catch (err) {
        rejected++
        this.#log.debug({ err }, 'rejected a record')
      }
    }
    const merged = await this.#serial.run(async () => await this.#mergeAndPersist(opened, false))
    return { accepted: opened.length - merged.refused, updated: merged.updated, rejected: rejected + merged.refused }
  }

  /** Why a received record must not be merged given what this replica holds (a version
   * too far ahead, a network removed by a host that does not own it), or undefined. */
  refusal (o: OpenedRecord): string | undefined {
    return refusal(o, { clock: this.#clock, get: id => this.#entries.get(id) })
  }

  /** Merges records that were already verified (the gossip validator opened them).
   * Records that arrive while a batch is being merged wait for the next one. Resolves
   * with the number of records the whole batch updated, once they are in effect. */
  async applyOpened (opened: OpenedRecord[]): Promise<number> {
    this.#pending.push(...opened)
    if (this.#pendingBatch === undefined) {
      this.#pendingBatch = this.#serial.run(async () => {
        this.#pendingBatch = undefined
        return (await this.#mergeAndPersist(this.#pending.splice(0), false)).updated
      })
    }
    return await this.#pendingBatch
  }

  /** Writes (or with body undefined, deletes) a record this agent owns or may write. */
  async write<K extends RecordKindName> (kind: K, key: string, body: BodyOf<K> | undefined): Promise<OpenedRecord> {
    // The caller's `together` context, taken before the serial queue runs this later.
    const held = this.#together.getStore()
    return await this.#serial.run(async () => {
      const current = this.#entries.get(`${kind}/${key}`)
      const lamport = (current !== undefined && current.record.lamport > this.#clock ? current.record.lamport : this.#clock) + 1n
      // never wraps: a clock at the top is refused (received records cannot take it there)
      if (lamport > MAX_LAMPORT) throw new MeshplaneError('E_INTERNAL', `the Lamport clock is exhausted (${this.#clock})`)
      const deleted = body === undefined
      // A network tombstone names the network it removes (whose it was: state/admission.ts).
      const removed = deleted && kind === 'network' ? current?.record.body : undefined
      if (deleted && kind === 'network' && removed === undefined) throw new MeshplaneError('E_NOT_FOUND', `no network ${key} to remove`)
      const opened = await sealRecord(this.#privateKey, this.peerId, {
        kind,
        key,
        lamport,
        deleted,
        deletedAtMs: deleted ? BigInt(Date.now()) : 0n,
        body: removed !== undefined ? encodeBody({ kind, body: removed }) : deleted ? new Uint8Array(0) : encodeBody({ kind, body })
      })
      const why = this.refusal(opened)
      if (why !== undefined) throw new MeshplaneError('E_CONFLICT', why)
      await this.#mergeAndPersist([opened], true)
      if (held?.open === true) held.records.push(opened)
      else this.emit('local', [opened])
      return opened
    })
  }

  /**
   * Runs `fn`; the records it writes (in its own async context: concurrent writes elsewhere
   * are not held back) are stored at once and announced in one 'local' event when it
   * ends, so they travel in one gossip message. Also when `fn` throws: what was written
   * is on disk and must reach the others.
   */
  async together<T> (fn: () => Promise<T>): Promise<T> {
    const held = { records: [] as OpenedRecord[], open: true }
    try {
      return await this.#together.run(held, fn)
    } finally {
      held.open = false
      if (held.records.length > 0) this.emit('local', held.records)
    }
  }

  async #mergeAndPersist (received: OpenedRecord[], local: boolean): Promise<{ updated: number, refused: number }> {
    const winners = new Map<string, OpenedRecord>()
    // (checked against the clock before this batch: a batch cannot walk it up step by step)
    const opened = local ? received : received.filter(o => {
      const why = this.refusal(o)
      if (why !== undefined) this.#log.warn({ reason: why }, 'refused a record')
      return why === undefined
    })
    const refused = received.length - opened.length
    for (const o of opened) {
      const id = o.record.id
      const best = winners.get(id) ?? this.#entries.get(id)
      if (supersedes({ ...o.record, hash: o.hash }, best === undefined ? undefined : { ...best.record, hash: best.hash })) {
        winners.set(id, o)
      }
    }
    let maxLamport = this.#clock
    for (const o of opened) if (o.record.lamport > maxLamport) maxLamport = o.record.lamport
    if (winners.size === 0 && maxLamport === this.#clock) return { updated: 0, refused }

    if (local) {
      // Everything staged before it goes into the same LevelDB batch, so the disk stays a
      // prefix of what was applied.
      const own = new Map([...winners].map(([id, o]) => [id, o.envelope]))
      try {
        await this.#disk.run(async () => { await this.#writeStaged(own, maxLamport) })
      } catch (err) {
        // Nothing of its own changes in memory unless it is on disk: the caller learns
        // that the write failed, and a full disk loses no state.
        throw new MeshplaneError('E_INTERNAL', `cannot persist ${winners.size} records: ${(err as Error).message}`, { cause: err })
      }
    }
    const now = Date.now()
    for (const o of winners.values()) {
      this.#appliedAtMs.set(o.record.id, now)
      if (!local) this.#unwritten.set(o.record.id, o.envelope)
      const previous = this.#put(o)
      this.emit('change', { record: o.record, previous, local })
    }
    if (maxLamport > this.#clock) this.#clock = maxLamport
    if (!local) this.#scheduleWriteBehind()
    return { updated: winners.size, refused }
  }

  /** Writes what is staged, plus `own` (the records of a local write), in one batch. When
   * the batch fails, the staged records are staged again (unless a newer version was
   * staged meanwhile); `own` is not: its write failed and its caller was told so. */
  async #writeStaged (own: Map<string, Uint8Array> = new Map(), clock = this.#clock): Promise<void> {
    // (clock: a local write's version, not yet in this.#clock; never below it)
    const staged = this.#unwritten
    if (staged.size === 0 && own.size === 0) return
    this.#unwritten = new Map()
    this.#writing = staged
    try {
      await this.#store.write(async () => {
        const batch = this.#store.db.batch()
        for (const [id, envelope] of staged) if (!own.has(id)) batch.put(id, envelope, { sublevel: this.#store.records })
        for (const [id, envelope] of own) batch.put(id, envelope, { sublevel: this.#store.records })
        batch.put('clock', clock.toString(), { sublevel: this.#store.meta })
        await batch.write()
      })
    } catch (err) {
      // (not what a tombstone reap removed meanwhile, nor what a newer version replaced)
      for (const [id, envelope] of staged) if (!this.#unwritten.has(id) && this.#entries.has(id)) this.#unwritten.set(id, envelope)
      if (staged.size > 0) this.#scheduleRetry(err as Error)
      throw err
    } finally {
      this.#writing = new Map()
    }
    this.#retryMs = 0
  }

  /** Writes other hosts' records behind, coalescing those applied in the same turn. */
  #scheduleWriteBehind (): void {
    if (this.#writeBehind !== undefined || this.#retryTimer !== undefined || this.#closed) return
    this.#writeBehind = new Promise<void>(resolve => setImmediate(resolve))
      .then(async () => { await this.#disk.run(async () => { await this.#writeStaged() }) })
      .catch(() => {}) // #writeStaged logged it and scheduled a retry
      .finally(() => {
        this.#writeBehind = undefined
        // records applied while this batch was being written
        if (this.#unwritten.size > 0) this.#scheduleWriteBehind()
      })
  }

  #scheduleRetry (err: Error): void {
    if (this.#closed || this.#retryTimer !== undefined) return
    this.#retryMs = Math.min(Math.max(this.#retryMs * 2, WRITE_RETRY_MIN_MS), WRITE_RETRY_MAX_MS)
    this.#log.warn({ err, records: this.#unwritten.size, retryMs: this.#retryMs },
      'cannot write received records to disk; they are in effect, the write is retried')
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined
      this.#scheduleWriteBehind()
    }, this.#retryMs)
    this.#retryTimer.unref()
  }

  /** How many applied records are not on disk yet (a disk that refuses writes). */
  get unwritten (): number {
    let n = this.#unwritten.size
    for (const id of this.#writing.keys()) if (!this.#unwritten.has(id)) n++
    return n
  }

  /** Writes what is staged, then stops writing behind: before the store closes. */
  async close (): Promise<void> {
    this.#closed = true
    clearTimeout(this.#retryTimer)
    this.#retryTimer = undefined
    await this.#writeBehind
    try {
      await this.#disk.run(async () => { await this.#writeStaged() })
    } catch (err) {
      this.#log.warn({ err, records: this.#unwritten.size }, 'records received since the last write are not on disk; sync fetches them again')
    }
  }

  #put (o: OpenedRecord): StateRecord | undefined {
    const id = o.record.id
    const previous = this.#entries.get(id)
    const bucket = bucketOf(id, SYNC_BUCKETS)
    if (previous !== undefined) this.#buckets[bucket]! ^= hashWord(previous.hash)
    this.#buckets[bucket]! ^= hashWord(o.hash)
    this.#entries.set(id, o)
    if (o.record.lamport > this.#clock) this.#clock = o.record.lamport
    return previous?.record
  }

  /** XOR of the entry hashes in each bucket: order-independent and updated in O(1). */
  bucketHashes (): Array<Uint8Array<ArrayBuffer>> {
    return Array.from(this.#buckets, h => {
      const b = new Uint8Array(8)
      new DataView(b.buffer).setBigUint64(0, h)
      return b
    })
  }

  entriesInBuckets (buckets: Set<number>): OpenedRecord[] {
    const out: OpenedRecord[] = []
    for (const [id, o] of this.#entries) if (buckets.has(bucketOf(id, SYNC_BUCKETS))) out.push(o)
    return out
  }

  /** Forgets tombstones older than the TTL. Returns how many went. */
  async reapTombstones (nowMs = Date.now()): Promise<number> {
    return await this.#serial.run(async () => {
      const expired = [...this.#entries.values()].filter(o =>
        o.record.deleted && Number(o.record.deletedAtMs) + this.#tombstoneTtlMs < nowMs)
      if (expired.length === 0) return 0
      for (const o of expired) this.#unwritten.delete(o.record.id)
      await this.#disk.run(async () => { await this.#store.write(async () => { await this.#store.records.batch(expired.map(o => ({ type: 'del' as const, key: o.record.id }))) }) })
      for (const o of expired) {
        this.#entries.delete(o.record.id)
        this.#buckets[bucketOf(o.record.id, SYNC_BUCKETS)]! ^= hashWord(o.hash)
      }
      return expired.length
    })
  }
}

function hashWord (hash: Uint8Array): bigint {
  return new DataView(hash.buffer, hash.byteOffset, 8).getBigUint64(0)
}
