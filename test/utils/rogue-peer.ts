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
 */
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { preSharedKey } from '@libp2p/pnet'
import { gossipsub } from '@libp2p/gossipsub'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { SignedRecord, Record as WireRecord, RecordKind, RecordBundle, HostBody, LivenessNews, NewsKind, RECORD_SCHEMA_VERSION } from '@meshplane/proto'
import { readClusterKey } from '@meshplane/agent/identity.js'
import { parseSeed } from '@meshplane/agent/mesh/address.js'
import { RECORDS_TOPIC, LIVENESS_TOPIC } from '@meshplane/agent/mesh/constants.js'

const [keyFile, seed, victim, lingerArg, lifeArg] = process.argv.slice(2)
const key = await generateKeyPair('Ed25519')
const me = peerIdFromPrivateKey(key).toString()
const node = await createLibp2p({
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
node.services.pubsub.subscribe(RECORDS_TOPIC)
node.services.pubsub.subscribe(LIVENESS_TOPIC)
await node.dial(parseSeed(seed!))
for (let i = 0; i < 100 && node.services.pubsub.getSubscribers(RECORDS_TOPIC).length === 0; i++) await new Promise(r => setTimeout(r, 100))

async function publish (what: string, data: Uint8Array, topic = RECORDS_TOPIC): Promise<void> {
  const r = await node.services.pubsub.publish(topic, data).catch((e: Error) => ({ error: e.message }))
  process.stdout.write(JSON.stringify({ what, result: 'recipients' in r ? r.recipients.length : r }) + '\n')
}

await publish('garbage', new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0x01, 0x02]))
async function hostRecord (owner: string, underlayIp: string): Promise<Uint8Array<ArrayBuffer>> {
  const body = HostBody.encode({ underlayIp, vxlanPort: 4789, agentVersion: 'evil', startedAtMs: 1n, incarnation: 1n << 60n, leaving: false, multiaddrs: [] })
  const record = WireRecord.encode({ kind: RecordKind.KIND_HOST, key: owner, writer: me, lamport: 1n << 40n, deleted: false, deletedAtMs: 0n, body })
  const domain = new TextEncoder().encode('meshplane-record:')
  const signature = new Uint8Array(await key.sign(new Uint8Array([...domain, ...record])))
  return SignedRecord.encode({ schema: RECORD_SCHEMA_VERSION, record, signature })
}
const forged = await hostRecord(victim!, '10.66.66.66')
await publish('forged-owner', RecordBundle.encode({ records: [forged] }))
await publish('mixed-bundle', RecordBundle.encode({ records: [await hostRecord(me, '10.66.66.67'), forged] }))
await publish('oversized', new Uint8Array(64 * 1024).fill(7))
if (lifeArg !== undefined) {
  const life = BigInt(lifeArg)
  await publish('false-suspicion', LivenessNews.encode({ kind: NewsKind.NEWS_SUSPECT, peer: victim!, incarnation: life, seq: 0n }), LIVENESS_TOPIC)
  await publish('forged-leave', LivenessNews.encode({ kind: NewsKind.NEWS_LEAVE, peer: victim!, incarnation: life, seq: 0n }), LIVENESS_TOPIC)
  await publish('forged-alive', LivenessNews.encode({ kind: NewsKind.NEWS_ALIVE, peer: victim!, incarnation: life + 1n, seq: 0n }), LIVENESS_TOPIC)
}
await new Promise(r => setTimeout(r, Number(lingerArg ?? 2000)))
await node.stop()
