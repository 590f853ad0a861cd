/**
 * The one place that builds and wires the agent's parts. Start order: data directory and
 * state (so the API can serve the last known state at once), IPAM allocations, kernel
 * (adopted as it is), control API and metrics, mesh, own host record, liveness, a first
 * reconcile, the Docker plugin socket. Stop order is the reverse, with a leaving mark
 * published first so peers know at once instead of waiting for dead-after.
 */
import { networkInterfaces } from 'node:os'
import type { Logger } from 'pino'
import type { FastifyInstance } from 'fastify'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { ClusterState, DataStore, endpointKey, type HostBody, type NetworkBody } from './state/index.js'
import { Mesh } from './mesh/index.js'
import { Liveness } from './liveness/index.js'
import { Networks, networkToJson, type CreateNetworkRequest } from './control/networks.js'
import { Endpoints } from './control/endpoints.js'
import { Ipam, IPAM_PROTOCOL, RangeRequestGuard, runIpamClient, runIpamServer, type RequestRangeOptions } from './ipam/index.js'
import { LocalNetworkHold } from './dataplane/held-networks.js'
import { createDataplane, computeOverlayMtu, type Dataplane, type DataplaneInput, type DataplaneHost, type PublishedPort } from './dataplane/index.js'
import { createDockerPlugin, dockerSocketPath, keyValueStore, lookupEndpointNames, type DockerPlugin } from './docker/index.js'
import { buildApiApp } from './api/app.js'
import { listenOnSocket } from './api/server.js'
import type { AgentView, AttachRequest, DetachRequest } from './api/view.js'
import type { AgentConfig } from './config.js'
import { loadOrCreateIdentity, readClusterKey } from './identity.js'
import { AGENT_VERSION } from './version.js'
import { MeshplaneError, isMeshplaneError } from './errors.js'
import { createMetrics, type AgentMetrics } from './metrics/index.js'
import type { RecentLogError } from './log/index.js'
import { createResolver, dnsSettings, type DnsSettings, type Resolver } from './dns/index.js'

const REAP_INTERVAL_MS = 60_000
/** A resolver that could not listen (its address not on the host yet) tries again this often. */
const RESOLVER_RETRY_MS = 2_000

/** What main hands the agent besides its config and logger. */
export interface AgentExtras {
  /** The logger's ring of recent warnings and errors (status shows it). */
  recentErrors?: () => RecentLogError[]
}

