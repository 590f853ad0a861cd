/** A mutex as a promise chain: runs one task at a time, in order; a failed task does not
 * stop the ones after it. */
export class Serial {
  #tail: Promise<unknown> = Promise.resolve()
  run<T> (fn: () => Promise<T>): Promise<T> {
    const next = this.#tail.then(fn, fn)
    this.#tail = next.catch(() => {})
    return next
  }
}
