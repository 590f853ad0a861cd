/**
 * One query in, one decision out: a reply to send, a query to forward upstream, or
 * nothing (dropped). Pure apart from the rotation counter the caller hands in; no
 * sockets, so hostile input is tested without a network (test/unit/dns.test.ts).
 *
 * Rules:
 *  - a packet that is not a query (QR set) is dropped: answering responses invites loops
 *    and reflection;
 *  - undecodable or malformed (dns-packet refuses it: truncated, oversized names,
 *    compression pointers that do not point backwards, i.e. loops) → FORMERR when the
 *    12-byte header is there, else dropped; not exactly one question → FORMERR; another
 *    opcode → NOTIMP; another class than IN → REFUSED;
 *  - a querier outside every meshplane network → REFUSED (not an open resolver);
 *  - a one-label name (no dot: the cluster's namespace, as Docker's embedded DNS treats
 *    container names) is answered here, from the querier's network only: A records
 *    (every endpoint holding the name, rotated), AAAA and other types empty (NOERROR, so
 *    clients do not wait for an answer that never comes), NXDOMAIN when nobody holds it;
 *  - `d.c.b.a.in-addr.arpa` for an address of the querier's network → PTR (its name),
 *    NXDOMAIN when no named endpoint has it;
 *  - anything else goes to the host's upstream resolvers.
 */
import dnsPacket, { type Packet, type Answer, type Question } from 'dns-packet'
import { ANSWER_TTL_S, UDP_PAYLOAD_MAX, UDP_PAYLOAD_MIN } from './constants.js'
import { networkOf, ptrAddress, type Zone } from './zone.js'

export type QueryResult = 'answer' | 'empty' | 'nxdomain' | 'forwarded' | 'refused' | 'formerr' | 'notimp' | 'servfail' | 'dropped' | 'rate_limited'

export type Decision =
  | { action: 'reply', bytes: Buffer, result: QueryResult }
  | { action: 'forward', result: 'forwarded', question: Question }
  | { action: 'drop', result: 'dropped' }

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const

const QR = 0x8000
const AA = 0x0400
const TC = 0x0200
const RD = 0x0100
const RA = 0x0080

/** A reply carrying only a header (and the query's question when it had one parsed). */
export function errorReply (query: Buffer, rcode: number, questions: Question[] = []): Buffer | undefined {
  if (query.length < 12) return undefined
  const id = query.readUInt16BE(0)
  const flags = query.readUInt16BE(2)
  const opcodeBits = flags & 0x7800
  const reply = dnsPacket.encode({ id, type: 'response', flags: 0, questions, answers: [] })
  reply.writeUInt16BE(QR | opcodeBits | (flags & RD) | RA | rcode, 2)
  return reply
}

/** How many bytes a UDP reply may have: 512, or the client's EDNS size (capped). */
function udpLimit (packet: Packet): number {
  const opt = packet.additionals?.find(a => a.type === 'OPT') as { udpPayloadSize?: number } | undefined
  const size = opt?.udpPayloadSize ?? UDP_PAYLOAD_MIN
  return Math.min(Math.max(size, UDP_PAYLOAD_MIN), UDP_PAYLOAD_MAX)
}

export interface DecideOptions {
  zone: Zone
  source: string
  transport: 'udp' | 'tcp'
  /** A counter per name, advanced on every answer: the first address rotates. */
  rotate: (key: string) => number
}

export function decide (query: Buffer, opts: DecideOptions): Decision {
  if (query.length < 12) return { action: 'drop', result: 'dropped' }
  if ((query.readUInt16BE(2) & QR) !== 0) return { action: 'drop', result: 'dropped' }
  let packet: Packet
  try {
    packet = dnsPacket.decode(query)
  } catch {
    return replyOrDrop(errorReply(query, RCODE.FORMERR), 'formerr')
  }
  const questions = packet.questions ?? []
  if ((packet as { opcode?: string }).opcode !== 'QUERY') return replyOrDrop(errorReply(query, RCODE.NOTIMP), 'notimp')
  if (questions.length !== 1) return replyOrDrop(errorReply(query, RCODE.FORMERR), 'formerr')
  const question = questions[0]!
  if ((question.class ?? 'IN') !== 'IN') return replyOrDrop(errorReply(query, RCODE.REFUSED, questions), 'refused')

  const network = networkOf(opts.zone, opts.source)
  if (network === undefined) return replyOrDrop(errorReply(query, RCODE.REFUSED, questions), 'refused')

  const qname = question.name.toLowerCase().replace(/\.$/, '')
  const qtype: string = question.type
  const reply = (rcode: number, answers: Answer[], result: QueryResult): Decision => {
    const limit = opts.transport === 'udp' ? udpLimit(packet) : 65535
    let kept = answers
    let bytes = encodeReply(packet, question, rcode, kept, false)
    // Too many A records for one datagram: as many as fit, and TC so the client may retry over TCP.
    while (bytes.length > limit && kept.length > 0) {
      kept = kept.slice(0, Math.max(0, Math.floor(kept.length * limit / bytes.length) - 1))
      bytes = encodeReply(packet, question, rcode, kept, true)
    }
    return { action: 'reply', bytes, result }
  }

  if (qname !== '' && !qname.includes('.')) {
    const addresses = network.names.get(qname)
    if (addresses === undefined) return reply(RCODE.NXDOMAIN, [], 'nxdomain')
    if (qtype !== 'A' && qtype !== 'ANY') return reply(RCODE.NOERROR, [], 'empty')
    const start = addresses.length > 1 ? opts.rotate(`${network.name}/${qname}`) % addresses.length : 0
    const rotated = [...addresses.slice(start), ...addresses.slice(0, start)]
    return reply(RCODE.NOERROR, rotated.map(ip => ({ name: question.name, type: 'A', class: 'IN', ttl: ANSWER_TTL_S, data: ip })), 'answer')
  }
  const ptr = ptrAddress(qname)
  if (ptr !== undefined && network.subnet.contains(ptr)) {
    const name = network.ptr.get(ptr)
    if (name === undefined) return reply(RCODE.NXDOMAIN, [], 'nxdomain')
    if (qtype !== 'PTR' && qtype !== 'ANY') return reply(RCODE.NOERROR, [], 'empty')
    return reply(RCODE.NOERROR, [{ name: question.name, type: 'PTR', class: 'IN', ttl: ANSWER_TTL_S, data: name }], 'answer')
  }
  return { action: 'forward', result: 'forwarded', question }
}

function encodeReply (query: Packet, question: Question, rcode: number, answers: Answer[], truncated: boolean): Buffer {
  const rd = (query.flags ?? 0) & RD
  const bytes = dnsPacket.encode({ id: query.id ?? 0, type: 'response', flags: 0, questions: [question], answers })
  bytes.writeUInt16BE(QR | AA | (truncated ? TC : 0) | rd | RA | rcode, 2)
  return bytes
}

function replyOrDrop (bytes: Buffer | undefined, result: QueryResult): Decision {
  return bytes === undefined ? { action: 'drop', result: 'dropped' } : { action: 'reply', bytes, result }
}

/** Whether an upstream's datagram answers `question` with the id we sent. */
export function matchesQuestion (reply: Buffer, id: number, question: Question): boolean {
  if (reply.length < 12 || reply.readUInt16BE(0) !== id || (reply.readUInt16BE(2) & QR) === 0) return false
  try {
    const q = dnsPacket.decode(reply).questions?.[0]
    return q !== undefined && q.name.toLowerCase() === question.name.toLowerCase() && q.type === question.type
  } catch {
    return false
  }
}
