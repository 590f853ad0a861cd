/**
 * The dataplane: keeps this host's kernel equal to what the cluster state says.
 *
 * How it works
 *
 *   update(input) ──► latest input ──┐
 *   resync timer (5 s) ──────────────┤ schedule ──► KernelQueue (one item at a time)
 *   netlink deletion events ─────────┤                 │ reconcile pass:
 *   retry after failed ops ──────────┘                 │  observe (netlink dumps)
 *                                                      │  computeDesired(input)   pure
 *                                                      │  diffKernel(desired, observed)  pure
 *                                                      ▼  apply ops (bounded window)
 *
 * - Level-triggered, not edge-triggered: every pass recomputes the whole desired state
 *   from the latest input and compares it with a fresh dump, so a lost event, a restart
 *   or a hand-made change all heal the same way. The pure halves (desired.ts, diff.ts)
 *   hold every decision; netlink.ts only executes.
 * - Coalescing: at most one pass waits in the queue. update() calls, events and timers
 *   that arrive while one waits join it (it reads the input when it starts), so a burst
 *   of 1,000 updates costs one or two passes, not 1,000.
 * - Retries live here only: a failed op is logged and the next pass (a retry timer with
 *   capped backoff, at the latest the periodic resync) computes it again. No per-call retry.
 * - attach/detach are queue items too, and the reconcile they need runs inside the same
 *   item, so they never interleave with a pass. Endpoints attached but not yet in the
 *   input (the cluster state lags the Docker call by a moment) are overlaid on the input;
 *   without that a pass in between would see a network with no local endpoint and delete
 *   the bridge the new veth was just put on. The overlay entry is dropped as soon as the
 *   input carries the endpoint: from then on the state is the truth.
 * - The underlay MTU and device come from the kernel (the device holding self.underlayIp),
 *   read on every pass; input.self.underlayMtu is used only if that device is not found.
 * - stop() leaves the kernel as it is: containers keep their network while the agent
 *   restarts, and the next agent adopts every entry without touching it.
 * - With no input yet a pass does nothing: not knowing what is desired must never mean
 *   "delete everything".
 */
import type { Logger } from 'pino'
import { DEFAULT_RESYNC_INTERVAL_MS, EVENT_DEBOUNCE_MS, FIREWALL_OBSERVE_REASONS, MAX_LAST_ERRORS, RETRY_BASE_MS } from './constants.js'
import { computeDesired, computeOverlayMtu } from './desired.js'
import { computeFirewall, diffFirewall, type DesiredFirewall } from './firewall.js'
import { NftError, NftFirewall } from './nft.js'
import { countOps, diffKernel } from './diff.js'
import { DataplaneError } from './errors.js'
import { bridgeName, normalizeMac, vethName, vethPeerName, vxlanName } from './names.js'
import { NetlinkKernel, raiseNeighbourLimits } from './netlink.js'
import type { NeighbourLimitsResult, UnderlayDevice } from './netlink.js'
import { KernelQueue } from './queue.js'
import type { RequestWindow } from './queue.js'
import type { ApplyResult, DataplaneInput, DesiredKernelState, KernelOp, KernelOpKind, OpFailure } from './types.js'
import type { EndpointBody, NetworkBody } from '../state/types.js'
import { isIPv4 } from 'node:net'

export interface DataplaneComponents {
  logger: Logger
  /** Told about every reconcile pass (the agent's Prometheus metrics), if given. */
  metrics?: DataplaneMetrics
}

export interface DataplaneMetrics {
  reconciled: (result: ReconcileResult) => void
}

export interface DataplaneInit {
  /** Full resync period (default 5000 ms). */
  resyncIntervalMs?: number
  /** Netlink requests in flight at once (default 128). */
  maxInFlight?: number
  /** The nft binary (default `nft` from PATH). */
  nftPath?: string
}

export interface AttachOptions {
  network: NetworkBody
  endpointId: string
  /** Path of the container's network namespace, e.g. /run/netns/c1 or /proc/<pid>/ns/net. */
  netnsPath: string
  /** Interface name inside the container (at most 15 characters). */
  ifname: string
  ipv4: string
  prefixLen: number
  mac: string
  gateway: string
  mtu: number
}

export interface AttachResult {
  /** Host side of the veth pair. */
  hostIfname: string
  /** false when the pair already existed (a repeated attach). */
  created: boolean
}

/** An endpoint whose container namespace the caller does not give (Docker's Join: the
 * namespace may not exist yet; libnetwork moves the peer in and renames it itself). */
