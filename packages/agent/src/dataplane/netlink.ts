/**
 * The kernel adapter: the only module that talks to the kernel (rtnetlink through the
 * `netlink` package, /proc/sys for the neighbour limits, and the netns-configure child for
 * the inside of a container namespace). Nothing here spawns `ip` or `bridge`.
 *
 * How it works
 * - observe() dumps links, IPv4 addresses, AF_INET neighbours and AF_BRIDGE neighbours
 *   (the FDB) into the plain ObservedKernelState model that diff.ts compares against.
 * - apply() runs KernelOps in diff's order, phase by phase. Link changes run one by one
 *   (a port needs its master). Neighbour and FDB ops, nearly all of a big pass, go many per
 *   sendmsg through a socket of their own (batch.ts), at most the queue's window in
 *   flight, each still reported on its own; the few address ops go one request each
 *   through the window. Every op is idempotent: create-or-adopt for devices,
 *   CREATE|REPLACE for neighbours and unicast FDB, CREATE|APPEND for the all-zeros FDB list, and ENOENT/ENODEV/EADDRNOTAVAIL
 *   on delete count as done. A failed op is reported, not retried: the reconciler's next
 *   pass retries it (one place for retries).
 * - Devices: on EEXIST, ensureX reads the device back and compares what cannot be changed
 *   on a live device (vxlanIncompat: vni, local, port, learning, proxy, as flannel's
 *   vxlanLinksIncompat). Compatible: adopt it, then fix MTU/master/up. Otherwise: log the
 *   reason, delete, create.
 * - watch() listens on another socket (a request socket must not see multicast parts in
 *   the middle of a dump) and reports deletions on meshplane's devices. While apply()
 *   writes a bulk of entries, that socket leaves the neighbour group: it would only hear
 *   our own writes, and at bulk rates they overflow it (#quietNeighbourEvents).
 */
