/**
 * The one queue every kernel change goes through.
 *
 * - Items run one at a time, in order: a full reconcile, an attach or a detach is ONE item,
 *   so no change can slip into the middle of another (libnetwork's peerOpRoutine, whose
 *   INIT walks the whole table as one item for the same reason).
 * - Inside an item, netlink requests go through the queue's window, which bounds how
 *   many are in flight, whether each is its own request (window.map) or one message of a
 *   many-per-datagram chunk (batch.ts, at most maxInFlight per chunk). Unbounded, the
 *   replies overflow the socket's receive buffer, and the `netlink` package's native poll
 *   handler aborts the process on that error (it once did with 10,000 at once).
 * - enqueue() returns a promise of the item's result, so callers can await and see errors
 *   (libnetwork's queue could only log them).
 * - There is no lock besides the queue itself, and an item must never enqueue-and-await
 *   another item (it would wait for itself).
 */
import { DEFAULT_MAX_IN_FLIGHT } from './constants.js'
import { DataplaneError } from './errors.js'

export interface KernelQueueInit {
  /** Netlink requests (or messages of a bulk chunk) in flight at once inside an item (default 128). */
  maxInFlight?: number
}

/** Bounds concurrent requests; given to each queue item. */
export interface RequestWindow {
  readonly maxInFlight: number
  /** Runs fn(item) for every item with at most maxInFlight running; never rejects. */
  map<T, R>(items: readonly T[], fn: (item: T, index: number) => Promise<R>): Promise<Array<PromiseSettledResult<R>>>
}

export function createRequestWindow (maxInFlight: number): RequestWindow {
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new DataplaneError('E_DATAPLANE_CONFIG', `maxInFlight must be a positive integer, got ${maxInFlight}`)
  return {
    maxInFlight,
    async map (items, fn) {
      const results = new Array<PromiseSettledResult<Awaited<ReturnType<typeof fn>>>>(items.length)
      let next = 0
      // A pool of workers, each taking the next item when its request completes: the window
      // stays full without ever holding more than maxInFlight promises.
      const worker = async (): Promise<void> => {
        while (next < items.length) {
          const index = next++
          try {
            results[index] = { status: 'fulfilled', value: await fn(items[index] as (typeof items)[number], index) }
          } catch (reason) {
            results[index] = { status: 'rejected', reason }
          }
        }
      }
      await Promise.all(Array.from({ length: Math.min(maxInFlight, items.length) }, worker))
      return results
    }
  }
}

export type QueueTask<T> = (window: RequestWindow) => Promise<T>

export class KernelQueue {
  readonly window: RequestWindow
  #tail: Promise<unknown> = Promise.resolve()
  #pending = 0
  #running = false
  #closed = false

  constructor (init: KernelQueueInit = {}) {
    this.window = createRequestWindow(init.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT)
  }

  /** Items waiting or running. */
  get size (): number {
    return this.#pending
  }

  get running (): boolean {
    return this.#running
  }

  /**
   * Runs task after every item enqueued before it has settled. Rejects with
   * E_DATAPLANE_STOPPED if the queue was closed before the task started.
   */
  enqueue<T>(task: QueueTask<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new DataplaneError('E_DATAPLANE_STOPPED', 'the kernel queue is closed'))
    this.#pending++
    const run = async (): Promise<T> => {
      if (this.#closed) throw new DataplaneError('E_DATAPLANE_STOPPED', 'the kernel queue closed before this change ran')
      this.#running = true
      try {
        return await task(this.window)
      } finally {
        this.#running = false
      }
    }
    const result = this.#tail.then(run, run)
    // The chain must not stop at a failed item, and its failure belongs to the caller only.
    this.#tail = result.then(() => { this.#pending-- }, () => { this.#pending-- })
    return result
  }

  /** Refuses new items and fails the ones not started; resolves when the running one ends. */
  async close (): Promise<void> {
    this.#closed = true
    await this.#tail
  }
}
