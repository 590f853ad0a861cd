/**
 * Who is alive, from heartbeats and host records. Pure apart from the injected clock, so
 * the rules are unit-tested without timers:
 *   - a heartbeat heard within deadAfter            → alive
 *   - a leaving heartbeat, or a leaving host record
 *     not followed by a newer incarnation's beat     → left   (graceful stop: at once)
 *   - otherwise                                      → unreachable
 */
import type { Heartbeat } from '@meshplane/proto'
import type { HostBody, PeerState } from '../state/types.js'

interface Heard {
  atMs: number
  incarnation: bigint
  leaving: boolean
}

export interface PeerLiveness {
  state: PeerState
  lastSeenMs: number | undefined
}

export class LivenessTracker {
  readonly #heard = new Map<string, Heard>()
  readonly #selfId: string
  readonly #deadAfterMs: number
  readonly #now: () => number

  constructor (init: { selfId: string, deadAfterMs: number, now?: () => number }) {
    this.#selfId = init.selfId
    this.#deadAfterMs = init.deadAfterMs
    this.#now = init.now ?? Date.now
  }

  heard (from: string, hb: Heartbeat): void {
    const prev = this.#heard.get(from)
    // A late beat from an older life must not undo what a newer one said.
    if (prev !== undefined && hb.incarnation < prev.incarnation) return
    this.#heard.set(from, { atMs: this.#now(), incarnation: hb.incarnation, leaving: hb.leaving })
  }

  forget (peer: string): void {
    this.#heard.delete(peer)
  }

  liveness (peer: string, host: HostBody | undefined): PeerLiveness {
    if (peer === this.#selfId) return { state: 'alive', lastSeenMs: this.#now() }
    const heard = this.#heard.get(peer)
    const lastSeenMs = heard?.atMs
    if (heard?.leaving === true && (host === undefined || heard.incarnation >= host.incarnation)) return { state: 'left', lastSeenMs }
    const fresh = heard !== undefined && this.#now() - heard.atMs < this.#deadAfterMs
    if (host?.leaving === true && !(fresh && heard.incarnation > host.incarnation)) return { state: 'left', lastSeenMs }
    return { state: fresh ? 'alive' : 'unreachable', lastSeenMs }
  }
}
