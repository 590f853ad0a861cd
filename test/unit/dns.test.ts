import test from 'ava'
import dnsPacket from 'dns-packet'
import { decide, RCODE } from '@meshplane/agent/dns/answer.js'
import { buildZone } from '@meshplane/agent/dns/zone.js'
import { parseResolvConf } from '@meshplane/agent/dns/upstream.js'
import { RateLimiter } from '@meshplane/agent/dns/rate-limit.js'
import type { NetworkBody } from '@meshplane/agent/state/index.js'

const net = (name: string, subnet: string): NetworkBody => ({ name, subnet, vni: 1, gateway: '', mtu: 0, options: new Map(), creator: '', createdAtMs: 0n, internal: false })
const zone = buildZone([net('blue', '10.240.0.0/16'), net('red', '10.241.0.0/16')], [
  { network: 'blue', name: 'db', aliases: ['svc'], ipv4: '10.240.1.10' },
  { network: 'blue', name: 'api', aliases: ['svc'], ipv4: '10.240.2.10' },
  { network: 'blue', name: '', aliases: [], ipv4: '10.240.3.10' },
  { network: 'red', name: 'secret', aliases: [], ipv4: '10.241.1.10' }
])
let counter = 0
const opts = { zone, source: '10.240.9.9', transport: 'udp' as const, rotate: () => counter++ }
const query = (name: string, type: string = 'A', extra: Partial<dnsPacket.Packet> = {}): Buffer =>
  dnsPacket.encode({ id: 4242, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as 'A' }], ...extra })

function reply (bytes: Buffer, o = opts): dnsPacket.Packet & { rcode?: string } {
  const d = decide(bytes, o)
  if (d.action !== 'reply') throw new Error(`expected a reply, got ${d.action}`)
  return dnsPacket.decode(d.bytes) as dnsPacket.Packet & { rcode?: string }
}
const addresses = (p: dnsPacket.Packet): string[] => (p.answers ?? []).map(a => (a as { data: string }).data)

test('names of the querier\'s network: A, shared alias in rotating order, AAAA empty, unknown NXDOMAIN, PTR', t => {
  const a = reply(query('db'))
  t.is(a.id, 4242)
  t.is(a.rcode, 'NOERROR')
  t.deepEqual(addresses(a), ['10.240.1.10'])
  t.is((a.answers![0] as { ttl: number }).ttl, 5)
  const first = addresses(reply(query('SVC.')))
  const second = addresses(reply(query('svc')))
  t.deepEqual([...first].sort(), ['10.240.1.10', '10.240.2.10'])
  t.not(first[0], second[0], 'the first address rotates')
  const aaaa = reply(query('db', 'AAAA'))
  t.is(aaaa.rcode, 'NOERROR')
  t.deepEqual(aaaa.answers, [])
  t.is(reply(query('nobody')).rcode, 'NXDOMAIN')
  t.is(reply(query('secret')).rcode, 'NXDOMAIN', 'red\'s names are not blue\'s')
  t.deepEqual(addresses(reply(query('secret'), { ...opts, source: '10.241.5.5' })), ['10.241.1.10'])
  t.deepEqual(addresses(reply(query('10.1.240.10.in-addr.arpa', 'PTR'))), ['db'])
  t.is(reply(query('10.3.240.10.in-addr.arpa', 'PTR')).rcode, 'NXDOMAIN', 'an unnamed endpoint has no PTR')
})

test('other names are forwarded; queriers outside every network are refused', t => {
  t.is(decide(query('example.com'), opts).action, 'forward')
  t.is(decide(query('10.1.0.192.in-addr.arpa', 'PTR'), opts).action, 'forward')
  t.is(reply(query('db'), { ...opts, source: '192.168.1.1' }).rcode, 'REFUSED')
})

test('hostile input: truncated, garbage, compression loops, responses, several questions, other opcodes', t => {
  const good = query('db')
  t.is(decide(good.subarray(0, 11), opts).action, 'drop', 'shorter than a header: nothing to answer')
  t.is(reply(good.subarray(0, 15)).rcode, 'FORMERR', 'truncated question')
  // a name whose compression pointer points at itself
  const loop = Buffer.from(good.subarray(0, 12))
  loop.writeUInt16BE(1, 4)
  const looped = Buffer.concat([loop, Buffer.from([0xc0, 12, 0, 1, 0, 1])])
  t.is(reply(looped).rcode, 'FORMERR', 'compression loop')
  const forward = Buffer.concat([loop, Buffer.from([0xc0, 14, 0xc0, 12, 0, 1, 0, 1])])
  t.is(reply(forward).rcode, 'FORMERR', 'forward-pointing compression')
  const garbage = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) & 0xff))
  garbage.writeUInt16BE(0x0100, 2)
  t.is(reply(garbage).rcode, 'FORMERR')
  const response = Buffer.from(good)
  response.writeUInt16BE(0x8100, 2)
  t.is(decide(response, opts).action, 'drop', 'a response is never answered')
  const two = dnsPacket.encode({ id: 1, type: 'query', questions: [{ name: 'db', type: 'A' }, { name: 'api', type: 'A' }] })
  t.is(reply(two).rcode, 'FORMERR')
  const none = dnsPacket.encode({ id: 1, type: 'query', questions: [] })
  t.is(reply(none).rcode, 'FORMERR')
  const update = Buffer.from(good)
  update.writeUInt16BE((5 << 11) | 0x0100, 2)
  t.is(reply(update).rcode, 'NOTIMP')
  const chaos = dnsPacket.encode({ id: 1, type: 'query', questions: [{ name: 'version.bind', type: 'TXT', class: 'CH' }] })
  t.is(reply(chaos).rcode, 'REFUSED')
  t.is(RCODE.FORMERR, 1)
})

test('many addresses for one alias: a UDP reply fits 512 bytes and says it is truncated; TCP carries them all', t => {
  const endpoints = Array.from({ length: 100 }, (_, i) => ({ network: 'blue', name: '', aliases: ['many'], ipv4: `10.240.7.${i + 1}` }))
  const big = buildZone([net('blue', '10.240.0.0/16')], endpoints)
  const d = decide(query('many'), { ...opts, zone: big })
  t.is(d.action, 'reply')
  if (d.action !== 'reply') return
  t.true(d.bytes.length <= 512)
  t.true((d.bytes.readUInt16BE(2) & 0x0200) !== 0, 'TC set')
  const tcp = decide(query('many'), { ...opts, zone: big, transport: 'tcp' })
  if (tcp.action !== 'reply') return t.fail()
  t.is(dnsPacket.decode(tcp.bytes).answers?.length, 100)
})

test('resolv.conf parsing and the rate limiter', t => {
  t.deepEqual(parseResolvConf('# x\nnameserver 10.0.0.1\nsearch a\nnameserver fe80::1%eth0\nnameserver 169.254.53.53\nnameserver bogus\n', ['169.254.53.53']), ['10.0.0.1', 'fe80::1'])
  const limiter = new RateLimiter(10, 5, 100)
  const taken = Array.from({ length: 8 }, () => limiter.take('a', 0)).filter(Boolean).length
  t.is(taken, 5, 'the burst')
  t.true(limiter.take('b', 0), 'another source has its own bucket')
  t.false(limiter.take('a', 50))
  t.true(limiter.take('a', 200), 'refilled at the rate')
})
