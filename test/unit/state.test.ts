import test from 'ava'
import fc from 'fast-check'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { SignedRecord, Record as WireRecord, RecordKind, NetworkBody, RECORD_SCHEMA_VERSION } from '@meshplane/proto'
import { ClusterState, DataStore, openRecord, sealRecord, type OpenedRecord } from '@meshplane/agent/state/index.js'

const logger = pino({ level: 'silent' })

interface Writer { key: PrivateKey, id: string }
async function writer (): Promise<Writer> {
  const key = await generateKeyPair('Ed25519')
  return { key, id: peerIdFromPrivateKey(key).toString() }
}

/** A network record's body; a network is its creator's (state/admission.ts). */
function networkBody (name: string, vni: number, creator: string): Uint8Array<ArrayBuffer> {
  return NetworkBody.encode({ name, vni, subnet: '10.240.0.0/16', gateway: '10.240.0.1', mtu: 0, options: new Map(), creator, createdAtMs: 0n })
}

interface Replica { store: DataStore, state: ClusterState, restart: () => Promise<void> }

/** A replica in a scratch directory; restart() closes it and opens it again from disk. */
async function restartable (t: { teardown: (fn: () => Promise<void>) => void }, w: Writer): Promise<Replica> {
  const dir = await mkdtemp(join(tmpdir(), 'mp-state-'))
  const open = async (): Promise<Pick<Replica, 'store' | 'state'>> => {
    const store = await DataStore.open(dir)
    const state = new ClusterState({ store, privateKey: w.key, peerId: w.id, logger })
    await state.load()
    return { store, state }
  }
  const close = async (): Promise<void> => { await r.state.close(); await r.store.close() }
  const r: Replica = { ...await open(), restart: async () => { await close(); Object.assign(r, await open()) } }
  t.teardown(async () => { await close(); await rm(dir, { recursive: true, force: true }) })
  return r
}

async function replica (t: { teardown: (fn: () => Promise<void>) => void }, w: Writer): Promise<ClusterState> {
  return (await restartable(t, w)).state
}

function snapshot (s: ClusterState): string {
  return JSON.stringify({
    buckets: s.bucketHashes().map(b => Buffer.from(b).toString('hex')),
    entries: s.entriesInBuckets(new Set(Array.from({ length: 256 }, (_, i) => i)))
      .map(o => `${o.record.id}@${o.record.lamport}:${o.record.writer}:${Buffer.from(o.hash).toString('hex')}`).sort()
  })
}

test('merge is commutative, associative and idempotent: replicas fed the same records in any order agree', async t => {
  const writers = await Promise.all([writer(), writer(), writer()])
  // A pool of envelopes: 3 writers × a few network names × several versions, tombstones too,
  // including equal lamports from different writers (the tie-break path).
  const pool: OpenedRecord[] = []
  for (const [wi, w] of writers.entries()) {
    for (const name of ['a', 'b', 'c']) {
      for (const lamport of [1n, 2n, 5n]) {
        const deleted = lamport === 5n && wi === 1
        // (a network tombstone names the network it removes: the writer's own)
        pool.push(await sealRecord(w.key, w.id, {
          kind: 'network', key: name, lamport, deleted, deletedAtMs: deleted ? 1n : 0n,
          body: networkBody(name, 100 + wi, w.id)
        }))
      }
    }
  }
  const reference = await replica(t, writers[0]!)
  await reference.apply(pool.map(o => o.envelope))
  const expected = snapshot(reference)

  // every envelope at least once, plus random duplicates, in a random order and batching
  const deliveries = fc.array(fc.nat(pool.length - 1), { maxLength: pool.length * 2 }).chain(dups => {
    const all = [...pool.keys(), ...dups]
    return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length })
  })
  await fc.assert(fc.asyncProperty(deliveries, fc.integer({ min: 1, max: 7 }), async (order, batch) => {
      const r = await replica(t, writers[2]!)
      for (let i = 0; i < order.length; i += batch) await r.apply(order.slice(i, i + batch).map(j => pool[j]!.envelope))
      return snapshot(r) === expected
    }), { numRuns: 25 })
  t.pass()
})

