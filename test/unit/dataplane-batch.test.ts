/**
 * The bulk netlink path's pure parts (dataplane/batch.ts): the hand-written request
 * encoder must produce exactly the bytes the `netlink` package's own formatter produces,
 * addresses that do not parse are refused, and replies are read back by sequence number.
 * The path against a real kernel: test/netns/dataplane-bulk.test.ts.
 */
import test from 'ava'
import fc from 'fast-check'
import { Flags, FlagsNew, MessageType, AttrStream, formatMessage, rt } from 'netlink'
import { AF_BRIDGE, AF_INET, MAX_NEIGH_REQUEST_BYTES, NTF_SELF, NUD_PERMANENT, encodeNeighRequest, putIpv4, putMac, readReplies } from '@meshplane/agent/dataplane/batch.js'
import type { NeighRequest } from '@meshplane/agent/dataplane/batch.js'
import { ipv4ToBytes, macToBytes } from '@meshplane/agent/dataplane/names.js'

/** The same request through the package: rt.formatNeighborMessage + formatMessage (little-endian host). */
function reference (req: NeighRequest, seq: number, ack: boolean): Buffer {
  const stream = new AttrStream()
  const attrs: rt.NeighborAttrs = {}
  if (req.dst !== undefined) attrs.dst = ipv4ToBytes(req.dst)
  if (req.lladdr !== undefined) attrs.lladdr = macToBytes(req.lladdr)
  if (req.port !== undefined) {
    const port = Buffer.alloc(2)
    port.writeUInt16BE(req.port)
    attrs.port = port
  }
  const data: rt.Neighbor = { family: req.family, ifindex: req.ifindex, state: { __unknown: req.state }, flags: { __unknown: req.ntfFlags } }
  rt.formatNeighborMessage({ kind: 'neighbor', data, attrs }, stream)
  const type = req.type === 'new' ? rt.MessageType.NEWNEIGH : rt.MessageType.DELNEIGH
  const flags = req.flags | Flags.REQUEST | (ack ? Flags.ACK : 0)
  const message = Buffer.concat(formatMessage({ type, flags, seq, port: 0, data: stream.bufs }))
  // The package leaves the last attribute's padding out of nlmsg_len; iproute2 (addattr_l)
  // and our encoder count it, as NLMSG_ALIGN does. The kernel accepts both.
  const padded = Buffer.concat([message, Buffer.alloc((4 - message.length % 4) % 4)])
  padded.writeUInt32LE(padded.length, 0)
  return padded
}

function encode (req: NeighRequest, seq: number, ack: boolean): Buffer {
  const buf = Buffer.alloc(MAX_NEIGH_REQUEST_BYTES)
  const end = encodeNeighRequest(buf, 0, req, seq, ack)
  if (end < 0) throw new Error('did not encode')
  return buf.subarray(0, end)
}

const CREATE_REPLACE = FlagsNew.CREATE | FlagsNew.REPLACE
const CREATE_APPEND = FlagsNew.CREATE | FlagsNew.APPEND

const cases: Array<[string, NeighRequest]> = [
  ['neighbour set', { type: 'new', family: AF_INET, ifindex: 7, flags: CREATE_REPLACE, state: NUD_PERMANENT, ntfFlags: 0, dst: '10.240.1.10', lladdr: '02:00:0a:f0:01:0a' }],
  ['neighbour delete', { type: 'del', family: AF_INET, ifindex: 7, flags: 0, state: 0, ntfFlags: 0, dst: '10.240.1.10' }],
  ['fdb add', { type: 'new', family: AF_BRIDGE, ifindex: 123456, flags: CREATE_REPLACE, state: NUD_PERMANENT, ntfFlags: NTF_SELF, dst: '192.168.7.1', lladdr: 'fe:ff:00:ab:CD:01' }],
  ['fdb add with a port', { type: 'new', family: AF_BRIDGE, ifindex: 9, flags: CREATE_REPLACE, state: NUD_PERMANENT, ntfFlags: NTF_SELF, dst: '10.0.0.255', lladdr: '02:00:00:00:00:01', port: 8472 }],
  ['all-zeros fdb append', { type: 'new', family: AF_BRIDGE, ifindex: 9, flags: CREATE_APPEND, state: NUD_PERMANENT, ntfFlags: NTF_SELF, dst: '0.0.0.0', lladdr: '00:00:00:00:00:00' }],
  ['fdb delete without dst', { type: 'del', family: AF_BRIDGE, ifindex: 9, flags: 0, state: 0, ntfFlags: NTF_SELF, lladdr: '02:00:00:00:00:01' }]
]