export interface EndpointVethOptions {
  network: NetworkBody
  endpointId: string
  ipv4: string
  mac: string
  mtu: number
}

export interface EndpointVethResult {
  /** Host side, a port of the network's bridge, up. */
  hostIfname: string
  /** Container side, still in the host namespace, down, with the endpoint's MAC and MTU. */
  peerIfname: string
  created: boolean
}

export type EndpointVethState = 'absent' | 'peer-in-host' | 'peer-moved'

export interface DetachOptions {
  network: Pick<NetworkBody, 'name'>
  endpointId: string
}

export interface DetachResult {
  hostIfname: string
}

export interface ReconcileResult {
  /** Set when the pass did nothing and why. */
  skipped?: 'no-input'
  /** Why the pass ran (update, resync, event, retry, attach…). */
  reason: string
  ops: number
  byKind: Partial<Record<KernelOpKind, number>>
  applied: number
  failed: OpFailure[]
  /** Ops that removed something (stale entries and devices). */
  removed: number
  warnings: string[]
  underlay: UnderlayDevice | undefined
  durationMs: number
  /** What the pass did to the firewall: undefined when it did not look. */
  firewall?: { commands: number, error?: string }
}

export interface FirewallStatus {
  /** The rules this host needs are in the kernel (egress and published ports work). */
  ok: boolean
  /** Why not, when not (nft missing, a refused transaction). */
  error?: string
  table: string
  rules: number
  /** Transactions applied (each one replaces the table or fixes the compat rules). */
  transactions: number
  failures: number
  lastAppliedAt?: number
  ports: DesiredFirewall['ports']
}

export interface DataplaneStatus {
  running: boolean
  /** What the last pass left in the kernel (desired entries minus those that failed). */
  programmed: { networks: number, links: number, addresses: number, neighbours: number, fdb: number }
  lastReconcile?: { at: number, durationMs: number, reason: string, ops: number, failed: number, removed: number }
  reconciles: number
  /** Most recent errors, newest last (bounded). */
  lastErrors: Array<{ at: number, message: string, op?: KernelOp }>
  /** Requests the kernel refused (EEXIST on create / ENOENT on delete are not refusals). */
  netlinkErrors: number
  neighbourLimits?: NeighbourLimitsResult
  /** Queue items waiting or running. */
  queued: number
  firewall: FirewallStatus
}

export interface Dataplane {
  start(): Promise<void>
  stop(): Promise<void>
  update(input: DataplaneInput): void
  reconcileNow(): Promise<ReconcileResult>
  /** The firewall alone, now, from `input` (which otherwise differs from the last input
   * only in its published ports): what the Docker plugin waits for before answering. */
  applyFirewall(input: DataplaneInput): Promise<void>
  attach(opts: AttachOptions): Promise<AttachResult>
  /** Like attach, but the peer stays in the host namespace for the caller to move. */
  createEndpointVeth(opts: EndpointVethOptions): Promise<EndpointVethResult>
  /** Deletes an endpoint's veth pair (wherever its peer is); already gone counts as done. */
  detach(opts: DetachOptions): Promise<DetachResult>
  status(): DataplaneStatus
  /** Applies ops as one queue item (benchmarks, tools). A pass with input may undo them. */
  applyOps(ops: KernelOp[]): Promise<ApplyResult>
  /** Where an endpoint's veth pair is: gone, both ends on the host, or its peer moved away
   * (into a container). Read-only. */
  endpointVethState(opts: DetachOptions): Promise<EndpointVethState>
}

interface Attachment {
  network: NetworkBody
  endpoint: EndpointBody & { host: string }
}

type RunState =
  | { status: 'stopped' }
  | {
    status: 'started'
    kernel: NetlinkKernel
    firewall: NftFirewall
    queue: KernelQueue
    unwatch: () => void
    resyncTimer: NodeJS.Timeout
    debounceTimer: NodeJS.Timeout | undefined
    retryTimer: NodeJS.Timeout | undefined
  }

const REMOVAL_KINDS = new Set<KernelOpKind>(['addr.del', 'neigh.del', 'fdb.del', 'link.del'])
/** Failed ops logged one by one per pass; the rest are counted (10,000 identical lines help nobody). */
const LOGGED_FAILURES = 10

