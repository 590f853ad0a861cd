/**
 * Gossipsub's application-specific score (P5): a peer that signs messages this host
 * refuses (forged, undecodable, or records it may not write) scores lower with each,
 * until gossipsub stops taking its gossip (graylist) and prunes it from the mesh. The
 * count halves every REFUSAL_HALF_LIFE_MS, so a peer that stops recovers; bounded, so
 * signers with invented identities cost a dropped entry, not memory.
 * (gossipsub's own invalid-message penalty, P4, falls on the forwarding peer instead.)
 */
export const REFUSAL_HALF_LIFE_MS = 60_000
const MAX_TRACKED_SIGNERS = 4096

export class RefusalScore {
  readonly #counts = new Map<string, number>()

  /** A message signed by `peer` was refused. */
  note (peer: string): void {
    if (!this.#counts.has(peer) && this.#counts.size >= MAX_TRACKED_SIGNERS) {
      // the oldest entry goes (a Map iterates in insertion order)
      this.#counts.delete(this.#counts.keys().next().value!)
    }
    this.#counts.set(peer, (this.#counts.get(peer) ?? 0) + 1)
  }

  /** gossipsub's appSpecificScore: minus the refusals (weighted by appSpecificWeight). */
  score (peer: string): number {
    return -(this.#counts.get(peer) ?? 0)
  }

  /** Halves every count; forgets those that fall below one half. */
  decay (): void {
    for (const [peer, n] of this.#counts) {
      if (n / 2 < 0.5) this.#counts.delete(peer)
      else this.#counts.set(peer, n / 2)
    }
  }
}
