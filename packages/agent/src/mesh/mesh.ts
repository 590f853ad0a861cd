/**
 * The mesh: a libp2p node (TCP + pnet + Noise + Yamux, identify, ping, gossipsub) that
 * carries this agent's records out and other agents' records in. It never touches the
 * kernel. Records arriving by gossip are verified by the topic validator (decode limits,
 * schema, signature, ownership, signer == writer) before they reach the state; a
 * rejected message costs its forwarder gossipsub score. Anti-entropy sync repairs what
 * gossip missed. Connections: the seeds, plus a few agents learned from host records, so
 * the seed is not needed once the cluster has met.
 */
import { EventEmitter } from 'node:events'
import { createLibp2p, type Libp2p, type Libp2pOptions } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { preSharedKey } from '@libp2p/pnet'
import { gossipsub, TopicValidatorResult, type GossipSub, type Message } from '@libp2p/gossipsub'
import { createTopicScoreParams } from '@libp2p/gossipsub/score'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { PrivateKey, PeerId, Connection, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Logger } from 'pino'
import { Heartbeat } from '@meshplane/proto'
import { openRecord, type ClusterState, type OpenedRecord, type RecordChange } from '../state/index.js'
import {
  RECORDS_TOPIC, HEARTBEAT_TOPIC, SYNC_PROTOCOL, DEFAULT_SYNC_INTERVAL_MS, DEFAULT_TARGET_PEERS,
  REDIAL_TICK_MS, MIN_REDIAL_BACKOFF_MS, MAX_REDIAL_BACKOFF_MS, MAX_HEARTBEAT_BYTES
} from './constants.js'
import { runSyncClient, runSyncServer, type SyncStats } from './sync.js'
import { parseSeed, peerIdOfAddr, transportPart } from './address.js'
import { MeshplaneError } from '../errors.js'

export interface MeshComponents {
  state: ClusterState
  privateKey: PrivateKey
  logger: Logger
  /** libp2p's own metrics (e.g. @libp2p/prometheus-metrics), if wanted. */
  libp2pMetrics?: Libp2pOptions['metrics']
}

/** A request/response protocol of another part (the IPAM's range requests), served on
 * the mesh's connections. The mesh only carries streams; the part owns the protocol. */
export interface MeshProtocol {
  protocol: string
  /** serves one inbound stream; `remotePeer` is the authenticated peer of the connection */
  handle: (stream: Stream, remotePeer: string) => Promise<void>
  maxInboundStreams?: number
}

export interface MeshInit {
  listenHost: string
  listenPort: number
  /** the 95-byte go-ipfs style swarm key */
  clusterKey: Uint8Array
  seeds: string[]
  syncIntervalMs?: number
  targetPeers?: number
  protocols?: MeshProtocol[]
}

export interface HeartbeatEvent {
  from: string
  heartbeat: Heartbeat
}

export interface MeshEvents {
  heartbeat: [HeartbeatEvent]
  'peer:connect': [string]
  'peer:disconnect': [string]
  sync: [{ peer: string, stats: SyncStats }]
}

export interface MeshCounters {
  gossipAccepted: number
  gossipRejected: number
  gossipIgnored: number
  syncRounds: number
  syncFailures: number
  syncRecordsIn: number
  syncRecordsOut: number
  syncBytes: number
  published: number
}

interface DialTarget {
  addr: Multiaddr
  failures: number
  nextAttemptMs: number
}

export class Mesh extends EventEmitter<MeshEvents> {
  readonly #state: ClusterState
  readonly #privateKey: PrivateKey
  readonly #log: Logger
  readonly #libp2pMetrics: Libp2pOptions['metrics']
  readonly #init: MeshInit
  readonly #seeds = new Map<string, DialTarget>()
  readonly #peerTargets = new Map<string, DialTarget>()
  readonly #opened = new WeakMap<Uint8Array, OpenedRecord>()
  readonly counters: MeshCounters = {
    gossipAccepted: 0, gossipRejected: 0, gossipIgnored: 0, syncRounds: 0, syncFailures: 0,
    syncRecordsIn: 0, syncRecordsOut: 0, syncBytes: 0, published: 0
  }

  #node: Libp2p<{ pubsub: GossipSub }> | undefined
  #timers: NodeJS.Timeout[] = []
  #stopping = false
  readonly #onLocal = (o: OpenedRecord): void => { void this.#publishRecord(o) }

  constructor (components: MeshComponents, init: MeshInit) {
    super()
    this.#state = components.state
    this.#privateKey = components.privateKey
    this.#log = components.logger.child({ component: 'mesh' })
    this.#libp2pMetrics = components.libp2pMetrics
    this.#init = init
    for (const s of init.seeds) this.addSeed(s)
  }

