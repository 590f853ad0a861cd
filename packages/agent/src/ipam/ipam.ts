/**
 * The IPAM of one agent: allocates addresses from the ranges this host holds, asks other
 * hosts for ranges when it runs dry, answers their requests, and keeps its own ranges
 * record in step with what it sees (claims grants to it, forgets finished transfers,
 * drops what it lost in a conflict). See index.ts for the design note.
 *
 * Everything that reads or writes this host's ranges record or its allocations of one
 * network runs in that network's serial queue, so a grant can never give away an
 * address that an allocation is about to persist, and two writes of the record never
 * interleave.
 */
import { randomUUID } from 'node:crypto'
import { isIPv4 } from 'node:net'
import type { Logger } from 'pino'
import type { Grant, RangesBody, NetworkBody } from '@meshplane/proto'
import { RangesBody as RangesBodyCodec } from '@meshplane/proto'
import type { ClusterState, DataStore, RecordChange } from '../state/index.js'
import { endpointKey, rangesKey } from '../state/index.js'
import { ipToInt, intToIp } from '../net/addr.js'
import { MeshplaneError, isMeshplaneError } from '../errors.js'
import {
  containsAddress, formatSpan, freeSpans, fromWireAll, intersect, normalizeGen, pickForGrant, subtract, toWire,
  totalSize, type GenSpan, type Span
} from './ranges.js'
import { computeOwnership, excludedSpans, lineageOf, ownerOf, subnetSpan, type Ownership, type RangesInput } from './ownership.js'
import { Serial } from '../state/serial.js'
import {
  ALLOCATION_PREFIX, DEFAULT_ALLOCATE_TIMEOUT_MS, DEFAULT_REQUEST_SIZE, DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_RMPEER_SAFETY_MS, FREE_HINT_DRIFT, FREE_HINT_MIN_DRIFT, MAX_GRANT_SIZE, PREFETCH_LOW_WATER, PROBE_SILENT_HOLDERS,
  RECONCILE_RETRY_MAX_MS, RECONCILE_RETRY_MIN_MS
} from './constants.js'

export interface RequestRangeOptions {
  /** ask for exactly this address (an operator-given one) instead of `size` addresses */
  address?: string
  /** aborted when the IPAM stops waiting */
  signal?: AbortSignal
}

/**
 * Asks `peer` for addresses of `network`. Resolves once the holder's answer (its ranges
 * record carrying the grant) has been applied to this host's state; rejects with the
 * holder's MeshplaneError (E_EXHAUSTED, E_CONFLICT, E_NOT_FOUND) or E_UNAVAILABLE.
 */
export type RequestRange = (peer: string, network: string, size: number, options?: RequestRangeOptions) => Promise<void>

export interface IpamComponents {
  state: ClusterState
  store: DataStore
  logger: Logger
  requestRange: RequestRange
}

export interface IpamInit {
  /** one request to one holder (default 5 s) */
  requestTimeoutMs?: number
  /** a whole allocate/claim that needs another host (default 30 s) */
  allocateTimeoutMs?: number
  /** addresses asked for at a time (default 64) */
  requestSize?: number
  /** rmpeer refuses hosts unreachable for less than this (default 10 min) */
  rmpeerSafetyMs?: number
}

export interface Allocation {
  endpointId: string
  /** wall clock of the allocation, ms */
  at: number
}

export interface GrantResult {
  grant: Grant
  /** this host's ranges record carrying the grant: what the requester applies */
  envelope: Uint8Array
}

export interface RmpeerResult {
  network: string
  ranges: string[]
  addresses: number
}

export interface IpamHostStatus {
  peer: string
  self: boolean
  ranges: string[]
  /** addresses in the ranges */
  size: number
  /** of those, addresses that may be handed out (no gateway, reserved, network, broadcast) */
  allocatable: number
  used: number
  free: number
  /** false for other hosts: `free` is their last published hint */
  exact: boolean
}

export interface IpamConflict {
  network: string
  reason: 'overlap' | 'foreign-lineage' | 'outside-subnet' | 'allocation-not-held' | 'duplicate-address'
  range?: string
  ip?: string
  /** host that keeps the addresses */
  owner?: string
  /** host whose listing or allocation loses */
  peer?: string
  endpointIds?: string[]
  detail: string
}

export interface IpamNetworkStatus {
  network: string
  subnet: string
  lineage: string
  seeder: string
  hosts: IpamHostStatus[]
  inFlight: Array<{ from: string, to: string, range: string }>
  conflicts: IpamConflict[]
}

export interface IpamStatus {
  networks: IpamNetworkStatus[]
  conflicts: IpamConflict[]
}


const SEED_MARKER_PREFIX = 'ipam-seed/'
const MAX_RECLAIM_HISTORY = 32

function allocationKey (network: string, ip: number): string {
  return `${ALLOCATION_PREFIX}${network}/${intToIp(ip)}`
}

function emptyBody (network: string, lineage: string): RangesBody {
  return { network, ranges: [], lineage, grants: [], claims: [], reclaims: [], freeHint: 0 }
}

function sameBody (a: RangesBody | undefined, b: RangesBody): boolean {
  return a !== undefined && Buffer.compare(RangesBodyCodec.encode(a), RangesBodyCodec.encode(b)) === 0
}

function withTimeout<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new MeshplaneError('E_UNAVAILABLE', `${what}: no answer in ${ms} ms`)) }, ms)
  })
  return Promise.race([p, timeout]).finally(() => { clearTimeout(timer) })
}

export class Ipam {
  readonly #state: ClusterState
  readonly #store: DataStore
  readonly #log: Logger
  readonly #requestRange: RequestRange
  readonly #requestTimeoutMs: number
  readonly #allocateTimeoutMs: number
  readonly #requestSize: number
  readonly #rmpeerSafetyMs: number
  readonly #me: string

