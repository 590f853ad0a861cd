/**
 * Liveness: this agent beats on the heartbeat topic every interval, and watches the other
 * hosts' beats. It emits 'change' whenever a host's state changes, which is what the
 * reconciler uses to withdraw and restore a host's endpoints.
 *
 * Heartbeats are not records: they are never stored or synced, so their cost is one small
 * signed gossip message per host per interval and nothing on disk.
 */
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { Mesh } from '../mesh/index.js'
import type { ClusterState } from '../state/index.js'
import type { PeerState } from '../state/types.js'
import { LivenessTracker, type PeerLiveness } from './tracker.js'

export { LivenessTracker, type PeerLiveness }

/** One beat every 500 ms and 2.5 s of silence make a host unreachable: detection in
 * ≤ 3 s (2.5 s + one check), with five missed beats needed before a false alarm. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 500
export const DEFAULT_DEAD_AFTER_MS = 2500
const CHECK_INTERVAL_MS = 200

export interface LivenessComponents { mesh: Mesh, state: ClusterState, logger: Logger }
export interface LivenessInit { incarnation: bigint, heartbeatIntervalMs?: number, deadAfterMs?: number }

export interface LivenessChange { peer: string, from: PeerState | undefined, to: PeerState }

export class Liveness extends EventEmitter<{ change: [LivenessChange] }> {
  readonly #mesh: Mesh
  readonly #state: ClusterState
  readonly #log: Logger
  readonly #tracker: LivenessTracker
  readonly #incarnation: bigint
  readonly #intervalMs: number
  readonly #known = new Map<string, PeerState>()
  readonly #since = new Map<string, number>()
  #counter = 0n
  heartbeatsIn = 0
  #timers: NodeJS.Timeout[] = []
  readonly deadAfterMs: number

  constructor (components: LivenessComponents, init: LivenessInit) {
    super()
    this.#mesh = components.mesh
    this.#state = components.state
    this.#log = components.logger.child({ component: 'liveness' })
    this.#incarnation = init.incarnation
    this.#intervalMs = init.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS
    this.deadAfterMs = init.deadAfterMs ?? DEFAULT_DEAD_AFTER_MS
    this.#tracker = new LivenessTracker({ selfId: components.state.peerId, deadAfterMs: this.deadAfterMs })
  }

  start (): void {
    this.#mesh.on('heartbeat', ({ from, heartbeat }) => {
      this.heartbeatsIn++
      this.#tracker.heard(from, heartbeat)
      this.#check(from)
    })
    this.#state.on('change', ({ record }) => { if (record.kind === 'host') this.#check(record.key) })
    this.#timers.push(setInterval(() => { void this.beat(false) }, this.#intervalMs))
    this.#timers.push(setInterval(() => { this.#checkAll() }, CHECK_INTERVAL_MS))
    for (const t of this.#timers) t.unref()
    void this.beat(false)
  }

  stop (): void {
    for (const t of this.#timers) clearInterval(t)
    this.#timers = []
  }

  async beat (leaving: boolean): Promise<void> {
    this.#counter++
    await this.#mesh.publishHeartbeat({ incarnation: this.#incarnation, counter: this.#counter, leaving })
  }

  liveness (peer: string): PeerLiveness {
    const host = this.#state.get(`host/${peer}`)
    return this.#tracker.liveness(peer, host?.kind === 'host' ? host.body : undefined)
  }

  /** Wall-clock time this agent last saw the peer's state change (for benches and status). */
  stateSinceMs (peer: string): number | undefined {
    return this.#since.get(peer)
  }

  /** Peers whose endpoints the data plane should program. */
  isAlive (peer: string): boolean {
    return this.liveness(peer).state === 'alive'
  }

  #check (peer: string): void {
    const { state } = this.liveness(peer)
    const before = this.#known.get(peer)
    if (before === state) return
    this.#known.set(peer, state)
    this.#since.set(peer, Date.now())
    this.#log.info({ peer, from: before, to: state }, 'peer state changed')
    this.emit('change', { peer, from: before, to: state })
  }

  #checkAll (): void {
    for (const host of this.#state.list('host')) this.#check(host.key)
  }
}
