/**
 * Decoders fed what a hostile member can send (issue 15, fast-check): whatever the bytes,
 * a record decoder either returns a record that passes every check or throws
 * E_INVALID_ARGUMENT; it never throws anything else, and never accepts a changed byte of
 * a signed record.
 */
import test from 'ava'
import fc from 'fast-check'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { NetworkBody, RecordBundle, LivenessNews, SyncRecords } from '@meshplane/proto'
import { openRecord, sealRecord } from '@meshplane/agent/state/index.js'
import { MeshplaneError } from '@meshplane/agent/errors.js'

async function outcome (bytes: Uint8Array): Promise<'accepted' | 'refused'> {
  try {
    await openRecord(bytes)
    return 'accepted'
  } catch (err) {
    if (err instanceof MeshplaneError && err.code === 'E_INVALID_ARGUMENT') return 'refused'
    throw err
  }
}

test('openRecord: arbitrary bytes are refused with E_INVALID_ARGUMENT, never another error', async t => {
  await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), async bytes => {
    return await outcome(bytes) === 'refused'
  }), { numRuns: 2000 })
  t.pass()
})

test('openRecord: any changed byte of a signed record is refused or decodes to the same signed record', async t => {
  const key = await generateKeyPair('Ed25519')
  const id = peerIdFromPrivateKey(key).toString()
  const good = await sealRecord(key, id, {
    kind: 'network',
    key: 'blue',
    lamport: 7n,
    deleted: false,
    deletedAtMs: 0n,
    body: NetworkBody.encode({ name: 'blue', vni: 4242, subnet: '10.240.0.0/16', gateway: '10.240.0.1', mtu: 0, options: new Map(), creator: id, createdAtMs: 1n, internal: false })
  })
  await fc.assert(fc.asyncProperty(fc.nat(good.envelope.byteLength - 1), fc.integer({ min: 1, max: 255 }), async (at, xor) => {
    const bytes = new Uint8Array(good.envelope)
    bytes[at]! ^= xor
    try {
      const o = await openRecord(bytes)
      // a change the protobuf decoder cannot see (e.g. in an unknown field's payload)
      // still verifies only if the signed part is the same
      return o.record.lamport === good.record.lamport && o.record.writer === id && o.record.key === 'blue'
    } catch (err) {
      return err instanceof MeshplaneError && err.code === 'E_INVALID_ARGUMENT'
    }
  }), { numRuns: 1000 })
  t.pass()
})

test('the wire decoders with the limits the agent uses throw only plain decode errors on arbitrary bytes', t => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 4096 }), bytes => {
    for (const decode of [
      () => RecordBundle.decode(bytes, { limits: { records: 64 } }),
      () => LivenessNews.decode(bytes),
      () => SyncRecords.decode(bytes, { limits: { records: 16, want: 16 } })
    ]) {
      try {
        const m = decode() as { records?: unknown[], want?: unknown[] }
        if ((m.records?.length ?? 0) > 64 || (m.want?.length ?? 0) > 16) return false
      } catch (err) {
        if (!(err instanceof Error)) return false
      }
    }
    return true
  }), { numRuns: 3000 })
  t.pass()
})
