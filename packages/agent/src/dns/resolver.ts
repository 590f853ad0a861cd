/**
 * The resolver's sockets: UDP and TCP on the service address, port 53. Each query passes
 * the per-source rate limit, then `decide` (answer.ts); forwarded ones go to Upstream. A
 * query the limit refuses is dropped unanswered (answering would make the flood an
 * amplifier); TCP connections are capped in number (overall and per source), each
 * message must arrive whole within TCP_IDLE_TIMEOUT_MS (a client dribbling bytes is cut
 * off), and a length prefix above MAX_QUERY_BYTES closes the connection.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { createServer, type Server, type Socket } from 'node:net'
import type { Logger } from 'pino'
import type { EndpointBody, NetworkBody } from '../state/types.js'
import { decide, errorReply, RCODE, type QueryResult } from './answer.js'
import { buildZone, zoneListing, type Zone } from './zone.js'
import { Upstream } from './upstream.js'
import { RateLimiter } from './rate-limit.js'
import {
  DNS_PORT, MAX_QUERY_BYTES, RATE_BURST, RATE_MAX_SOURCES, RATE_PER_SOURCE_QPS, TCP_IDLE_TIMEOUT_MS, TCP_MAX_CONNECTIONS, TCP_MAX_PER_SOURCE
} from './constants.js'

export type Transport = 'udp' | 'tcp'

export interface ResolverComponents {
  logger: Logger
  /** One query handled (metrics). */
  onQuery?: (transport: Transport, result: QueryResult) => void
}

export interface ResolverInit {
  /** The service address (see index.ts); must be one of the host's addresses when start() runs. */
  address: string
  port?: number
  /** The host's resolv.conf: its nameservers are the upstreams. */
  resolvConf: string
  ratePerSourceQps?: number
  rateBurst?: number
}

export interface ResolverStatus {
  address: string
  port: number
  listening: boolean
  upstreams: string[]
  queries: Record<string, number>
}

export class Resolver {
  readonly #log: Logger
  readonly #onQuery: ResolverComponents['onQuery']
  readonly #address: string
  readonly #port: number
  readonly #upstream: Upstream
  readonly #limiter: RateLimiter
  #udp: UdpSocket | undefined
  #tcp: Server | undefined
  readonly #connections = new Map<string, number>()
  #zone: Zone = { networks: [] }
  #input: { networks: readonly NetworkBody[], endpoints: ReadonlyArray<Pick<EndpointBody, 'network' | 'name' | 'aliases' | 'ipv4'>> } | undefined
  readonly #rotation = new Map<string, number>()
  readonly #counts: Record<string, number> = {}

  constructor (components: ResolverComponents, init: ResolverInit) {
    this.#log = components.logger.child({ component: 'dns' })
    this.#onQuery = components.onQuery
    this.#address = init.address
    this.#port = init.port ?? DNS_PORT
    this.#upstream = new Upstream(init.resolvConf, [init.address])
    this.#limiter = new RateLimiter(init.ratePerSourceQps ?? RATE_PER_SOURCE_QPS, init.rateBurst ?? RATE_BURST, RATE_MAX_SOURCES)
  }

  /** The names to answer: the networks and the endpoints of live hosts (what the
   * dataplane programs). Built into a zone at the next query. */
  update (networks: readonly NetworkBody[], endpoints: ReadonlyArray<Pick<EndpointBody, 'network' | 'name' | 'aliases' | 'ipv4'>>): void {
    this.#input = { networks, endpoints }
  }

  #currentZone (): Zone {
    if (this.#input !== undefined) {
      this.#zone = buildZone(this.#input.networks, this.#input.endpoints)
      this.#input = undefined
      if (this.#rotation.size > 100_000) this.#rotation.clear()
    }
    return this.#zone
  }

