/**
 * Names the resolver does not hold go to the host's own resolvers, from the host's
 * resolv.conf (re-read when it changes), so a container needs this one server only. The
 * agent runs in the host's namespace, so a loopback resolver (systemd-resolved's
 * 127.0.0.53) works too. Each forwarded query gets its own socket (a random source port)
 * and a random id, and only a reply from the server asked, with that id and question, is
 * relayed; servers are tried in order, each for UPSTREAM_TIMEOUT_MS.
 */
import { createSocket } from 'node:dgram'
import { connect } from 'node:net'
import { readFileSync, statSync } from 'node:fs'
import { randomInt } from 'node:crypto'
import { isIP } from 'node:net'
import type { Question } from 'dns-packet'
import { DNS_PORT, MAX_FORWARDS_IN_FLIGHT, UPSTREAM_TIMEOUT_MS } from './constants.js'
import { matchesQuestion } from './answer.js'

/** `nameserver` lines of a resolv.conf, in order, without `exclude` (our own address: a
 * host whose resolv.conf names the resolver itself would loop). */
export function parseResolvConf (text: string, exclude: readonly string[] = []): string[] {
  const out: string[] = []
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line)
    if (m === null) continue
    const ip = m[1]!.replace(/%.*$/, '')
    if (isIP(ip) !== 0 && !exclude.includes(ip) && !out.includes(ip)) out.push(ip)
  }
  return out
}

const RESOLV_CONF_RECHECK_MS = 2_000

export class Upstream {
  readonly #path: string
  readonly #exclude: string[]
  #servers: string[] = []
  #mtimeMs = -1
  #checkedAt = 0
  #inFlight = 0

  constructor (resolvConfPath: string, exclude: string[]) {
    this.#path = resolvConfPath
    this.#exclude = exclude
  }

  /** The current servers (resolv.conf is checked at most every 2 s). */
  servers (): string[] {
    const now = Date.now()
    if (now - this.#checkedAt < RESOLV_CONF_RECHECK_MS) return this.#servers
    this.#checkedAt = now
    try {
      const mtimeMs = statSync(this.#path).mtimeMs
      if (mtimeMs !== this.#mtimeMs) {
        this.#servers = parseResolvConf(readFileSync(this.#path, 'utf8'), this.#exclude)
        this.#mtimeMs = mtimeMs
      }
    } catch {
      this.#servers = []
      this.#mtimeMs = -1
    }
    return this.#servers
  }

  get inFlight (): number { return this.#inFlight }

  /** The upstream's reply with the client's id, or undefined (no server, none answered,
   * or too many queries in flight: the caller answers SERVFAIL). */
  async forward (query: Buffer, question: Question, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    const servers = this.servers()
    if (servers.length === 0 || this.#inFlight >= MAX_FORWARDS_IN_FLIGHT) return undefined
    this.#inFlight++
    try {
      const clientId = query.readUInt16BE(0)
      for (const server of servers) {
        const id = randomInt(0, 65536)
        const sent = Buffer.from(query)
        sent.writeUInt16BE(id, 0)
        const reply = transport === 'udp' ? await udpExchange(server, sent, id, question) : await tcpExchange(server, sent, id, question)
        if (reply !== undefined) {
          reply.writeUInt16BE(clientId, 0)
          return reply
        }
      }
      return undefined
    } finally {
      this.#inFlight--
    }
  }
}

async function udpExchange (server: string, query: Buffer, id: number, question: Question): Promise<Buffer | undefined> {
  return await new Promise(resolve => {
    const socket = createSocket(isIP(server) === 6 ? 'udp6' : 'udp4')
    const done = (reply: Buffer | undefined): void => {
      clearTimeout(timer)
      socket.close()
      resolve(reply)
    }
    const timer = setTimeout(() => { done(undefined) }, UPSTREAM_TIMEOUT_MS)
    socket.on('error', () => { done(undefined) })
    socket.on('message', (msg, rinfo) => {
      if (rinfo.address === server && rinfo.port === DNS_PORT && matchesQuestion(msg, id, question)) done(msg)
    })
    socket.send(query, DNS_PORT, server, err => { if (err !== null) done(undefined) })
  })
}

async function tcpExchange (server: string, query: Buffer, id: number, question: Question): Promise<Buffer | undefined> {
  return await new Promise(resolve => {
    const socket = connect({ host: server, port: DNS_PORT })
    let buffered = Buffer.alloc(0)
    let finished = false
    const done = (reply: Buffer | undefined): void => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      socket.destroy()
      resolve(reply)
    }
    const timer = setTimeout(() => { done(undefined) }, UPSTREAM_TIMEOUT_MS)
    socket.on('error', () => { done(undefined) })
    socket.on('close', () => { done(undefined) })
    socket.on('connect', () => {
      const framed = Buffer.alloc(2 + query.length)
      framed.writeUInt16BE(query.length, 0)
      query.copy(framed, 2)
      socket.write(framed)
    })
    socket.on('data', chunk => {
      buffered = Buffer.concat([buffered, chunk])
      if (buffered.length < 2) return
      const length = buffered.readUInt16BE(0)
      if (buffered.length < 2 + length) return
      const reply = buffered.subarray(2, 2 + length)
      done(matchesQuestion(reply, id, question) ? Buffer.from(reply) : undefined)
    })
  })
}
