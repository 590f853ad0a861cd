/**
 * A member holding the cluster key as a sync client (issue 15): repeated wants, wants the
 * digest never offered, more wants than it offered. The server answers each distinct
 * offered id once and refuses oversized requests before decoding them.
 */
import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { streamPair, lpStream } from '@libp2p/utils'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { SyncHello, SyncDigest, SyncRecords } from '@meshplane/proto'
import { ClusterState, DataStore } from '@meshplane/agent/state/index.js'
import { runSyncServer, answerWants } from '@meshplane/agent/mesh/sync.js'

const logger = pino({ level: 'silent' })

async function serverState (t: { teardown: (fn: () => Promise<void>) => void }, networks: number): Promise<ClusterState> {
  const key = await generateKeyPair('Ed25519')
  const dir = await mkdtemp(join(tmpdir(), 'mp-sync-'))
  const store = await DataStore.open(dir)
  const state = new ClusterState({ store, privateKey: key, peerId: peerIdFromPrivateKey(key).toString(), logger })
  await state.load()
  t.teardown(async () => { await state.close(); await store.close(); await rm(dir, { recursive: true, force: true }) })
  for (let i = 0; i < networks; i++) {
    await state.write('network', `n${i}`, {
      name: `n${i}`, vni: 5000 + i, subnet: `10.${i}.0.0/16`, gateway: `10.${i}.0.1`, mtu: 0, options: new Map(), creator: state.peerId, createdAtMs: 1n, internal: false
    })
  }
  return state
}

/** Runs the server against a hand-driven client: hello with no hashes (every bucket
 * differs), then `want(digest)`. Returns the reply, or the server's error. */
async function rogueClient (state: ClusterState, want: (digest: SyncDigest) => string[]): Promise<{ reply?: SyncRecords, serverError?: Error }> {
  const [client, server] = await streamPair()
  const served = runSyncServer(state, server).then(() => undefined, (err: Error) => { server.abort(err); return err })
  const lp = lpStream(client, { maxDataLength: 64 << 20 })
  await lp.write(SyncHello.encode({ bucketHashes: [] }))
  const digest = SyncDigest.decode((await lp.read()).subarray())
  await lp.write(SyncRecords.encode({ records: [], want: want(digest) }))
  try {
    const reply = SyncRecords.decode((await lp.read()).subarray())
    return { reply, serverError: await served }
  } catch {
    return { serverError: await served }
  }
}

test('a sync request with repeated wants gets one copy of each record; ids the digest never offered get nothing', async t => {
  const state = await serverState(t, 3)
  const { reply, serverError } = await rogueClient(state, digest => {
    const id = digest.entries[0]!.id
    t.is(digest.entries.length, 3)
    // 139 copies of one id (the measured amplification), the same number fits the limit
    // only when each digest entry's id is repeated: here want.length must stay ≤ 3
    return [id, id, id]
  })
  t.is(serverError, undefined)
  t.is(reply?.records.length, 1, 'one reply per distinct want')
  // direct: 139 repeats and unknown ids
  const offered = new Set(['network/n0', 'network/n1'])
  t.is(answerWants(state, Array(139).fill('network/n0'), offered).length, 1)
  t.is(answerWants(state, ['network/n2', 'network/n0', 'network/n0', 'network/nope'], offered).length, 1, 'only offered ids')
})

test('a sync request with more wants than the digest offered is refused before it is decoded', async t => {
  const state = await serverState(t, 2)
  const { reply, serverError } = await rogueClient(state, digest => Array(139).fill(digest.entries[0]!.id))
  t.is(reply, undefined, 'no answer')
  t.truthy(serverError, 'the server refused the request')
})

test('a large push is verified in slices: the event loop turns while it is checked', async t => {
  const state = await serverState(t, 0)
  const other = await serverState(t, 200)
  const envelopes = other.entriesInBuckets(new Set(Array.from({ length: 256 }, (_, i) => i))).map(o => o.envelope)
  const order: string[] = []
  setImmediate(() => order.push('event loop'))
  await state.apply(envelopes).then(r => { order.push('applied'); t.is(r.updated, 200) })
  t.deepEqual(order, ['event loop', 'applied'])
})
