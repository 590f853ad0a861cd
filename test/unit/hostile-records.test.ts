/**
 * A member holding the cluster key sends records that are validly signed but do what it
 * may not (docs/security.md): each is refused before it touches the state.
 */
import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import {
  SignedRecord, Record as WireRecord, RecordKind, NetworkBody, HostBody, EndpointBody, RangesBody, RECORD_SCHEMA_VERSION
} from '@meshplane/proto'
import { ClusterState, DataStore, openRecord, MAX_LAMPORT, MAX_LAMPORT_STEP } from '@meshplane/agent/state/index.js'
import { Networks } from '@meshplane/agent/control/networks.js'

const logger = pino({ level: 'silent' })

interface Writer { key: PrivateKey, id: string }
async function writer (): Promise<Writer> {
  const key = await generateKeyPair('Ed25519')
  return { key, id: peerIdFromPrivateKey(key).toString() }
}

async function replica (t: { teardown: (fn: () => Promise<void>) => void }, w: Writer, clock?: bigint): Promise<ClusterState> {
  const dir = await mkdtemp(join(tmpdir(), 'mp-hostile-'))
  const store = await DataStore.open(dir)
  if (clock !== undefined) await store.meta.put('clock', clock.toString())
  const state = new ClusterState({ store, privateKey: w.key, peerId: w.id, logger })
  await state.load()
  t.teardown(async () => { await state.close(); await store.close(); await rm(dir, { recursive: true, force: true }) })
  return state
}

const KINDS = { host: RecordKind.KIND_HOST, network: RecordKind.KIND_NETWORK, endpoint: RecordKind.KIND_ENDPOINT, ranges: RecordKind.KIND_RANGES }

/** Signs whatever it is given, as a hostile member would (no local checks). */
async function forge (w: Writer, r: { kind: keyof typeof KINDS, key: string, lamport?: bigint, deleted?: boolean, body: Uint8Array }): Promise<Uint8Array> {
  const record = WireRecord.encode({
    kind: KINDS[r.kind], key: r.key, writer: w.id, lamport: r.lamport ?? 1n, deleted: r.deleted ?? false, deletedAtMs: r.deleted === true ? 1n : 0n, body: new Uint8Array(r.body)
  })
  const signature = await w.key.sign(new Uint8Array([...new TextEncoder().encode('meshplane-record:'), ...record]))
  return SignedRecord.encode({ schema: RECORD_SCHEMA_VERSION, record, signature: new Uint8Array(signature) })
}

function network (name: string, creator: string, extra: Partial<NetworkBody> = {}): NetworkBody {
  return { name, vni: 4242, subnet: '10.240.0.0/16', gateway: '10.240.0.1', mtu: 0, options: new Map(), creator, createdAtMs: 1n, internal: false, ...extra }
}

test('counter poisoning: a version far above the clock is refused and leaves the clock alone; the clock never wraps', async t => {
  const [honest, rogue] = await Promise.all([writer(), writer()])
  const s = await replica(t, honest)
  const clockBefore = s.clock
  // near the top of uint64: refused by the codec (nobody may go there)
  const top = await forge(rogue, { kind: 'network', key: 'top', lamport: (1n << 64n) - 2n, body: NetworkBody.encode(network('top', rogue.id)) })
  t.regex((await t.throwsAsync(openRecord(top)))!.message, /version .* outside/)
  // a large step: valid by itself, refused by a replica whose clock is far below
  const far = await forge(rogue, { kind: 'network', key: 'far', lamport: clockBefore + MAX_LAMPORT_STEP + 1n, body: NetworkBody.encode(network('far', rogue.id)) })
  t.like(await s.apply([top, far]), { updated: 0, rejected: 2 })
  t.is(s.clock, clockBefore, 'the clock did not move')
  t.is(s.get('network/far'), undefined)
  // within the step: accepted
  const near = await forge(rogue, { kind: 'network', key: 'near', lamport: clockBefore + 1000n, body: NetworkBody.encode(network('near', rogue.id)) })
  t.like(await s.apply([near]), { updated: 1, rejected: 0 })
  // a replica whose clock is at the top refuses its own next write instead of wrapping
  const old = await replica(t, honest, MAX_LAMPORT)
  const err = await t.throwsAsync(old.write('network', 'x', network('x', honest.id)))
  t.regex(err!.message, /clock is exhausted/)
  t.is(old.get('network/x'), undefined)
})

