/**
 * Liveness: who is alive, unreachable or left, at a cost per host that does not grow
 * with the cluster.
 *
 * How it works (SWIM, as memberlist/serf do it, over libp2p connections):
 *   - every probe interval T this agent probes one host directly over
 *     /meshplane/probe/2.0.0 (one long-lived stream per peer, requests matched by id:
 *     mesh/probe-channel.ts): the connected hosts in a shuffled round-robin, and every
 *     DIAL_PROBE_EVERY-th round a host it is not connected to (dialling it: this is what
 *     finds the far side of a partition and a long-dead host after a restart);
 *   - no answer within T: it asks INDIRECT_PROBES other connected hosts to probe it (so a
 *     single bad link is not a failure); no answer from them within T: it *suspects* the
 *     host and publishes one signed Suspect on the liveness topic;
 *   - every agent that hears a Suspect holds the host suspect (still shown alive), and its
 *     neighbours probe it themselves: each failure is a confirmation (its own Suspect);
 *     the accused hears the news (or a neighbour's probe says it is suspected) and refutes
 *     at once with a signed Alive at a higher refutation number, which clears it
 *     everywhere; a suspicion not refuted in time makes the host unreachable. The time is
 *     Lifeguard's (memberlist): dead-after − 2·T once two confirmations arrived, up to 4×
 *     that with a single accuser;
 *   - Lifeguard's local health: an agent whose probes time out although its helpers do
 *     not answer either, whose timers fire late, or which is itself suspected, is likely
 *     the slow one: it lengthens its probe timeout (up to 8×) and does not blame others;
 *   - a neighbour's connection closing (a killed process: the kernel closes its sockets)
 *     is probed at once instead of waiting for its turn; a refused dial (the host is up,
 *     nothing listens) is conclusive and skips the indirect probes, so kill -9 is seen as
 *     unreachable everywhere after ≈ the suspicion time;
 *   - the agent hangs up on a host found unreachable (libp2p's connection monitor, a
 *     ping stream per connection every 10 s, is off: these probes already visit every
 *     connection), so gossipsub stops sending into a dead connection; probes redial it;
 *   - a graceful stop publishes a signed Leave (and the host record says leaving): left at
 *     once; a restart is a new life (the host record's incarnation), alive again;
 *   - a starting agent asks its first probe answerer for the hosts it holds unreachable,
 *     and probes them itself (old deaths are not gossiped again).
 *
 * Why SWIM and not the options next to it:
 *   - signed heartbeats gossiped by every host (what this replaced) cost every host N / T
 *     verified messages per second: ~2,000/s at 1,000 hosts, several cores each;
 *   - Cassandra-style heartbeat vectors exchanged with a few peers are O(N) bytes per
 *     exchange, cannot be signed cheaply (a member can keep a dead host alive, or hold
 *     counters back), and a counter takes the graph's diameter in rounds to spread, which
 *     eats into dead-after + 1 s at 1,000 hosts;
 *   - liveness from the libp2p connections alone sees only direct neighbours: on the far
 *     side of a partition nobody is connected to a host, so nobody would ever notice it.
 *   SWIM costs O(1) messages per host per interval (one probe out, on average one in),
 *   sends gossip only on change, and its refutation rule is what makes it safe against a
 *   hostile member: a false Suspect costs the accused one Alive and nothing else, because
 *   only the accused can sign the higher refutation number, and a suspicion becomes a
 *   verdict only if the accused stays silent for the whole suspicion time, which for a
 *   lone accuser is the longest (6 s by default) and is cut short only by other hosts'
 *   own failed probes.
 *
 * Security: probes travel on connections authenticated by the cluster key and Noise (the
 * remote peer id is known); news is gossipsub-signed and the mesh's validator rejects Alive
 * or Leave not signed by its subject and Suspect about oneself. Liveness is not stored or
 * synced; host records (stored) carry the life and the leaving mark.
 */
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { NewsKind, type LivenessNews, type Probe, type ProbeAck, type ViewEntry } from '@meshplane/proto'
import { MAX_VIEW_ENTRIES, shuffle, type Mesh } from '../mesh/index.js'
import type { ClusterState } from '../state/index.js'
import type { PeerState } from '../state/types.js'
import { MemberTable, MAX_SEQ_STEP, type Member, type MemberStatus, type PeerLiveness } from './members.js'