test('applyOpened: a burst of gossiped records in one go, each caller resolved once its batch is in effect, the same state as one by one', async t => {
  const [a, b] = await Promise.all([writer(), writer()])
  const pool: OpenedRecord[] = []
  for (const name of ['p', 'q', 'r', 's']) {
    for (const lamport of [3n, 1n, 2n]) pool.push(await sealRecord(a.key, a.id, { kind: 'network', key: name, lamport, deleted: false, deletedAtMs: 0n, body: networkBody(name, 10, a.id) }))
  }
  const oneByOne = await replica(t, b)
  for (const o of pool) await oneByOne.apply([o.envelope])

  const burst = await replica(t, b)
  const changes: string[] = []
  burst.on('change', c => { changes.push(`${c.record.id}@${c.record.lamport}`) })
  // All calls are made before any batch ran: the first takes everything queued so far.
  const results = await Promise.all(pool.map(async o => await burst.applyOpened([o])))
  t.is(snapshot(burst), snapshot(oneByOne))
  for (const name of ['p', 'q', 'r', 's']) t.is(burst.get(`network/${name}`)?.lamport, 3n)
  // Within a batch only the winner per id is applied: one change per record, the newest.
  t.deepEqual(changes.sort(), ['network/p@3', 'network/q@3', 'network/r@3', 'network/s@3'])
  t.true(results.every(n => n === results[0]), 'every caller of one batch gets its count')
  t.is(burst.clock, 3n)
  // A later call is a batch of its own and changes nothing it already holds.
  t.is(await burst.applyOpened([pool[1]!]), 0)
})

test('a newer write wins everywhere; a tombstone hides the record but is kept', async t => {
  const [a, b] = await Promise.all([writer(), writer()])
  const ra = await replica(t, a)
  const rb = await replica(t, b)
  const first = await ra.write('network', 'blue', NetworkBody.decode(networkBody('blue', 7, a.id)))
  await rb.apply([first.envelope])
  // b does not own a's network
  t.is((await t.throwsAsync(rb.write('network', 'blue', undefined)) as { code?: string }).code, 'E_CONFLICT')
  const second = await rb.write('endpoint', `${b.id}/blue/e1`, { network: 'blue', id: 'e1', mac: '02:42:0a:f0:00:05', ipv4: '10.240.0.5', ipv6: '', name: '', aliases: [], labels: new Map() })
  await ra.apply([second.envelope])
  const del = await ra.write('network', 'blue', undefined)
  t.true(del.record.lamport > second.record.lamport, 'a write after seeing a record gets a higher version')
  await rb.apply([del.envelope])
  t.is(rb.list('network').length, 0)
  t.true(rb.get('network/blue')?.deleted)
  t.is(snapshot(ra), snapshot(rb))
  t.is(await rb.reapTombstones(Date.now() + 25 * 3600 * 1000), 1)
  t.is(rb.get('network/blue'), undefined)
})

test('together: the records written inside it are announced in one local event, also when it throws; writes elsewhere are not held', async t => {
  const w = await writer()
  const state = await replica(t, w)
  const events: string[][] = []
  state.on('local', records => { events.push(records.map(o => o.record.id)) })
  const body = (name: string): NetworkBody => NetworkBody.decode(networkBody(name, 7, w.id))

  let release!: () => void
  const gate = new Promise<void>(resolve => { release = resolve })
  const inside = state.together(async () => {
    await state.write('network', 'a', body('a'))
    await gate
    await state.write('network', 'b', body('b'))
  })
  while (state.get('network/a') === undefined) await new Promise(resolve => setTimeout(resolve, 5))
  // a write from another context (another API request) goes out on its own, at once
  await state.write('network', 'other', body('other'))
  t.deepEqual(events, [['network/other']], 'nothing of the together call is announced before it ends')
  release()
  await inside
  t.deepEqual(events, [['network/other'], ['network/a', 'network/b']])

  await t.throwsAsync(state.together(async () => {
    await state.write('network', 'c', body('c'))
    throw new Error('boom')
  }), { message: 'boom' })
  t.deepEqual(events.at(-1), ['network/c'], 'what was written before the throw is on disk and announced')
  t.true(state.get('network/c') !== undefined)

  // a write started inside but not awaited, finishing after the call ended, is announced on its own
  let late: Promise<unknown> | undefined
  await state.together(async () => { late = state.write('network', 'late', body('late')) })
  await late
  t.deepEqual(events.at(-1), ['network/late'])
})

test('records persist: a reopened state holds the same records and clock', async t => {
  const r = await restartable(t, await writer())
  await r.state.write('network', 'x', NetworkBody.decode(networkBody('x', 9, r.state.peerId)))
  const before = snapshot(r.state)
  const clock = r.state.clock
  await r.restart()
  t.is(snapshot(r.state), before)
  t.is(r.state.clock, clock)
})

test('records from others take effect at once and reach the disk behind, the newest version of each', async t => {
  const [a, b] = await Promise.all([writer(), writer()])
  const r = await restartable(t, b)
  const s = r.state
  const versions = await Promise.all([1n, 2n, 3n].map(async lamport =>
    await sealRecord(a.key, a.id, { kind: 'network', key: 'x', lamport, deleted: false, deletedAtMs: 0n, body: networkBody('x', 9, a.id) })))
  await s.apply([versions[0]!.envelope])
  // In effect while not yet on disk.
  t.is(s.get('network/x')?.lamport, 1n)
  t.is(s.unwritten, 1)
  await s.apply([versions[2]!.envelope])
  await s.apply([versions[1]!.envelope]) // older: changes nothing
  // Written behind by itself, not by close():
  const deadline = Date.now() + 2_000
  while (s.unwritten > 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 5))
  t.is(s.unwritten, 0, 'written behind')
  await r.restart()
  t.is(r.state.get('network/x')?.lamport, 3n)
  t.is(r.state.clock, 3n)
})