  get node (): Libp2p<{ pubsub: GossipSub }> {
    if (this.#node === undefined) throw new MeshplaneError('E_UNAVAILABLE', 'the mesh is not running (the agent is starting or stopping)')
    return this.#node
  }

  get peerId (): string { return this.node.peerId.toString() }

  listenAddrs (): string[] {
    return this.#node?.getMultiaddrs().map(ma => ma.toString()) ?? []
  }

  seeds (): string[] { return [...this.#seeds.values()].map(t => t.addr.toString()) }

  /** Adds a seed to dial (with backoff) until connected. Throws E_INVALID_ARGUMENT. */
  addSeed (seed: string): Multiaddr {
    const addr = parseSeed(seed)
    const key = transportPart(addr)
    if (!this.#seeds.has(key)) this.#seeds.set(key, { addr, failures: 0, nextAttemptMs: 0 })
    return addr
  }

  async start (): Promise<void> {
    const targetPeers = this.#init.targetPeers ?? DEFAULT_TARGET_PEERS
    const node = await createLibp2p({
      privateKey: this.#privateKey,
      ...(this.#libp2pMetrics === undefined ? {} : { metrics: this.#libp2pMetrics }),
      addresses: { listen: [`/ip4/${this.#init.listenHost}/tcp/${this.#init.listenPort}`] },
      transports: [tcp()],
      connectionProtector: preSharedKey({ psk: this.#init.clusterKey }),
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionManager: {
        maxConnections: 2048,
        // Many agents start at once behind one address in tests, and after a partition
        // heals every host redials together.
        inboundConnectionThreshold: 100,
        maxIncomingPendingConnections: 100
      },
      connectionMonitor: { pingInterval: 2000, pingTimeout: { minTimeout: 1000, maxTimeout: 2000 } },
      services: {
        identify: identify(),
        ping: ping(),
        pubsub: gossipsub({
          globalSignaturePolicy: 'StrictSign',
          allowPublishToZeroTopicPeers: true,
          fallbackToFloodsub: false,
          floodPublish: true,
          emitSelf: false,
          // Agents that know only the seed must not wait for IHAVE/IWANT repair (libp2p.md §6).
          D: 8,
          Dlo: 6,
          Dhi: 64,
          heartbeatInterval: 700,
          scoreParams: {
            // Hosts behind one NAT or many agents on one machine share an IP.
            IPColocationFactorWeight: 0,
            topics: {
              [RECORDS_TOPIC]: createTopicScoreParams({ topicWeight: 1, invalidMessageDeliveriesWeight: -10, invalidMessageDeliveriesDecay: 0.9 }),
              [HEARTBEAT_TOPIC]: createTopicScoreParams({ topicWeight: 1, invalidMessageDeliveriesWeight: -10, invalidMessageDeliveriesDecay: 0.9 })
            }
          }
        })
      }
    })
    this.#node = node
    const pubsub = node.services.pubsub
    pubsub.topicValidators.set(RECORDS_TOPIC, async (_from, msg) => await this.#validateRecord(msg))
    pubsub.topicValidators.set(HEARTBEAT_TOPIC, (_from, msg) => this.#validateHeartbeat(msg))
    pubsub.addEventListener('message', evt => { void this.#onMessage(evt.detail) })
    pubsub.subscribe(RECORDS_TOPIC)
    pubsub.subscribe(HEARTBEAT_TOPIC)

    await node.handle(SYNC_PROTOCOL, (stream, connection) => {
      void runSyncServer(this.#state, stream).then(
        stats => this.#countSync(connection.remotePeer.toString(), stats),
        err => {
          this.counters.syncFailures++
          this.#log.debug({ err, peer: connection.remotePeer.toString() }, 'sync (server) failed')
          stream.abort(err as Error)
        })
    }, { maxInboundStreams: 4 })
    for (const p of this.#init.protocols ?? []) {
      await node.handle(p.protocol, (stream, connection) => {
        const remote = connection.remotePeer.toString()
        void p.handle(stream, remote).catch(err => {
          this.#log.debug({ err, peer: remote, protocol: p.protocol }, 'protocol handler failed')
          stream.abort(err as Error)
        })
      }, { maxInboundStreams: p.maxInboundStreams ?? 8 })
    }
    // A topology fires once identify confirmed the peer speaks sync; the dialling side
    // starts the exchange so each new connection syncs once, not twice.
    await node.register(SYNC_PROTOCOL, {
      onConnect: (peer: PeerId, conn: Connection) => {
        if (conn.direction === 'outbound') void this.syncWith(peer)
      }
    })
    node.addEventListener('peer:connect', evt => { this.emit('peer:connect', evt.detail.toString()) })
    node.addEventListener('peer:disconnect', evt => { this.emit('peer:disconnect', evt.detail.toString()) })

    this.#state.on('local', this.#onLocal)
    this.#timers.push(setInterval(() => { void this.#maintainConnections(targetPeers) }, REDIAL_TICK_MS))
    this.#timers.push(setInterval(() => { void this.#syncRandomPeer() }, this.#init.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS))
    for (const t of this.#timers) t.unref()
    void this.#maintainConnections(targetPeers)
    this.#log.info({ peerId: node.peerId.toString(), listen: this.listenAddrs() }, 'mesh started')
  }

  async stop (): Promise<void> {
    if (this.#stopping || this.#node === undefined) return
    this.#stopping = true
    for (const t of this.#timers) clearInterval(t)
    this.#timers = []
    this.#state.off('local', this.#onLocal)
    await this.#node.stop()
  }

  connectedPeers (): string[] {
    return this.#node?.getPeers().map(p => p.toString()) ?? []
  }

  async publishHeartbeat (hb: Heartbeat): Promise<void> {
    if (this.#node === undefined || this.#stopping) return
    try {
      await this.#node.services.pubsub.publish(HEARTBEAT_TOPIC, Heartbeat.encode(hb))
    } catch (err) {
      this.#log.debug({ err }, 'heartbeat publish failed')
    }
  }

  async #publishRecord (o: OpenedRecord): Promise<void> {
    if (this.#node === undefined) return
    try {
      await this.#node.services.pubsub.publish(RECORDS_TOPIC, o.envelope)
      this.counters.published++
    } catch (err) {
      // Not fatal: anti-entropy carries the record to whoever missed it.
      this.#log.debug({ err, id: o.record.id }, 'record publish failed')
    }
  }

  async #validateRecord (msg: Message): Promise<TopicValidatorResult> {
    if (msg.type !== 'signed') return this.#reject('unsigned record message')
    try {
      const opened = await openRecord(msg.data)
      // Gossip carries only first-hand records: whoever signed the message wrote the
      // record. (Second-hand records travel by sync, where the record's own signature is
      // what counts.)
      if (opened.record.writer !== msg.from.toString()) return this.#reject(`record written by ${opened.record.writer} published by ${msg.from.toString()}`)
      this.#opened.set(msg.data, opened)
      this.counters.gossipAccepted++
      return TopicValidatorResult.Accept
    } catch (err) {
      return this.#reject((err as Error).message, msg.from.toString())
    }
  }

  #validateHeartbeat (msg: Message): TopicValidatorResult {
    if (msg.type !== 'signed') return this.#reject('unsigned heartbeat')
    if (msg.data.byteLength > MAX_HEARTBEAT_BYTES) return this.#reject('oversized heartbeat', msg.from.toString())
    try {
      Heartbeat.decode(msg.data)
      return TopicValidatorResult.Accept
    } catch (err) {
      return this.#reject(`bad heartbeat: ${(err as Error).message}`, msg.from.toString())
    }
  }

  #reject (reason: string, from?: string): TopicValidatorResult {
    this.counters.gossipRejected++
    this.#log.warn({ reason, from }, 'rejected gossip')
    return TopicValidatorResult.Reject
  }

  async #onMessage (msg: Message): Promise<void> {
    if (msg.type !== 'signed') return
    try {
      if (msg.topic === RECORDS_TOPIC) {
        const opened = this.#opened.get(msg.data) ?? await openRecord(msg.data)
        await this.#state.applyOpened([opened])
      } else if (msg.topic === HEARTBEAT_TOPIC) {
        this.emit('heartbeat', { from: msg.from.toString(), heartbeat: Heartbeat.decode(msg.data) })
      }
    } catch (err) {
      this.#log.warn({ err }, 'could not apply a gossiped message')
    }
  }

  /** Opens a stream of `protocol` to `peer`: over the existing connection, else by dialling
   * the addresses its host record lists. E_UNAVAILABLE when it cannot be reached. */
  async dialProtocol (peer: string, protocol: string, signal: AbortSignal): Promise<Stream> {
    const node = this.node
    let id: PeerId
    try {
      id = peerIdFromString(peer)
    } catch {
      throw new MeshplaneError('E_INVALID_ARGUMENT', `${peer} is not a peer id`)
    }
    const targets: Array<PeerId | Multiaddr> = node.getConnections(id).length > 0 ? [id] : []
    const host = this.#state.get(`host/${peer}`)
    if (host?.kind === 'host' && host.body !== undefined) targets.push(...host.body.multiaddrs.map(a => multiaddr(a)))
    if (targets.length === 0) targets.push(id)
    let last: unknown
    for (const target of targets) {
      try {
        return await node.dialProtocol(target, protocol, { signal })
      } catch (err) {
        last = err
        if (signal.aborted) break
      }
    }
    throw new MeshplaneError('E_UNAVAILABLE', `cannot open ${protocol} to ${peer}: ${(last as Error | undefined)?.message ?? 'no address'}`, { cause: last })
  }

  async syncWith (peer: PeerId): Promise<SyncStats | undefined> {
    if (this.#node === undefined || this.#stopping) return undefined
    try {
      const stream = await this.#node.dialProtocol(peer, SYNC_PROTOCOL, { signal: AbortSignal.timeout(5000) })
      try {
        const stats = await runSyncClient(this.#state, stream)
        this.#countSync(peer.toString(), stats)
        return stats
      } catch (err) {
        stream.abort(err as Error)
        throw err
      }
    } catch (err) {
      this.counters.syncFailures++
      if (!this.#stopping) this.#log.debug({ err, peer: peer.toString() }, 'sync (client) failed')
      return undefined
    }
  }

  #countSync (peer: string, stats: SyncStats): void {
    this.counters.syncRounds++
    this.counters.syncRecordsIn += stats.received
    this.counters.syncRecordsOut += stats.sent
    this.counters.syncBytes += stats.bytes
    if (stats.rejected > 0) this.#log.warn({ peer, rejected: stats.rejected }, 'sync peer sent invalid records')
    this.emit('sync', { peer, stats })
  }

  async #syncRandomPeer (): Promise<void> {
    const peers = this.#node?.getPeers() ?? []
    if (peers.length === 0) return
    await this.syncWith(peers[Math.floor(Math.random() * peers.length)]!)
  }

  /** Keeps the seeds and a few known agents connected, with per-address backoff. */
  async #maintainConnections (targetPeers: number): Promise<void> {
    const node = this.#node
    if (node === undefined || this.#stopping) return
    const self = node.peerId.toString()
    const connected = new Set(node.getPeers().map(p => p.toString()))
    const connectedAddrs = new Set(node.getConnections().map(c => transportPart(c.remoteAddr)))

    // Known agents from host records (alive or not yet heard of: a dial will tell).
    for (const host of this.#state.list('host')) {
      if (host.key === self || host.body.leaving) continue
      for (const a of host.body.multiaddrs) {
        if (!this.#peerTargets.has(a)) {
          try { this.#peerTargets.set(a, { addr: multiaddr(a), failures: 0, nextAttemptMs: 0 }) } catch {}
        }
      }
    }
    for (const [a, t] of this.#peerTargets) {
      const owner = peerIdOfAddr(t.addr)
      const host = owner === undefined ? undefined : this.#state.get(`host/${owner}`)
      if (host === undefined || host.deleted || (host.kind === 'host' && host.body?.leaving === true)) this.#peerTargets.delete(a)
    }

    const now = Date.now()
    const due = (t: DialTarget): boolean => t.nextAttemptMs <= now
    // Seeds: while we know nobody else, or when we are below target.
    const dials: DialTarget[] = []
    for (const t of this.#seeds.values()) {
      const id = peerIdOfAddr(t.addr)
      if (connectedAddrs.has(transportPart(t.addr)) || (id !== undefined && connected.has(id))) { t.failures = 0; continue }
      if ((connected.size < targetPeers || connected.size === 0) && due(t)) dials.push(t)
    }
    if (connected.size < targetPeers) {
      const candidates = [...this.#peerTargets.values()].filter(t => {
        const id = peerIdOfAddr(t.addr)
        return id !== undefined && id !== self && !connected.has(id) && due(t)
      })
      shuffle(candidates)
      dials.push(...candidates.slice(0, targetPeers - connected.size))
    }
    await Promise.all(dials.map(async t => {
      try {
        await node.dial(t.addr, { signal: AbortSignal.timeout(5000) })
        t.failures = 0
      } catch (err) {
        t.failures++
        t.nextAttemptMs = Date.now() + Math.min(MAX_REDIAL_BACKOFF_MS, MIN_REDIAL_BACKOFF_MS * 2 ** Math.min(t.failures, 10))
        this.#log.debug({ err: (err as Error).message, addr: t.addr.toString() }, 'dial failed')
      }
    }))
  }

  /** For tests and the API: connect to a seed right away. */
  async dialNow (addr: Multiaddr): Promise<string> {
    const conn = await this.node.dial(addr, { signal: AbortSignal.timeout(5000) })
    return conn.remotePeer.toString()
  }
}

function shuffle<T> (a: T[]): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[a[i], a[j]] = [a[j]!, a[i]!]
  }
}

export type { RecordChange }