/** One probe every 500 ms and a 1.5 s suspicion (dead-after − 2 probe timeouts): kill -9 is
 * unreachable everywhere after ≈ 1.5 s (its closed sockets trigger a probe at once), a
 * silent host (power cut, partition) ≈ dead-after after its first failed probe, which
 * comes within about one interval (≤ dead-after + 1 s); a false suspicion must go
 * unrefuted for 1.5 s (two other hosts confirmed it) to 6 s (a lone accuser) to become an
 * alarm. */
export const DEFAULT_PROBE_INTERVAL_MS = 500
export const DEFAULT_DEAD_AFTER_MS = 2500
/** Helpers asked to probe a host that did not answer (memberlist: IndirectChecks 3). */
export const INDIRECT_PROBES = 2
/** Every 4th probe round dials a host this agent is not connected to. */
export const DIAL_PROBE_EVERY = 4
/** Dial probes to alive hosts stop once this many times target-peers are connected (a
 * partition drops connections, which restarts them); unreachable hosts are retried with
 * a backoff (MAX_REDIAL_GAP_MS). */
const MAX_CONNECTIONS_FACTOR = 3
/** The longest wait between two dial probes of an unreachable host (a healed partition
 * is noticed within it at worst; usually at once, by the first of many agents to try). */
const MAX_REDIAL_GAP_MS = 60_000
/** Lifeguard: confirmations (accusers beyond the first) that make a suspicion shortest,
 * the longest suspicion as a multiple of the shortest, and the local health cap. */
const EXPECTED_CONFIRMATIONS = 2
const SUSPICION_MAX_FACTOR = 4
const MAX_HEALTH = 7
const EXPIRE_CHECK_MS = 100

export interface LivenessComponents { mesh: Mesh, state: ClusterState, logger: Logger }
export interface LivenessInit {
  incarnation: bigint
  probeIntervalMs?: number
  deadAfterMs?: number
  /** connections the mesh keeps (target-peers): bounds dial probes */
  targetPeers?: number
}

export interface LivenessChange { peer: string, from: PeerState | undefined, to: PeerState }

export interface LivenessCounters {
  probesSent: number
  probesFailed: number
  indirectProbes: number
  probesAnswered: number
  suspicionsRaised: number
  suspicionsHeard: number
  refutations: number
  confirmations: number
  inconclusive: number
  newsIn: number
}

export class Liveness extends EventEmitter<{ change: [LivenessChange], agentDown: [{ peer: string, down: boolean }] }> {
  readonly #mesh: Mesh
  readonly #state: ClusterState
  readonly #log: Logger
  readonly #table: MemberTable
  readonly #life: bigint
  #seq = 0n
  readonly #intervalMs: number
  readonly #maxConnections: number
  readonly #known = new Map<string, PeerState>()
  readonly #since = new Map<string, number>()
  readonly #inFlight = new Set<string>()
  #queue: string[] = []
  #haveView = false
  /** Lifeguard's local health multiplier: probe timeouts are interval × (1 + health). */
  #health = 0
  /** peers whose current suspicion came from a starting agent's view, not from news */
  readonly #fromView = new Set<string>()
  /** Backoff of dial probes to unreachable hosts, so a host that is gone for good is not
   * dialled by every agent every few seconds forever. */
  readonly #redial = new Map<string, { atMs: number, gapMs: number }>()
  /** Peers whose last probe was refused (a TCP reset: the host's kernel is up, its agent
   * is not), with the local time of the first such refusal since it last answered or
   * timed out. Its containers still run; see agentDown(). */
  readonly #agentDown = new Map<string, number>()
  #round = 0
  #timers: NodeJS.Timeout[] = []
  #running = false
  readonly deadAfterMs: number
  readonly counters: LivenessCounters = {
    probesSent: 0, probesFailed: 0, indirectProbes: 0, probesAnswered: 0, suspicionsRaised: 0, suspicionsHeard: 0, refutations: 0, confirmations: 0, inconclusive: 0, newsIn: 0
  }