import { execFile } from 'node:child_process'
import { open, readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { AttrStream, FlagsNew, createRtNetlink, ifla, rt } from 'netlink'
import type { RtNetlinkSocket, StreamData } from 'netlink'
import type { Logger } from 'pino'
import { AF_BRIDGE, AF_INET, NeighBatchSocket, NTF_SELF, NUD_PERMANENT, errnoName, readS32, readU16 } from './batch.js'
import type { NeighRequest, RequestOutcome } from './batch.js'
import { GC_THRESH, NETNS_CONFIGURE_TIMEOUT_MS, QUIET_EVENTS_ABOVE, ZERO_MAC } from './constants.js'
import { vxlanIncompat } from './diff.js'
import { DataplaneError, NetlinkError } from './errors.js'
import { configureInside } from './netns-config.js'
import { enterNetns, unavailableReason } from './netns-enter.js'
import { bytesToIpv4, bytesToMac, ipv4ToBytes, isOwnedLink, macToBytes, ownedLinkType } from './names.js'
import type { RequestWindow } from './queue.js'
import type { AddressEntry, ApplyResult, KernelOp, ObservedFdb, ObservedKernelState, ObservedLink, ObservedNeighbour, OpFailure, VxlanParams } from './types.js'

const CREATE_EXCL = FlagsNew.CREATE | FlagsNew.EXCL
const CREATE_REPLACE = FlagsNew.CREATE | FlagsNew.REPLACE
const CREATE_APPEND = FlagsNew.CREATE | FlagsNew.APPEND

/** What a delete may answer when the thing is already gone. */
const GONE = new Set(['ENOENT', 'ENODEV', 'EADDRNOTAVAIL', 'ESRCH'])

export interface UnderlayDevice {
  name: string
  index: number
  mtu: number
}

export interface Observation {
  state: ObservedKernelState
  /** The device holding the underlay address, if it was asked for and found. */
  underlay: UnderlayDevice | undefined
}

export interface ApplyContext {
  /** ifindex of the underlay device, for the VXLAN device's `dev` (IFLA_VXLAN_LINK). */
  underlayIndex?: number
}

export interface VethSpec {
  hostName: string
  peerName: string
  master: string
  mtu: number
  mac: string
  /** Namespace the peer is born in; undefined: it stays in this (the host's) namespace,
   * for a caller that moves it itself (Docker's Join: libnetwork moves and renames it). */
  netnsPath?: string | undefined
}

export interface NetnsConfig {
  peerName: string
  ifname: string
  mac: string
  mtu: number
  ipv4: string
  prefixLen: number
  gateway: string
}

export interface NeighbourLimitsResult {
  /** Keys raised, with the value before. */
  raised: Record<string, number>
  /** Why nothing could be done, when so (e.g. not exposed in this network namespace). */
  unavailable?: string
}

export interface NetlinkKernelComponents {
  logger: Logger
}

type Phase = 'links' | 'entries' | 'stale' | 'removal'

function phaseOf (op: KernelOp): Phase {
  switch (op.kind) {
    case 'link.ensureBridge':
    case 'link.ensureVxlan':
    case 'link.set':
    case 'link.forwardingOff':
    case 'link.forwardingOn':
    case 'sysctl.ipForward':
    case 'addr.add':
      return 'links'
    case 'neigh.set':
    case 'fdb.add':
      return 'entries'
    case 'addr.del':
    case 'neigh.del':
    case 'fdb.del':
      return 'stale'
    case 'link.del':
      return 'removal'
  }
}

type EntryOp = Extract<KernelOp, { kind: 'neigh.set' | 'neigh.del' | 'fdb.add' | 'fdb.del' }>

function isEntryOp (op: KernelOp): op is EntryOp {
  return op.kind === 'neigh.set' || op.kind === 'neigh.del' || op.kind === 'fdb.add' || op.kind === 'fdb.del'
}

/** The request applyOp would send for an entry op, for the bulk socket. */
export function neighRequest (op: EntryOp, ifindex: number): NeighRequest {
  switch (op.kind) {
    case 'neigh.set':
      return { type: 'new', family: AF_INET, ifindex, flags: CREATE_REPLACE, state: NUD_PERMANENT, ntfFlags: 0, dst: op.ip, lladdr: op.mac }
    case 'neigh.del':
      return { type: 'del', family: AF_INET, ifindex, flags: 0, state: 0, ntfFlags: 0, dst: op.ip }
    case 'fdb.add': {
      // The all-zeros entry is a list of destinations: APPEND adds one (and is a no-op if
      // present); the kernel refuses REPLACE for it. A unicast entry has one destination:
      // REPLACE moves it in place.
      const request: NeighRequest = { type: 'new', family: AF_BRIDGE, ifindex, flags: op.mac === ZERO_MAC ? CREATE_APPEND : CREATE_REPLACE, state: NUD_PERMANENT, ntfFlags: NTF_SELF, dst: op.dst, lladdr: op.mac }
      if (op.port !== undefined) request.port = op.port
      return request
    }
    case 'fdb.del': {
      // With NDA_DST only that destination goes (the rest of an all-zeros list stays).
      const request: NeighRequest = { type: 'del', family: AF_BRIDGE, ifindex, flags: 0, state: 0, ntfFlags: NTF_SELF, lladdr: op.mac }
      if (op.dst !== '') request.dst = op.dst
      if (op.port !== undefined) request.port = op.port
      return request
    }
  }
}

function toBuffer (data: StreamData): Buffer {
  const stream = new AttrStream()
  stream.emit(data)
  return Buffer.concat(stream.bufs)
}

function be16 (value: number): Buffer {
  const buffer = Buffer.alloc(2)
  buffer.writeUInt16BE(value)
  return buffer
}

// linux/netconf.h
const NETCONFA_IFINDEX = 1
const NETCONFA_FORWARDING = 2

/** A netconf notification's device (ifindex; -1 "all", -2 "default") and its IPv4
 * forwarding, when it carries them. */
function parseNetconf (data: Uint8Array): { ifindex?: number, forwarding?: number } {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  const out: { ifindex?: number, forwarding?: number } = {}
  let offset = 4 // struct netconfmsg (one byte, padded)
  while (offset + 4 <= b.length) {
    const length = readU16(b, offset)
    if (length < 4 || offset + length > b.length) break
    const type = readU16(b, offset + 2)
    if (length >= 8 && type === NETCONFA_IFINDEX) out.ifindex = readS32(b, offset + 4)
    if (length >= 8 && type === NETCONFA_FORWARDING) out.forwarding = readS32(b, offset + 4)
    offset += (length + 3) & ~3
  }
  return out
}

const IP_FORWARD_PATH = '/proc/sys/net/ipv4/ip_forward'

function forwardingPath (dev: string): string {
  return `/proc/sys/net/ipv4/conf/${dev}/forwarding`
}

/** The errno name in the package's "Request rejected: EEXIST" (it keeps no code field). */
function errnoOf (err: unknown): string | undefined {
  if (err instanceof NetlinkError) return err.errno
  const message = err instanceof Error ? err.message : String(err)
  return /Request rejected: (\w+)/.exec(message)?.[1] ?? (err as { code?: string } | undefined)?.code
}

function describeOp (op: KernelOp): string {
  switch (op.kind) {
    case 'link.ensureBridge': return `ensure bridge ${op.name}`
    case 'link.ensureVxlan': return `ensure vxlan ${op.name} (vni ${op.params.vni})`
    case 'link.set': return `set link ${op.name}`
    case 'link.forwardingOff': return `disable forwarding on ${op.name}`
    case 'link.forwardingOn': return `enable forwarding on ${op.name}`
    case 'sysctl.ipForward': return 'set net.ipv4.ip_forward=1'
    case 'link.del': return `delete link ${op.name}`
    case 'addr.add': return `add address ${op.ip}/${op.prefixLen} on ${op.dev}`
    case 'addr.del': return `delete address ${op.ip}/${op.prefixLen} on ${op.dev}`
    case 'neigh.set': return `set neighbour ${op.ip} ${op.mac} on ${op.dev}`
    case 'neigh.del': return `delete neighbour ${op.ip} on ${op.dev}`
    case 'fdb.add': return `add fdb ${op.mac} dst ${op.dst} on ${op.dev}`
    case 'fdb.del': return `delete fdb ${op.mac} dst ${op.dst} on ${op.dev}`
  }
}

export class NetlinkKernel {
  readonly #log: Logger
  readonly #socket: RtNetlinkSocket
  readonly #indexByName = new Map<string, number>()
  readonly #nameByIndex = new Map<number, string>()
  /** Bulk neighbour/FDB socket, opened on first use. */
  #batch: NeighBatchSocket | undefined
  /** The event socket of watch(), while it runs, and its callback. */
  #events: RtNetlinkSocket | undefined
  #onEventsMissed: ((reason: string) => void) | undefined
  #childFallbackLogged = false
  #closed = false
  /** Requests the kernel refused for a reason other than "already there/gone". */
  errors = 0

  constructor (components: NetlinkKernelComponents) {
    this.#log = components.logger
    this.#socket = createRtNetlink()
    // Errors of a request reach its promise; a socket-level one (an overflow) must not be an
    // unhandled 'error' event, which would abort the process inside the native binding.
    this.#socket.socket.on('error', err => { this.#log.warn({ err }, 'netlink request socket error') })
  }

  close (): void {
    if (this.#closed) return
    this.#closed = true
    this.#socket.socket.close()
    this.#batch?.close()
  }

  /** Runs one request, turning the package's error into a NetlinkError naming the object. */
  async #call<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request()
    } catch (err) {
      const errno = errnoOf(err)
      throw new NetlinkError(`${what}: ${errno ?? (err instanceof Error ? err.message : String(err))}`, errno, { cause: err })
    }
  }

  #remember (name: string, index: number): void {
    this.#indexByName.set(name, index)
    this.#nameByIndex.set(index, name)
  }

  #forget (name: string): void {
    const index = this.#indexByName.get(name)
    this.#indexByName.delete(name)
    if (index !== undefined) this.#nameByIndex.delete(index)
  }

  /** Name of an ifindex as of the last dump or change (used by watch()). */
  nameOf (index: number): string | undefined {
    return this.#nameByIndex.get(index)
  }

  // ---- observe ---------------------------------------------------------------------

  async observe (opts: { underlayIp?: string } = {}): Promise<Observation> {
    const linkMessages = await this.#call('dump links', async () => await this.#socket.getLinks())
    const addressMessages = await this.#call('dump addresses', async () => await this.#socket.getAddresses({ family: AF_INET }))
    const neighbourMessages = await this.#call('dump neighbours', async () => await this.#socket.getNeighbors({ family: AF_INET }))
    const fdbMessages = await this.#call('dump fdb', async () => await this.#socket.getNeighbors({ family: AF_BRIDGE }))

    this.#indexByName.clear()
    this.#nameByIndex.clear()
    for (const message of linkMessages) {
      if (message.attrs.ifname !== undefined && message.data.index !== undefined) this.#remember(message.attrs.ifname, message.data.index)
    }

    const links: ObservedLink[] = []
    for (const message of linkMessages) {
      const link = this.#parseLink(message)
      if (link !== undefined) links.push(link)
    }
    await Promise.all(links.filter(link => link.kind === 'bridge' && ownedLinkType(link.name) === 'bridge').map(async link => {
      const value = await readFile(forwardingPath(link.name), 'utf8').catch(() => undefined)
      if (value !== undefined) link.forwarding = value.trim() !== '0'
    }))

    const addresses: AddressEntry[] = []
    for (const message of addressMessages) {
      const dev = this.#nameByIndex.get(message.data.index ?? -1)
      const local = message.attrs.local ?? message.attrs.address
      if (message.data.family !== AF_INET || dev === undefined || local === undefined) continue
      addresses.push({ dev, ip: bytesToIpv4(local), prefixLen: message.data.prefixlen ?? 32 })
    }

    const neighbours: ObservedNeighbour[] = []
    for (const message of neighbourMessages) {
      const dev = this.#nameByIndex.get(message.data.ifindex ?? -1)
      const { dst, lladdr } = message.attrs
      if (message.data.family !== AF_INET || dev === undefined || dst === undefined || dst.length !== 4) continue
      neighbours.push({ dev, ip: bytesToIpv4(dst), mac: lladdr !== undefined && lladdr.length === 6 ? bytesToMac(lladdr) : '', permanent: message.data.state?.permanent === true })
    }

    const fdb: ObservedFdb[] = []
    for (const message of fdbMessages) {
      const dev = this.#nameByIndex.get(message.data.ifindex ?? -1)
      const { dst, lladdr, port } = message.attrs
      if (message.data.family !== AF_BRIDGE || dev === undefined || lladdr === undefined || lladdr.length !== 6) continue
      const entry: ObservedFdb = {
        dev,
        mac: bytesToMac(lladdr),
        dst: dst !== undefined && dst.length === 4 ? bytesToIpv4(dst) : '',
        self: message.data.flags?.self === true,
        permanent: message.data.state?.permanent === true
      }
      if (port !== undefined && port.length === 2) entry.port = port.readUInt16BE(0)
      fdb.push(entry)
    }

    let underlay: UnderlayDevice | undefined
    if (opts.underlayIp !== undefined) {
      const address = addresses.find(a => a.ip === opts.underlayIp)
      const link = address === undefined ? undefined : links.find(l => l.name === address.dev)
      if (link !== undefined) underlay = { name: link.name, index: link.index, mtu: link.mtu }
    }

    const ipForward = await readFile(IP_FORWARD_PATH, 'utf8').then(v => v.trim() !== '0', () => undefined)
    const state: ObservedKernelState = { links, addresses, neighbours, fdb }
    if (ipForward !== undefined) state.ipForward = ipForward
    return { state, underlay }
  }

  #parseLink (message: rt.LinkMessage): ObservedLink | undefined {
    const name = message.attrs.ifname
    const index = message.data.index
    if (name === undefined || index === undefined) return undefined
    let kind: string | undefined
    let vxlan: VxlanParams | undefined
    if (message.attrs.linkinfo !== undefined) {
      try {
        const info = ifla.parseInfo(message.attrs.linkinfo)
        kind = info.kind
        if (kind === 'vxlan' && info.data !== undefined) vxlan = parseVxlanParams(ifla.parseVxlan(info.data))
      } catch (err) {
        // A link type the package cannot parse is simply not one of ours.
        this.#log.debug({ err, link: name }, 'could not parse link info')
      }
    }
    const link: ObservedLink = {
      name,
      index,
      kind,
      mtu: message.attrs.mtu ?? 0,
      up: message.data.flags?.up === true,
      master: message.attrs.master === undefined || message.attrs.master === 0 ? undefined : this.#nameByIndex.get(message.attrs.master)
    }
    if (vxlan !== undefined) link.vxlan = vxlan
    return link
  }

  /** The device holding `ip` and its MTU: the underlay, read from the kernel. */
  async findUnderlay (ip: string): Promise<UnderlayDevice | undefined> {
    const addressMessages = await this.#call('dump addresses', async () => await this.#socket.getAddresses({ family: AF_INET }))
    const address = addressMessages.find(m => m.data.family === AF_INET && (m.attrs.local ?? m.attrs.address) !== undefined && bytesToIpv4((m.attrs.local ?? m.attrs.address) as Buffer) === ip)
    if (address?.data.index === undefined) return undefined
    const [link] = await this.#call(`get link ${address.data.index}`, async () => await this.#socket.getLink({ index: address.data.index }))
    if (link?.attrs.ifname === undefined) return undefined
    return { name: link.attrs.ifname, index: address.data.index, mtu: link.attrs.mtu ?? 0 }
  }

  // ---- apply -----------------------------------------------------------------------

  /**
   * Applies ops in the given order (diff's), one phase after another. Never throws for a
   * failed op: failures come back in the result for the reconciler to log and retry.
   */
  async apply (ops: readonly KernelOp[], window: RequestWindow, context: ApplyContext = {}): Promise<ApplyResult> {
    const started = performance.now()
    const failed: OpFailure[] = []
    let applied = 0
    const record = (op: KernelOp, err: unknown): void => {
      const code = errnoOf(err)
      this.errors++
      const failure: OpFailure = { op, error: err instanceof Error ? err.message : String(err) }
      if (code !== undefined) failure.code = code
      failed.push(failure)
    }

    let start = 0
    while (start < ops.length) {
      const phase = phaseOf(ops[start] as KernelOp)
      let end = start
      while (end < ops.length && phaseOf(ops[end] as KernelOp) === phase) end++
      const batch = ops.slice(start, end)
      start = end
      if (phase === 'links' || phase === 'removal') {
        // Few, and order-dependent (bridge before its ports): one at a time.
        for (const op of batch) {
          try {
            await this.applyOp(op, context)
            applied++
          } catch (err) {
            record(op, err)
          }
        }
      } else {
        // Resolve each device once up front, not once per request.
        for (const dev of new Set(batch.map(op => 'dev' in op ? op.dev : 'name' in op ? op.name : ''))) if (dev !== '') await this.#indexOf(dev).catch(() => {})
        // Neighbours and FDB entries (nearly all of a big pass) go many per datagram;
        // the few address deletions one request each.
        const entries = batch.filter(isEntryOp)
        const others = batch.filter(op => !isEntryOp(op))
        const outcomes = await this.#applyEntries(entries, window.maxInFlight)
        outcomes.forEach((err, index) => {
          if (err === undefined) applied++
          else record(entries[index] as KernelOp, err)
        })
        const results = await window.map(others, async op => await this.applyOp(op, context))
        results.forEach((result, index) => {
          if (result.status === 'fulfilled') applied++
          else record(others[index] as KernelOp, result.reason)
        })
      }
    }
    return { applied, failed, durationMs: performance.now() - started }
  }

  /**
   * Neighbour and FDB ops through the bulk socket (batch.ts), at most maxInFlight messages
   * in flight. Devices must be resolved already (#indexOf). Returns, per op, undefined when
   * done or the NetlinkError naming it; deletes of what is already gone count as done.
   */
  async #applyEntries (ops: readonly EntryOp[], maxInFlight: number): Promise<Array<NetlinkError | undefined>> {
    const outcomes = new Array<NetlinkError | undefined>(ops.length).fill(undefined)
    const requests: NeighRequest[] = []
    const sent: number[] = []
    ops.forEach((op, index) => {
      const ifindex = this.#indexByName.get(op.dev)
      if (ifindex === undefined) {
        outcomes[index] = new NetlinkError(`${describeOp(op)}: device ${op.dev} not found`, 'ENODEV')
        return
      }
      requests.push(neighRequest(op, ifindex))
      sent.push(index)
    })
    if (requests.length === 0) return outcomes
    if (this.#batch === undefined || this.#batch.closed) this.#batch = new NeighBatchSocket()
    const batch = this.#batch
    const run = async (): Promise<RequestOutcome[]> => await batch.run(requests, maxInFlight)
    const results = requests.length > QUIET_EVENTS_ABOVE ? await this.#quietNeighbourEvents(run) : await run()
    results.forEach((result, k) => {
      const index = sent[k] as number
      const op = ops[index] as EntryOp
      if (result === 0) return
      const errno = typeof result === 'number' ? errnoName(result) : result
      if ((op.kind === 'neigh.del' || op.kind === 'fdb.del') && GONE.has(errno)) return
      const reason = typeof result === 'number' ? errno : `${errno} (outcome unknown)`
      outcomes[index] = new NetlinkError(`${describeOp(op)}: ${reason}`, errno)
      // A lost reply or a timeout leaves the socket's state unknown: the next call opens a new one.
      if (typeof result !== 'number') this.#batch?.close()
    })
    return outcomes
  }

  /**
   * Runs a bulk write with the event socket out of the NEIGH group. Every entry we write
   * comes back as an event; at bulk rates (10,000 entries in ~0.2 s) they would overflow
   * its buffer, which the native binding turns into an abort, and reading them costs as
   * much CPU as writing the entries. A deletion by someone else in this window would not
   * be heard, so once the socket is back in the group the watcher is told, as for any
   * lost event: one more pass (after the usual debounce) compares again.
   */
  async #quietNeighbourEvents<T>(fn: () => Promise<T>): Promise<T> {
    const events = this.#events
    events?.dropMembership('NEIGH')
    try {
      return await fn()
    } finally {
      if (events !== undefined && this.#events === events) {
        try {
          events.addMembership('NEIGH')
          this.#onEventsMissed?.('neighbour events paused for a bulk write')
        } catch (err) {
          this.#log.warn({ err }, 'could not rejoin netlink neighbour events; the periodic resync still repairs drift')
        }
      }
    }
  }

  /** One op; idempotent; throws NetlinkError when the kernel refuses. */
  async applyOp (op: KernelOp, context: ApplyContext = {}): Promise<void> {
    const what = describeOp(op)
    this.#log.trace({ op }, what)
    switch (op.kind) {
      case 'link.ensureBridge':
        await this.ensureBridge(op.name, op.mtu, op.recreate)
        return
      case 'link.forwardingOff':
        await this.setForwarding(forwardingPath(op.name), false, `disable forwarding on ${op.name}`)
        return
      case 'link.forwardingOn':
        await this.setForwarding(forwardingPath(op.name), true, `enable forwarding on ${op.name}`)
        return
      case 'sysctl.ipForward':
        await this.setForwarding(IP_FORWARD_PATH, true, 'set net.ipv4.ip_forward=1')
        return
      case 'link.ensureVxlan':
        await this.ensureVxlan({ name: op.name, params: op.params, mtu: op.mtu, master: op.master, recreate: op.recreate, underlayIndex: context.underlayIndex })
        return
      case 'link.set':
        await this.setLink(op.name, { mtu: op.mtu, master: op.master, up: op.up === true })
        return
      case 'link.del':
        await this.deleteLink(op.name)
        return
      case 'addr.add': {
        const index = await this.#indexOf(op.dev)
        await this.#call(what, async () => await this.#socket.newAddress({ family: AF_INET, prefixlen: op.prefixLen, index }, { local: ipv4ToBytes(op.ip), address: ipv4ToBytes(op.ip) }, { flags: CREATE_REPLACE }))
        return
      }
      case 'addr.del': {
        const index = await this.#indexOf(op.dev)
        await this.#ignoreGone(this.#call(what, async () => await this.#socket.delAddress({ family: AF_INET, prefixlen: op.prefixLen, index }, { local: ipv4ToBytes(op.ip), address: ipv4ToBytes(op.ip) })))
        return
      }
      case 'neigh.set':
      case 'neigh.del':
      case 'fdb.add':
      case 'fdb.del': {
        // The same path as a bulk pass, one message: one encoder, one set of rules.
        await this.#indexOf(op.dev)
        const [err] = await this.#applyEntries([op], 1)
        if (err !== undefined) throw err
      }
    }
  }

  async #ignoreGone (request: Promise<unknown>): Promise<void> {
    try {
      await request
    } catch (err) {
      if (GONE.has(errnoOf(err) ?? '')) return
      throw err
    }
  }

  async #indexOf (name: string): Promise<number> {
    const known = this.#indexByName.get(name)
    if (known !== undefined) return known
    const link = await this.#getLinkByName(name)
    if (link === undefined) throw new NetlinkError(`device ${name} not found`, 'ENODEV')
    return link.index
  }

  async #getLinkByName (name: string): Promise<ObservedLink | undefined> {
    try {
      const [message] = await this.#socket.getLink({}, { ifname: name })
      if (message === undefined) return undefined
      if (message.data.index !== undefined) this.#remember(name, message.data.index)
      return this.#parseLink(message)
    } catch (err) {
      if (GONE.has(errnoOf(err) ?? '')) return undefined
      throw new NetlinkError(`get link ${name}: ${errnoOf(err) ?? String(err)}`, errnoOf(err), { cause: err })
    }
  }

  // ---- devices ---------------------------------------------------------------------

  /** Create-or-adopt a bridge; ends up, with the MTU set. */
  async ensureBridge (name: string, mtu: number | undefined, recreate?: string): Promise<void> {
    const create = async (): Promise<void> => {
      const attrs: ifla.LinkAttrs = { ifname: name, linkinfo: toBuffer(ifla.formatInfo({ kind: 'bridge' })) }
      if (mtu !== undefined) attrs.mtu = mtu
      await this.#call(`create bridge ${name}`, async () => await this.#socket.newLink({}, attrs, { flags: CREATE_EXCL }))
    }
    await this.#ensureLink(name, create, existing => existing.kind === 'bridge' ? '' : `${name} is a ${existing.kind ?? 'plain'} device, not a bridge`, recreate)
    await this.setLink(name, { mtu, up: true })
  }

  /**
   * No routing out of a network's bridge: its containers talk at layer 2 and reach the
   * gateway address locally, so nothing received on the bridge needs forwarding. Without
   * this a host with net.ipv4.ip_forward=1 (every Docker host: dockerd turns it on) routes
   * between the bridges of two networks through their gateways, and networks are not
   * isolated. Per-device forwarding governs packets received on that device; a change of
   * net.ipv4.ip_forward resets every device's, which the next observe sees (diff.ts).
   * /proc/sys/net shows this process's network namespace, as netlink does.
   */
  async setForwarding (path: string, on: boolean, what: string): Promise<void> {
    try {
      await writeFile(path, on ? '1\n' : '0\n')
    } catch (err) {
      throw new NetlinkError(`${what}: ${(err as Error).message}`, (err as NodeJS.ErrnoException).code, { cause: err })
    }
  }

  /** Create-or-adopt a VXLAN device; ends up, a port of `master`, with the MTU set. */
  async ensureVxlan (spec: { name: string, params: VxlanParams, mtu: number | undefined, master: string, recreate?: string | undefined, underlayIndex?: number | undefined }): Promise<void> {
    const { name, params } = spec
    const create = async (): Promise<void> => {
      const data: ifla.Vxlan = {
        id: params.vni,
        local: ipv4ToBytes(params.local),
        port: be16(params.port),
        learning: params.learning ? 1 : 0,
        proxy: params.proxy ? 1 : 0
      }
      if (spec.underlayIndex !== undefined) data.link = spec.underlayIndex
      const attrs: ifla.LinkAttrs = {
        ifname: name,
        master: await this.#indexOf(spec.master),
        linkinfo: toBuffer(ifla.formatInfo({ kind: 'vxlan', data: toBuffer(ifla.formatVxlan(data)) }))
      }
      if (spec.mtu !== undefined) attrs.mtu = spec.mtu
      try {
        await this.#call(`create vxlan ${name}`, async () => await this.#socket.newLink({}, attrs, { flags: CREATE_EXCL }))
      } catch (err) {
        // EEXIST for a name that does not exist: another device already holds this VNI on
        // this port and address. It is not ours to remove; say so instead of looping.
        if (errnoOf(err) === 'EEXIST' && await this.#getLinkByName(name) === undefined) {
          throw new NetlinkError(`create vxlan ${name}: another vxlan device already uses VNI ${params.vni} on port ${params.port}`, 'EEXIST', { cause: err })
        }
        throw err
      }
    }
    await this.#ensureLink(name, create, existing => existing.kind === 'vxlan' ? vxlanIncompat(params, existing.vxlan) : `${name} is a ${existing.kind ?? 'plain'} device, not vxlan`, spec.recreate)
    await this.setLink(name, { mtu: spec.mtu, master: spec.master, up: true })
  }

  /**
   * Create; on EEXIST read the device back: adopt it if `incompat` says '' (compatible),
   * else log the reason, delete it and create it again.
   */
  async #ensureLink (name: string, create: () => Promise<void>, incompat: (existing: ObservedLink) => string, recreate?: string): Promise<void> {
    if (recreate !== undefined) {
      this.#log.warn({ link: name, reason: recreate }, 'recreating incompatible device')
      await this.deleteLink(name)
    }
    try {
      await create()
      this.#log.info({ link: name }, 'created device')
    } catch (err) {
      if (errnoOf(err) !== 'EEXIST') throw err
      const existing = await this.#getLinkByName(name)
      if (existing === undefined) throw err
      const reason = incompat(existing)
      if (reason === '') {
        this.#log.debug({ link: name }, 'adopted existing device')
      } else {
        this.#log.warn({ link: name, reason }, 'recreating incompatible device')
        await this.deleteLink(name)
        await create()
      }
    }
    // Fresh index: a recreated device has a new one.
    this.#forget(name)
    await this.#indexOf(name)
  }

  async setLink (name: string, change: { mtu?: number | undefined, master?: string | undefined, up?: boolean }): Promise<void> {
    const index = await this.#indexOf(name)
    const attrs: ifla.LinkAttrs = {}
    if (change.mtu !== undefined) attrs.mtu = change.mtu
    if (change.master !== undefined) attrs.master = await this.#indexOf(change.master)
    const data: rt.Link = { index }
    if (change.up === true) {
      data.change = { up: true }
      data.flags = { up: true }
    }
    if (attrs.mtu === undefined && attrs.master === undefined && change.up !== true) return
    await this.#call(`set link ${name}`, async () => await this.#socket.setLink(data, attrs))
  }

  /** Whether a device of that name is in this namespace. */
  async linkExists (name: string): Promise<boolean> {
    return await this.#getLinkByName(name) !== undefined
  }

  /** Deletes a device; already gone counts as done. A veth takes its peer with it. */
  async deleteLink (name: string): Promise<void> {
    const link = await this.#getLinkByName(name)
    if (link === undefined) return
    await this.#ignoreGone(this.#call(`delete link ${name}`, async () => await this.#socket.delLink({ index: link.index })))
    this.#forget(name)
    this.#log.info({ link: name }, 'deleted device')
  }

  /**
   * Creates a veth pair whose peer is born inside the namespace at netnsPath (IFLA_NET_NS_FD
   * on the peer), or beside the host side when netnsPath is undefined, named peerName
   * there, with the endpoint's MAC and MTU; the host side becomes a port of `master`, up.
   * Returns 'exists' when the host side was already there (attach is idempotent).
   */
  async ensureVeth (spec: VethSpec): Promise<'created' | 'exists'> {
    let outcome: 'created' | 'exists' = 'created'
    const existing = await this.#getLinkByName(spec.hostName)
    if (existing !== undefined && existing.kind !== 'veth') {
      throw new NetlinkError(`create veth ${spec.hostName}: a ${existing.kind ?? 'plain'} device has that name`, 'EEXIST')
    }
    if (existing !== undefined) {
      outcome = 'exists'
    } else {
      const netns = spec.netnsPath === undefined ? undefined : await open(spec.netnsPath, 'r')
      try {
        const peerAttrs: ifla.LinkAttrs = { ifname: spec.peerName, mtu: spec.mtu, address: macToBytes(spec.mac) }
        if (netns !== undefined) peerAttrs.netNsFd = netns.fd
        const peer = Buffer.concat([rt.formatLink({}), toBuffer(ifla.formatLinkAttrs(peerAttrs))])
        const attrs: ifla.LinkAttrs = {
          ifname: spec.hostName,
          mtu: spec.mtu,
          linkinfo: toBuffer(ifla.formatInfo({ kind: 'veth', data: toBuffer(ifla.formatVethInfo({ peer })) }))
        }
        await this.#call(`create veth ${spec.hostName}`, async () => await this.#socket.newLink({}, attrs, { flags: CREATE_EXCL }))
        this.#log.info({ link: spec.hostName, peer: spec.peerName, netns: spec.netnsPath ?? 'host' }, 'created veth pair')
      } finally {
        await netns?.close()
      }
      this.#forget(spec.hostName)
    }
    await this.setLink(spec.hostName, { mtu: spec.mtu, master: spec.master, up: true })
    return outcome
  }

  /**
   * Drops what the bridge learned about `mac` on `port` (a `master` dynamic entry). A new
   * local endpoint may carry a MAC the bridge last saw behind the VXLAN port (the address,
   * hence the MAC, was another host's container a moment ago); until it expires (300 s) or
   * the container sends a frame, the bridge would send frames for it back to the VXLAN
   * port, which drops them (docs/docker-plugin.md, moby/libnetwork#1768). Gone is done.
   */
  async forgetLearnedMac (port: string, mac: string): Promise<void> {
    await this.#ignoreGone((async () => {
      const ifindex = await this.#indexOf(port)
      await this.#call(`forget learned ${mac} on ${port}`, async () =>
        await this.#socket.delNeighbor({ family: AF_BRIDGE, ifindex, flags: { master: true } }, { lladdr: macToBytes(mac) }))
    })())
  }

  // ---- inside a container namespace ------------------------------------------------

  /**
   * Configures the veth peer inside the namespace (netns-config.ts). Addresses do not
   * survive a change of namespace, so this needs a netlink socket opened inside it: opened
   * in-process after setns(2) (netns-enter.ts), or, where this process cannot enter
   * namespaces, by our own small script (netns-configure.js) run under `nsenter --net=<path>`.
   */
  async configureNetns (netnsPath: string, config: NetnsConfig): Promise<void> {
    let socket: RtNetlinkSocket | undefined
    try {
      socket = await enterNetns(netnsPath, () => createRtNetlink())
    } catch (err) {
      throw new DataplaneError('E_NETNS_CONFIGURE', `configure ${config.ifname} in ${netnsPath}: ${(err as Error).message}`, { cause: err })
    }
    if (socket === undefined) {
      if (!this.#childFallbackLogged) this.#log.info({ reason: unavailableReason }, 'cannot enter network namespaces in-process; configuring containers through an nsenter child')
      this.#childFallbackLogged = true
      await this.#configureNetnsInChild(netnsPath, config)
      return
    }
    const inside = socket
    inside.socket.on('error', err => { this.#log.warn({ err }, 'netlink socket error (container side)') })
    try {
      await configureInside(inside, config)
    } catch (err) {
      throw new DataplaneError('E_NETNS_CONFIGURE', `configure ${config.ifname} in ${netnsPath}: ${errnoOf(err) ?? (err as Error).message}`, { cause: err })
    } finally {
      inside.socket.close()
    }
  }

  async #configureNetnsInChild (netnsPath: string, config: NetnsConfig): Promise<void> {
    const script = fileURLToPath(new URL('./netns-configure.js', import.meta.url))
    await new Promise<void>((resolve, reject) => {
      execFile('nsenter', [`--net=${netnsPath}`, process.execPath, script, JSON.stringify(config)], { timeout: NETNS_CONFIGURE_TIMEOUT_MS }, (err, _stdout, stderr) => {
        if (err === null) {
          resolve()
          return
        }
        const reason = stderr.trim().split('\n').pop() ?? err.message
        reject(new DataplaneError('E_NETNS_CONFIGURE', `configure ${config.ifname} in ${netnsPath}: ${reason}`, { cause: err }))
      })
    })
  }

  // ---- events ----------------------------------------------------------------------

  /**
   * Calls onChange when something may have removed meshplane state: a neighbour, FDB
   * entry, address or device on one of its devices went away, or the event socket
   * overflowed (events were lost, so anything may have happened). Returns the stop function.
   */
  watch (onChange: (reason: string) => void): () => void {
    const events = createRtNetlink()
    // An overflow must not happen: the package's native poll handler aborts the process
    // when the socket reports ENOBUFS (it builds its error with a NULL syscall name). Our own
    // bulk changes do not reach this socket (#quietNeighbourEvents); a large buffer absorbs
    // bursts made by others (capped by net.core.rmem_max).
    try { events.socket.setRecvBufferSize(8 * 1024 * 1024) } catch {}
    this.#events = events
    this.#onEventsMissed = onChange
    events.addMembership('LINK')
    events.addMembership('NEIGH')
    events.addMembership('IPV4_IFADDR')
    // Forwarding changes: dockerd's start (ip_forward=1) resets every device's, which
    // would leave networks unisolated until the next resync.
    events.addMembership('IPV4_NETCONF')
    events.socket.on('message', messages => {
      for (const message of messages) {
        let reason: string | undefined
        try {
          if (message.type === rt.MessageType.DELNEIGH) {
            const neighbour = rt.parseNeighborMessage(message.data)
            const dev = this.nameOf(neighbour.data.ifindex ?? -1)
            if (dev !== undefined && isOwnedLink(dev)) reason = `${neighbour.data.family === AF_BRIDGE ? 'fdb entry' : 'neighbour'} deleted on ${dev}`
          } else if (message.type === rt.MessageType.DELADDR) {
            const address = rt.parseAddressMessage(message.data)
            const dev = this.nameOf(address.data.index ?? -1)
            if (dev !== undefined && isOwnedLink(dev)) reason = `address deleted on ${dev}`
          } else if (message.type === rt.MessageType.DELLINK) {
            const link = rt.parseLinkMessage(message.data)
            const name = link.attrs.ifname ?? this.nameOf(link.data.index ?? -1)
            if (name !== undefined && isOwnedLink(name)) reason = `device ${name} deleted`
          } else if (message.type === rt.MessageType.NEWNETCONF) {
            // Only forwarding turned on: our own writes (off) must not trigger a pass. An
            // ip_forward change also notifies every device, so "all" needs no case.
            const { ifindex, forwarding } = parseNetconf(message.data)
            const dev = ifindex === undefined ? undefined : this.nameOf(ifindex)
            if (forwarding !== undefined && forwarding !== 0 && dev !== undefined && ownedLinkType(dev) === 'bridge') reason = `forwarding turned on on ${dev}`
          }
        } catch (err) {
          this.#log.debug({ err }, 'unparsable netlink event')
        }
        if (reason !== undefined) onChange(reason)
      }
    })
    // On the package's wrapper, not its raw socket: the wrapper re-emits the raw socket's
    // 'error' (ENOBUFS when a burst overflows the buffer) and an EventEmitter 'error' with no
    // listener throws, inside the native callback, which aborts the process.
    events.socket.on('error', err => {
      this.#log.warn({ err }, 'netlink event socket error (events lost), resyncing')
      onChange('event socket error')
    })
    return () => {
      if (this.#events === events) {
        this.#events = undefined
        this.#onEventsMissed = undefined
      }
      events.socket.close()
    }
  }
}

/**
 * The underlay device (the one holding `underlayIp`) and its MTU, read from the kernel of
 * the caller's network namespace; undefined if no device holds the address. For callers
 * that build DataplaneInput.self before the dataplane runs (the reconciler reads it itself
 * on every pass).
 */
export async function readUnderlay (underlayIp: string, components: NetlinkKernelComponents): Promise<UnderlayDevice | undefined> {
  const kernel = new NetlinkKernel(components)
  try {
    return await kernel.findUnderlay(underlayIp)
  } finally {
    kernel.close()
  }
}

function parseVxlanParams (vxlan: ifla.Vxlan): VxlanParams {
  return {
    vni: vxlan.id ?? 0,
    local: vxlan.local !== undefined && vxlan.local.length === 4 ? bytesToIpv4(vxlan.local) : '',
    port: vxlan.port !== undefined && vxlan.port.length === 2 ? vxlan.port.readUInt16BE(0) : 0,
    learning: (vxlan.learning ?? 0) !== 0,
    proxy: (vxlan.proxy ?? 0) !== 0
  }
}

/**
 * Raises net.ipv4.neigh.default.gc_thresh1/2/3 to GC_THRESH where lower. The kernel exposes
 * these only in the initial network namespace (the neighbour table is global); elsewhere
 * the files are absent and this reports why instead of failing.
 */
export async function raiseNeighbourLimits (procRoot = '/proc/sys/net/ipv4/neigh/default'): Promise<NeighbourLimitsResult> {
  const raised: Record<string, number> = {}
  // gc_thresh3 first: keeps thresh1 <= thresh2 <= thresh3 true at every step.
  for (const key of ['gc_thresh3', 'gc_thresh2', 'gc_thresh1'] as const) {
    const path = `${procRoot}/${key}`
    let current: number
    try {
      current = Number((await readFile(path, 'utf8')).trim())
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { raised, unavailable: 'neighbour table limits are not exposed in this network namespace (the kernel shares them from the initial namespace)' }
      throw err
    }
    if (current < GC_THRESH[key]) {
      await writeFile(path, `${GC_THRESH[key]}\n`)
      raised[key] = current
    }
  }
  return { raised }
}
