/**
 * Liveness probes over one long-lived stream per peer (/meshplane/probe/2.0.0): a request
 * carries an id and its answer comes back with it, in any order, so direct and relayed
 * probes to the same host can be in flight together and a late answer is simply dropped.
 *
 * Why not a stream per probe: opening one costs yamux SYN/ACK/FIN frames, a multistream
 * negotiation and libp2p's peer-store bookkeeping on both ends. With a probe every 500 ms
 * per host that was most of an idle agent's CPU (bench/idle-profile.ts), and on a 30-host
 * machine it competed with the gossip for the cores.
 */
import { pbStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { Probe, ProbeAck } from '@meshplane/proto'
import { MAX_LIVENESS_BYTES, MAX_PROBE_ACK_BYTES, MAX_VIEW_ENTRIES } from './constants.js'

/** Answers one probe from `from`; the mesh's liveness responder. */
export type ProbeHandler = (req: Probe, from: string) => Promise<Omit<ProbeAck, 'id'>>

/** Relayed probes wait up to most of an interval for the target: a stream serves at most
 * this many at once, and answers nothing beyond (a prober sends one or two at a time). */
const MAX_IN_FLIGHT_PER_STREAM = 16

/** The prober's end: sends requests, matches answers by id. */
export class ProbeChannel {
  readonly #stream: Stream
  readonly #pb: ReturnType<typeof pbStream>
  readonly #pending = new Map<number, (ack: ProbeAck | undefined) => void>()
  #nextId = 1
  #closed = false

  constructor (stream: Stream) {
    this.#stream = stream
    this.#pb = pbStream(stream, { maxDataLength: MAX_PROBE_ACK_BYTES })
    void this.#readAnswers()
  }

  get closed (): boolean { return this.#closed || this.#stream.status !== 'open' }

  /** The answer, or undefined when none came before `signal` fired or the stream broke. */
  async request (req: Omit<Probe, 'id'>, signal: AbortSignal): Promise<ProbeAck | undefined> {
    if (this.closed || signal.aborted) return undefined
    const id = this.#nextId
    this.#nextId = this.#nextId >= 0xffff_fffe ? 1 : this.#nextId + 1
    const { promise, resolve } = Promise.withResolvers<ProbeAck | undefined>()
    const onAbort = (): void => { this.#pending.delete(id); resolve(undefined) }
    signal.addEventListener('abort', onAbort, { once: true })
    this.#pending.set(id, ack => { signal.removeEventListener('abort', onAbort); resolve(ack) })
    try {
      await this.#pb.write({ ...req, id }, Probe, { signal })
    } catch {
      onAbort()
    }
    return await promise
  }

  close (err?: Error): void {
    if (this.#closed) return
    this.#closed = true
    this.#stream.abort(err ?? new Error('probe channel closed'))
    this.#failPending()
  }

  async #readAnswers (): Promise<void> {
    try {
      for (;;) {
        const ack = await this.#pb.read(ProbeAck, { limits: { unreachable: MAX_VIEW_ENTRIES } })
        const answer = this.#pending.get(ack.id)
        if (answer !== undefined) {
          this.#pending.delete(ack.id)
          answer(ack)
        }
      }
    } catch {
      // closed or broken: the next probe opens a new stream
      this.#closed = true
      this.#failPending()
    }
  }

  #failPending (): void {
    const pending = [...this.#pending.values()]
    this.#pending.clear()
    // an unanswered probe is a failed one
    for (const answer of pending) answer(undefined)
  }
}

/** The answering end: reads requests until the stream ends, answers each as it completes. */
export async function serveProbeStream (stream: Stream, from: string, handler: ProbeHandler): Promise<void> {
  const pb = pbStream(stream, { maxDataLength: MAX_LIVENESS_BYTES })
  let inFlight = 0
  try {
    for (;;) {
      const req = await pb.read(Probe)
      if (inFlight >= MAX_IN_FLIGHT_PER_STREAM) continue
      inFlight++
      void handler(req, from)
        .then(async ack => { await pb.write({ ...ack, id: req.id }, ProbeAck, { signal: AbortSignal.timeout(5000) }) })
        .catch(err => { stream.abort(err as Error) })
        .finally(() => { inFlight-- })
    }
  } catch (err) {
    // the prober went away (or sent garbage): end our side too
    stream.abort(err as Error)
  }
}
