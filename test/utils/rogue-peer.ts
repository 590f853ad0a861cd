/**
 * A hostile cluster member for tests: it holds the right cluster key, joins through a
 * seed, and publishes on the records topic (1) garbage bytes, (2) a host record it signed
 * but that is owned by another host (the victim), (3) a bundle of its own valid host
 * record (address 10.66.66.67) and that forgery (rejected whole), (4) an oversized
 * message; and on the
 * liveness topic (5) a suspicion of the victim (valid: any member may suspect another; the
 * victim must refute it), (6) a leave and (7) an alive "about" the victim that it signed
 * itself (forgeries: rejected). It prints one JSON line per publish and exits after
 * `linger` ms.
 *   rogue-peer.js <cluster-key-file> <seed host:port> <victim peer id> [linger-ms] [victim life]
 *
 * With ROGUE_ATTACKS set (JSON: { network: the victim network as the API shows it, only?:
 * attack names }), it
 * then runs the issue-15 attacks, each gossiped by a new member (a fresh identity, so a
 * rejection's gossipsub penalty cannot hide the next attack), and prints one JSON line
 * { attack, ... } per attack:
 *   counter-poison     its own network record at version 2^62
 *   network-tombstone  a tombstone of the victim network, which it does not own
 *   network-rewrite    the victim network (same creator) on another VNI
 *   bad-vtep           its own host record with a multicast VTEP
 *   bad-subnet         its own network on 127.0.0.0/8
 *   suspect-higher-life  a suspicion of the victim host at a life it never announced
 *   sync-repeat-wants  a sync request wanting one record as often as the digest allows
 *   ipam-no-host-record  a range request without a host record
 *   network-contest    a competing creation of the victim network (another VNI, subnet):
 *                      accepted (docs/security.md, residual risks); hosts keep their
 *                      containers' interfaces
 */
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { preSharedKey } from '@libp2p/pnet'
import { gossipsub } from '@libp2p/gossipsub'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import type { PrivateKey } from '@libp2p/interface'
import {
  SignedRecord, Record as WireRecord, RecordKind, RecordBundle, HostBody, NetworkBody, LivenessNews, NewsKind, RECORD_SCHEMA_VERSION,
  SyncHello, SyncDigest, SyncRecords
} from '@meshplane/proto'
import { readClusterKey } from '@meshplane/agent/identity.js'
import { parseSeed } from '@meshplane/agent/mesh/address.js'
import { RECORDS_TOPIC, LIVENESS_TOPIC, SYNC_PROTOCOL } from '@meshplane/agent/mesh/constants.js'
import { IPAM_PROTOCOL, runIpamClient } from '@meshplane/agent/ipam/index.js'

const [keyFile, seed, victim, lingerArg, lifeArg] = process.argv.slice(2)
/** A libp2p node holding the cluster key, as an agent's would be, connected to the seed
 * and subscribed to both topics (until the seed's subscription is seen, at most ~10 s). */
async function connectNode (key: PrivateKey): Promise<{ node: Awaited<ReturnType<typeof newNode>>, seedPeer: string }> {
  const n = await newNode(key)
  n.services.pubsub.subscribe(RECORDS_TOPIC)
  n.services.pubsub.subscribe(LIVENESS_TOPIC)
  const conn = await n.dial(parseSeed(seed!))
  for (let i = 0; i < 200 && n.services.pubsub.getSubscribers(RECORDS_TOPIC).length === 0; i++) await new Promise(r => setTimeout(r, 50))
  return { node: n, seedPeer: conn.remotePeer.toString() }
}

async function newNode (key: PrivateKey) {
  return await createLibp2p({
    privateKey: key,
    transports: [tcp()],
    connectionProtector: preSharedKey({ psk: readClusterKey(keyFile!) }),
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, fallbackToFloodsub: false, scoreParams: { IPColocationFactorWeight: 0 } })
    }
  })
}

const key = await generateKeyPair('Ed25519')
const me = peerIdFromPrivateKey(key).toString()
const { node } = await connectNode(key)

async function publish (what: string, data: Uint8Array, topic = RECORDS_TOPIC): Promise<void> {
  const r = await node.services.pubsub.publish(topic, data).catch((e: Error) => ({ error: e.message }))
  process.stdout.write(JSON.stringify({ what, result: 'recipients' in r ? r.recipients.length : r }) + '\n')
}

