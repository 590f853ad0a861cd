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
import { peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey, PeerId, Connection, Stream } from '@libp2p/interface'
import type { Logger } from 'pino'
import { LivenessNews, NewsKind, RecordBundle, type Probe, type ProbeAck } from '@meshplane/proto'
import { openRecord, type ClusterState, type OpenedRecord, type RecordChange } from '../state/index.js'
import {
  RECORDS_TOPIC, LIVENESS_TOPIC, SYNC_PROTOCOL, PROBE_PROTOCOL, DEFAULT_SYNC_INTERVAL_MS, DEFAULT_TARGET_PEERS,
  REDIAL_TICK_MS, MIN_REDIAL_BACKOFF_MS, MAX_REDIAL_BACKOFF_MS, MAX_LIVENESS_BYTES,
  MAX_BUNDLE_RECORDS, MAX_BUNDLE_BYTES
} from './constants.js'
import { runSyncClient, runSyncServer, type SyncStats } from './sync.js'
import { ProbeChannel, serveProbeStream, type ProbeHandler } from './probe-channel.js'
import { RefusalScore, REFUSAL_HALF_LIFE_MS } from './refusals.js'
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

export interface LivenessNewsEvent {
  /** the signer (gossipsub StrictSign), already verified */
  from: string
  news: LivenessNews
}

/** Answers a probe that arrived from `from` (the authenticated remote peer). */
export type ProbeResponder = (req: Probe, from: string) => Promise<Omit<ProbeAck, 'id'>>

export interface MeshEvents {
  liveness: [LivenessNewsEvent]
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
  /** records published, and the gossip messages (bundles) that carried them */
  published: number
  bundlesPublished: number
  livenessNewsOut: number
  /** gauges, read when the counters are: open connections, peers with more than one,
   * and peers gossipsub knows but holds no outbound stream to (it cannot send to them) */
  readonly connectionsOpen: number
  readonly peersWithSeveralConnections: number
  readonly gossipPeersWithoutStream: number
  /** peers in this host's gossipsub mesh for the records topic (it forwards to these) */
  readonly recordsMeshPeers: number
}

interface DialTarget {
  addr: Multiaddr
  failures: number
  nextAttemptMs: number
}

/** Both topics are quiet (messages only on change), so the default penalty for mesh peers
 * that deliver fewer than 20 messages per window would punish every peer; what counts
 * is invalid messages. */
/** How long after start a host re-announces its host record to new subscribers, and how
 * long it waits to coalesce several of them into one publish. */
const ANNOUNCE_WINDOW_MS = 30_000
const ANNOUNCE_COALESCE_MS = 50

const QUIET_TOPIC_SCORE = createTopicScoreParams({
  topicWeight: 1,
  invalidMessageDeliveriesWeight: -10,
  invalidMessageDeliveriesDecay: 0.9,
  meshMessageDeliveriesWeight: 0,
  meshFailurePenaltyWeight: 0
})

export class Mesh extends EventEmitter<MeshEvents> {
  readonly #state: ClusterState
  readonly #privateKey: PrivateKey
  readonly #log: Logger
  readonly #libp2pMetrics: Libp2pOptions['metrics']
  readonly #init: MeshInit
  readonly #seeds = new Map<string, DialTarget>()
  readonly #peerTargets = new Map<string, DialTarget>()
  readonly #opened = new WeakMap<Uint8Array, OpenedRecord[]>()
  readonly #probeChannels = new Map<string, Promise<ProbeChannel>>()
  readonly #refusals = new RefusalScore()
  readonly counters: MeshCounters = {
    gossipAccepted: 0, gossipRejected: 0, gossipIgnored: 0, syncRounds: 0, syncFailures: 0,
    syncRecordsIn: 0, syncRecordsOut: 0, syncBytes: 0, published: 0, bundlesPublished: 0,
    livenessNewsOut: 0
  } as MeshCounters