test('a disk that refuses writes loses nothing: others\' records stay in effect and are written once it works; an own write fails with E_INTERNAL and leaves no trace', async t => {
  const [a, b] = await Promise.all([writer(), writer()])
  const r = await restartable(t, b)
  const { store, state: s } = r
  // LevelDB answering as on a full disk: every batch write fails.
  const realBatch = store.db.batch.bind(store.db)
  const full = (): ReturnType<typeof realBatch> => {
    const batch = realBatch()
    batch.write = async () => { throw Object.assign(new Error('IO error: No space left on device'), { code: 'LEVEL_IO_ERROR' }) }
    return batch
  }
  store.db.batch = full as typeof store.db.batch
  const theirs = await sealRecord(a.key, a.id, { kind: 'network', key: 'theirs', lamport: 4n, deleted: false, deletedAtMs: 0n, body: networkBody('theirs', 9, a.id) })
  t.is((await s.apply([theirs.envelope])).updated, 1)
  const local: string[] = []
  s.on('local', records => { local.push(...records.map(o => o.record.id)) })
  const err = await t.throwsAsync(s.write('network', 'mine', NetworkBody.decode(networkBody('mine', 8, b.id))))
  t.is((err as { code?: string }).code, 'E_INTERNAL')
  t.regex(err!.message, /No space left/)
  t.is(s.get('network/mine'), undefined, 'a failed own write is not in effect')
  t.deepEqual(local, [], 'nor announced')
  t.is(s.get('network/theirs')?.lamport, 4n, 'a received record stays in effect')
  t.is(s.unwritten, 1)
  // The disk works again: the retry (after 1 s) writes what was received.
  store.db.batch = realBatch as typeof store.db.batch
  const deadline = Date.now() + 5_000
  while (s.unwritten > 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
  t.is(s.unwritten, 0)
  await r.restart()
  t.is(r.state.get('network/theirs')?.lamport, 4n)
  t.is(r.state.get('network/mine'), undefined)
  // The clock covers what was received: the next own write supersedes it.
  t.true((await r.state.write('network', 'theirs', NetworkBody.decode(networkBody('theirs', 9, b.id)))).record.lamport > 4n)
})

test('openRecord rejects garbage, forgeries, foreign ownership and bad bodies with E_INVALID_ARGUMENT', async t => {
  const [a, b] = await Promise.all([writer(), writer()])
  const rejects = async (bytes: Uint8Array, msg: RegExp): Promise<void> => {
    const err = await t.throwsAsync(openRecord(bytes))
    t.is((err as { code?: string }).code, 'E_INVALID_ARGUMENT')
    t.regex(err!.message, msg)
  }
  await rejects(new Uint8Array([0xff, 0xff, 0xff, 0x01]), /undecodable/)
  await rejects(new Uint8Array(20_000), /limit/)
  // b signs a host record keyed by a's peer id: ownership violation
  const forged = await sealRecordUnchecked(b, { kind: RecordKind.KIND_HOST, key: a.id })
  await rejects(forged, /owned by/)
  // a valid record whose body is tampered with after signing
  const good = await sealRecord(a.key, a.id, { kind: 'network', key: 'n', lamport: 1n, deleted: false, deletedAtMs: 0n, body: networkBody('n', 5, a.id) })
  const env = SignedRecord.decode(good.envelope)
  const rec = WireRecord.decode(env.record)
  rec.lamport = 99n
  await rejects(SignedRecord.encode({ ...env, record: WireRecord.encode(rec) }), /bad signature/)
  await rejects(SignedRecord.encode({ ...env, schema: 42 }), /schema version/)
  // a body that does not match its key
  const mismatch = await sealRecord(a.key, a.id, { kind: 'network', key: 'other', lamport: 1n, deleted: false, deletedAtMs: 0n, body: networkBody('n', 5, a.id) })
    .catch((e: Error) => e)
  t.true(mismatch instanceof Error && /does not match/.test(mismatch.message))
})

/** Signs whatever it is given, bypassing the local checks, as a hostile peer would. */
async function sealRecordUnchecked (w: Writer, r: { kind: RecordKind, key: string }): Promise<Uint8Array> {
  const record = WireRecord.encode({ kind: r.kind, key: r.key, writer: w.id, lamport: 1n, deleted: false, deletedAtMs: 0n, body: new Uint8Array(0) })
  const domain = new TextEncoder().encode('meshplane-record:')
  const signature = await w.key.sign(new Uint8Array([...domain, ...record]))
  return SignedRecord.encode({ schema: RECORD_SCHEMA_VERSION, record, signature: new Uint8Array(signature) })
}