  constructor (components: LivenessComponents, init: LivenessInit) {
    super()
    this.#mesh = components.mesh
    this.#state = components.state
    this.#log = components.logger.child({ component: 'liveness' })
    this.#life = init.incarnation
    this.#intervalMs = init.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS
    this.deadAfterMs = init.deadAfterMs ?? DEFAULT_DEAD_AFTER_MS
    this.#maxConnections = MAX_CONNECTIONS_FACTOR * (init.targetPeers ?? 4)
    // dead-after = one direct and one indirect probe timeout + the suspicion time, so a
    // silent host is unreachable everywhere ≈ dead-after after its first failed probe.
    const suspicionMs = Math.max(200, this.deadAfterMs - 2 * this.#intervalMs)
    this.#table = new MemberTable({ selfId: components.state.peerId, suspicionMs, suspicionMaxMs: SUSPICION_MAX_FACTOR * suspicionMs })
    // Probes may arrive as soon as the mesh listens, before start().
    this.#mesh.serveProbes(async (req, from) => await this.#answer(req, from))
  }

  start (): void {
    if (this.#running) return
    this.#running = true
    for (const h of this.#state.list('host')) this.#table.host(h.key, h.body)
    for (const h of this.#state.list('host')) this.#check(h.key)
    this.#mesh.on('liveness', ({ from, news }) => { this.#onNews(from, news) })
    this.#mesh.on('peer:disconnect', peer => { this.#onDisconnect(peer) })
    this.#state.on('change', ({ record }) => {
      if (record.kind !== 'host') return
      if (!record.deleted && record.body !== undefined) this.#table.host(record.key, record.body)
      this.#check(record.key)
    })
    this.#timers.push(setInterval(() => { this.#probeRound() }, this.#intervalMs))
    this.#timers.push(setInterval(() => { this.#expire() }, EXPIRE_CHECK_MS))
    for (const t of this.#timers) t.unref()
  }

  stop (): void {
    this.#running = false
    for (const t of this.#timers) clearInterval(t)
    this.#timers = []
  }

  /** Graceful stop: tell everyone this life is over (the leaving host record is the
   * durable form of the same news, for hosts that miss this one). */
  async announceLeaving (): Promise<void> {
    await this.#publish({ kind: NewsKind.NEWS_LEAVE, peer: this.#state.peerId, incarnation: this.#life, seq: this.#seq })
  }

  liveness (peer: string): PeerLiveness {
    return this.#table.liveness(peer)
  }

  /** Wall-clock time this agent last saw the peer's state change (for benches and status). */
  stateSinceMs (peer: string): number | undefined {
    return this.#since.get(peer)
  }

  /**
   * Whether `peer`'s agent is down while its host is up: its last probe was refused (a
   * reset from its kernel) and none has timed out or been answered since. A crashed or
   * restarting agent looks like this; a host whose power or link is gone answers nothing.
   * The data plane keeps such a host's endpoints for the restart grace (agent.ts).
   */
  agentDown (peer: string): boolean {
    return this.#agentDown.has(peer)
  }

  /** Peers whose endpoints the data plane should program. */
  isAlive (peer: string): boolean {
    return this.liveness(peer).state === 'alive'
  }

  // ---- probing ----------------------------------------------------------------------

  #probeRound (): void {
    if (!this.#running) return
    this.#round++
    const target = this.#round % DIAL_PROBE_EVERY === 0 ? this.#dialTarget() ?? this.#nextNeighbour() : this.#nextNeighbour() ?? this.#dialTarget()
    if (target !== undefined) void this.#probe(target)
  }

  /** The next connected member in a shuffled round-robin (SWIM's time-bounded order). */
  #nextNeighbour (): string | undefined {
    for (let pass = 0; pass < 2; pass++) {
      while (this.#queue.length > 0) {
        const peer = this.#queue.pop()!
        if (this.#probeable(peer) && this.#mesh.isConnected(peer)) return peer
      }
      this.#queue = shuffle(this.#mesh.connectedPeers().filter(p => this.#probeable(p)))
    }
    return undefined
  }

  /** A random member this agent is not connected to: any while few connections are open,
   * else only unreachable ones (so a healed partition is noticed). */
  #dialTarget (): string | undefined {
    const connected = new Set(this.#mesh.connectedPeers())
    const few = connected.size < this.#maxConnections
    const now = Date.now()
    const candidates = this.#table.peers().filter(p => this.#probeable(p) && !connected.has(p) &&
      (this.#table.get(p)?.status === 'unreachable' ? (this.#redial.get(p)?.atMs ?? 0) <= now : few))
    return candidates.length === 0 ? undefined : candidates[Math.floor(Math.random() * candidates.length)]
  }

  #probeable (peer: string): boolean {
    const m = this.#table.get(peer)
    return m !== undefined && m.status !== 'left' && !this.#inFlight.has(peer)
  }

  #request (peer: string, relayTo = ''): Omit<Probe, 'id'> {
    const m = this.#table.get(peer)
    return {
      incarnation: m?.life ?? 0n,
      seq: m?.seq ?? 0n,
      suspect: m?.status === 'suspect' || m?.status === 'unreachable',
      relayTo,
      wantView: relayTo === '' && !this.#haveView
    }
  }

  /** One SWIM round against one host: direct, then indirect, then a suspicion (or a
   * confirmation of someone else's). */
  async #probe (peer: string): Promise<void> {
    if (this.#inFlight.has(peer)) return
    this.#inFlight.add(peer)
    try {
      const before = this.#table.get(peer)
      if (before === undefined) return
      const { life, seq } = before
      // Lifeguard's local health: an agent whose own probes keep failing, or that keeps
      // being suspected, is more likely slow itself; it waits longer before it blames.
      const timeoutMs = this.#intervalMs * (1 + this.#health)
      const startedMs = Date.now()
      this.counters.probesSent++
      let refused = false
      const ack = await this.#mesh.probe(peer, this.#request(peer), timeoutMs, () => { refused = true })
      this.#kernelEvidence(peer, this.#outcome(peer, ack, refused))
      if (ack?.ok === true) {
        this.#health = Math.max(0, this.#health - 1)
        this.#answered(peer, ack, true)
        if (!this.#haveView) this.#adoptView(peer, ack.unreachable)
        return
      }
      this.counters.probesFailed++
      if (before.status === 'unreachable') {
        const gapMs = Math.min(MAX_REDIAL_GAP_MS, 2 * (this.#redial.get(peer)?.gapMs ?? DIAL_PROBE_EVERY * this.#intervalMs / 2))
        this.#redial.set(peer, { atMs: Date.now() + gapMs, gapMs })
      }
      if (!this.#shouldBlame(peer, life, seq)) return
      // Our own timers fired late (this process was starved): the silence may be ours.
      if (!refused && Date.now() - startedMs > timeoutMs + this.#intervalMs) { this.#sick('late timers'); return }
      // A refused dial is first-hand and conclusive (the host answers, the agent's port is
      // closed: a killed or stopped agent), so indirect probes could only add delay.
      const helpers = refused ? [] : shuffle(this.#mesh.connectedPeers().filter(p => p !== peer && this.#table.get(p)?.status === 'alive')).slice(0, INDIRECT_PROBES)
      if (helpers.length > 0) {
        this.counters.indirectProbes += helpers.length
        const acks = await Promise.all(helpers.map(async h => await this.#mesh.probe(h, this.#request(peer, peer), timeoutMs)))
        const ok = acks.find(a => a?.ok === true)
        if (ok !== undefined) { this.#answered(peer, ok, false); return }
        // Not even a "could not reach it" from the helpers: our links are the problem.
        if (acks.every(a => a === undefined)) { this.#sick('helpers did not answer'); return }
      }
      if (!this.#running || !this.#shouldBlame(peer, life, seq)) return
      const first = this.#table.get(peer)!.status === 'alive'
      this.#table.suspect(peer, life, seq, this.#state.peerId)
      if (first) {
        this.counters.suspicionsRaised++
        this.#log.info({ peer, life: life.toString(), seq: seq.toString(), refused }, 'peer failed its probes: suspected')
        this.#check(peer)
      } else {
        this.counters.confirmations++
      }
      // A suspicion that came with a starting agent's view is its own business: only first-hand ones are news.
      if (first || !this.#fromView.has(peer)) await this.#publish({ kind: NewsKind.NEWS_SUSPECT, peer, incarnation: life, seq })
    } finally {
      this.#inFlight.delete(peer)
    }
  }

  /** What a failed or answered probe says about the host: its agent answered; its kernel
   * refused the dial (agent down); a connection is open but the probe went unanswered (a
   * starting or busy agent: the host is up); or nothing answered at all. */
  #outcome (peer: string, ack: ProbeAck | undefined, refused: boolean): 'answered' | 'refused' | 'connected' | 'silent' {
    if (ack?.ok === true) return 'answered'
    if (refused) return 'refused'
    return this.#mesh.isConnected(peer) ? 'connected' : 'silent'
  }

  /** What a probe said about the host's kernel (see agentDown()); a change is told to the
   * data plane. */
  #kernelEvidence (peer: string, outcome: 'answered' | 'refused' | 'connected' | 'silent'): void {
    const was = this.#agentDown.has(peer)
    if (outcome === 'refused') {
      if (!was) this.#agentDown.set(peer, Date.now())
    } else if (outcome !== 'connected') {
      this.#agentDown.delete(peer)
    }
    if (was !== this.#agentDown.has(peer)) {
      this.#log.info({ peer, agentDown: !was }, was ? 'peer no longer refuses connections' : 'peer refuses connections: its agent is down, its host is up')
      this.emit('agentDown', { peer, down: !was })
    }
  }

  /** A dial that blames nobody, only to learn whether a suspected host's kernel answers
   * (hosts not connected to it hear of a suspicion only through news). */
  async #checkKernel (peer: string): Promise<void> {
    if (this.#inFlight.has(peer)) return
    this.#inFlight.add(peer)
    try {
      let refused = false
      const ack = await this.#mesh.probe(peer, this.#request(peer), this.#intervalMs * (1 + this.#health), () => { refused = true })
      this.#kernelEvidence(peer, this.#outcome(peer, ack, refused))
      if (ack?.ok === true) this.#answered(peer, ack, true)
    } finally {
      this.#inFlight.delete(peer)
    }
  }

  /** Still at the same (life, seq), and either alive or suspected by others but not yet by us. */
  #shouldBlame (peer: string, life: bigint, seq: bigint): boolean {
    const m = this.#table.get(peer)
    if (m === undefined || m.life !== life || m.seq !== seq) return false
    return m.status === 'alive' || (m.status === 'suspect' && !m.suspecters.has(this.#state.peerId))
  }

  #sick (why: string): void {
    this.#health = Math.min(MAX_HEALTH, this.#health + 1)
    this.counters.inconclusive++
    this.#log.debug({ why, health: this.#health }, 'probe inconclusive: not blaming the peer')
  }

  #answered (peer: string, ack: ProbeAck, firstHand: boolean): void {
    this.#redial.delete(peer)
    // A relayed answer is second-hand: it may clear a suspicion only with the same higher
    // seq the host itself would publish, and does not count as having seen the host.
    this.#table.alive(peer, ack.incarnation, ack.seq, firstHand)
    this.#check(peer)
  }

  /** A neighbour's connection closed: probe it now rather than in its turn. */
  #onDisconnect (peer: string): void {
    const status = this.#table.get(peer)?.status
    if (!this.#running || (status !== 'alive' && status !== 'suspect')) return
    void this.#probe(peer)
  }

  // ---- answering ----------------------------------------------------------------------

  async #answer (req: Probe, from: string): Promise<Omit<ProbeAck, 'id'>> {
    this.counters.probesAnswered++
    this.#table.seen(from)
    // (a relay request naming this host is answered as a direct probe)
    if (req.relayTo !== '' && req.relayTo !== this.#state.peerId) {
      // Indirect probe: ask the target ourselves, passing the prober's view on so the
      // target can refute what the prober holds against it.
      const ack = await this.#mesh.probe(req.relayTo, { ...req, relayTo: '' }, Math.max(100, Math.floor(this.#intervalMs * 0.8)))
      return ack === undefined ? { ok: false, incarnation: 0n, seq: 0n, unreachable: [] } : { ...ack, unreachable: [] }
    }
    if (req.suspect) this.#refute(req.incarnation, req.seq, from)
    const unreachable = req.wantView ? this.#unreachableView() : []
    return { ok: true, incarnation: this.#life, seq: this.#seq, unreachable }
  }

  #unreachableView (): ViewEntry[] {
    const out: ViewEntry[] = []
    for (const peer of this.#table.peers()) {
      const m = this.#table.get(peer)!
      if (m.status === 'unreachable' && out.length < MAX_VIEW_ENTRIES) out.push({ peer, incarnation: m.life, seq: m.seq })
    }
    return out
  }

  /**
   * A starting agent knows the hosts from their records but not which of them died while
   * it was away, and nobody gossips an old death again. So its first probe answer carries
   * the answerer's unreachable hosts (memberlist does the same with a push-pull on join).
   * They are taken as second-hand suspicions and probed directly at once: a host that
   * answers is alive (a lying neighbour costs one probe), one that does not becomes
   * unreachable after the suspicion time. An entry about this agent itself (it was cut
   * off, e.g. by a partition) is refuted.
   */
  #adoptView (from: string, entries: ViewEntry[]): void {
    this.#haveView = true
    for (const e of entries) {
      if (e.peer === this.#state.peerId) { this.#refute(e.incarnation, e.seq, from); continue }
      if (this.#table.suspect(e.peer, e.incarnation, e.seq, from)) {
        this.#fromView.add(e.peer)
        this.#check(e.peer)
        void this.#probe(e.peer)
      }
    }
  }

  /** Someone holds this agent suspect at (life, seq): answer with a higher seq. */
  #refute (life: bigint, seq: bigint, by: string): void {
    // (a number far beyond ours was never ours: nobody adopts it, MemberTable.suspect)
    if (life !== this.#life || seq < this.#seq || seq > this.#seq + MAX_SEQ_STEP) return
    this.#seq = seq + 1n
    this.counters.refutations++
    this.#health = Math.min(MAX_HEALTH, this.#health + 1)
    this.#log.info({ by, seq: this.#seq.toString() }, 'suspected by a peer: refuting')
    void this.#publish({ kind: NewsKind.NEWS_ALIVE, peer: this.#state.peerId, incarnation: this.#life, seq: this.#seq })
  }

  #onNews (from: string, news: LivenessNews): void {
    this.counters.newsIn++
    this.#table.seen(from)
    switch (news.kind) {
      case NewsKind.NEWS_SUSPECT:
        this.counters.suspicionsHeard++
        if (news.peer === this.#state.peerId) this.#refute(news.incarnation, news.seq, from)
        else if (this.#table.suspect(news.peer, news.incarnation, news.seq, from)) {
          this.#log.info({ peer: news.peer, by: from }, 'peer suspected by another host')
          // A neighbour is a witness of its own: its probe either confirms the suspicion
          // or reaches the accused, which then refutes even if it missed the news.
          if (this.#mesh.isConnected(news.peer)) void this.#probe(news.peer)
          else void this.#checkKernel(news.peer)
        }
        break
      case NewsKind.NEWS_ALIVE:
        this.#table.alive(news.peer, news.incarnation, news.seq)
        break
      case NewsKind.NEWS_LEAVE:
        this.#table.leave(news.peer, news.incarnation)
        break
    }
    this.#check(news.peer)
  }

  async #publish (news: LivenessNews): Promise<void> {
    await this.#mesh.publishLiveness(news)
  }

  // ---- state changes ------------------------------------------------------------------

  #expire (): void {
    for (const peer of this.#table.expire(() => this.#expectedConfirmations())) {
      const m = this.#table.get(peer)
      this.#log.info({ peer, suspectedBy: m?.suspecters.values().next().value }, 'suspicion not refuted: peer unreachable')
      this.#check(peer)
    }
  }

  /** memberlist's k = SuspicionMult − 2 = 2 confirmations, fewer in a small cluster
   * (there are only so many hosts left to notice). */
  #expectedConfirmations (): number {
    let alive = 0
    for (const p of this.#table.peers()) if (this.#table.get(p)!.status !== 'left' && this.#table.get(p)!.status !== 'unreachable') alive++
    return Math.max(0, Math.min(EXPECTED_CONFIRMATIONS, alive - 2))
  }

  #check (peer: string): void {
    if (peer === this.#state.peerId) return
    const { state } = this.liveness(peer)
    const before = this.#known.get(peer)
    if (before === state) return
    this.#known.set(peer, state)
    this.#since.set(peer, Date.now())
    if (state === 'alive') this.#redial.delete(peer)
    if (state !== 'alive') this.#fromView.delete(peer)
    this.#log.info({ peer, from: before, to: state }, 'peer state changed')
    this.emit('change', { peer, from: before, to: state })
  }
}

