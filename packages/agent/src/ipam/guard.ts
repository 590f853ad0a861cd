/**
 * Who may ask this host for address ranges, and how often (docs/security.md). Only a
 * member with a live host record: an identity that never announced itself (a stray key
 * holder, a test client) has nothing to allocate for. Each member gets a token bucket:
 * a burst for a host that runs dry under a wave of attaches, then a steady rate, so a
 * member cannot drain a network's free space in a few dozen requests.
 */
import { MeshplaneError } from '../errors.js'
import { RANGE_REQUEST_BURST, RANGE_REQUESTS_PER_SECOND } from './constants.js'

export interface RangeRequestGuardInit {
  /** true when `peer` has a live host record */
  isMember: (peer: string) => boolean
  burst?: number
  perSecond?: number
  now?: () => number
}

interface Bucket { tokens: number, atMs: number }

export class RangeRequestGuard {
  readonly #isMember: (peer: string) => boolean
  readonly #burst: number
  readonly #perMs: number
  readonly #now: () => number
  readonly #buckets = new Map<string, Bucket>()

  constructor (init: RangeRequestGuardInit) {
    this.#isMember = init.isMember
    this.#burst = init.burst ?? RANGE_REQUEST_BURST
    this.#perMs = (init.perSecond ?? RANGE_REQUESTS_PER_SECOND) / 1000
    this.#now = init.now ?? Date.now
  }

  /** Takes one request's token for `peer`, or throws why it is refused. */
  admit (peer: string): void {
    if (!this.#isMember(peer)) throw new MeshplaneError('E_PERMISSION', `${peer} has no host record: range requests are for members`)
    const now = this.#now()
    let b = this.#buckets.get(peer)
    if (b === undefined) {
      // one entry per member; full buckets say nothing and go when the map grows
      if (this.#buckets.size >= 1024) this.#forgetFull(now)
      this.#buckets.set(peer, b = { tokens: this.#burst, atMs: now })
    }
    b.tokens = Math.min(this.#burst, b.tokens + (now - b.atMs) * this.#perMs)
    b.atMs = now
    if (b.tokens < 1) throw new MeshplaneError('E_UNAVAILABLE', `too many range requests from ${peer}: at most ${this.#burst} at once, then ${this.#perMs * 1000} a second`)
    b.tokens -= 1
  }

  #forgetFull (now: number): void {
    for (const [peer, b] of this.#buckets) {
      if (b.tokens + (now - b.atMs) * this.#perMs >= this.#burst) this.#buckets.delete(peer)
    }
  }
}