// (with ROGUE_ATTACKS, only those run: below)
const baseAttacks = process.env.ROGUE_ATTACKS === undefined
if (baseAttacks) await publish('garbage', new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0x01, 0x02]))
async function hostRecord (owner: string, underlayIp: string): Promise<Uint8Array<ArrayBuffer>> {
  const body = HostBody.encode({ underlayIp, vxlanPort: 4789, agentVersion: 'evil', startedAtMs: 1n, incarnation: 1n << 60n, leaving: false, multiaddrs: [] })
  const record = WireRecord.encode({ kind: RecordKind.KIND_HOST, key: owner, writer: me, lamport: 1n << 40n, deleted: false, deletedAtMs: 0n, body })
  const domain = new TextEncoder().encode('meshplane-record:')
  const signature = new Uint8Array(await key.sign(new Uint8Array([...domain, ...record])))
  return SignedRecord.encode({ schema: RECORD_SCHEMA_VERSION, record, signature })
}
const forged = await hostRecord(victim!, '10.66.66.66')
if (baseAttacks) {
  await publish('forged-owner', RecordBundle.encode({ records: [forged] }))
  await publish('mixed-bundle', RecordBundle.encode({ records: [await hostRecord(me, '10.66.66.67'), forged] }))
  await publish('oversized', new Uint8Array(64 * 1024).fill(7))
}
if (baseAttacks && lifeArg !== undefined) {
  const life = BigInt(lifeArg)
  await publish('false-suspicion', LivenessNews.encode({ kind: NewsKind.NEWS_SUSPECT, peer: victim!, incarnation: life, seq: 0n }), LIVENESS_TOPIC)
  await publish('forged-leave', LivenessNews.encode({ kind: NewsKind.NEWS_LEAVE, peer: victim!, incarnation: life, seq: 0n }), LIVENESS_TOPIC)
  await publish('forged-alive', LivenessNews.encode({ kind: NewsKind.NEWS_ALIVE, peer: victim!, incarnation: life + 1n, seq: 0n }), LIVENESS_TOPIC)
}
await new Promise(r => setTimeout(r, Number(lingerArg ?? 2000)))
await node.stop()

// ---- issue 15: a member that holds the key and signs what it may not ----------------------

interface VictimNetwork { name: string, vni: number, subnet: string, gateway: string, creator: string, createdAt: string }

const line = (o: Record<string, unknown>): void => { process.stdout.write(JSON.stringify(o) + '\n') }

/** A new member: its own identity, connected to the seed, subscribed to both topics. */
async function member (): Promise<{ key: PrivateKey, id: string, node: typeof node, seedPeer: string }> {
  const key = await generateKeyPair('Ed25519')
  const { node: m, seedPeer } = await connectNode(key)
  return { key, id: peerIdFromPrivateKey(key).toString(), node: m, seedPeer }
}

async function forge (key: PrivateKey, writer: string, r: { kind: RecordKind, key: string, lamport: bigint, deleted?: boolean, body: Uint8Array }): Promise<Uint8Array<ArrayBuffer>> {
  const record = WireRecord.encode({ kind: r.kind, key: r.key, writer, lamport: r.lamport, deleted: r.deleted ?? false, deletedAtMs: r.deleted === true ? BigInt(Date.now()) : 0n, body: new Uint8Array(r.body) })
  const signature = new Uint8Array(await key.sign(new Uint8Array([...new TextEncoder().encode('meshplane-record:'), ...record])))
  return SignedRecord.encode({ schema: RECORD_SCHEMA_VERSION, record, signature })
}

/** One attack by gossip from a fresh member: the signed records it writes, one bundle. */
async function gossipAttack (attack: string, records: (m: { key: PrivateKey, id: string }) => Promise<Array<Uint8Array<ArrayBuffer>>>): Promise<void> {
  const m = await member()
  const bundle = RecordBundle.encode({ records: await records(m) })
  // a loaded host may not have its subscription or stream to us ready yet: try again
  let r: { recipients: unknown[] } | { error: string } = { recipients: [] }
  for (let i = 0; i < 10 && !('error' in r) && r.recipients.length === 0; i++) {
    if (i > 0) await new Promise(resolve => setTimeout(resolve, 200))
    r = await m.node.services.pubsub.publish(RECORDS_TOPIC, bundle).catch((e: Error) => ({ error: e.message }))
  }
  line({ attack, writer: m.id, result: 'recipients' in r ? r.recipients.length : r })
  await new Promise(resolve => setTimeout(resolve, 300))
  await m.node.stop()
}