  /** network → address → allocation (mirrors the local sublevel) */
  readonly #allocs = new Map<string, Map<number, Allocation>>()
  /** network → peer → its ranges body (live records only) */
  readonly #ranges = new Map<string, Map<string, RangesBody>>()
  /** network → address → endpoint record ids using it (from endpoint records) */
  readonly #endpointIps = new Map<string, Map<number, Set<string>>>()
  readonly #views = new Map<string, Ownership>()
  readonly #serials = new Map<string, Serial>()
  readonly #waiting = new Map<string, number>()
  readonly #acquiring = new Map<string, Promise<void>>()
  readonly #reconcileQueued = new Set<string>()
  /** Networks whose last reconcile failed: the delay of the pending retry, and its timer
   * (one per network, however many reconciles failed meanwhile). */
  readonly #reconcileRetries = new Map<string, { delayMs: number, timer: NodeJS.Timeout | undefined }>()
  readonly #changeWaiters = new Map<string, Set<() => void>>()
  readonly #cursor = new Map<string, number>()
  #started = false
  readonly #onChange = (change: RecordChange): void => { this.#handleChange(change) }

  constructor (components: IpamComponents, init: IpamInit = {}) {
    this.#state = components.state
    this.#store = components.store
    this.#log = components.logger.child({ component: 'ipam' })
    this.#requestRange = components.requestRange
    this.#requestTimeoutMs = init.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
    this.#allocateTimeoutMs = init.allocateTimeoutMs ?? DEFAULT_ALLOCATE_TIMEOUT_MS
    this.#requestSize = Math.max(1, init.requestSize ?? DEFAULT_REQUEST_SIZE)
    this.#rmpeerSafetyMs = init.rmpeerSafetyMs ?? DEFAULT_RMPEER_SAFETY_MS
    this.#me = components.state.peerId
  }