export class DataplaneReconciler implements Dataplane {
  readonly #log: Logger
  readonly #metrics: DataplaneMetrics | undefined
  readonly #resyncIntervalMs: number
  readonly #maxInFlight: number | undefined
  #state: RunState = { status: 'stopped' }
  #starting: Promise<void> | undefined
  #input: DataplaneInput | undefined
  readonly #attachments = new Map<string, Attachment>()
  #pending: Promise<ReconcileResult> | undefined
  #retryAttempt = 0
  #reconciles = 0
  #netlinkErrors = 0
  #lastReconcile: DataplaneStatus['lastReconcile']
  #programmed: DataplaneStatus['programmed'] = { networks: 0, links: 0, addresses: 0, neighbours: 0, fdb: 0 }
  readonly #lastErrors: DataplaneStatus['lastErrors'] = []
  #neighbourLimits: NeighbourLimitsResult | undefined
  #lastUnderlayWarning = ''
  /** What the last pass programmed (its desired state, serialized) and whether every op of
   * it succeeded: an update that leaves the desired state as it is needs no pass. */
  #lastPass: { underlay: UnderlayDevice | undefined, desiredKey: string, clean: boolean, egress: boolean } | undefined
  /** The firewall the last successful transaction (or check) left in the kernel. */
  #firewallKey: string | undefined
  #firewall: FirewallStatus = { ok: false, table: 'inet meshplane', rules: 0, transactions: 0, failures: 0, ports: [] }
  readonly #nftPath: string | undefined
  #passesInFlight = 0