const attacks = process.env.ROGUE_ATTACKS
if (attacks !== undefined) {
  const { network: victimNet, only } = JSON.parse(attacks) as { network: VictimNetwork, only?: string[] }
  const run = (attack: string): boolean => only === undefined || only.includes(attack)
  const body = (extra: Partial<NetworkBody>): Uint8Array => NetworkBody.encode({
    name: victimNet.name, vni: victimNet.vni, subnet: victimNet.subnet, gateway: victimNet.gateway, mtu: 0, options: new Map(),
    creator: victimNet.creator, createdAtMs: BigInt(Date.parse(victimNet.createdAt)), internal: false, ...extra
  })
  const within = 1n << 20n // above any version the test cluster wrote, within the allowed step
  const host = (id: string, underlayIp: string): Uint8Array => HostBody.encode({ underlayIp, vxlanPort: 4789, agentVersion: 'evil', startedAtMs: 1n, incarnation: 1n, leaving: false, multiaddrs: [] })

  if (run('counter-poison')) await gossipAttack('counter-poison', async m => [await forge(m.key, m.id, {
    kind: RecordKind.KIND_NETWORK, key: 'poison', lamport: 1n << 62n,
    body: NetworkBody.encode({ name: 'poison', vni: 777, subnet: '10.77.0.0/16', gateway: '10.77.0.1', mtu: 0, options: new Map(), creator: m.id, createdAtMs: 1n, internal: false })
  })])
  if (run('network-tombstone')) await gossipAttack('network-tombstone', async m => [await forge(m.key, m.id, { kind: RecordKind.KIND_NETWORK, key: victimNet.name, lamport: within, deleted: true, body: body({}) })])
  if (run('network-rewrite')) await gossipAttack('network-rewrite', async m => [await forge(m.key, m.id, { kind: RecordKind.KIND_NETWORK, key: victimNet.name, lamport: within, body: body({ vni: victimNet.vni + 1 }) })])
  if (run('bad-vtep')) await gossipAttack('bad-vtep', async m => [await forge(m.key, m.id, { kind: RecordKind.KIND_HOST, key: m.id, lamport: 1n, body: host(m.id, '224.0.0.1') })])
  if (run('bad-subnet')) await gossipAttack('bad-subnet', async m => [await forge(m.key, m.id, {
    kind: RecordKind.KIND_NETWORK, key: 'loopback', lamport: 1n,
    body: NetworkBody.encode({ name: 'loopback', vni: 778, subnet: '127.0.0.0/8', gateway: '127.0.0.1', mtu: 0, options: new Map(), creator: m.id, createdAtMs: 1n, internal: false })
  })])

  if (lifeArg !== undefined && run('suspect-higher-life')) {
    const m = await member()
    const r = await m.node.services.pubsub.publish(LIVENESS_TOPIC, LivenessNews.encode({ kind: NewsKind.NEWS_SUSPECT, peer: victim!, incarnation: BigInt(lifeArg) + 1n, seq: 0n }))
      .catch((e: Error) => ({ error: e.message }))
    line({ attack: 'suspect-higher-life', result: 'recipients' in r ? r.recipients.length : r })
    await m.node.stop()
  }

  if (run('sync-repeat-wants')) {
    // a sync client that wants one record as often as the server's digest lets it
    const m = await member()
    const stream = await m.node.dialProtocol(peerIdFromString(m.seedPeer), SYNC_PROTOCOL)
    const lp = lpStream(stream, { maxDataLength: 64 << 20 })
    await lp.write(SyncHello.encode({ bucketHashes: [] }))
    const digest = SyncDigest.decode((await lp.read()).subarray())
    const want = digest.entries.map(() => digest.entries[0]!.id)
    await lp.write(SyncRecords.encode({ records: [], want }))
    const reply = SyncRecords.decode((await lp.read()).subarray())
    line({ attack: 'sync-repeat-wants', wanted: want.length, distinct: new Set(want).size, received: reply.records.length })
    await m.node.stop()
  }

  if (run('ipam-no-host-record')) {
    const m = await member()
    const stream = await m.node.dialProtocol(peerIdFromString(m.seedPeer), IPAM_PROTOCOL)
    const error = await runIpamClient(stream, { network: victimNet.name, size: 32768 }).then(() => undefined, (e: Error) => e.message)
    line({ attack: 'ipam-no-host-record', error })
    await m.node.stop()
  }

  if (run('network-contest')) await gossipAttack('network-contest', async m => [await forge(m.key, m.id, {
    kind: RecordKind.KIND_NETWORK, key: victimNet.name, lamport: within,
    body: body({ vni: victimNet.vni + 2, subnet: '10.99.0.0/16', gateway: '10.99.0.1', creator: m.id, createdAtMs: BigInt(Date.now()) })
  })])
}
