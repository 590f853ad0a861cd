/**
 * Neighbour and FDB requests, many per sendmsg: the bulk path of the kernel adapter.
 *
 * Why: through the `netlink` package every request is its own datagram, Buffers, promise,
 * reply parse and `getsockname` call; at 10,000 endpoints that cost ~25 µs per entry in Node,
 * five times what the kernel spends on it (docs/performance.md). Netlink itself takes any
 * number of nlmsghdrs in one datagram and handles them in order, inside the sendmsg call
 * (netlink_rcv_skb), answering each one that failed with an NLMSG_ERROR carrying its
 * sequence number, and each one that asked for it with an ACK.
 *
 * How: requests are encoded by hand (fixed ndmsg layout, three attributes) straight into
 * one Buffer per chunk; the unit tests check the bytes against the package's own
 * formatter. Only the last message of a chunk carries NLM_F_ACK, so a chunk of 128 costs
 * one sendmsg and one reply, plus one reply per failed entry. The kernel queues the
 * replies in order, so when the last one's ACK arrives every earlier error has arrived
 * too: each entry's outcome (0 or an errno) is known, and a failed entry is reported on
 * its own, as before.
 *
 * Bounds: at most `maxInFlight` messages are outstanding (the queue's window, now counted
 * in messages rather than promises): one chunk at a time, each at most that size and at
 * most what the receive buffer can hold replies for, even if every entry fails. If no
 * final ACK came (a lost reply, a send error), the chunk's unknown entries are reported
 * failed; every op is idempotent, so the reconciler's retry is safe.
 */
import { endianness } from 'node:os'
import { getSystemErrorName } from 'node:util'
import { Flags, MessageType, Protocol, RawNetlinkSocket, rt } from 'netlink'
import { BATCH_ACK_TIMEOUT_MS, BATCH_MAX_MESSAGES, BATCH_RECV_BUFFER_BYTES, BATCH_REPLY_BYTES } from './constants.js'

export const AF_INET = 2
export const AF_BRIDGE = 7
/** NUD_PERMANENT (include/uapi/linux/neighbour.h). */
export const NUD_PERMANENT = 0x80
/** NTF_SELF: the device's own table (what `bridge fdb … self` programs). */
export const NTF_SELF = 0x02

const NDA_DST = 1
const NDA_LLADDR = 2
const NDA_PORT = 6

const NLMSG_HDRLEN = 16
const NDMSG_LEN = 12
/** Header + ndmsg + NDA_DST (8) + NDA_LLADDR (12, padded) + NDA_PORT (8, padded). */
export const MAX_NEIGH_REQUEST_BYTES = NLMSG_HDRLEN + NDMSG_LEN + 8 + 12 + 8

/** One RTM_NEWNEIGH / RTM_DELNEIGH request (a neighbour, or an FDB entry with family AF_BRIDGE). */
export interface NeighRequest {
  type: 'new' | 'del'
  family: typeof AF_INET | typeof AF_BRIDGE
  ifindex: number
  /** nlmsg_flags besides REQUEST and ACK (CREATE, REPLACE, APPEND). */
  flags: number
  /** ndm_state. */
  state: number
  /** ndm_flags. */
  ntfFlags: number
  /** NDA_DST: dotted IPv4. */
  dst?: string
  /** NDA_LLADDR: colon MAC. */
  lladdr?: string
  /** NDA_PORT, host order (written big-endian). */
  port?: number
}

// Netlink headers and ndmsg are in host byte order.
const LE = endianness() === 'LE'
function u16 (buf: Buffer, value: number, offset: number): void {
  if (LE) buf.writeUInt16LE(value, offset)
  else buf.writeUInt16BE(value, offset)
}
function u32 (buf: Buffer, value: number, offset: number): void {
  if (LE) buf.writeUInt32LE(value >>> 0, offset)
  else buf.writeUInt32BE(value >>> 0, offset)
}
/** Netlink integers are in host order. */
export function readU16 (buf: Buffer, offset: number): number {
  return LE ? buf.readUInt16LE(offset) : buf.readUInt16BE(offset)
}
function readU32 (buf: Buffer, offset: number): number {
  return LE ? buf.readUInt32LE(offset) : buf.readUInt32BE(offset)
}
export function readS32 (buf: Buffer, offset: number): number {
  return LE ? buf.readInt32LE(offset) : buf.readInt32BE(offset)
}

function attrHeader (buf: Buffer, offset: number, type: number, payloadLength: number): number {
  const len = 4 + payloadLength
  u16(buf, len, offset)
  u16(buf, type, offset + 2)
  const end = offset + ((len + 3) & ~3)
  buf.fill(0, offset + len, end)
  return end
}

/**
 * Parses a dotted IPv4 address into buf[offset..offset+4); false if it is not one. By hand:
 * split() and Buffer.from() per entry were a tenth of the bulk path's CPU.
 */
