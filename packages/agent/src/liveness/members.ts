/**
 * The membership table: what this agent believes about every other host, from host
 * records, probe answers and liveness news. Pure apart from the injected clock, so the
 * SWIM rules are unit-tested without timers or sockets.
 *
 * Each host has a life (its host record's incarnation: the start time, so a restart is
 * a new life) and, within a life, a refutation number `seq`. Ordering is by (life, seq):
 *   - a higher life replaces everything: the host restarted, it is alive (or left, if the
 *     news that carried the life said so);
 *   - within a life, `left` is final;
 *   - a suspicion at (life, seq ≥ known) turns an alive host `suspect`;
 *   - only a strictly higher seq for that life, which the host itself publishes (or
 *     answers a probe with) when it hears it is suspected, makes it alive again;
 *   - a suspicion not refuted in time makes it `unreachable`. The time depends on how many
 *     hosts independently suspect it (Lifeguard, as memberlist does it): with one accuser
 *     it is suspicionMaxMs, and it falls toward suspicionMs as confirmations arrive
 *     (max − (max − min)·log(c + 1)/log(k + 1) for c of the k expected confirmations). A
 *     killed host is suspected by all its neighbours at once (min); a single slow or
 *     hostile accuser gives the accused the longest time to refute.
 * `suspect` is shown as alive (as in SWIM): it is a question put to the host, not a verdict.
 */
import type { HostBody, PeerState } from '../state/types.js'

/** A suspicion may name a refutation number at most this far beyond the one the host was
 * last heard at (refutations it made that we missed), and the host refutes no number
 * further ahead: no member can drive a host's counter toward the top. */
export const MAX_SEQ_STEP = 1024n

export type MemberStatus = 'alive' | 'suspect' | 'unreachable' | 'left'

export interface Member {
  life: bigint
  seq: bigint
  status: MemberStatus
  /** local clock when the status last changed */
  sinceMs: number
  /** every host that suspects this life and seq, in the order heard (the first raised it) */
  suspecters: Set<string>
  /** local clock of the last first-hand sign of life (a probe answer, a probe from it, its own news) */
  lastSeenMs: number | undefined
}

export interface PeerLiveness {
  state: PeerState
  lastSeenMs: number | undefined
}

export class MemberTable {
  readonly #members = new Map<string, Member>()
  readonly #selfId: string
  readonly #suspicionMs: number
  readonly #suspicionMaxMs: number
  readonly #now: () => number

  constructor (init: { selfId: string, suspicionMs: number, suspicionMaxMs?: number, now?: () => number }) {
    this.#selfId = init.selfId
    this.#suspicionMs = init.suspicionMs
    this.#suspicionMaxMs = Math.max(init.suspicionMs, init.suspicionMaxMs ?? init.suspicionMs)
    this.#now = init.now ?? Date.now
  }