  get peerId (): string { return this.#me }

  /** Loads persisted allocations, indexes the state, seeds networks this host created and
   * never seeded, and reconciles every network. Call after the state is loaded. */
  async start (): Promise<void> {
    if (this.#started) return
    this.#started = true
    for await (const [key, value] of this.#store.local.iterator({ gte: ALLOCATION_PREFIX, lt: `${ALLOCATION_PREFIX}\xff` })) {
      const rest = key.slice(ALLOCATION_PREFIX.length)
      const slash = rest.lastIndexOf('/')
      const network = rest.slice(0, slash)
      const ip = rest.slice(slash + 1)
      if (slash <= 0 || !isIPv4(ip)) continue
      this.#allocsOf(network).set(ipToInt(ip), value as Allocation)
    }
    for (const r of this.#state.list('ranges')) this.#indexRanges(r.key, r.body)
    for (const r of this.#state.list('endpoint')) this.#indexEndpoint(r.id, undefined, r.body)
    this.#state.on('change', this.#onChange)
    for (const n of this.#state.list('network')) this.#scheduleReconcile(n.key)
    this.#log.info({ allocations: [...this.#allocs.values()].reduce((a, m) => a + m.size, 0) }, 'ipam started')
  }

  async stop (): Promise<void> {
    if (!this.#started) return
    this.#started = false
    this.#state.off('change', this.#onChange)
    for (const retry of this.#reconcileRetries.values()) clearTimeout(retry.timer)
    this.#reconcileRetries.clear()
    // drain: let queued work finish so nothing writes after stop returns
    await Promise.all([...this.#serials.values()].map(async s => await s.run(async () => {})))
  }

  // ---- public operations ---------------------------------------------------------------

  /** The creator of a network seeds it: its ranges record lists the whole subnet. Safe to
   * call again (and done by `start` and on the network record's arrival too). */
  async onNetworkCreated (network: string): Promise<void> {
    try {
      await this.#run(network, async () => { await this.#reconcileLocked(network) })
    } catch (err) {
      this.#retryReconcile(network, err)
      throw err
    }
  }

  /** A new address for `endpointId`, persisted before it is returned. Local when this host
   * holds a free address; otherwise asks holders for a range, bounded in time. Not
   * idempotent: every call hands out a new address (release the ones not used). */
  async allocate (network: string, endpointId: string): Promise<string> {
    this.#networkOrThrow(network)
    const deadline = Date.now() + this.#allocateTimeoutMs
    let counted = false
    let lastError: MeshplaneError | undefined
    try {
      for (;;) {
        const ip = await this.#run(network, async () => await this.#allocateLocal(network, endpointId))
        if (ip !== undefined) {
          this.#prefetch(network)
          return ip
        }
        if (!counted) {
          counted = true
          this.#waiting.set(network, (this.#waiting.get(network) ?? 0) + 1)
        }
        if (Date.now() >= deadline) throw lastError ?? new MeshplaneError('E_UNAVAILABLE', `network ${network}: no address within ${this.#allocateTimeoutMs} ms`)
        try {
          await this.#acquire(network, deadline)
        } catch (err) {
          // Unreachable or slow holders: a grant they made may still land (by the late
          // answer or by gossip), and others may come back; retry until the deadline.
          // Exhaustion is final.
          if (!isMeshplaneError(err) || err.code !== 'E_UNAVAILABLE') throw err
          lastError = err
          await this.#waitForChange(network, Math.min(deadline - Date.now(), this.#requestTimeoutMs))
        }
      }
    } finally {
      if (counted) this.#waiting.set(network, (this.#waiting.get(network) ?? 1) - 1)
    }
  }

  /**
   * Records an operator-given address for `endpointId`. Held here and free: persisted.
   * Held by another host: that host is asked for exactly this address (it refuses with
   * E_CONFLICT when it uses it). In use, the gateway or reserved: E_CONFLICT; outside the
   * subnet: E_INVALID_ARGUMENT; nobody reachable holds it: E_UNAVAILABLE.
   */
  async claim (network: string, ip: string, endpointId: string): Promise<void> {
    const net = this.#networkOrThrow(network)
    const subnet = subnetSpan(net)!
    if (!isIPv4(ip) || !containsAddress([subnet], ipToInt(ip))) throw new MeshplaneError('E_INVALID_ARGUMENT', `${ip} is not an address of ${network} (${net.subnet})`)
    const n = ipToInt(ip)
    if (containsAddress(excludedSpans(net), n)) {
      throw new MeshplaneError('E_CONFLICT', `${ip} is ${ip === net.gateway ? 'the gateway' : 'reserved'} in ${network}`)
    }
    const deadline = Date.now() + this.#allocateTimeoutMs
    let asked = false
    let lastError: MeshplaneError | undefined
    for (;;) {
      const owner = await this.#run(network, async () => {
        const existing = this.#allocsOf(network).get(n)
        if (existing !== undefined) {
          if (existing.endpointId === endpointId) return this.#me
          throw new MeshplaneError('E_CONFLICT', `${ip} is in use by endpoint ${existing.endpointId}`)
        }
        this.#checkNotUsedByEndpoint(network, n, endpointId)
        const o = ownerOf(this.#view(network), n)
        if (o?.peer === this.#me && this.#heldWon(network).some(s => n >= s.start && n <= s.end)) {
          await this.#persistAllocation(network, n, endpointId)
          return this.#me
        }
        return o?.peer
      })
      if (owner === this.#me) return
      const left = deadline - Date.now()
      if (left <= 0) throw lastError ?? new MeshplaneError('E_UNAVAILABLE', `${ip}: could not obtain it from its holder in time`)
      if (owner === undefined) {
        const inFlight = this.#view(network).inFlight.some(f => n >= f.start && n <= f.end)
        if (!inFlight) throw new MeshplaneError('E_UNAVAILABLE', `no host holds ${ip} in ${network}`)
        await this.#waitForChange(network, Math.min(left, this.#requestTimeoutMs))
        continue
      }
      if (asked) {
        await this.#waitForChange(network, Math.min(left, this.#requestTimeoutMs))
        asked = false
        continue
      }
      try {
        await this.#ask(owner, network, 1, { address: ip }, Math.min(left, this.#requestTimeoutMs))
      } catch (err) {
        if (isMeshplaneError(err) && err.code === 'E_CONFLICT') throw err
        // Slow, unreachable, or no longer the holder: look again until the deadline (a
        // grant made after our timeout still lands and is claimed).
        lastError = new MeshplaneError('E_UNAVAILABLE', `${ip} is held by ${owner}, which did not hand it over: ${(err as Error).message}`, { cause: err })
        if (Date.now() + 1 >= deadline) throw lastError
        await this.#waitForChange(network, Math.min(deadline - Date.now(), this.#requestTimeoutMs))
        continue
      }
      asked = true
      await this.#waitFor(network, Math.min(left, this.#requestTimeoutMs), () => ownerOf(this.#view(network), n)?.peer === this.#me)
    }
  }

  /** Frees an address. Returns false when it was not allocated here (idempotent). */
  async release (network: string, ip: string): Promise<boolean> {
    if (!isIPv4(ip)) throw new MeshplaneError('E_INVALID_ARGUMENT', `${ip} is not an IPv4 address`)
    return await this.#run(network, async () => {
      const n = ipToInt(ip)
      const allocs = this.#allocsOf(network)
      if (!allocs.has(n)) return false
      await this.#store.delLocal(allocationKey(network, n))
      allocs.delete(n)
      this.#hintCheck(network)
      return true
    })
  }

  /** Allocations of this host in a network. */
  allocations (network: string): Map<string, Allocation> {
    return new Map([...this.#allocsOf(network)].map(([n, a]) => [intToIp(n), a]))
  }

  /**
   * Server side of a range request: gives `fromPeer` up to `size` free addresses (at
   * most half of what is free here, keeping what local callers wait for), or exactly
   * `options.address`. One write moves them from this host's ranges to a grant.
   */
  /**
   * Why another host's endpoint must not be programmed at `ip`, or undefined: outside the
   * network's subnet, its network, broadcast or gateway address or a reserved one, or
   * inside a range another host holds (docs/security.md). An address in no known range
   * (a claim whose ranges record has not arrived yet) is given the benefit of the doubt.
   */
  endpointAddressProblem (network: string, ip: string, host: string): string | undefined {
    const net = this.#network(network)
    if (net === undefined || !isIPv4(ip)) return undefined
    const span = subnetSpan(net)
    const n = ipToInt(ip)
    if (span === undefined || n < span.start || n > span.end) return `${ip} is outside ${network} (${net.subnet})`
    if (excludedSpans(net).some(s => n >= s.start && n <= s.end)) return `${ip} is the network, broadcast, gateway or a reserved address of ${network}`
    const owner = ownerOf(this.#view(network), n)
    if (owner !== undefined && owner.peer !== host) return `${ip} is in a range ${owner.peer} holds`
    return undefined
  }

  async handleRangeRequest (fromPeer: string, network: string, size: number, options: { address?: string } = {}): Promise<GrantResult> {
    if (fromPeer === this.#me) throw new MeshplaneError('E_INVALID_ARGUMENT', 'a host cannot ask itself for a range')
    return await this.#run(network, async () => {
      const net = this.#networkOrThrow(network)
      await this.#reconcileLocked(network)
      const mine = this.#myBody(network)
      if (mine === undefined || mine.lineage !== lineageOf(net)) throw new MeshplaneError('E_EXHAUSTED', `${this.#me} holds no range of ${network}`)
      const free = this.#freeSpans(network, net)
      let picked: GenSpan[]
      if (options.address !== undefined && options.address !== '') {
        const a = options.address
        if (!isIPv4(a)) throw new MeshplaneError('E_INVALID_ARGUMENT', `${a} is not an IPv4 address`)
        const n = ipToInt(a)
        const span = free.find(s => n >= s.start && n <= s.end)
        if (span === undefined) {
          const alloc = this.#allocsOf(network).get(n)
          if (alloc !== undefined) throw new MeshplaneError('E_CONFLICT', `${a} is in use by endpoint ${alloc.endpointId} on ${this.#me}`)
          if (containsAddress(this.#heldWon(network), n)) throw new MeshplaneError('E_CONFLICT', `${a} is reserved or in use on ${this.#me}`)
          throw new MeshplaneError('E_NOT_FOUND', `${this.#me} does not hold ${a}`)
        }
        picked = [{ start: n, end: n, gen: span.gen }]
      } else {
        const available = totalSize(free) - (this.#waiting.get(network) ?? 0)
        if (available <= 0) throw new MeshplaneError('E_EXHAUSTED', `${this.#me} has no free address in ${network}`)
        const count = Math.min(Math.max(1, Math.floor(size)), Math.ceil(available / 2), MAX_GRANT_SIZE)
        picked = pickForGrant(free, count)
      }
      const grant: Grant = { id: randomUUID(), to: fromPeer, ranges: picked.map(toWire) }
      const held = fromWireAll(mine.ranges)
      const body: RangesBody = {
        ...this.#copyBody(mine),
        ranges: normalizeGen(subtract(held, picked)).map(toWire),
        grants: [...this.#copyBody(mine).grants, grant]
      }
      body.freeHint = totalSize(free) - totalSize(picked)
      const opened = await this.#state.write('ranges', rangesKey(network, this.#me), body)
      this.#log.info({ network, to: fromPeer, ranges: picked.map(formatSpan), addresses: totalSize(picked) }, 'granted a range')
      return { grant, envelope: opened.envelope }
    })
  }

  /**
   * Hands the ranges of `peer`, a host that is gone for good, to this host. Refused
   * (E_PEER_ALIVE) unless it has been unreachable for the safety period: pass how long
   * the liveness tracker has seen it unreachable, undefined when alive. Run it on ONE
   * host: two hosts reclaiming the same peer is resolved (the lower peer id keeps the
   * ranges) but both may allocate the same addresses until they see each other.
   */
  async rmpeer (peer: string, unreachableForMs: number | undefined): Promise<RmpeerResult[]> {
    if (peer === this.#me) throw new MeshplaneError('E_INVALID_ARGUMENT', 'rmpeer names this host itself')
    const known = this.#state.get(`host/${peer}`) !== undefined || [...this.#ranges.values()].some(m => m.has(peer))
    if (!known) throw new MeshplaneError('E_NOT_FOUND', `no host ${peer} is known`)
    if (unreachableForMs === undefined || unreachableForMs < this.#rmpeerSafetyMs) {
      throw new MeshplaneError('E_PEER_ALIVE', unreachableForMs === undefined
        ? `${peer} is alive; rmpeer is only for hosts that are gone for good`
        : `${peer} has been unreachable for ${Math.round(unreachableForMs / 1000)} s; rmpeer needs ${Math.round(this.#rmpeerSafetyMs / 1000)} s`)
    }
    const out: RmpeerResult[] = []
    for (const n of this.#state.list('network')) {
      const network = n.key
      const r = await this.#run(network, async () => {
        const net = this.#network(network)
        if (net === undefined) return undefined
        await this.#reconcileLocked(network)
        const view = this.#view(network)
        const take: GenSpan[] = [
          ...(view.owners.get(peer) ?? []).map(s => ({ ...s, gen: s.gen + 1 })),
          // granted to the dead host and never claimed: its claim would be at s.gen
          ...view.inFlight.filter(f => f.to === peer).map(f => ({ start: f.start, end: f.end, gen: f.gen + 1 }))
        ]
        // A network the removed host created is handed over too (its owner may remove it,
        // docs/security.md): the reclaim is the signed act, also with no address to take.
        if (take.length === 0 && net.creator !== peer) return undefined
        const mine = this.#myBody(network)
        const base = mine !== undefined && mine.lineage === lineageOf(net) ? this.#copyBody(mine) : emptyBody(network, lineageOf(net))
        const reclaim = { peer, ranges: normalizeGen(take).map(toWire), atMs: BigInt(Date.now()) }
        const body: RangesBody = {
          ...base,
          ranges: normalizeGen([...fromWireAll(base.ranges), ...take]).map(toWire),
          reclaims: [...base.reclaims, reclaim].slice(-MAX_RECLAIM_HISTORY)
        }
        body.freeHint = this.#freeCountFor(network, net, fromWireAll(body.ranges))
        await this.#state.write('ranges', rangesKey(network, this.#me), body)
        this.#log.warn({ network, peer, ranges: take.map(formatSpan), addresses: totalSize(take) }, 'reclaimed the ranges of a removed host')
        return { network, ranges: normalizeGen(take).map(formatSpan), addresses: totalSize(take) }
      })
      if (r !== undefined) out.push(r)
    }
    return out
  }

  status (network?: string): IpamStatus {
    const names = network !== undefined ? [network] : this.#state.list('network').map(n => n.key).sort()
    const networks: IpamNetworkStatus[] = []
    for (const name of names) {
      const net = this.#network(name)
      if (net === undefined) {
        if (network !== undefined) throw new MeshplaneError('E_NOT_FOUND', `no network named ${JSON.stringify(name)}`)
        continue
      }
      networks.push(this.#networkStatus(name, net))
    }
    return { networks, conflicts: networks.flatMap(n => n.conflicts) }
  }

  // ---- allocation ------------------------------------------------------------------------

  async #allocateLocal (network: string, endpointId: string): Promise<string | undefined> {
    const net = this.#networkOrThrow(network)
    const owned = subtract(this.#heldWon(network), excludedSpans(net))
    if (owned.length === 0) return undefined
    const allocs = this.#allocsOf(network)
    const used = this.#endpointIps.get(network)
    const taken = (n: number): boolean => allocs.has(n) || (used?.has(n) ?? false)
    // Search from a cursor, wrapping once: consecutive allocations cost O(1) each instead
    // of rescanning the allocated prefix every time.
    const cursor = this.#cursor.get(network) ?? owned[0]!.start
    const found = scanFree(owned, cursor, taken) ?? scanFree(owned, owned[0]!.start, taken)
    if (found === undefined) return undefined
    await this.#persistAllocation(network, found, endpointId)
    this.#cursor.set(network, found + 1)
    return intToIp(found)
  }

  async #persistAllocation (network: string, n: number, endpointId: string): Promise<void> {
    const allocation: Allocation = { endpointId, at: Date.now() }
    // On disk before anyone hears of it: after kill -9 the address is still taken.
    await this.#store.putLocal(allocationKey(network, n), allocation)
    this.#allocsOf(network).set(n, allocation)
    this.#hintCheck(network)
  }

  /** Running low: fetch the next range before a caller has to wait for it, but only while
   * some other holder advertises plenty, so hosts of a nearly full network do not pull
   * addresses to and fro. Best effort: a failure is the next allocate's business. */
  #prefetch (network: string): void {
    if (this.#acquiring.has(network) || !this.#started || this.#freeCount(network) >= PREFETCH_LOW_WATER) return
    const rich = [...(this.#ranges.get(network) ?? new Map<string, RangesBody>())]
      .some(([peer, body]) => peer !== this.#me && body.freeHint >= 4 * PREFETCH_LOW_WATER)
    if (!rich) return
    void this.#acquire(network, Date.now() + this.#allocateTimeoutMs).catch(err => {
      this.#log.debug({ err, network }, 'range prefetch failed')
    })
  }

  /** One acquisition per network at a time; every waiting caller shares it. */
  async #acquire (network: string, deadline: number): Promise<void> {
    let p = this.#acquiring.get(network)
    if (p === undefined) {
      p = this.#acquireOnce(network, deadline).finally(() => { this.#acquiring.delete(network) })
      this.#acquiring.set(network, p)
    }
    await p
  }

  async #acquireOnce (network: string, deadline: number): Promise<void> {
    const size = Math.min(MAX_GRANT_SIZE, Math.max(this.#requestSize, this.#waiting.get(network) ?? 0))
    // A network whose seed record has not arrived yet (just created elsewhere): wait for
    // it a little rather than fail at once.
    const nobody = (): boolean => this.#view(network).owners.size === 0 && this.#view(network).inFlight.length === 0
    if (nobody()) {
      await this.#waitFor(network, Math.min(deadline - Date.now(), this.#requestTimeoutMs), () => !nobody())
      if (nobody()) throw new MeshplaneError('E_UNAVAILABLE', `network ${network}: no host is known to hold its addresses yet (seed record not received)`)
      if (this.#freeCount(network) > 0) return
    }
    const candidates = this.#candidates(network)
    if (candidates.length === 0) {
      throw new MeshplaneError('E_EXHAUSTED', `network ${network} has no free address (no other host holds any of its ranges)`)
    }
    let unreachable = 0
    let refused = 0
    for (const peer of candidates) {
      const left = deadline - Date.now()
      if (left <= 0) break
      try {
        await this.#ask(peer, network, size, {}, Math.min(left, this.#requestTimeoutMs))
      } catch (err) {
        if (isMeshplaneError(err) && (err.code === 'E_EXHAUSTED' || err.code === 'E_NOT_FOUND')) refused++
        else unreachable++
        this.#log.debug({ err, network, peer }, 'range request failed')
        continue
      }
      const landed = await this.#waitFor(network, Math.min(deadline - Date.now(), this.#requestTimeoutMs), () => this.#freeCount(network) > 0)
      if (landed) return
      unreachable++
    }
    if (unreachable === 0) {
      throw new MeshplaneError('E_EXHAUSTED', `network ${network} has no free address (${refused} holder(s) asked, none has any)`)
    }
    throw new MeshplaneError('E_UNAVAILABLE', `network ${network}: no free address here and ${unreachable} holder(s) did not hand one over` +
      ' (if a host is gone for good, run `meshplane rmpeer` on one host)')
  }

  async #ask (peer: string, network: string, size: number, options: { address?: string }, timeoutMs: number): Promise<void> {
    const signal = AbortSignal.timeout(Math.max(1, timeoutMs))
    await withTimeout(this.#requestRange(peer, network, size, { ...options, signal }), Math.max(1, timeoutMs), `range request to ${peer}`)
  }

  /** Other hosts that advertise free space, in a random order weighted by it, so that
   * many hosts running dry at once do not all ask the same one (Weave's rule). */
  #candidates (network: string): string[] {
    const view = this.#view(network)
    const peers = this.#ranges.get(network) ?? new Map<string, RangesBody>()
    const weighted: Array<{ peer: string, free: number }> = []
    const silent: string[] = []
    for (const [peer, spans] of view.owners) {
      if (peer === this.#me || spans.length === 0) continue
      const free = peers.get(peer)?.freeHint ?? 0
      if (free > 0) weighted.push({ peer, free })
      else silent.push(peer)
    }
    const out: string[] = []
    while (weighted.length > 0) {
      let total = 0
      for (const w of weighted) total += w.free
      let x = Math.random() * total
      let i = 0
      while (i < weighted.length - 1 && x >= weighted[i]!.free) { x -= weighted[i]!.free; i++ }
      out.push(weighted.splice(i, 1)[0]!.peer)
    }
    // A hint is only as fresh as the last record: a host that just released addresses
    // may still advertise none. Ask a few of those last, so a stale hint costs a round
    // trip rather than a false E_EXHAUSTED, and exhaustion stays bounded at scale.
    for (let i = 0; i < PROBE_SILENT_HOLDERS && silent.length > 0; i++) {
      out.push(silent.splice(Math.floor(Math.random() * silent.length), 1)[0]!)
    }
    return out
  }

  // ---- reconcile: keep this host's record in step with what it sees ----------------------

  #scheduleReconcile (network: string): void {
    if (this.#reconcileQueued.has(network)) return
    this.#reconcileQueued.add(network)
    void this.#run(network, async () => {
      this.#reconcileQueued.delete(network)
      if (!this.#started) return
      await this.#reconcileLocked(network)
      clearTimeout(this.#reconcileRetries.get(network)?.timer)
      this.#reconcileRetries.delete(network)
    }).catch(err => { this.#retryReconcile(network, err) })
  }

  #retryReconcile (network: string, err: unknown): void {
    const retry = this.#reconcileRetries.get(network) ?? { delayMs: 0, timer: undefined }
    if (retry.timer !== undefined || !this.#started) return
    retry.delayMs = Math.min(Math.max(retry.delayMs * 2, RECONCILE_RETRY_MIN_MS), RECONCILE_RETRY_MAX_MS)
    this.#log.error({ err, network, retryMs: retry.delayMs }, 'ipam reconcile failed, will retry')
    retry.timer = setTimeout(() => {
      retry.timer = undefined
      if (this.#started) this.#scheduleReconcile(network)
    }, retry.delayMs)
    retry.timer.unref()
    this.#reconcileRetries.set(network, retry)
  }

  /** In the network's queue. Seeds, claims grants to this host, forgets finished
   * transfers, drops ranges lost to a conflict, refreshes the free-space hint. */
  async #reconcileLocked (network: string): Promise<void> {
    const net = this.#network(network)
    if (net === undefined) return
    const lineage = lineageOf(net)
    const mine = this.#myBody(network)
    let body: RangesBody = mine !== undefined && mine.lineage === lineage ? this.#copyBody(mine) : emptyBody(network, lineage)

    if (mine !== undefined && mine.lineage !== lineage && (mine.ranges.length > 0 || mine.grants.length > 0)) {
      const lost = fromWireAll(mine.ranges)
      const at = this.#allocationsIn(network, lost)
      this.#log.warn({ network, lineage: mine.lineage, winner: lineage, ranges: lost.map(formatSpan), allocations: at.map(a => a.ip) },
        'network was seeded by another host (concurrent creation); this host\'s ranges are void and its allocations in them are conflicts')
    }

    // Seed: the creator, once per lineage. The marker survives even if the record would not.
    if (net.creator === this.#me && mine?.lineage !== lineage) {
      const marker = await this.#store.local.get(`${SEED_MARKER_PREFIX}${network}`) as string | undefined
      if (marker !== lineage) {
        const subnet = subnetSpan(net)!
        body = { ...body, ranges: [toWire({ ...subnet, gen: 1 })] }
        body.freeHint = this.#freeCountFor(network, net, [{ ...subnet, gen: 1 }])
        await this.#state.write('ranges', rangesKey(network, this.#me), body)
        await this.#store.putLocal(`${SEED_MARKER_PREFIX}${network}`, lineage)
        this.#log.info({ network, subnet: net.subnet }, 'seeded the network\'s address range')
        return
      }
    }

    const peers = this.#ranges.get(network) ?? new Map<string, RangesBody>()
    const view = this.#view(network)
    let held = fromWireAll(body.ranges)

    // Lost to a conflict (two reclaims, a reclaimed host that came back): drop.
    if (mine?.lineage === lineage) {
      const lost = subtract(held, view.owners.get(this.#me) ?? [])
      if (lost.length > 0) {
        const at = this.#allocationsIn(network, lost)
        this.#log.warn({ network, ranges: lost.map(formatSpan), allocations: at.map(a => a.ip) },
          'another host holds some of this host\'s ranges at a later generation; dropped them, allocations there are conflicts')
        held = subtract(held, lost)
      }
    }

    // Claim grants to this host, each once.
    const claims = [...body.claims]
    for (const [peer, rb] of peers) {
      if (peer === this.#me || rb.lineage !== lineage) continue
      for (const g of rb.grants) {
        if (g.to !== this.#me || claims.some(c => c.from === peer && c.id === g.id)) continue
        const got = fromWireAll(g.ranges).map(s => ({ ...s, gen: s.gen + 1 }))
        held = [...held, ...got]
        claims.push({ from: peer, id: g.id })
        this.#log.info({ network, from: peer, ranges: got.map(formatSpan), addresses: totalSize(got) }, 'claimed a granted range')
      }
    }
    // Forget a claim once its grantor dropped the grant: it can never be seen again.
    const keptClaims = claims.filter(c => peers.get(c.from)?.grants.some(g => g.id === c.id && g.to === this.#me) ?? false)

    // Drop a grant once its recipient claimed it, or its addresses are held by others at a
    // later generation (the recipient was reclaimed by rmpeer).
    const keptGrants = body.grants.filter(g => {
      if (peers.get(g.to)?.claims.some(c => c.from === this.#me && c.id === g.id) ?? false) return false
      return !fromWireAll(g.ranges).every(s => coveredAbove(peers, this.#me, lineage, s))
    })

    const next: RangesBody = {
      ...body,
      ranges: normalizeGen(held).map(toWire),
      claims: keptClaims,
      grants: keptGrants
    }
    const free = this.#freeCountFor(network, net, normalizeGen(held))
    next.freeHint = hintDrifted(body.freeHint, free, totalSize(held)) ? free : body.freeHint
    if (mine === undefined && next.ranges.length === 0 && next.grants.length === 0 && next.claims.length === 0) return
    if (sameBody(mine, next)) return
    next.freeHint = free
    await this.#state.write('ranges', rangesKey(network, this.#me), next)
  }

  // ---- views ------------------------------------------------------------------------------

  #view (network: string): Ownership {
    let v = this.#views.get(network)
    if (v === undefined) {
      const net = this.#network(network)
      const records: RangesInput[] = [...(this.#ranges.get(network) ?? new Map<string, RangesBody>())].map(([peer, body]) => ({ peer, body }))
      v = computeOwnership(net ?? { subnet: '0.0.0.0/32', creator: '', createdAtMs: 0n }, records)
      this.#views.set(network, v)
    }
    return v
  }

  /** This host's held ranges that it also wins (normally all of them). */
  #heldWon (network: string): GenSpan[] {
    const net = this.#network(network)
    const mine = this.#myBody(network)
    if (net === undefined || mine === undefined || mine.lineage !== lineageOf(net)) return []
    return intersect(fromWireAll(mine.ranges), this.#view(network).owners.get(this.#me) ?? [])
  }

  #freeSpans (network: string, net: NetworkBody): GenSpan[] {
    return this.#freeSpansOf(network, net, this.#heldWon(network))
  }

  #freeSpansOf (network: string, net: NetworkBody, held: GenSpan[]): GenSpan[] {
    const taken = [...this.#allocsOf(network).keys(), ...(this.#endpointIps.get(network)?.keys() ?? [])]
    return freeSpans(subtract(held, excludedSpans(net)), taken)
  }

  #freeCountFor (network: string, net: NetworkBody, held: GenSpan[]): number {
    return totalSize(this.#freeSpansOf(network, net, held))
  }

  #freeCount (network: string): number {
    const net = this.#network(network)
    return net === undefined ? 0 : totalSize(this.#freeSpans(network, net))
  }

  #hintCheck (network: string): void {
    const mine = this.#myBody(network)
    if (mine === undefined) return
    if (hintDrifted(mine.freeHint, this.#freeCount(network), totalSize(fromWireAll(mine.ranges)))) this.#scheduleReconcile(network)
  }

  #allocationsIn (network: string, spans: Span[]): Array<{ ip: string, endpointId: string }> {
    return [...this.#allocsOf(network)].filter(([n]) => containsAddress(spans, n)).map(([n, a]) => ({ ip: intToIp(n), endpointId: a.endpointId }))
  }

  #checkNotUsedByEndpoint (network: string, n: number, endpointId: string): void {
    const users = this.#endpointIps.get(network)?.get(n)
    if (users === undefined) return
    const mineId = `endpoint/${endpointKey(this.#me, network, endpointId)}`
    const others = [...users].filter(u => u !== mineId)
    if (others.length > 0) throw new MeshplaneError('E_CONFLICT', `${intToIp(n)} is in use by ${others.join(', ')}`)
  }

  #networkStatus (name: string, net: NetworkBody): IpamNetworkStatus {
    const view = this.#view(name)
    const peers = this.#ranges.get(name) ?? new Map<string, RangesBody>()
    const excluded = excludedSpans(net)
    const hosts: IpamHostStatus[] = []
    const hostIds = new Set([...view.owners.keys(), ...[...peers].filter(([, b]) => b.lineage === view.lineage).map(([p]) => p)])
    for (const peer of [...hostIds].sort()) {
      const spans = view.owners.get(peer) ?? []
      const size = totalSize(spans)
      const allocatable = totalSize(subtract(spans, excluded))
      const self = peer === this.#me
      const free = self ? this.#freeCount(name) : Math.min(allocatable, peers.get(peer)?.freeHint ?? 0)
      hosts.push({
        peer, self, ranges: normalizeGen(spans).map(formatSpan), size, allocatable,
        used: self ? this.#allocsOf(name).size : allocatable - free, free, exact: self
      })
    }
    const conflicts: IpamConflict[] = view.conflicts.map(c => ({
      network: name,
      reason: c.reason,
      range: formatSpan(c),
      owner: c.winner === '' ? undefined : c.winner,
      peer: c.loser,
      detail: c.reason === 'overlap'
        ? `${c.loser} lists ${formatSpan(c)} at generation ${c.loserGen}; ${c.winner} holds it at generation ${c.winnerGen}`
        : c.reason === 'foreign-lineage'
          ? `${c.loser} lists ${formatSpan(c)} from a seeding of ${name} that lost to ${view.lineage}`
          : `${c.loser} lists ${formatSpan(c)} outside ${net.subnet}`
    }))
    const held = this.#heldWon(name)
    for (const [n, a] of this.#allocsOf(name)) {
      if (containsAddress(held, n)) continue
      const o = ownerOf(view, n)
      conflicts.push({
        network: name,
        reason: 'allocation-not-held',
        ip: intToIp(n),
        owner: o?.peer,
        peer: this.#me,
        endpointIds: [a.endpointId],
        detail: `${intToIp(n)} was allocated here to ${a.endpointId} but ${o === undefined ? 'no host' : o.peer} now holds it; the address may be duplicated`
      })
    }
    for (const [n, users] of this.#endpointIps.get(name) ?? []) {
      if (users.size < 2) continue
      conflicts.push({
        network: name,
        reason: 'duplicate-address',
        ip: intToIp(n),
        endpointIds: [...users].sort(),
        detail: `${intToIp(n)} is used by ${users.size} endpoints`
      })
    }
    return {
      network: name,
      subnet: net.subnet,
      lineage: view.lineage,
      seeder: net.creator,
      hosts,
      inFlight: view.inFlight.map(f => ({ from: f.from, to: f.to, range: formatSpan(f) })),
      conflicts
    }
  }

  // ---- state plumbing -----------------------------------------------------------------------

  #handleChange ({ record, previous }: RecordChange): void {
    if (record.kind === 'ranges') {
      const network = this.#indexRanges(record.key, record.deleted ? undefined : record.body)
      if (network !== undefined) this.#touched(network)
    } else if (record.kind === 'network') {
      this.#touched(record.key)
    } else if (record.kind === 'endpoint') {
      this.#indexEndpoint(record.id, previous?.kind === 'endpoint' ? previous.body : undefined, record.deleted ? undefined : record.body)
    }
  }

  #touched (network: string): void {
    this.#views.delete(network)
    this.#scheduleReconcile(network)
    const waiters = this.#changeWaiters.get(network)
    if (waiters !== undefined) for (const w of [...waiters]) w()
  }

  #indexRanges (key: string, body: RangesBody | undefined): string | undefined {
    const slash = key.lastIndexOf('/')
    if (slash <= 0) return undefined
    const network = key.slice(0, slash)
    const peer = key.slice(slash + 1)
    let m = this.#ranges.get(network)
    if (m === undefined) this.#ranges.set(network, m = new Map())
    if (body === undefined) m.delete(peer)
    else m.set(peer, body)
    return network
  }

  #indexEndpoint (id: string, previous: { network: string, ipv4: string } | undefined, body: { network: string, ipv4: string } | undefined): void {
    if (previous !== undefined && isIPv4(previous.ipv4)) {
      const users = this.#endpointIps.get(previous.network)?.get(ipToInt(previous.ipv4))
      users?.delete(id)
      if (users?.size === 0) this.#endpointIps.get(previous.network)!.delete(ipToInt(previous.ipv4))
    }
    if (body !== undefined && isIPv4(body.ipv4)) {
      let m = this.#endpointIps.get(body.network)
      if (m === undefined) this.#endpointIps.set(body.network, m = new Map())
      let users = m.get(ipToInt(body.ipv4))
      if (users === undefined) m.set(ipToInt(body.ipv4), users = new Set())
      users.add(id)
    }
  }

  async #waitForChange (network: string, ms: number): Promise<void> {
    if (ms <= 0) return
    await new Promise<void>(resolve => {
      let set = this.#changeWaiters.get(network)
      if (set === undefined) this.#changeWaiters.set(network, set = new Set())
      const done = (): void => { clearTimeout(timer); set.delete(done); resolve() }
      const timer = setTimeout(done, ms)
      set.add(done)
    })
  }

  /** Reconciles (claiming grants that arrived) until `ok()` or the time is up. */
  async #waitFor (network: string, ms: number, ok: () => boolean): Promise<boolean> {
    const until = Date.now() + Math.max(0, ms)
    for (;;) {
      await this.#run(network, async () => { await this.#reconcileLocked(network) })
      if (ok()) return true
      const left = until - Date.now()
      if (left <= 0) return false
      await this.#waitForChange(network, left)
    }
  }

  #run<T> (network: string, fn: () => Promise<T>): Promise<T> {
    let s = this.#serials.get(network)
    if (s === undefined) this.#serials.set(network, s = new Serial())
    return s.run(fn)
  }

  #allocsOf (network: string): Map<number, Allocation> {
    let m = this.#allocs.get(network)
    if (m === undefined) this.#allocs.set(network, m = new Map())
    return m
  }

  #network (network: string): NetworkBody | undefined {
    const rec = this.#state.get(`network/${network}`)
    return rec?.kind === 'network' && !rec.deleted ? rec.body : undefined
  }

  #networkOrThrow (network: string): NetworkBody {
    const net = this.#network(network)
    if (net === undefined) throw new MeshplaneError('E_NOT_FOUND', `no network named ${JSON.stringify(network)}`)
    return net
  }

  #myBody (network: string): RangesBody | undefined {
    return this.#ranges.get(network)?.get(this.#me)
  }

  /** A deep copy: bodies in the state are shared and must never be mutated. */
  #copyBody (b: RangesBody): RangesBody {
    return RangesBodyCodec.decode(RangesBodyCodec.encode(b))
  }
}

function scanFree (owned: GenSpan[], from: number, taken: (n: number) => boolean): number | undefined {
  for (const s of owned) {
    if (s.end < from) continue
    for (let n = Math.max(s.start, from); n <= s.end; n++) if (!taken(n)) return n
  }
  return undefined
}

/** True when `spans` (one grant's range) is entirely held by hosts other than `self` at a
 * generation above the grant's: the transfer is finished (or superseded). */
function coveredAbove (peers: Map<string, RangesBody>, self: string, lineage: string, s: GenSpan): boolean {
  const above: Span[] = []
  for (const [peer, rb] of peers) {
    if (peer === self || rb.lineage !== lineage) continue
    for (const r of fromWireAll(rb.ranges)) if (r.gen > s.gen) above.push(r)
  }
  return subtract([s], above).length === 0
}

function hintDrifted (hint: number, free: number, size: number): boolean {
  if ((hint === 0) !== (free === 0)) return true
  return Math.abs(hint - free) > Math.max(FREE_HINT_MIN_DRIFT, size * FREE_HINT_DRIFT)
}