export function putIpv4 (buf: Buffer, offset: number, ip: string): boolean {
  let octet = 0
  let digits = 0
  let index = 0
  for (let i = 0; i <= ip.length; i++) {
    const c = i < ip.length ? ip.charCodeAt(i) : 46 // '.' ends the last octet
    if (c >= 48 && c <= 57) {
      octet = octet * 10 + c - 48
      if (++digits > 3 || octet > 255) return false
    } else if (c === 46) {
      if (digits === 0 || index > 3) return false
      buf[offset + index++] = octet
      octet = 0
      digits = 0
    } else {
      return false
    }
  }
  return index === 4
}

function hexValue (c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 97 && c <= 102) return c - 87
  if (c >= 65 && c <= 70) return c - 55
  return -1
}

/** Parses xx:xx:xx:xx:xx:xx into buf[offset..offset+6); false if it is not a MAC. */
export function putMac (buf: Buffer, offset: number, mac: string): boolean {
  if (mac.length !== 17) return false
  for (let i = 0; i < 6; i++) {
    const hi = hexValue(mac.charCodeAt(i * 3))
    const lo = hexValue(mac.charCodeAt(i * 3 + 1))
    if (hi < 0 || lo < 0 || (i < 5 && mac.charCodeAt(i * 3 + 2) !== 58)) return false
    buf[offset + i] = hi * 16 + lo
  }
  return true
}

/**
 * Writes one request at `offset` (the buffer must have MAX_NEIGH_REQUEST_BYTES free) and
 * returns the offset after it, or -1 (nothing written that counts) if dst or lladdr does
 * not parse. Attribute order is dst, lladdr, port.
 */
export function encodeNeighRequest (buf: Buffer, offset: number, req: NeighRequest, seq: number, ack: boolean): number {
  const start = offset
  u16(buf, req.type === 'new' ? rt.MessageType.NEWNEIGH : rt.MessageType.DELNEIGH, start + 4)
  u16(buf, req.flags | Flags.REQUEST | (ack ? Flags.ACK : 0), start + 6)
  u32(buf, seq, start + 8)
  u32(buf, 0, start + 12)
  offset += NLMSG_HDRLEN
  buf[offset] = req.family
  buf[offset + 1] = 0
  u16(buf, 0, offset + 2)
  if (LE) buf.writeInt32LE(req.ifindex, offset + 4)
  else buf.writeInt32BE(req.ifindex, offset + 4)
  u16(buf, req.state, offset + 8)
  buf[offset + 10] = req.ntfFlags
  buf[offset + 11] = 0
  offset += NDMSG_LEN
  if (req.dst !== undefined) {
    if (!putIpv4(buf, offset + 4, req.dst)) return -1
    offset = attrHeader(buf, offset, NDA_DST, 4)
  }
  if (req.lladdr !== undefined) {
    if (!putMac(buf, offset + 4, req.lladdr)) return -1
    offset = attrHeader(buf, offset, NDA_LLADDR, 6)
  }
  if (req.port !== undefined) {
    buf.writeUInt16BE(req.port, offset + 4)
    offset = attrHeader(buf, offset, NDA_PORT, 2)
  }
  u32(buf, offset - start, start)
  return offset
}

const EINVAL = 22
const SCRATCH = Buffer.alloc(8)

/** Whether the request's addresses parse (the last message of a chunk must be sendable: it carries the ACK). */
function canEncode (req: NeighRequest): boolean {
  return (req.dst === undefined || putIpv4(SCRATCH, 0, req.dst)) && (req.lladdr === undefined || putMac(SCRATCH, 0, req.lladdr))
}

/** errno name for a (positive) errno number, e.g. 17 → EEXIST. */
export function errnoName (errno: number): string {
  try {
    return getSystemErrorName(-errno)
  } catch {
    return `errno ${errno}`
  }
}

/** Outcome of one request: 0 = done, a positive errno, or a name when the outcome is unknown. */
export type RequestOutcome = number | 'ENOBUFS' | 'ETIMEDOUT' | 'ECLOSED' | 'ESEND'

interface Chunk {
  firstSeq: number
  count: number
  outcomes: RequestOutcome[]
  done: (unknown?: RequestOutcome) => void
}

/**
 * A rtnetlink socket of its own for bulk requests (its sequence numbers never mix with the
 * package socket's). Runs one chunk at a time; not reentrant (the kernel queue runs one
 * item at a time, and so does apply()).
 */
export class NeighBatchSocket {
  readonly #socket: RawNetlinkSocket
  readonly #maxChunk: number
  #seq = 1
  #chunk: Chunk | undefined
  #closed = false