  names (): ReturnType<typeof zoneListing> {
    return zoneListing(this.#currentZone())
  }

  status (): ResolverStatus {
    return { address: this.#address, port: this.#port, listening: this.#udp !== undefined, upstreams: this.#upstream.servers(), queries: { ...this.#counts } }
  }

  async start (): Promise<void> {
    const udp = createSocket({ type: 'udp4' })
    udp.on('message', (msg, rinfo) => { this.#onDatagram(udp, msg, rinfo.address, rinfo.port) })
    udp.on('error', err => { this.#log.warn({ err }, 'DNS UDP socket error') })
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject)
      udp.bind({ address: this.#address, port: this.#port, exclusive: true }, () => { udp.off('error', reject); resolve() })
    })
    const tcp = createServer({ noDelay: true }, socket => { this.#onConnection(socket) })
    tcp.maxConnections = TCP_MAX_CONNECTIONS
    tcp.on('error', err => { this.#log.warn({ err }, 'DNS TCP server error') })
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject)
        tcp.listen({ host: this.#address, port: this.#port, exclusive: true }, () => { tcp.off('error', reject); resolve() })
      })
    } catch (err) {
      udp.close()
      throw err
    }
    this.#udp = udp
    this.#tcp = tcp
    this.#log.info({ address: this.#address, port: this.#port, upstreams: this.#upstream.servers() }, 'DNS resolver listening')
  }

  async stop (): Promise<void> {
    this.#udp?.close()
    this.#udp = undefined
    const tcp = this.#tcp
    this.#tcp = undefined
    if (tcp !== undefined) {
      const closed = new Promise<void>(resolve => { tcp.close(() => { resolve() }) })
      for (const s of this.#openSockets) s.destroy()
      await closed
    }
  }

  readonly #openSockets = new Set<Socket>()

  #count (transport: Transport, result: QueryResult): void {
    this.#counts[result] = (this.#counts[result] ?? 0) + 1
    this.#onQuery?.(transport, result)
  }

  /** Answers one query; `send` gets the reply bytes (never called for a dropped query). */
  #handle (query: Buffer, source: string, transport: Transport, send: (reply: Buffer) => void): void {
    if (!this.#limiter.take(source)) {
      this.#count(transport, 'rate_limited')
      return
    }
    const decision = decide(query, { zone: this.#currentZone(), source, transport, rotate: key => this.#rotate(key) })
    if (decision.action === 'drop') {
      this.#count(transport, 'dropped')
      return
    }
    if (decision.action === 'reply') {
      this.#count(transport, decision.result)
      send(decision.bytes)
      return
    }
    void this.#upstream.forward(query, decision.question, transport).then(reply => {
      if (reply !== undefined) {
        this.#count(transport, 'forwarded')
        send(reply)
        return
      }
      this.#count(transport, 'servfail')
      const fail = errorReply(query, RCODE.SERVFAIL, [decision.question])
      if (fail !== undefined) send(fail)
    }, (err: unknown) => { this.#log.warn({ err }, 'DNS forward failed') })
  }

  #rotate (key: string): number {
    const n = this.#rotation.get(key) ?? 0
    this.#rotation.set(key, (n + 1) % 1_000_000)
    return n
  }

  #onDatagram (udp: UdpSocket, msg: Buffer, address: string, port: number): void {
    if (msg.length > MAX_QUERY_BYTES) {
      this.#count('udp', 'dropped')
      return
    }
    this.#handle(msg, address, 'udp', reply => {
      if (this.#udp === udp) udp.send(reply, port, address)
    })
  }

  #onConnection (socket: Socket): void {
    const source = socket.remoteAddress ?? ''
    const open = this.#connections.get(source) ?? 0
    if (open >= TCP_MAX_PER_SOURCE) {
      socket.destroy()
      this.#count('tcp', 'dropped')
      return
    }
    this.#connections.set(source, open + 1)
    this.#openSockets.add(socket)
    let buffered = Buffer.alloc(0)
    // Reset only when a whole message has arrived: a client sending a byte at a time
    // cannot hold the connection open.
    let deadline = setTimeout(() => { socket.destroy() }, TCP_IDLE_TIMEOUT_MS)
    socket.on('close', () => {
      clearTimeout(deadline)
      this.#openSockets.delete(socket)
      const n = (this.#connections.get(source) ?? 1) - 1
      if (n <= 0) this.#connections.delete(source)
      else this.#connections.set(source, n)
    })
    socket.on('error', () => { socket.destroy() })
    socket.on('data', chunk => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0)
        if (length > MAX_QUERY_BYTES || length < 12) {
          // Not a DNS message: nothing to answer, and nothing after it can be framed.
          this.#count('tcp', 'dropped')
          socket.destroy()
          return
        }
        if (buffered.length < 2 + length) break
        const message = Buffer.from(buffered.subarray(2, 2 + length))
        buffered = buffered.subarray(2 + length)
        clearTimeout(deadline)
        deadline = setTimeout(() => { socket.destroy() }, TCP_IDLE_TIMEOUT_MS)
        this.#handle(message, source, 'tcp', reply => {
          if (socket.destroyed) return
          const framed = Buffer.alloc(2 + reply.length)
          framed.writeUInt16BE(reply.length, 0)
          reply.copy(framed, 2)
          socket.write(framed)
        })
      }
    })
  }
}