  /** How long a suspicion with this many accusers runs when `expected` confirmations
   * (accusers beyond the first) would make it shortest. */
  suspicionTimeoutMs (accusers: number, expected: number): number {
    const c = Math.max(0, accusers - 1)
    if (expected <= 0 || c >= expected) return this.#suspicionMs
    const frac = Math.log(c + 1) / Math.log(expected + 1)
    return Math.round(this.#suspicionMaxMs - (this.#suspicionMaxMs - this.#suspicionMs) * frac)
  }

  /** A host record arrived (or was loaded). Returns true if the status changed. */
  host (peer: string, body: HostBody): boolean {
    if (peer === this.#selfId) return false
    const m = this.#members.get(peer)
    if (m === undefined || body.incarnation > m.life) return this.#learn(peer, body.incarnation, 0n, body.leaving ? 'left' : 'alive')
    // The same life again (a re-announcement, a sync) says nothing new unless it is the leaving mark.
    if (body.incarnation === m.life && body.leaving) return this.leave(peer, m.life)
    return false
  }

  /** Someone says `peer` failed its probes at (life, seq). Adopted only at a life the host
   * itself announced (its host record, its own news, its probe answers): a suspicion at a
   * life it never signed could never be refuted (docs/security.md). */
  suspect (peer: string, life: bigint, seq: bigint, by: string): boolean {
    if (peer === this.#selfId) return false
    const m = this.#members.get(peer)
    // Only about hosts we know: a member must not be able to fill the table with made-up ids.
    if (m === undefined) return false
    if (life !== m.life || seq < m.seq || seq > m.seq + MAX_SEQ_STEP || m.status === 'left') return false
    if (m.status === 'alive') {
      m.suspecters = new Set([by])
      return this.#set(m, { seq, status: 'suspect' })
    }
    if (seq > m.seq) { m.seq = seq; m.suspecters = new Set() }
    m.suspecters.add(by) // a confirmation
    return false
  }

  /** The host itself says it is alive at (life, seq): a refutation, a probe answer, or
   * its first news of a new life. First-hand: also refreshes lastSeenMs. */
  alive (peer: string, life: bigint, seq: bigint, firstHand = true): boolean {
    if (peer === this.#selfId) return false
    const m = this.#members.get(peer)
    if (firstHand && m !== undefined && life >= m.life) m.lastSeenMs = this.#now()
    // A relay's word cannot start a life the host never showed us: a higher life would
    // make every later suspicion of the real one look stale.
    if (!firstHand && (m === undefined || life > m.life)) return false
    if (m === undefined || life > m.life) return this.#learn(peer, life, seq, 'alive', undefined, firstHand)
    if (life < m.life || m.status === 'left') return false
    if (seq > m.seq) return this.#set(m, { seq, status: 'alive' })
    return false
  }

  /** The host says this life ended gracefully. */
  leave (peer: string, life: bigint): boolean {
    if (peer === this.#selfId) return false
    const m = this.#members.get(peer)
    if (m === undefined || life > m.life) return this.#learn(peer, life, 0n, 'left')
    if (life < m.life || m.status === 'left') return false
    return this.#set(m, { seq: m.seq, status: 'left' })
  }

  /** A first-hand sign of life that carries no (life, seq), e.g. the host probed us. */
  seen (peer: string): void {
    const m = this.#members.get(peer)
    if (m !== undefined) m.lastSeenMs = this.#now()
  }

  /** Suspicions that ran out (see suspicionTimeoutMs) become unreachable; returns those
   * peers. `expected`: confirmations that make a suspicion shortest. */
  expire (expected: number | (() => number) = 0): string[] {
    const now = this.#now()
    const out: string[] = []
    // `expected` may be costly (a pass over the table): computed only once a suspect is seen
    let k: number | undefined
    for (const [peer, m] of this.#members) {
      if (m.status !== 'suspect') continue
      k ??= typeof expected === 'number' ? expected : expected()
      if (now - m.sinceMs >= this.suspicionTimeoutMs(m.suspecters.size, k)) {
        this.#set(m, { seq: m.seq, status: 'unreachable' })
        out.push(peer)
      }
    }
    return out
  }

  get (peer: string): Readonly<Member> | undefined {
    return this.#members.get(peer)
  }

  peers (): string[] {
    return [...this.#members.keys()]
  }

  forget (peer: string): void {
    this.#members.delete(peer)
  }

  liveness (peer: string): PeerLiveness {
    if (peer === this.#selfId) return { state: 'alive', lastSeenMs: this.#now() }
    const m = this.#members.get(peer)
    if (m === undefined) return { state: 'unreachable', lastSeenMs: undefined }
    const state: PeerState = m.status === 'suspect' ? 'alive' : m.status
    return { state, lastSeenMs: m.lastSeenMs }
  }

  #learn (peer: string, life: bigint, seq: bigint, status: MemberStatus, by?: string, firstHand = false): boolean {
    const prev = this.#members.get(peer)
    const now = this.#now()
    this.#members.set(peer, {
      life,
      seq,
      status,
      sinceMs: prev?.status === status ? prev.sinceMs : now,
      suspecters: status === 'suspect' && by !== undefined ? new Set([by]) : new Set(),
      lastSeenMs: firstHand ? now : prev?.lastSeenMs
    })
    return prev?.status !== status
  }

  #set (m: Member, next: { seq: bigint, status: MemberStatus }): boolean {
    const changed = m.status !== next.status
    if (next.status !== 'suspect' && next.status !== 'unreachable') m.suspecters = new Set()
    m.seq = next.seq
    if (changed) {
      m.status = next.status
      m.sinceMs = this.#now()
    }
    return changed
  }
}