  constructor (components: DataplaneComponents, init: DataplaneInit = {}) {
    this.#log = components.logger.child({ component: 'dataplane' })
    this.#metrics = components.metrics
    this.#resyncIntervalMs = init.resyncIntervalMs ?? DEFAULT_RESYNC_INTERVAL_MS
    this.#maxInFlight = init.maxInFlight
    this.#nftPath = init.nftPath
    if (!(this.#resyncIntervalMs > 0)) throw new DataplaneError('E_DATAPLANE_CONFIG', `resyncIntervalMs must be positive, got ${this.#resyncIntervalMs}`)
  }

  // ---- lifecycle -------------------------------------------------------------------

  async start (): Promise<void> {
    if (this.#state.status === 'started') return
    this.#starting ??= this.#start().finally(() => { this.#starting = undefined })
    await this.#starting
  }

  async #start (): Promise<void> {
    const queue = new KernelQueue(this.#maxInFlight === undefined ? {} : { maxInFlight: this.#maxInFlight })
    const kernel = new NetlinkKernel({ logger: this.#log })
    const firewall = new NftFirewall({ logger: this.#log }, this.#nftPath === undefined ? {} : { nftPath: this.#nftPath })
    try {
      this.#neighbourLimits = await raiseNeighbourLimits()
      if (this.#neighbourLimits.unavailable !== undefined) this.#log.info({ reason: this.#neighbourLimits.unavailable }, 'neighbour table limits left as they are')
      else if (Object.keys(this.#neighbourLimits.raised).length > 0) this.#log.info({ before: this.#neighbourLimits.raised }, 'raised neighbour table limits')
    } catch (err) {
      // Not fatal: small networks work at the kernel defaults.
      this.#recordError(`raising neighbour table limits failed: ${(err as Error).message}`)
      this.#log.warn({ err }, 'could not raise neighbour table limits')
    }
    const unwatch = kernel.watch(reason => { this.#onKernelEvent(reason) })
    const resyncTimer = setInterval(() => { this.#scheduleInBackground('resync') }, this.#resyncIntervalMs)
    this.#state = { status: 'started', kernel, firewall, queue, unwatch, resyncTimer, debounceTimer: undefined, retryTimer: undefined }
    this.#log.info({ resyncIntervalMs: this.#resyncIntervalMs, maxInFlight: queue.window.maxInFlight }, 'dataplane started')
    if (this.#input !== undefined) this.#scheduleInBackground('start')
  }

  async stop (): Promise<void> {
    if (this.#starting !== undefined) await this.#starting.catch(() => {})
    const state = this.#state
    if (state.status !== 'started') return
    this.#state = { status: 'stopped' }
    // Reverse order of start: no new triggers, then drain the queue, then the socket.
    clearInterval(state.resyncTimer)
    clearTimeout(state.debounceTimer)
    clearTimeout(state.retryTimer)
    state.unwatch()
    await state.queue.close()
    state.kernel.close()
    this.#pending = undefined
    this.#log.info('dataplane stopped (kernel state left in place)')
  }

  // ---- input and scheduling --------------------------------------------------------

  update (input: DataplaneInput): void {
    try {
      this.#input = input
      this.#dropAdoptedAttachments()
      // Most cluster changes (a network with no endpoint here, an IPAM record, a host's
      // restart counter) leave this host's desired kernel state as it was: no netlink dumps
      // for them. Drift is still repaired by events and the periodic resync.
      // Only while no pass is queued or running: that one may program another state.
      const last = this.#lastPass
      if (this.#passesInFlight === 0 && last?.clean === true) {
        const effective = this.#effectiveInput(last.underlay)
        const desired = computeDesired(effective, { egress: last.egress })
        if (desiredKey(desired, firewallOf(desired, effective)) === last.desiredKey) return
      }
      if (this.#state.status === 'started') this.#scheduleInBackground('update')
    } catch (err) {
      // update() is called from state-change handlers that must not fail because of us.
      this.#log.error({ err }, 'update failed')
    }
  }

  /**
   * Published ports changed and nothing else did (ProgramExternalConnectivity): only the
   * firewall is brought up to date, in one queue item, skipping the rest of a pass (four
   * netlink dumps, a diff); `docker run -p` waits for this. The next update or resync
   * runs the full pass as usual. Without a clean pass with the firewall in place before,
   * it is a full pass.
   */
  async applyFirewall (input: DataplaneInput): Promise<void> {
    const last = this.#lastPass
    if (last === undefined || !last.clean || !last.egress) {
      this.#input = input
      await this.reconcileNow()
      return
    }
    const { queue } = this.#started()
    this.#input = input
    await queue.enqueue(async () => {
      const effective = this.#effectiveInput(last.underlay)
      const desired = computeDesired(effective, { egress: true })
      const result = await this.#syncFirewall(firewallOf(desired, effective), desired.networks.length > 0, 'ports')
      if (result.error !== undefined && result.unavailable !== true) this.#scheduleRetry()
    })
    // A pass for whatever else the input changed, in the background.
    this.update(input)
  }

  async reconcileNow (): Promise<ReconcileResult> {
    return await this.#schedule('reconcileNow')
  }

  #started (): Extract<RunState, { status: 'started' }> {
    if (this.#state.status !== 'started') throw new DataplaneError('E_DATAPLANE_STOPPED', 'the dataplane is not started')
    return this.#state
  }

  /** Enqueues a pass unless one is already waiting to start, which then serves this caller too. */
  #schedule (reason: string): Promise<ReconcileResult> {
    if (this.#pending !== undefined) return this.#pending
    let state: Extract<RunState, { status: 'started' }>
    try {
      state = this.#started()
    } catch (err) {
      return Promise.reject(err)
    }
    const pass = state.queue.enqueue(async window => {
      // From here on a new trigger needs a new pass: this one may already have read the input.
      if (this.#pending === pass) this.#pending = undefined
      return await this.#reconcile(window, reason)
    })
    this.#pending = pass
    this.#passesInFlight++
    void pass.finally(() => {
      this.#passesInFlight--
      if (this.#pending === pass) this.#pending = undefined
    }).catch(() => {})
    return pass
  }

  #scheduleInBackground (reason: string): void {
    this.#schedule(reason).catch(err => {
      if ((err as DataplaneError).dataplaneCode !== 'E_DATAPLANE_STOPPED') this.#log.warn({ err, reason }, 'reconcile failed')
    })
  }

  #onKernelEvent (reason: string): void {
    const state = this.#state
    if (state.status !== 'started' || state.debounceTimer !== undefined) return
    this.#log.debug({ reason }, 'kernel event, reconciling')
    state.debounceTimer = setTimeout(() => {
      state.debounceTimer = undefined
      this.#scheduleInBackground(`event: ${reason}`)
    }, EVENT_DEBOUNCE_MS)
  }

  #scheduleRetry (): void {
    const state = this.#state
    if (state.status !== 'started' || state.retryTimer !== undefined) return
    const delay = Math.min(RETRY_BASE_MS * 2 ** this.#retryAttempt, this.#resyncIntervalMs)
    this.#retryAttempt++
    state.retryTimer = setTimeout(() => {
      state.retryTimer = undefined
      this.#scheduleInBackground('retry')
    }, delay)
  }

  // ---- the pass --------------------------------------------------------------------

  async #reconcile (window: RequestWindow, reason: string): Promise<ReconcileResult> {
    const started = performance.now()
    const { kernel } = this.#started()
    const base = { reason, byKind: {}, applied: 0, failed: [], removed: 0, warnings: [], underlay: undefined, ops: 0 }
    if (this.#input === undefined) return { ...base, skipped: 'no-input', durationMs: performance.now() - started }

    let observation
    try {
      observation = await kernel.observe({ underlayIp: this.#input.self.underlayIp })
    } catch (err) {
      this.#netlinkErrors++
      this.#recordError(`observe failed: ${(err as Error).message}`)
      this.#scheduleRetry()
      throw err
    }

    // Read after the dumps: the newest input, against the freshest view of the kernel.
    this.#dropAdoptedAttachments()
    const input = this.#effectiveInput(observation.underlay)
    // The firewall first: an egress bridge forwards only once the rules that isolate it are
    // in the kernel; without them (no nft, a refused transaction) every bridge keeps
    // forwarding off, as before egress existed.
    const withEgress = computeDesired(input, { egress: true })
    const firewallDesired = firewallOf(withEgress, input)
    const firewall = await this.#syncFirewall(firewallDesired, withEgress.networks.length > 0, reason)
    const egress = firewall.error === undefined && this.#firewall.ok
    const desired = egress ? withEgress : computeDesired(input, { egress: false })
    const ops = diffKernel(desired, observation.state)
    const context = observation.underlay === undefined ? {} : { underlayIndex: observation.underlay.index }
    const applied = await kernel.apply(ops, window, context)
    const durationMs = performance.now() - started

    const byKind = countOps(ops)
    const removed = ops.filter(op => REMOVAL_KINDS.has(op.kind)).length
    this.#reconciles++
    this.#netlinkErrors += applied.failed.length
    this.#lastReconcile = { at: Date.now(), durationMs, reason, ops: ops.length, failed: applied.failed.length, removed }
    this.#programmed = countProgrammed(desired, applied.failed)
    const firewallFailed = firewall.error !== undefined && firewall.unavailable !== true
    const clean = applied.failed.length === 0 && !firewallFailed
    // (the firewall depends on the networks, not on their bridges' forwarding: the same for both)
    this.#lastPass = { underlay: observation.underlay, desiredKey: desiredKey(desired, firewallDesired), clean, egress }

    for (const warning of desired.warnings) this.#log.warn({ reason: warning }, 'input not programmed')
    const fields = { reason, ops: ops.length, byKind, failed: applied.failed.length, durationMs: Math.round(durationMs) }
    if (ops.length > 0) this.#log.info(fields, 'reconciled')
    else this.#log.debug(fields, 'reconciled, nothing to do')

    if (firewallFailed && withEgress.networks.length > 0) this.#scheduleRetry()
    if (applied.failed.length > 0) {
      for (const failure of applied.failed.slice(0, LOGGED_FAILURES)) {
        this.#log.warn({ op: failure.op, error: failure.error }, 'kernel op failed, will retry')
        this.#recordError(failure.error, failure.op)
      }
      if (applied.failed.length > LOGGED_FAILURES) this.#log.warn({ more: applied.failed.length - LOGGED_FAILURES }, 'more kernel ops failed')
      this.#scheduleRetry()
    } else if (clean) {
      this.#retryAttempt = 0
    }

    const result: ReconcileResult = { reason, ops: ops.length, byKind, applied: applied.applied, failed: applied.failed, removed, warnings: [...desired.warnings, ...firewallDesired.warnings], underlay: observation.underlay, durationMs }
    if (firewall.looked) result.firewall = firewall.error === undefined ? { commands: firewall.commands } : { commands: firewall.commands, error: firewall.error }
    this.#metrics?.reconciled(result)
    return result
  }

  /**
   * Brings the kernel's firewall to `desired`, in one transaction when it differs. Looks
   * at the kernel only when the desired rules changed since the last transaction, or on a
   * resync-like pass (FIREWALL_OBSERVE_REASONS, kernel events): a record update that leaves
   * the rules as they are costs no `nft` run.
   */
  async #syncFirewall (desired: DesiredFirewall, needed: boolean, reason: string): Promise<{ looked: boolean, commands: number, error?: string, unavailable?: boolean }> {
    const { firewall } = this.#started()
    const key = firewallKey(desired)
    const observeAnyway = reason.startsWith('event') || (FIREWALL_OBSERVE_REASONS as readonly string[]).includes(reason)
    this.#firewall.ports = desired.ports
    if (key === this.#firewallKey && this.#firewall.ok && !observeAnyway) return { looked: false, commands: 0 }
    // No network here and none since the last look: nothing of ours can be in the kernel
    // (the start looked once), so an idle host runs no nft at every resync.
    if (!needed && key === this.#firewallKey && reason !== 'start') return { looked: false, commands: 0 }
    let commands = 0
    try {
      const observed = await firewall.observe()
      const change = diffFirewall(desired, observed)
      commands = change.length
      if (change.length > 0) {
        await firewall.apply(change)
        this.#firewall.transactions++
        this.#firewall.lastAppliedAt = Date.now()
        this.#log.info({ reason, commands: change.length, rules: desired.chains.reduce((n, c) => n + c.rules.length, 0) }, 'firewall applied')
      }
      this.#firewallKey = key
      this.#firewall.ok = true
      delete this.#firewall.error
      this.#firewall.rules = desired.chains.reduce((n, c) => n + c.rules.length, 0)
      return { looked: true, commands }
    } catch (err) {
      const message = (err as Error).message
      // No nft on this host: a fact of its setup, not a failure to retry; the resync looks
      // again (nftables installed later is picked up without a restart).
      const unavailable = err instanceof NftError && err.code === 'ENOENT'
      this.#firewallKey = undefined
      this.#firewall.ok = false
      if (!needed) return { looked: true, commands, error: message, unavailable } // nothing programmed: nothing lost
      const repeated = this.#firewall.error === message
      this.#firewall.error = message
      if (!unavailable) this.#firewall.failures++
      if (!repeated) {
        this.#log.warn({ err: message }, 'firewall not applied: egress and published ports are off, networks stay isolated')
        this.#recordError(`firewall: ${message}`)
      }
      return { looked: true, commands, error: message, unavailable }
    }
  }

  /** The input plus attached-but-not-yet-recorded endpoints, with the kernel's underlay MTU. */
  #effectiveInput (underlay: UnderlayDevice | undefined): DataplaneInput {
    const input = this.#input as DataplaneInput
    let self = input.self
    if (underlay !== undefined && underlay.mtu > 0) {
      self = { ...self, underlayMtu: underlay.mtu }
      this.#lastUnderlayWarning = ''
    } else {
      const warning = `no device holds the underlay address ${input.self.underlayIp}; using underlay MTU ${input.self.underlayMtu} from the input`
      if (warning !== this.#lastUnderlayWarning) this.#log.warn(warning)
      this.#lastUnderlayWarning = warning
    }
    if (this.#attachments.size === 0) return { ...input, self }
    const networks = [...input.networks]
    const endpoints = [...input.endpoints]
    for (const attachment of this.#attachments.values()) {
      if (!networks.some(network => network.name === attachment.network.name)) networks.push(attachment.network)
      endpoints.push({ ...attachment.endpoint, host: input.self.peerId })
    }
    return { ...input, self, networks, endpoints }
  }

  #dropAdoptedAttachments (): void {
    const input = this.#input
    if (input === undefined || this.#attachments.size === 0) return
    for (const endpoint of input.endpoints) {
      if (endpoint.host === input.self.peerId) this.#attachments.delete(attachmentKey(endpoint.network, endpoint.id))
    }
  }

  #recordError (message: string, op?: KernelOp): void {
    const entry: DataplaneStatus['lastErrors'][number] = { at: Date.now(), message }
    if (op !== undefined) entry.op = op
    this.#lastErrors.push(entry)
    if (this.#lastErrors.length > MAX_LAST_ERRORS) this.#lastErrors.splice(0, this.#lastErrors.length - MAX_LAST_ERRORS)
  }

  // ---- attach / detach -------------------------------------------------------------

  async attach (opts: AttachOptions): Promise<AttachResult> {
    validateAttach(opts)
    const mac = normalizeMac(opts.mac) as string
    const peerName = vethPeerName(opts.network.name, opts.endpointId)
    return await this.#withEndpointVeth({ ...opts, mac }, async (kernel, hostIfname, created, log) => {
      await kernel.configureNetns(opts.netnsPath, {
        peerName,
        ifname: opts.ifname,
        mac,
        mtu: opts.mtu,
        ipv4: opts.ipv4,
        prefixLen: opts.prefixLen,
        gateway: opts.gateway
      })
      log.info({ created, netns: opts.netnsPath, ifname: opts.ifname, ipv4: opts.ipv4 }, 'attached endpoint')
      return { hostIfname, created }
    })
  }

  async createEndpointVeth (opts: EndpointVethOptions): Promise<EndpointVethResult> {
    validateEndpointVeth(opts)
    const mac = normalizeMac(opts.mac) as string
    const peerIfname = vethPeerName(opts.network.name, opts.endpointId)
    return await this.#withEndpointVeth({ ...opts, mac, netnsPath: undefined }, async (_kernel, hostIfname, created, log) => {
      log.info({ created, peer: peerIfname, ipv4: opts.ipv4 }, 'created endpoint veth (peer left in the host namespace)')
      return { hostIfname, peerIfname, created }
    })
  }

  /**
   * One queue item: overlays the endpoint on the input (so no pass in between deletes
   * the new veth or its bridge), reconciles the network's devices and remote entries,
   * creates the veth pair, then runs `then`. On failure, undoes what it made.
   */
  async #withEndpointVeth<T> (
    opts: { network: NetworkBody, endpointId: string, mac: string, ipv4: string, mtu: number, netnsPath: string | undefined },
    then: (kernel: NetlinkKernel, hostIfname: string, created: boolean, log: Logger) => Promise<T>
  ): Promise<T> {
    const { queue, kernel } = this.#started()
    const hostIfname = vethName(opts.network.name, opts.endpointId)
    const key = attachmentKey(opts.network.name, opts.endpointId)
    const log = this.#log.child({ network: opts.network.name, endpoint: opts.endpointId, veth: hostIfname })
    return await queue.enqueue(async window => {
      const input = this.#input
      if (input === undefined) throw new DataplaneError('E_DATAPLANE_NO_INPUT', 'attach before the first update(): the host\'s own underlay is not known yet')
      const hadAttachment = this.#attachments.has(key)
      this.#attachments.set(key, {
        network: opts.network,
        endpoint: { network: opts.network.name, id: opts.endpointId, mac: opts.mac, ipv4: opts.ipv4, ipv6: '', name: '', aliases: [], labels: new Map(), host: input.self.peerId }
      })
      let created = false
      try {
        // The bridge, VXLAN device and remote entries of the network, in this same item.
        const pass = await this.#reconcile(window, 'attach')
        const networkMtu = computeOverlayMtu(opts.network, pass.underlay?.mtu ?? input.self.underlayMtu)
        if (networkMtu !== undefined && networkMtu !== opts.mtu) log.warn({ mtu: opts.mtu, networkMtu }, 'attach MTU differs from the network MTU')
        const outcome = await kernel.ensureVeth({
          hostName: hostIfname,
          peerName: vethPeerName(opts.network.name, opts.endpointId),
          master: bridgeName(opts.network.vni),
          mtu: opts.mtu,
          mac: opts.mac,
          netnsPath: opts.netnsPath
        })
        created = outcome === 'created'
        await kernel.forgetLearnedMac(vxlanName(opts.network.vni), opts.mac)
        return await then(kernel, hostIfname, created, log)
      } catch (err) {
        // Undo what this call made, so a failed attach leaves nothing half-built behind.
        log.warn({ err }, 'attach failed, rolling back')
        if (created) await kernel.deleteLink(hostIfname).catch(() => {})
        if (!hadAttachment) this.#attachments.delete(key)
        this.#scheduleInBackground('attach rollback')
        throw err
      }
    })
  }

  async detach (opts: DetachOptions): Promise<DetachResult> {
    const { queue, kernel } = this.#started()
    const hostIfname = vethName(opts.network.name, opts.endpointId)
    return await queue.enqueue(async () => {
      this.#attachments.delete(attachmentKey(opts.network.name, opts.endpointId))
      // Deleting the host side deletes the pair; already gone counts as done.
      await kernel.deleteLink(hostIfname)
      this.#log.info({ network: opts.network.name, endpoint: opts.endpointId, veth: hostIfname }, 'detached endpoint')
      // The network's devices go once the input no longer has a local endpoint in it.
      this.#scheduleInBackground('detach')
      return { hostIfname }
    })
  }

  async endpointVethState (opts: DetachOptions): Promise<EndpointVethState> {
    const { queue, kernel } = this.#started()
    return await queue.enqueue(async () => {
      if (!await kernel.linkExists(vethName(opts.network.name, opts.endpointId))) return 'absent'
      return await kernel.linkExists(vethPeerName(opts.network.name, opts.endpointId)) ? 'peer-in-host' : 'peer-moved'
    })
  }

  async applyOps (ops: KernelOp[]): Promise<ApplyResult> {
    const { queue, kernel } = this.#started()
    return await queue.enqueue(async window => await kernel.apply(ops, window))
  }

  status (): DataplaneStatus {
    const status: DataplaneStatus = {
      running: this.#state.status === 'started',
      programmed: { ...this.#programmed },
      reconciles: this.#reconciles,
      lastErrors: [...this.#lastErrors],
      netlinkErrors: this.#netlinkErrors,
      queued: this.#state.status === 'started' ? this.#state.queue.size : 0,
      firewall: { ...this.#firewall, ports: [...this.#firewall.ports] }
    }
    if (this.#lastReconcile !== undefined) status.lastReconcile = { ...this.#lastReconcile }
    if (this.#neighbourLimits !== undefined) status.neighbourLimits = this.#neighbourLimits
    return status
  }
}

function attachmentKey (network: string, endpointId: string): string {
  return `${network}\u0000${endpointId}`
}

function countProgrammed (desired: DesiredKernelState, failed: OpFailure[]): DataplaneStatus['programmed'] {
  const failedOf = (kind: KernelOpKind): number => failed.filter(f => f.op.kind === kind).length
  return {
    networks: desired.links.filter(link => link.type === 'bridge').length - failedOf('link.ensureBridge'),
    links: desired.links.length - failedOf('link.ensureBridge') - failedOf('link.ensureVxlan'),
    addresses: desired.addresses.length - failedOf('addr.add'),
    neighbours: desired.neighbours.length - failedOf('neigh.set'),
    fdb: desired.fdb.length - failedOf('fdb.add')
  }
}

function validateAttach (opts: AttachOptions): void {
  const problems: string[] = []
  if (opts.endpointId === '') problems.push('endpointId is empty')
  if (opts.netnsPath === '') problems.push('netnsPath is empty')
  if (!/^[^\s/:]{1,15}$/.test(opts.ifname)) problems.push(`ifname ${JSON.stringify(opts.ifname)} is not a valid interface name (1-15 characters)`)
  if (!isIPv4(opts.ipv4)) problems.push(`ipv4 ${opts.ipv4} is not IPv4`)
  if (!isIPv4(opts.gateway)) problems.push(`gateway ${opts.gateway} is not IPv4`)
  if (!Number.isInteger(opts.prefixLen) || opts.prefixLen < 1 || opts.prefixLen > 32) problems.push(`prefixLen ${opts.prefixLen} is not 1..32`)
  problems.push(...linkProblems(opts))
  if (problems.length > 0) throw new DataplaneError('E_DATAPLANE_INVALID_ARGUMENT', `attach: ${problems.join('; ')}`)
}

function validateEndpointVeth (opts: EndpointVethOptions): void {
  const problems: string[] = []
  if (opts.endpointId === '') problems.push('endpointId is empty')
  if (!isIPv4(opts.ipv4)) problems.push(`ipv4 ${opts.ipv4} is not IPv4`)
  problems.push(...linkProblems(opts))
  if (problems.length > 0) throw new DataplaneError('E_DATAPLANE_INVALID_ARGUMENT', `endpoint veth: ${problems.join('; ')}`)
}

/** What attach and createEndpointVeth both check about the veth itself. */
function linkProblems (opts: Pick<EndpointVethOptions, 'mac' | 'mtu' | 'network'>): string[] {
  const problems: string[] = []
  if (normalizeMac(opts.mac) === undefined) problems.push(`mac ${opts.mac} is not a MAC address`)
  if (!Number.isInteger(opts.mtu) || opts.mtu < 68 || opts.mtu > 65535) problems.push(`mtu ${opts.mtu} is not 68..65535`)
  if (!Number.isInteger(opts.network.vni) || opts.network.vni < 1 || opts.network.vni > 0xffffff) problems.push(`network VNI ${opts.network.vni} is not 1..16777215`)
  return problems
}

/** A desired kernel state and firewall as a comparable string (warnings aside: they are
 * not kernel state). */
function desiredKey (desired: DesiredKernelState, firewall: DesiredFirewall): string {
  return JSON.stringify({ ...desired, warnings: undefined }) + firewallKey(firewall)
}

function firewallKey (firewall: DesiredFirewall): string {
  return JSON.stringify(firewall.chains.map(chain => [chain.name, chain.base?.hook ?? '', ...chain.rules.map(r => r.comment)]))
}

function firewallOf (desired: DesiredKernelState, input: DataplaneInput): DesiredFirewall {
  const init: Parameters<typeof computeFirewall>[0] = {
    networks: desired.networks,
    clusterSubnets: input.networks.map(n => n.subnet),
    ports: input.ports ?? []
  }
  if (input.serviceAddress !== undefined) init.serviceAddress = input.serviceAddress
  return computeFirewall(init)
}