  constructor () {
    this.#socket = new RawNetlinkSocket(Protocol.ROUTE)
    try {
      this.#socket.setRecvBufferSize(BATCH_RECV_BUFFER_BYTES)
    } catch {}
    // The replies of a chunk must fit the buffer the kernel actually granted even if every
    // entry fails: an overflow (ENOBUFS) makes the package's native poll handler abort the
    // process. The default 128 fits with room to spare even at the stock rmem_max.
    this.#maxChunk = Math.max(1, Math.min(BATCH_MAX_MESSAGES, Math.floor(this.#socket.getRecvBufferSize() / BATCH_REPLY_BYTES)))
    // Idle, the socket must not keep the process alive (the package's sockets do the same).
    this.#socket.unref()
    this.#socket.on('message', msg => { this.#receive(msg) })
    // ENOBUFS: replies were dropped, so the running chunk's unresolved outcomes are unknown.
    this.#socket.on('error', err => { this.#chunk?.done(err.code === 'ENOBUFS' ? 'ENOBUFS' : 'ESEND') })
  }

  get closed (): boolean {
    return this.#closed
  }

  close (): void {
    if (this.#closed) return
    this.#closed = true
    this.#chunk?.done('ECLOSED')
    this.#socket.close()
  }

  /**
   * Sends every request, at most maxInFlight per datagram and in flight, and returns each
   * one's outcome in order. Never rejects.
   */
  async run (requests: readonly NeighRequest[], maxInFlight: number): Promise<RequestOutcome[]> {
    const outcomes: RequestOutcome[] = new Array<RequestOutcome>(requests.length)
    const size = Math.max(1, Math.min(maxInFlight, this.#maxChunk))
    this.#socket.ref()
    try {
      for (let start = 0; start < requests.length; start += size) {
        const end = Math.min(start + size, requests.length)
        const chunk = await this.#runChunk(requests, start, end)
        for (let i = 0; i < chunk.length; i++) outcomes[start + i] = chunk[i] as RequestOutcome
      }
    } finally {
      if (!this.#closed) this.#socket.unref()
    }
    return outcomes
  }

  async #runChunk (requests: readonly NeighRequest[], start: number, end: number): Promise<RequestOutcome[]> {
    const count = end - start
    // Outcomes start as "unknown"; replies fill them in, the final ACK settles the rest as 0.
    const outcomes = new Array<RequestOutcome>(count).fill(-1)
    if (this.#closed) return outcomes.fill('ECLOSED')
    // Sequence numbers of a chunk are consecutive and never wrap inside it.
    if (this.#seq + count > 0xffffffff) this.#seq = 1
    const firstSeq = this.#seq
    this.#seq += count
    const buf = Buffer.allocUnsafe(count * MAX_NEIGH_REQUEST_BYTES)
    let offset = 0
    let last = count - 1
    while (last >= 0 && !canEncode(requests[start + last] as NeighRequest)) outcomes[last--] = EINVAL
    if (last < 0) return outcomes
    for (let i = 0; i <= last; i++) {
      const end = encodeNeighRequest(buf, offset, requests[start + i] as NeighRequest, firstSeq + i, i === last)
      // An address that does not parse is refused here, as the kernel would refuse it.
      if (end < 0) outcomes[i] = EINVAL
      else offset = end
    }

    await new Promise<void>(resolve => {
      const timer = setTimeout(() => { chunk.done('ETIMEDOUT') }, BATCH_ACK_TIMEOUT_MS)
      const chunk: Chunk = {
        firstSeq,
        count: last + 1,
        outcomes,
        done: unknown => {
          if (this.#chunk !== chunk) return
          this.#chunk = undefined
          clearTimeout(timer)
          for (let i = 0; i <= last; i++) {
            if (outcomes[i] === -1) outcomes[i] = unknown ?? 0
          }
          resolve()
        }
      }
      this.#chunk = chunk
      this.#socket.send(buf.subarray(0, offset), {}, err => { if (err !== undefined) chunk.done('ESEND') })
    })
    return outcomes
  }

  #receive (msg: Buffer): void {
    const chunk = this.#chunk
    if (chunk === undefined) return
    for (const reply of readReplies(msg)) {
      const index = reply.seq - chunk.firstSeq
      if (index < 0 || index >= chunk.count) continue
      chunk.outcomes[index] = reply.errno
      if (index === chunk.count - 1) {
        chunk.done()
        return
      }
    }
  }
}

/** One NLMSG_ERROR: the request's sequence number and its errno (0 for an ACK). */
export interface Reply { seq: number, errno: number }

/** The NLMSG_ERROR messages of a datagram (anything else is skipped). */
export function readReplies (msg: Buffer): Reply[] {
  const replies: Reply[] = []
  let offset = 0
  while (offset + NLMSG_HDRLEN <= msg.length) {
    const len = readU32(msg, offset)
    if (len < NLMSG_HDRLEN || offset + len > msg.length) break
    if (readU16(msg, offset + 4) === MessageType.ERROR && len >= NLMSG_HDRLEN + 4) {
      // nlmsgerr.error is a negative errno, 0 for an ACK.
      replies.push({ seq: readU32(msg, offset + 8), errno: -readS32(msg, offset + NLMSG_HDRLEN) | 0 })
    }
    offset += (len + 3) & ~3
  }
  return replies
}
