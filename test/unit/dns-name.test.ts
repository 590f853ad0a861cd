import test from 'ava'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { SignedRecord, Record as WireRecord, RecordKind, EndpointBody, RECORD_SCHEMA_VERSION } from '@meshplane/proto'
import { openRecord } from '@meshplane/agent/state/index.js'
import { canonicalAliases, dnsLabelProblem, endpointNamesProblem, MAX_ALIASES } from '@meshplane/agent/net/dns-name.js'

test('a name is one lowercase DNS label of at most 63 characters', t => {
  for (const ok of ['db', 'web-1', 'a', 'my_app_1', '0', 'x'.repeat(63)]) t.is(dnsLabelProblem(ok), undefined, ok)
  for (const bad of ['', '-db', 'db-', 'DB', 'db.example', 'a b', 'é', 'x'.repeat(64), 'docker:abc', 'db\u0000']) t.not(dnsLabelProblem(bad), undefined, JSON.stringify(bad))
  t.is(endpointNamesProblem('', []), undefined)
  t.regex(endpointNamesProblem('db', ['svc', 'svc']) ?? '', /twice/)
  t.regex(endpointNamesProblem('db', Array.from({ length: MAX_ALIASES + 1 }, (_, i) => `a${i}`)) ?? '', /at most 16/)
  t.deepEqual(canonicalAliases('db', ['Svc', 'svc', 'DB', 'web']), ['svc', 'web'])
})

/** An endpoint record signed by its owner, with whatever name and aliases a hostile or
 * older peer might send (no local checks on the way). */
async function endpointEnvelope (name: string, aliases: string[]): Promise<Uint8Array> {
  const key = await generateKeyPair('Ed25519')
  const id = peerIdFromPrivateKey(key).toString()
  const body = EndpointBody.encode({ network: 'blue', id: 'e1', mac: '02:42:0a:f0:00:02', ipv4: '10.240.0.2', ipv6: '', name, aliases, labels: new Map() })
  const record = WireRecord.encode({ kind: RecordKind.KIND_ENDPOINT, key: `${id}/blue/e1`, writer: id, lamport: 1n, deleted: false, deletedAtMs: 0n, body })
  const signature = await key.sign(new Uint8Array([...new TextEncoder().encode('meshplane-record:'), ...record]))
  return SignedRecord.encode({ schema: RECORD_SCHEMA_VERSION, record, signature: new Uint8Array(signature) })
}

test('received endpoint records with bad names or too many aliases are rejected; good ones carry them', async t => {
  const good = await openRecord(await endpointEnvelope('db', ['svc', 'primary']))
  t.is(good.record.kind, 'endpoint')
  t.deepEqual(good.record.kind === 'endpoint' ? [good.record.body?.name, good.record.body?.aliases] : [], ['db', ['svc', 'primary']])
  for (const [name, aliases, msg] of [
    ['Has.Dots', [], /name/],
    ['x'.repeat(200), [], /longer than 63/],
    ['db', ['ok', '-bad'], /alias/],
    ['db', Array.from({ length: MAX_ALIASES + 1 }, (_, i) => `a${i}`), /at most 16|too many/],
    ['db', Array.from({ length: 500 }, (_, i) => `a${i}`), /undecodable|too many/]
  ] as Array<[string, string[], RegExp]>) {
    const err = await t.throwsAsync(openRecord(await endpointEnvelope(name, aliases)))
    t.is((err as { code?: string }).code, 'E_INVALID_ARGUMENT')
    t.regex(err!.message, msg, `${name.slice(0, 10)} ${aliases.length}`)
  }
})