for (const [name, req] of cases) {
  test(`encoder matches the package's formatter: ${name}`, t => {
    t.deepEqual(encode(req, 42, false), reference(req, 42, false))
    t.deepEqual(encode(req, 0xfffffffe, true), reference(req, 0xfffffffe, true))
  })
}

test('encoder matches the package for any address, MAC, port and flags (property)', t => {
  const octet = fc.integer({ min: 0, max: 255 })
  const ip = fc.tuple(octet, octet, octet, octet).map(o => o.join('.'))
  const mac = fc.array(octet, { minLength: 6, maxLength: 6 }).map(b => b.map(x => x.toString(16).padStart(2, '0')).join(':'))
  fc.assert(fc.property(
    fc.record({
      type: fc.constantFrom<'new' | 'del'>('new', 'del'),
      family: fc.constantFrom<typeof AF_INET | typeof AF_BRIDGE>(AF_INET, AF_BRIDGE),
      ifindex: fc.integer({ min: 1, max: 0x7fffffff }),
      flags: fc.constantFrom(0, CREATE_REPLACE, CREATE_APPEND),
      state: fc.constantFrom(0, NUD_PERMANENT),
      ntfFlags: fc.constantFrom(0, NTF_SELF),
      dst: fc.option(ip, { nil: undefined }),
      lladdr: fc.option(mac, { nil: undefined }),
      port: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined })
    }, { requiredKeys: ['type', 'family', 'ifindex', 'flags', 'state', 'ntfFlags'] }),
    fc.integer({ min: 0, max: 0xffffffff }),
    fc.boolean(),
    (req, seq, ack) => {
      const clean = Object.fromEntries(Object.entries(req).filter(([, v]) => v !== undefined)) as unknown as NeighRequest
      t.deepEqual(encode(clean, seq, ack), reference(clean, seq, ack))
    }
  ), { numRuns: 300 })
})

test('addresses that do not parse are refused, not sent half-written', t => {
  const buf = Buffer.alloc(8)
  for (const bad of ['', '10.240.1', '10.240.1.2.3', '256.0.0.1', '1..2.3', '10.240.1.x', ' 10.0.0.1', '1.2.3.4.', '0001.2.3.4']) t.false(putIpv4(buf, 0, bad), bad)
  for (const bad of ['', '02:00', '02:00:0a:f0:01', '02:00:0a:f0:01:0g', '02-00-0a-f0-01-0a', '02:00:0a:f0:01:0a:ff', '0200:0a:f0:01:0a1']) t.false(putMac(buf, 0, bad), bad)
  t.true(putIpv4(buf, 0, '255.255.255.255'))
  t.true(putMac(buf, 0, 'AA:bb:0C:d0:ee:FF'))
  t.deepEqual([...buf.subarray(0, 6)], [0xaa, 0xbb, 0x0c, 0xd0, 0xee, 0xff])
  const req: NeighRequest = { type: 'new', family: AF_INET, ifindex: 1, flags: 0, state: NUD_PERMANENT, ntfFlags: 0, dst: '10.240.1', lladdr: '02:00:0a:f0:01:0a' }
  t.is(encodeNeighRequest(Buffer.alloc(MAX_NEIGH_REQUEST_BYTES), 0, req, 1, true), -1)
})

/** An NLMSG_ERROR as the kernel sends it: header, nlmsgerr.error, then the quoted request header. */
function errorMessage (seq: number, errno: number): Buffer {
  const buf = Buffer.alloc(36)
  buf.writeUInt32LE(36, 0)
  buf.writeUInt16LE(MessageType.ERROR, 4)
  buf.writeUInt32LE(seq, 8)
  buf.writeInt32LE(-errno, 16)
  return buf
}

test('replies are read by sequence number: errors, ACKs, other messages skipped, a truncated tail ignored', t => {
  const other = Buffer.alloc(20)
  other.writeUInt32LE(20, 0)
  other.writeUInt16LE(rt.MessageType.NEWNEIGH, 4)
  other.writeUInt32LE(99, 8)
  const datagram = Buffer.concat([errorMessage(5, 17), other, errorMessage(6, 0), errorMessage(7, 19).subarray(0, 30)])
  t.deepEqual(readReplies(datagram), [{ seq: 5, errno: 17 }, { seq: 6, errno: 0 }])
  t.deepEqual(readReplies(Buffer.alloc(0)), [])
})