export class Agent implements AgentView {
  readonly #config: AgentConfig
  readonly #log: Logger
  #store!: DataStore
  #state!: ClusterState
  #mesh!: Mesh
  #liveness!: Liveness
  #networksControl!: Networks
  #endpointsControl!: Endpoints
  #ipam!: Ipam
  /** range requests only from members with a live host record, rate-limited per member */
  readonly #rangeGuard = new RangeRequestGuard({
    isMember: peer => { const h = this.#state.get(`host/${peer}`); return h !== undefined && !h.deleted }
  })
  #dataplane!: Dataplane
  readonly #networkHold = new LocalNetworkHold()
  #heldKey = ''
  /** remote endpoints not programmed for their address (empty: none) */
  #unownedKey = ''
  #underlayMtu = 1500
  #dataplaneUpdateQueued = false
  #api: FastifyInstance | undefined
  #docker: DockerPlugin | undefined
  #privateKey!: PrivateKey
  #peerId = ''
  #advertiseAddr = ''
  #startedAtMs = 0
  #timers: NodeJS.Timeout[] = []
  #stopped = false
  #metrics: AgentMetrics | undefined
  #resolver: Resolver | undefined
  readonly #extras: AgentExtras

  constructor (config: AgentConfig, logger: Logger, extras: AgentExtras = {}) {
    this.#config = config
    this.#log = logger
    this.#extras = extras
  }

  /** Prometheus metrics when --metrics-addr is set (e.g. for the Docker plugin's pluginRequest). */
  get metrics (): AgentMetrics | undefined { return this.#metrics }

  get peerId (): string { return this.#peerId }

  async start (): Promise<void> {
    const cfg = this.#config
    const clusterKey = readClusterKey(cfg['cluster-key-file'])
    const [listenHost, listenPort] = cfg.listen.split(':') as [string, string]
    this.#advertiseAddr = cfg['advertise-addr'] ?? pickAdvertiseAddr(listenHost)
    this.#startedAtMs = Date.now()

    this.#store = await DataStore.open(cfg['data-dir'])
    this.#privateKey = await loadOrCreateIdentity(this.#store)
    this.#peerId = peerIdFromPrivateKey(this.#privateKey).toString()
    const log = this.#log
    // Off unless --metrics-addr; built first so the dataplane and libp2p report into it.
    if (cfg['metrics-addr'] !== undefined) this.#metrics = createMetrics({ peerId: this.#peerId, version: AGENT_VERSION })
    this.#state = new ClusterState({ store: this.#store, privateKey: this.#privateKey, peerId: this.#peerId, logger: log },
      { tombstoneTtlMs: cfg['tombstone-ttl-ms'] })
    await this.#state.load()
    this.#networksControl = new Networks({ state: this.#state })
    // Allocations are loaded before anything can ask for an address; range requests to
    // other hosts go over the mesh, which exists by the time the first one is made.
    this.#ipam = new Ipam({
      state: this.#state,
      store: this.#store,
      logger: log,
      requestRange: async (peer, network, size, options) => { await this.#requestRange(peer, network, size, options) }
    }, { rmpeerSafetyMs: cfg['rmpeer-safety-ms'] })
    await this.#ipam.start()

    // The kernel is reconciled from the stored state before anything else happens, so a
    // restarted agent adopts what it left (see #dataplaneInput for the startup grace).
    this.#dataplane = createDataplane({ logger: log, metrics: this.#metrics }, { resyncIntervalMs: cfg['resync-interval-ms'] })
    await this.#dataplane.start()
    this.#endpointsControl = new Endpoints({
      state: this.#state,
      store: this.#store,
      networks: this.#networksControl,
      dataplane: this.#dataplane,
      allocate: async (network, endpointId) => await this.#ipam.allocate(network, endpointId),
      claim: async (network, ip, endpointId) => { await this.#ipam.claim(network, ip, endpointId) },
      release: async (network, ip) => { await this.#ipam.release(network, ip) },
      underlayMtu: () => this.#underlayMtu,
      dnsSettings: () => this.dnsSettings()
    })

    // Every part the API reads exists before it listens (the mesh and liveness are built
    // but not started), so the last known state is served at once and never half-built.
    const storedSeeds = await this.#store.getMeta<string[]>('seeds') ?? []
    this.#mesh = new Mesh({ state: this.#state, privateKey: this.#privateKey, logger: log, libp2pMetrics: this.#metrics?.libp2p() }, {
      listenHost,
      listenPort: Number(listenPort),
      clusterKey,
      seeds: [...new Set([...cfg.join, ...storedSeeds])],
      syncIntervalMs: cfg['sync-interval-ms'],
      targetPeers: cfg['target-peers'],
      protocols: [{ protocol: IPAM_PROTOCOL, handle: async (stream, peer) => { await runIpamServer(this.#ipam, stream, peer, { guard: this.#rangeGuard }) } }]
    })
    if (cfg.join.length > 0) await this.#store.putMeta('seeds', this.#mesh.seeds())
    this.#liveness = new Liveness({ mesh: this.#mesh, state: this.#state, logger: log },
      { incarnation: BigInt(this.#startedAtMs), probeIntervalMs: cfg['probe-interval-ms'], deadAfterMs: cfg['dead-after-ms'], targetPeers: cfg['target-peers'] })
    this.#api = buildApiApp(this, log)
    await listenOnSocket(this.#api, cfg['api-socket'])
    if (this.#metrics !== undefined) {
      this.#metrics.observe({
        peers: () => this.peers() as Array<{ state: string, self: boolean }>,
        records: () => this.#state.countByKind(),
        mesh: () => this.#mesh.counters,
        dataplane: () => this.#dataplane.status()
      })
      this.#state.on('change', change => { this.#metrics?.recordApplied(change) })
      await this.#metrics.listen(cfg['metrics-addr']!)
    }

    await this.#mesh.start()
    await this.#writeHostRecord(false)
    this.#liveness.start()
    // The plugin's published ports are kernel input: loaded before the first pass, so a
    // restart leaves their rules (and new connections to them) in place. The resolver is
    // built before the first pass (which puts its address on the host) and listens after it.
    await this.#createDockerPlugin()
    this.#resolver = this.#createResolver()
    const first = await this.#reconcileKernel()
    if (first?.underlay !== undefined) this.#underlayMtu = first.underlay.mtu
    await this.#startResolver()
    await this.#docker?.start()
    // Ranges records (IPAM bookkeeping) are not part of the kernel's input: a change to one
    // must not cost a reconcile pass (4 netlink dumps and a diff) on every host. Unless an
    // endpoint waits for one: its address in a range another host holds (a claim whose
    // ranges record has not arrived yet, or a member claiming an address it does not own).
    this.#state.on('change', ({ record }) => { if (record.kind !== 'ranges' || this.#unownedKey !== '') this.#scheduleDataplaneUpdate() })
    this.#liveness.on('change', ({ peer, to }) => {
      this.#scheduleDataplaneUpdate()
      if (to === 'unreachable') void this.#mesh.hangUp(peer)
      if (to === 'left' || to === 'unreachable') setTimeout(() => { this.#scheduleDataplaneUpdate() }, this.#restartGraceMs() + 50).unref()
    })
    this.#liveness.on('agentDown', () => { this.#scheduleDataplaneUpdate() })
    // Endpoints of hosts still in their startup grace are withdrawn once it ends, unless
    // the hosts were heard from by then.
    setTimeout(() => { this.#scheduleDataplaneUpdate() }, this.#restartGraceMs() + 100).unref()

    this.#timers.push(setInterval(() => { void this.#state.reapTombstones().catch(err => log.warn({ err }, 'tombstone reap failed')) }, REAP_INTERVAL_MS))
    for (const t of this.#timers) t.unref()
    log.info({ peerId: this.#peerId, advertise: this.#advertiseAddr, listen: this.#mesh.listenAddrs(), api: cfg['api-socket'] }, 'agent started')
  }

  async stop (): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    for (const t of this.#timers) clearInterval(t)
    try {
      if (this.#mesh !== undefined && this.#liveness !== undefined) {
        this.#liveness.stop()
        // Tell peers first, while the mesh is still up: the leaving record (kept, so late
        // and returning peers learn it by sync) and a leaving news (fast path).
        await this.#writeHostRecord(true)
        await this.#liveness.announceLeaving()
        await new Promise(resolve => setTimeout(resolve, 150))
      }
    } catch (err) {
      this.#log.warn({ err }, 'could not announce leaving')
    }
    await this.#docker?.stop()
    await this.#resolver?.stop()
    await this.#ipam?.stop()
    await this.#mesh?.stop()
    // The kernel keeps its entries: containers keep talking while the agent is away.
    await this.#dataplane?.stop()
    await this.#api?.close()
    await this.#metrics?.stop()
    await this.#state?.close()
    await this.#store?.close()
    this.#log.info('agent stopped')
  }

  /** The Docker plugin socket (docker/index.ts), served from start-up (after the first
   * kernel pass, so a Join at once finds the dataplane ready; joining peers is not
   * awaited): a dockerd starting restart-policy containers retries a missing plugin for
   * ~15 s only. */
  async #createDockerPlugin (): Promise<void> {
    const socketPath = dockerSocketPath(this.#config['docker-socket'])
    if (socketPath === undefined) return
    const key = (network: string, id: string): string => endpointKey(this.#peerId, network, id)
    this.#docker = createDockerPlugin({
      logger: this.#log,
      store: keyValueStore(this.#store),
      networks: {
        get: name => this.#networksControl.find(name),
        list: () => this.#networksControl.list(),
        create: async req => await this.#createNetwork(req)
      },
      ipam: {
        allocate: async (network, owner) => await this.#ipam.allocate(network, owner),
        claim: async (network, ip, owner) => { await this.#ipam.claim(network, ip, owner) },
        release: async (network, ip) => await this.#ipam.release(network, ip)
      },
      dataplane: {
        createEndpointVeth: async opts => await this.#dataplane.createEndpointVeth(opts),
        removeEndpointVeth: async opts => { await this.#dataplane.detach(opts) },
        endpointVethState: async opts => await this.#dataplane.endpointVethState(opts)
      },
      endpoints: {
        // the state's 'change' event schedules the dataplane update
        publish: async body => { await this.#state.write('endpoint', key(body.network, body.id), body) },
        withdraw: async (network, id) => {
          const rec = this.#state.get(`endpoint/${key(network, id)}`)
          if (rec !== undefined && !rec.deleted) await this.#state.write('endpoint', key(network, id), undefined)
        }
      },
      firewall: { apply: async () => await this.#applyPublishedPorts() },
      overlayMtu: network => computeOverlayMtu(network, this.#underlayMtu) ?? 1450,
      containerNames: async (networkId, endpointId) => await lookupEndpointNames(this.#config['docker-api-socket'], networkId, endpointId),
      onRequest: (method, outcome) => { this.#metrics?.pluginRequest(method, outcome) }
    }, { socketPath })
    await this.#docker.load()
  }

  /** A kernel pass now, for the Docker plugin's published ports; the ports it could not
   * program, with the reason. */
  async #applyPublishedPorts (): Promise<Array<PublishedPort & { reason: string }>> {
    const input = this.#dataplaneInput()
    this.#resolver?.update(input.networks, input.endpoints)
    await this.#dataplane.applyFirewall(input)
    const firewall = this.#dataplane.status().firewall
    const wanted = this.#docker?.publishedPorts() ?? []
    if (!firewall.ok) return wanted.map(p => ({ ...p, reason: `the firewall is not in the kernel: ${firewall.error ?? 'unknown'}` }))
    return firewall.ports.filter(p => !p.programmed).map(p => ({ ...p, reason: p.reason ?? 'not programmed' }))
  }

  async #writeHostRecord (leaving: boolean): Promise<void> {
    const [, port] = this.#config.listen.split(':')
    const body: HostBody = {
      underlayIp: this.#advertiseAddr,
      vxlanPort: this.#config['vxlan-port'],
      agentVersion: AGENT_VERSION,
      startedAtMs: BigInt(this.#startedAtMs),
      incarnation: BigInt(this.#startedAtMs),
      leaving,
      multiaddrs: [`/ip4/${this.#advertiseAddr}/tcp/${port}/p2p/${this.#peerId}`]
    }
    await this.#state.write('host', this.#peerId, body)
  }

  /** A new cluster network; its creator seeds the IPAM with the whole range. The network
   * record and that first ranges record travel in one gossip message. */
  async #createNetwork (req: CreateNetworkRequest): Promise<NetworkBody> {
    return await this.#state.together(async () => {
      const n = await this.#networksControl.create(req)
      try {
        await this.#ipam.onNetworkCreated(n.name)
      } catch (err) {
        // The network record is written and announced; the IPAM retries the seed.
        const code = isMeshplaneError(err) ? err.code : 'E_INTERNAL'
        throw new MeshplaneError(code, `network ${n.name} was created, but its address range could not be stored yet (retried in the background): ${(err as Error).message}`, { cause: err })
      }
      return n
    })
  }

  #createResolver (): Resolver | undefined {
    const address = this.#config['dns-address']
    if (address === 'off') return undefined
    return createResolver({
      logger: this.#log,
      onQuery: (transport, result) => { this.#metrics?.dnsQuery(transport, result) }
    }, { address, resolvConf: this.#config['dns-resolv-conf'], ratePerSourceQps: this.#config['dns-source-qps'], rateBurst: 2 * this.#config['dns-source-qps'] })
  }

  /** Not fatal: the agent's other work goes on without names. Retried while the address
   * is not on the host yet (a failed kernel op) or port 53 is taken. */
  async #startResolver (): Promise<void> {
    const resolver = this.#resolver
    if (resolver === undefined || this.#stopped) return
    try {
      await resolver.start()
    } catch (err) {
      this.#log.error({ err, address: this.#config['dns-address'] }, `the DNS resolver cannot listen; retrying every ${RESOLVER_RETRY_MS} ms`)
      const timer = setTimeout(() => { void this.#startResolver() }, RESOLVER_RETRY_MS)
      timer.unref()
      this.#timers.push(timer)
    }
  }

  /** The DNS settings a container of a meshplane network should get (attach's
   * resolv.conf; a CNI plugin's result `dns`); undefined when the resolver is off. */
  dnsSettings (): DnsSettings | undefined {
    const address = this.#config['dns-address']
    return address === 'off' ? undefined : dnsSettings(address)
  }

  /** Never shorter than dead-after: a restart must outlast the time peers take to notice. */
  #restartGraceMs (): number {
    return Math.max(this.#config['restart-grace-ms'], this.#config['dead-after-ms'])
  }

  /** One range request to `peer` over the mesh; the grant (the holder's signed ranges
   * record) is applied like any record, verification included. */
  async #requestRange (peer: string, network: string, size: number, options: RequestRangeOptions = {}): Promise<void> {
    const signal = AbortSignal.any([AbortSignal.timeout(5_000), ...(options.signal !== undefined ? [options.signal] : [])])
    const stream = await this.#mesh.dialProtocol(peer, IPAM_PROTOCOL, signal)
    let envelope: Uint8Array
    try {
      envelope = await runIpamClient(stream, { network, size, address: options.address }, { signal })
    } catch (err) {
      stream.abort(err as Error)
      throw err
    }
    const result = await this.#state.apply([envelope])
    if (result.rejected > 0) throw new MeshplaneError('E_UNAVAILABLE', `${peer} answered with a record that does not verify`)
  }

  /** What the kernel should hold, from the state and liveness: networks, and endpoints of
   * hosts that are alive. Two graces, both restart-grace-ms long (15 s, at least
   * dead-after), keep a restart lossless:
   *  - right after this agent starts nobody has been heard from yet, so hosts that have
   *    not left and were not heard from yet count as alive (entries that were right a
   *    moment ago stay); one that answered and then went silent is withdrawn as usual;
   *  - a host whose agent stopped gracefully shows 'left' at once, but its containers
   *    still run on its kernel, so its endpoints stay until the grace ends; an agent
   *    restart comes back well within it, also on a loaded host. A crash is withdrawn
   *    after dead-after. */
  #dataplaneInput (): DataplaneInput {
    const now = Date.now()
    const grace = this.#restartGraceMs()
    const starting = now - this.#startedAtMs < grace
    const hosts = new Map<string, DataplaneHost>()
    for (const h of this.#state.list('host')) {
      const { state, lastSeenMs } = this.#liveness.liveness(h.key)
      const since = this.#liveness.stateSinceMs(h.key) ?? 0
      const leftRecently = state === 'left' && now - since < grace
      // a crashed agent on a live host (its kernel refuses our dials): its containers run
      const agentDownRecently = state === 'unreachable' && this.#liveness.agentDown(h.key) && now - since < grace
      // the startup grace covers hosts not heard from yet, never one seen to go away
      const notYetHeard = starting && state !== 'left' && lastSeenMs === undefined
      if (state === 'alive' || leftRecently || agentDownRecently || notYetHeard) {
        hosts.set(h.key, { underlayIp: h.body.underlayIp, vxlanPort: h.body.vxlanPort })
      }
    }
    hosts.set(this.#peerId, { underlayIp: this.#advertiseAddr, vxlanPort: this.#config['vxlan-port'] })
    const live = this.#state.list('endpoint')
      .map(e => ({ ...e.body, host: e.key.split('/')[0]! }))
      .filter(e => hosts.has(e.host))
    const local = new Set(live.filter(e => e.host === this.#peerId).map(e => e.network))
    // a remote change never removes a local container's interface (dataplane/held-networks.ts)
    const { networks, held } = this.#networkHold.resolve(this.#state.list('network').map(n => n.body), local)
    const heldNames = new Set(held.map(h => h.name))
    const unowned: string[] = []
    const endpoints = live.filter(e => {
      // Another host's endpoint is programmed only at an address it may use (ipam); only
      // networks with a local endpoint are programmed at all; a held network is kept as
      // it was, and the IPAM's view (of the record as it is now) does not apply to it.
      if (e.host === this.#peerId || !local.has(e.network) || heldNames.has(e.network)) return true
      const problem = this.#ipam.endpointAddressProblem(e.network, e.ipv4, e.host)
      if (problem !== undefined) unowned.push(`${e.host}/${e.network}/${e.id}: ${problem}`)
      return problem === undefined
    })
    const unownedKey = unowned.join('\n')
    if (unownedKey !== this.#unownedKey) {
      this.#unownedKey = unownedKey
      for (const u of unowned) this.#log.warn({ endpoint: u }, 'an endpoint at an address its host may not use is not programmed')
    }
    const heldKey = held.map(h => `${h.name}:${h.reason}`).join(',')
    if (heldKey !== this.#heldKey) {
      this.#heldKey = heldKey
      for (const h of held) {
        this.#log.warn({ network: h.name, reason: h.reason, vni: h.kept.vni, subnet: h.kept.subnet },
          'a network with local endpoints was removed or changed by its record: kept as programmed until its last local endpoint is detached')
      }
    }
    const input: DataplaneInput = {
      self: { peerId: this.#peerId, underlayIp: this.#advertiseAddr, underlayMtu: this.#underlayMtu, vxlanPort: this.#config['vxlan-port'] },
      networks,
      endpoints,
      hosts,
      ports: this.#docker?.publishedPorts() ?? []
    }
    if (this.#resolver !== undefined) input.serviceAddress = this.#config['dns-address']
    return input
  }

  /** The dataplane and the resolver answer from the same input: a name resolves exactly
   * while its endpoint is programmed. */
  #updateInput (): void {
    const input = this.#dataplaneInput()
    this.#resolver?.update(input.networks, input.endpoints)
    this.#dataplane.update(input)
  }

  /** Coalesces bursts of record and liveness changes into one dataplane update. */
  #scheduleDataplaneUpdate (): void {
    if (this.#dataplaneUpdateQueued || this.#stopped) return
    this.#dataplaneUpdateQueued = true
    setImmediate(() => {
      this.#dataplaneUpdateQueued = false
      if (!this.#stopped) this.#updateInput()
    })
  }

  async #reconcileKernel (): Promise<Awaited<ReturnType<Dataplane['reconcileNow']>> | undefined> {
    this.#updateInput()
    try {
      return await this.#dataplane.reconcileNow()
    } catch (err) {
      this.#log.error({ err }, 'kernel reconcile failed')
      return undefined
    }
  }

  // ---- AgentView (the control API) ----------------------------------------------------

  status (): Record<string, unknown> {
    const peers = this.peers()
    const count = (s: string): number => peers.filter(p => p.state === s && p.id !== this.#peerId).length
    const endpoints = this.#state.list('endpoint')
    return {
      id: this.#peerId,
      version: AGENT_VERSION,
      addresses: this.#mesh.listenAddrs(),
      advertiseAddr: this.#advertiseAddr,
      startedAt: new Date(this.#startedAtMs).toISOString(),
      uptimeMs: Date.now() - this.#startedAtMs,
      seeds: this.#mesh.seeds(),
      connections: this.#mesh.connectedPeers().length,
      peers: { alive: count('alive'), unreachable: count('unreachable'), left: count('left') },
      networks: this.#state.list('network').length,
      endpoints: { local: endpoints.filter(e => e.key.startsWith(this.#peerId + '/')).length, total: endpoints.length },
      records: this.#state.countByKind(),
      /** received records in effect but not on disk yet (non-zero while the disk refuses writes) */
      unwrittenRecords: this.#state.unwritten,
      clock: this.#state.clock.toString(),
      mesh: this.#mesh.counters,
      liveness: this.#liveness.counters,
      deadAfterMs: this.#liveness.deadAfterMs,
      dataplane: dataplaneSummary(this.#dataplane.status()),
      metrics: this.#metrics?.address() ?? null,
      lastErrors: this.#extras.recentErrors?.() ?? [],
      ipam: { conflicts: this.#ipam.status().conflicts },
      dns: this.#resolver?.status() ?? null
    }
  }

  peers (): Array<Record<string, unknown>> {
    const connected = new Set(this.#mesh.connectedPeers())
    return this.#state.list('host').map(h => {
      const l = this.#liveness.liveness(h.key)
      return {
        id: h.key,
        address: h.body.underlayIp,
        state: l.state,
        self: h.key === this.#peerId,
        connected: connected.has(h.key),
        lastSeenMsAgo: l.lastSeenMs === undefined ? null : Date.now() - l.lastSeenMs,
        stateSinceMs: this.#liveness.stateSinceMs(h.key) ?? null,
        version: h.body.agentVersion,
        startedAt: new Date(Number(h.body.startedAtMs)).toISOString(),
        multiaddrs: h.body.multiaddrs
      }
    }).sort((a, b) => a.address.localeCompare(b.address, undefined, { numeric: true }))
  }

  async join (seed: string): Promise<Record<string, unknown>> {
    const addr = this.#mesh.addSeed(seed)
    await this.#store.putMeta('seeds', this.#mesh.seeds())
    try {
      const peer = await this.#mesh.dialNow(addr)
      return { seed: addr.toString(), peer, connected: true }
    } catch (err) {
      throw new MeshplaneError('E_UNAVAILABLE', `cannot reach seed ${seed}: ${(err as Error).message} (it stays a seed and is retried)`)
    }
  }

  readonly networks = {
    list: () => this.#networksControl.list().map(networkToJson),
    inspect: (name: string) => {
      const n = this.#networksControl.get(name)
      const endpoints = this.endpoints(name)
      return { ...networkToJson(n), endpoints }
    },
    create: async (req: CreateNetworkRequest) => networkToJson(await this.#createNetwork(req)),
    remove: async (name: string) => { await this.#networksControl.remove(name) }
  }

  endpoints (network?: string): Array<Record<string, unknown>> {
    return this.#state.list('endpoint')
      .filter(e => network === undefined || e.body.network === network)
      .map(e => {
        const host = e.key.split('/')[0]!
        return {
          network: e.body.network,
          id: e.body.id,
          ip: e.body.ipv4,
          mac: e.body.mac,
          host,
          hostAddress: this.#hostAddress(host),
          name: e.body.name,
          aliases: e.body.aliases,
          state: this.#liveness.liveness(host).state
        }
      })
  }

  #hostAddress (peer: string): string | null {
    const h = this.#state.get(`host/${peer}`)
    return h?.kind === 'host' && h.body !== undefined ? h.body.underlayIp : null
  }

  async attach (req: AttachRequest): Promise<Record<string, unknown>> {
    const e = await this.#endpointsControl.attach(req)
    this.#scheduleDataplaneUpdate()
    return { network: e.network, id: e.id, ip: e.ipv4, mac: e.mac, host: this.#peerId, netns: req.netns, name: e.name, aliases: e.aliases }
  }

  async detach (req: DetachRequest): Promise<Record<string, unknown>> {
    return { network: req.network, netns: req.netns, ...await this.#endpointsControl.detach(req) }
  }

  readonly ipam = {
    status: (network?: string) => this.#ipam.status(network),
    /** This host's allocations (for checks and tests: who holds which address). */
    allocations: (network: string) => {
      this.#networksControl.get(network)
      return [...this.#ipam.allocations(network)].map(([ip, a]) => ({ ip, endpointId: a.endpointId, at: new Date(a.at).toISOString() }))
    },
    /** An address without a kernel endpoint (the Docker IPAM driver's RequestAddress). */
    allocate: async (network: string, owner: string, ip?: string) => {
      this.#networksControl.get(network)
      if (ip === undefined) return { network, ip: await this.#ipam.allocate(network, owner), owner }
      await this.#ipam.claim(network, ip, owner)
      return { network, ip, owner }
    },
    release: async (network: string, ip: string) => ({ network, ip, released: await this.#ipam.release(network, ip) }),
    rmpeer: async (peer: string) => {
      const l = this.#liveness.liveness(peer).state
      const since = this.#liveness.stateSinceMs(peer)
      const goneForMs = (l === 'unreachable' || l === 'left') && since !== undefined ? Date.now() - since : undefined
      return { peer, reclaimed: await this.#ipam.rmpeer(peer, goneForMs) }
    }
  }

  dns (): Array<{ network: string, name: string, addresses: string[] }> {
    return this.#resolver?.names() ?? []
  }

  records (): Array<Record<string, unknown>> {
    return ['host', 'network', 'endpoint', 'ranges'].flatMap(kind => this.#state.list(kind as 'host').map(r => ({
      id: r.id, writer: r.writer, lamport: r.lamport.toString(), appliedAtMs: this.#state.appliedAtMs(r.id) ?? null
    })))
  }
}

/** The listen address when it is specific, else the first non-loopback IPv4. */
function pickAdvertiseAddr (listenHost: string): string {
  if (listenHost !== '0.0.0.0') return listenHost
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  throw new MeshplaneError('E_CONFIG', 'no non-loopback IPv4 address to advertise: pass --advertise-addr')
}

function dataplaneSummary (s: ReturnType<Dataplane['status']>): Record<string, unknown> {
  const p = s.programmed
  const last = s.lastReconcile
  return {
    ...s,
    summary: `${p.networks} networks, ${p.neighbours} neighbours, ${p.fdb} FDB entries; ` +
      (last === undefined ? 'not reconciled yet' : `last reconcile ${Math.round(Date.now() - last.at)} ms ago (${last.ops} ops, ${last.failed} failed, ${last.durationMs.toFixed(1)} ms)`) +
      `; ${s.netlinkErrors} netlink errors`
  }
}
