/** A token bucket per source address: `rate` per second sustained, `burst` at once. */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number, at: number }>()

  constructor (readonly rate: number, readonly burst: number, readonly maxSources: number) {}

  /** Takes one token for `source`; false when it has none left (drop the query). */
  take (source: string, nowMs = performance.now()): boolean {
    let bucket = this.#buckets.get(source)
    if (bucket === undefined) {
      if (this.#buckets.size >= this.maxSources) this.#buckets.clear()
      bucket = { tokens: this.burst, at: nowMs }
      this.#buckets.set(source, bucket)
    } else {
      bucket.tokens = Math.min(this.burst, bucket.tokens + (nowMs - bucket.at) * this.rate / 1000)
      bucket.at = nowMs
    }
    if (bucket.tokens < 1) return false
    bucket.tokens -= 1
    return true
  }
}