  #node: Libp2p<{ pubsub: GossipSub }> | undefined
  #timers: NodeJS.Timeout[] = []
  #stopping = false
  #probeResponder: ProbeResponder | undefined
  readonly #onLocal = (records: OpenedRecord[]): void => {
    for (let i = 0; i < records.length; i += MAX_BUNDLE_RECORDS) void this.#publishRecords(records.slice(i, i + MAX_BUNDLE_RECORDS))
  }

  constructor (components: MeshComponents, init: MeshInit) {
    super()
    Object.defineProperties(this.counters, {
      connectionsOpen: { enumerable: true, get: () => this.#node?.getConnections().filter(c => c.status === 'open').length ?? 0 },
      peersWithSeveralConnections: {
        enumerable: true,
        get: () => {
          const n = new Map<string, number>()
          for (const c of this.#node?.getConnections() ?? []) if (c.status === 'open') n.set(c.remotePeer.toString(), (n.get(c.remotePeer.toString()) ?? 0) + 1)
          return [...n.values()].filter(v => v > 1).length
        }
      },
      recordsMeshPeers: {
        enumerable: true,
        // The GossipSub interface does not declare getMeshPeers; the class has it.
        get: () => (this.#node?.services.pubsub as unknown as { getMeshPeers?: (t: string) => string[] } | undefined)?.getMeshPeers?.(RECORDS_TOPIC).length ?? 0
      },
      gossipPeersWithoutStream: {
        enumerable: true,
        // A diagnostic that reads gossipsub's private outbound-stream map (no public API).
        get: () => {
          const pubsub = this.#node?.services.pubsub as unknown as { streamsOutbound?: Map<string, unknown> } | undefined
          if (pubsub?.streamsOutbound === undefined) return 0
          return this.#node!.services.pubsub.getPeers().filter(p => !pubsub.streamsOutbound!.has(p.toString())).length
        }
      }
    })
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
      // Liveness probes (liveness/) already visit every connected host; the agent hangs up
      // on a host they find unreachable (hangUp). The monitor's ping, a new stream per
      // connection every 10 s, cost as much as the probes themselves (~2 streams/s per
      // host at N = 30, each with its multistream negotiation and peer-store reads).
      connectionMonitor: { enabled: false },
      services: {
        identify: identify(),
        ping: ping(),
        pubsub: gossipsub({
          globalSignaturePolicy: 'StrictSign',
          // Without it gossipsub verifies the signature of every copy of a message before
          // it looks at its seen-cache: with ~10–20 mesh copies per message that was ~90 %
          // of the Ed25519 work under writes (bench/idle-profile.ts --write-records). The
          // id is the default StrictSign message id (from + seqno); only copies that passed
          // verification enter the cache, so a forged copy cannot shadow the real one.
          fastMsgIdFn: fastMessageId,
          allowPublishToZeroTopicPeers: true,
          fallbackToFloodsub: false,
          // A host's own messages go to every connected subscriber (the first hop is the
          // fan-out: hosts hold ~10–20 connections); everything it forwards goes to its
          // mesh only.
          floodPublish: true,
          emitSelf: false,
          // A small mesh: every host forwards each message to its D mesh peers, and all
          // but the first copy a host receives are duplicates, each decrypted, decoded and
          // dropped. The publisher's flood already reaches every host it is connected to
          // (at N = 30 the seed reaches all 29 at once, an ordinary host 12–20), so the mesh
          // only carries the rest; memberlist (Serf, Consul) gossips to 3 on a LAN too.
          // Measured at N = 30 (docs/performance.md): D 6 → 4 → 3 took the CPU per network
          // create per host from ~5 ms to ~3 ms. Dhi 64 (every connection in the mesh)
          // was for a star around the seed (docs/design.md, "The mesh"); agents keep their own
          // connections now (target peers, probes), so the mesh graph is connected without.
          D: 3,
          Dlo: 2,
          Dhi: 6,
          // the spec's bounds: Dout < Dlo and ≤ D/2, Dscore ≤ D
          Dout: 1,
          Dscore: 2,
          heartbeatInterval: 700,
          // IHAVE gossip is the third way a record reaches a host, after the publisher's
          // flood to its connections and the mesh forwards (anti-entropy sync is the
          // fourth): to 2 non-mesh peers per heartbeat rather than 6, it costs a third.
          Dlazy: 2,
          gossipFactor: 0.1,
          // IDONTWANT (gossipsub 1.2) off: a host that receives a message of ≥ 512 bytes
          // tells each mesh peer not to send it, one more frame per mesh peer per message.
          // It pays for megabyte blocks; a network create (two records, just over 512
          // bytes) is cheaper to receive twice than to cancel, and on a LAN the peer has
          // mostly forwarded it already. Measured at N = 30: CPU per create per host
          // 3.3–4.6 → 2.7–3.3 ms, p50 58–67 → 45–55 ms (docs/performance.md).
          idontwantMinDataSize: MAX_BUNDLE_BYTES + 1,
          // An RPC frame larger than two of the largest bundles is dropped before it is
          // decoded (libp2p's default is 4 MiB).
          maxInboundDataLength: 2 * MAX_BUNDLE_BYTES,
          scoreParams: {
            // Hosts behind one NAT or many agents on one machine share an IP.
            IPColocationFactorWeight: 0,
            // The default (-10 × count²) graylists a peer (< -80) after three IWANT answers
            // that came late, which a busy host produces; every peer holds the cluster key,
            // and invalid messages (below) still cost -10 × count² each.
            behaviourPenaltyWeight: -1,
            // Each message a peer signed and this host refused costs it 10 (weight), halved
            // every minute: 8 refusals graylist it (-80), fewer keep it out of the mesh.
            appSpecificScore: peer => this.#refusals.score(peer),
            appSpecificWeight: 10,
            topics: {
              [RECORDS_TOPIC]: QUIET_TOPIC_SCORE,
              [LIVENESS_TOPIC]: QUIET_TOPIC_SCORE
            }
          }
        })
      }
    })
    this.#node = node
    const pubsub = node.services.pubsub
    pubsub.topicValidators.set(RECORDS_TOPIC, async (_from, msg) => await this.#validateRecord(msg))
    pubsub.topicValidators.set(LIVENESS_TOPIC, (_from, msg) => this.#validateLiveness(msg))
    pubsub.addEventListener('message', evt => { void this.#onMessage(evt.detail) })
    pubsub.subscribe(RECORDS_TOPIC)
    // A new host's first publish of its host record usually reaches nobody (the seed's
    // subscription has not arrived yet) and the others would learn it only from a later
    // sync: while young, send it again to each peer that subscribes (floodPublish then
    // carries it to every connected host, and their meshes to the rest).
    const startedAtMs = Date.now()
    pubsub.addEventListener('subscription-change', evt => {
      if (Date.now() - startedAtMs > ANNOUNCE_WINDOW_MS) return
      if (evt.detail.subscriptions.some(s => s.subscribe && s.topic === RECORDS_TOPIC)) this.#announceSoon()
    })
    pubsub.subscribe(LIVENESS_TOPIC)

    await node.handle(SYNC_PROTOCOL, (stream, connection) => {
      void runSyncServer(this.#state, stream).then(
        stats => this.#countSync(connection.remotePeer.toString(), stats),
        err => {
          this.counters.syncFailures++
          this.#log.debug({ err, peer: connection.remotePeer.toString() }, 'sync (server) failed')
          stream.abort(err as Error)
        })
    }, { maxInboundStreams: 4 })
    await node.handle(PROBE_PROTOCOL, (stream, connection) => {
      void this.#serveProbe(stream, connection.remotePeer.toString())
    }, { maxInboundStreams: 32 })
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
    node.addEventListener('peer:disconnect', evt => {
      const peer = evt.detail.toString()
      // its probe stream died with its last connection: a host that never returns must
      // not leave an entry behind
      this.#dropProbeChannel(peer)
      this.emit('peer:disconnect', peer)
    })

    this.#state.on('local', this.#onLocal)
    this.#timers.push(setInterval(() => { void this.#maintainConnections(targetPeers) }, REDIAL_TICK_MS))
    this.#timers.push(setInterval(() => { void this.#syncRandomPeer() }, this.#init.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS))
    this.#timers.push(setInterval(() => { this.#refusals.decay() }, REFUSAL_HALF_LIFE_MS))
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
    for (const opening of this.#probeChannels.values()) void opening.then(c => { c.close() }, () => {})
    this.#probeChannels.clear()
    await this.#node.stop()
  }

  /** Closes every connection to `peer` (liveness found it unreachable: a connection to a
   * silent host would hold gossipsub's copies for it until TCP gives up). Probes redial. */
  async hangUp (peer: string): Promise<void> {
    if (this.#node === undefined || this.#stopping) return
    try {
      await this.#node.hangUp(peerIdFromString(peer), { signal: AbortSignal.timeout(2000) })
    } catch (err) {
      this.#log.debug({ err, peer }, 'hang-up failed')
    }
  }

  connectedPeers (): string[] {
    return this.#node?.getPeers().map(p => p.toString()) ?? []
  }

  isConnected (peer: string): boolean {
    return this.#node?.getConnections().some(c => c.remotePeer.toString() === peer && c.status === 'open') ?? false
  }

  /** Publishes liveness news (rare: only on a suspicion, a refutation or leaving). */
  async publishLiveness (news: LivenessNews): Promise<void> {
    if (this.#node === undefined || this.#stopping) return
    try {
      await this.#node.services.pubsub.publish(LIVENESS_TOPIC, LivenessNews.encode(news))
      this.counters.livenessNewsOut++
    } catch (err) {
      this.#log.debug({ err }, 'liveness news publish failed')
    }
  }

  /** Who answers probes; the liveness module sets it before start. */
  serveProbes (responder: ProbeResponder): void {
    this.#probeResponder = responder
  }

  /**
   * Sends one probe to `peer` and waits for its answer: over the open connection if there
   * is one, else by dialling the address from its host record (so a probe also tells
   * whether the host can be reached at all). undefined when it did not answer in time.
   * `onRefused` is called when the dial was refused: the host is up and nothing listens.
   */
  async probe (peer: string, req: Omit<Probe, 'id'>, timeoutMs: number, onRefused?: () => void): Promise<ProbeAck | undefined> {
    if (this.#node === undefined || this.#stopping) return undefined
    const signal = AbortSignal.timeout(timeoutMs)
    try {
      const channel = await this.#probeChannel(peer, signal)
      return await channel.request(req, signal)
    } catch (err) {
      if (isRefused(err)) onRefused?.()
      return undefined
    }
  }

  /** Forgets the channel to `peer` once it is closed (one still opening, on a new
   * connection, is left alone). */
  #dropProbeChannel (peer: string): void {
    const known = this.#probeChannels.get(peer)
    void known?.then(c => { if (c.closed && this.#probeChannels.get(peer) === known) this.#probeChannels.delete(peer) }, () => {})
  }

  /** The open probe channel to `peer`, or a new one (concurrent callers share its opening). */
  async #probeChannel (peer: string, signal: AbortSignal): Promise<ProbeChannel> {
    const known = this.#probeChannels.get(peer)
    if (known !== undefined) {
      const channel = await known
      if (!channel.closed) return channel
      if (this.#probeChannels.get(peer) === known) this.#probeChannels.delete(peer)
    }
    const opening = this.dialProtocol(peer, PROBE_PROTOCOL, signal).then(stream => new ProbeChannel(stream))
    this.#probeChannels.set(peer, opening)
    opening.catch(() => { if (this.#probeChannels.get(peer) === opening) this.#probeChannels.delete(peer) })
    return await opening
  }

  #announceTimer: NodeJS.Timeout | undefined

  /** Republishes this host's own host record, coalescing bursts of new subscribers. */
  #announceSoon (): void {
    if (this.#announceTimer !== undefined) return
    this.#announceTimer = setTimeout(() => {
      this.#announceTimer = undefined
      const own = this.#state.getEnvelope(`host/${this.#state.peerId}`)
      if (own !== undefined && !this.#stopping) void this.#publishRecords([own])
    }, ANNOUNCE_COALESCE_MS)
    this.#announceTimer.unref()
  }

  async #serveProbe (stream: Stream, from: string): Promise<void> {
    const responder: ProbeHandler = async (req, peer) => this.#probeResponder === undefined
      ? { ok: true, incarnation: 0n, seq: 0n, unreachable: [] }
      : await this.#probeResponder(req, peer)
    await serveProbeStream(stream, from, responder)
  }

  async #publishRecords (records: OpenedRecord[]): Promise<void> {
    if (this.#node === undefined) return
    try {
      await this.#node.services.pubsub.publish(RECORDS_TOPIC, RecordBundle.encode({ records: records.map(o => o.envelope) }))
      this.counters.published += records.length
      this.counters.bundlesPublished++
    } catch (err) {
      // Not fatal: anti-entropy carries the records to whoever missed them.
      this.#log.debug({ err, ids: records.map(o => o.record.id) }, 'record publish failed')
    }
  }

  async #validateRecord (msg: Message): Promise<TopicValidatorResult> {
    if (msg.type !== 'signed') return this.#reject('unsigned record message')
    const opened = await openBundle(msg.data, msg.from.toString())
    if (typeof opened === 'string') return this.#reject(opened, msg.from.toString())
    // what the records may do given this replica's state (ownership, version step)
    for (const o of opened) {
      const why = this.#state.refusal(o)
      if (why !== undefined) return this.#reject(why, msg.from.toString())
    }
    this.#opened.set(msg.data, opened)
    this.counters.gossipAccepted++
    return TopicValidatorResult.Accept
  }

  /** News about oneself (alive, leave) must be signed by that host; a suspicion must be
   * about another host (nobody can refute its own suspicion for someone else). */
  #validateLiveness (msg: Message): TopicValidatorResult {
    if (msg.type !== 'signed') return this.#reject('unsigned liveness news')
    const from = msg.from.toString()
    if (msg.data.byteLength > MAX_LIVENESS_BYTES) return this.#reject('oversized liveness news', from)
    try {
      const news = LivenessNews.decode(msg.data)
      const aboutSelf = news.peer === from
      if (news.kind === NewsKind.NEWS_SUSPECT ? aboutSelf : !aboutSelf) return this.#reject(`liveness news (kind ${news.kind}) about ${news.peer} signed by ${from}`, from)
      if (news.kind !== NewsKind.NEWS_ALIVE && news.kind !== NewsKind.NEWS_SUSPECT && news.kind !== NewsKind.NEWS_LEAVE) return this.#reject(`unknown liveness news kind ${String(news.kind)}`, from)
      return TopicValidatorResult.Accept
    } catch (err) {
      return this.#reject(`bad liveness news: ${(err as Error).message}`, from)
    }
  }

  #reject (reason: string, from?: string): TopicValidatorResult {
    this.counters.gossipRejected++
    if (from !== undefined) this.#refusals.note(from)
    this.#log.warn({ reason, from }, 'rejected gossip')
    return TopicValidatorResult.Reject
  }

  async #onMessage (msg: Message): Promise<void> {
    if (msg.type !== 'signed') return
    try {
      if (msg.topic === RECORDS_TOPIC) {
        const opened = this.#opened.get(msg.data) ?? await openBundle(msg.data, msg.from.toString())
        if (typeof opened !== 'string') await this.#state.applyOpened(opened)
      } else if (msg.topic === LIVENESS_TOPIC) {
        this.emit('liveness', { from: msg.from.toString(), news: LivenessNews.decode(msg.data) })
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
    // An open connection takes the stream directly (no dial queue, no peer-store work).
    const conn = node.getConnections(id).find(c => c.status === 'open')
    if (conn !== undefined) {
      try {
        return await conn.newStream(protocol, { signal })
      } catch (err) {
        if (signal.aborted) throw new MeshplaneError('E_UNAVAILABLE', `cannot open ${protocol} to ${peer}: ${(err as Error).message}`, { cause: err })
      }
    }
    const targets: Array<PeerId | Multiaddr> = []
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

/**
 * The records of a gossiped RecordBundle, all verified, or why it is rejected. A bundle
 * is accepted whole or not at all: every record must verify and must have been written by
 * `from`, the host that signed the message. (Gossip carries only first-hand records;
 * second-hand records travel by sync, where the record's own signature is what counts.)
 */
async function openBundle (data: Uint8Array, from: string): Promise<OpenedRecord[] | string> {
  if (data.byteLength > MAX_BUNDLE_BYTES) return `oversized record bundle (${data.byteLength} bytes)`
  let bundle: RecordBundle
  try {
    bundle = RecordBundle.decode(data, { limits: { records: MAX_BUNDLE_RECORDS } })
  } catch (err) {
    return `undecodable record bundle: ${(err as Error).message}`
  }
  if (bundle.records.length === 0) return 'empty record bundle'
  const opened: OpenedRecord[] = []
  for (const envelope of bundle.records) {
    try {
      const o = await openRecord(envelope)
      if (o.record.writer !== from) return `record written by ${o.record.writer} published by ${from}`
      opened.push(o)
    } catch (err) {
      return (err as Error).message
    }
  }
  return opened
}

function fastMessageId (msg: { from?: Uint8Array, seqno?: Uint8Array }): string {
  return `${Buffer.from(msg.from ?? []).toString('base64')}/${Buffer.from(msg.seqno ?? []).toString('base64')}`
}

/** ECONNREFUSED anywhere in a (possibly aggregated, wrapped) dial error. */
function isRefused (err: unknown, depth = 0): boolean {
  if (err === null || typeof err !== 'object' || depth > 4) return false
  const e = err as { code?: unknown, cause?: unknown, errors?: unknown[] }
  if (e.code === 'ECONNREFUSED') return true
  return isRefused(e.cause, depth + 1) || (Array.isArray(e.errors) && e.errors.some(x => isRefused(x, depth + 1)))
}

/** Fisher–Yates, in place; returns `a`. */
export function shuffle<T> (a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[a[i], a[j]] = [a[j]!, a[i]!]
  }
  return a
}

export type { RecordChange }