test('networks: only the creator writes or removes one; rmpeer hands removal to the reclaimer; a non-owner rm names the owner', async t => {
  const [owner, rogue, other] = await Promise.all([writer(), writer(), writer()])
  const s = await replica(t, other)
  const created = await (await replica(t, owner)).write('network', 'blue', network('blue', owner.id))
  await s.apply([created.envelope])
  // a rewrite of owner's network (same lineage) signed by the rogue: refused by the codec
  const rewrite = await forge(rogue, { kind: 'network', key: 'blue', lamport: 50n, body: NetworkBody.encode(network('blue', owner.id, { vni: 99 })) })
  // a tombstone naming owner's network, signed by the rogue: refused by admission
  const tomb = await forge(rogue, { kind: 'network', key: 'blue', lamport: 51n, deleted: true, body: NetworkBody.encode(network('blue', owner.id)) })
  // a tombstone naming no network
  const bare = await forge(rogue, { kind: 'network', key: 'blue', lamport: 52n, deleted: true, body: new Uint8Array(0) })
  t.like(await s.apply([rewrite, tomb, bare]), { updated: 0, rejected: 3 })
  t.is(s.get('network/blue')?.deleted, false)
  t.is((s.get('network/blue')?.body as NetworkBody).vni, 4242)

  // `network rm` on a host that does not own it: refused, naming the owner
  const networks = new Networks({ state: s })
  const err = await t.throwsAsync(networks.remove('blue'))
  t.is((err as { code?: string }).code, 'E_CONFLICT')
  t.true(err!.message.includes(`owned by ${owner.id}`), err!.message)

  // the rogue's tombstone is accepted once the rogue reclaimed the owner (rmpeer)
  const reclaim: RangesBody = { network: 'blue', ranges: [], lineage: `${owner.id}@1`, grants: [], claims: [], reclaims: [{ peer: owner.id, ranges: [], atMs: 1n }], freeHint: 0 }
  const ranges = await forge(rogue, { kind: 'ranges', key: `blue/${rogue.id}`, lamport: 53n, body: RangesBody.encode(reclaim) })
  t.like(await s.apply([ranges]), { rejected: 0 })
  t.like(await s.apply([tomb]), { rejected: 0 })
  t.is(s.get('network/blue')?.deleted, true)

  // and on the host that ran rmpeer, `network rm` is allowed
  const r2 = await replica(t, other)
  await r2.apply([created.envelope])
  const mine = await r2.write('ranges', `blue/${other.id}`, { ...reclaim })
  t.truthy(mine)
  t.is(new Networks({ state: r2 }).owner('blue'), other.id)
  await new Networks({ state: r2 }).remove('blue')
  t.is(r2.get('network/blue')?.deleted, true)
})

test('received values are checked as strictly as the local commands: VTEP, MAC, subnet, gateway, ranges', async t => {
  const rogue = await writer()
  const host = (underlayIp: string): Uint8Array => HostBody.encode({ underlayIp, vxlanPort: 4789, agentVersion: 'x', startedAtMs: 1n, incarnation: 1n, leaving: false, multiaddrs: [] })
  const refused = async (bytes: Uint8Array, msg: RegExp): Promise<void> => {
    const err = await t.throwsAsync(openRecord(bytes))
    t.is((err as { code?: string }).code, 'E_INVALID_ARGUMENT')
    t.regex(err!.message, msg)
  }
  for (const ip of ['0.0.0.0', '127.0.0.1', '224.0.0.1', '239.1.2.3', '255.255.255.255', '240.0.0.1']) {
    await refused(await forge(rogue, { kind: 'host', key: rogue.id, body: host(ip) }), /not a unicast address/)
  }
  await openRecord(await forge(rogue, { kind: 'host', key: rogue.id, body: host('10.1.2.3') }))

  const endpoint = (mac: string): Uint8Array => EndpointBody.encode({ network: 'n', id: 'e', mac, ipv4: '10.240.0.9', ipv6: '', name: '', aliases: [], labels: new Map() })
  await refused(await forge(rogue, { kind: 'endpoint', key: `${rogue.id}/n/e`, body: endpoint('01:00:5e:00:00:01') }), /multicast/)
  await refused(await forge(rogue, { kind: 'endpoint', key: `${rogue.id}/n/e`, body: endpoint('ff:ff:ff:ff:ff:ff') }), /multicast/)
  await refused(await forge(rogue, { kind: 'endpoint', key: `${rogue.id}/n/e`, body: endpoint('00:00:00:00:00:00') }), /all zeros/)

  const net = async (extra: Partial<NetworkBody>): Promise<Uint8Array> => await forge(rogue, { kind: 'network', key: 'n', body: NetworkBody.encode(network('n', rogue.id, extra)) })
  await refused(await net({ subnet: '127.0.0.0/8', gateway: '127.0.0.1' }), /overlaps 127.0.0.0\/8/)
  await refused(await net({ subnet: '0.0.0.0/0', gateway: '10.0.0.1' }), /overlaps/)
  await refused(await net({ subnet: '169.254.0.0/16', gateway: '169.254.0.1' }), /overlaps/)
  await refused(await net({ subnet: '10.240.0.0/31', gateway: '10.240.0.0' }), /too small/)
  await refused(await net({ subnet: '10.240.0.5/16' }), /subnet/)
  await refused(await net({ gateway: '10.240.255.255' }), /gateway/)
  await refused(await net({ vni: 0 }), /VNI/)
  await refused(await net({ mtu: 65000 }), /MTU/)
  await refused(await net({ creator: 'someone-else' }), /creator/)

  const ranges = (start: string, end: string): Uint8Array => RangesBody.encode({ network: 'n', ranges: [{ start, end, gen: 1n }], lineage: '', grants: [], claims: [], reclaims: [], freeHint: 0 })
  await refused(await forge(rogue, { kind: 'ranges', key: `n/${rogue.id}`, body: ranges('10.0.0.9', '10.0.0.1') }), /ends before it starts/)
})
