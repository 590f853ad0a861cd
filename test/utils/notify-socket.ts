/**
 * The manager's side of sd_notify for tests: a bound AF_UNIX datagram socket (a path or
 * an @abstract name) that collects every message with its arrival time. Node cannot
 * bind AF_UNIX datagram sockets, so this calls libc through koffi, like the agent's
 * sender (packages/agent/src/systemd/notify-socket.ts). Reads are non-blocking and
 * polled every few ms, so arrival times are accurate to the poll interval.
 */
import { rmSync } from 'node:fs'
import koffi from 'koffi'
import { parseNotifyAddress } from '@meshplane/agent/systemd/index.js'
import { systemdConstants as C } from '@meshplane/agent/systemd/index.js'

const libc = koffi.load('libc.so.6')
const socket = libc.func('int socket(int, int, int)')
const bind = libc.func('int bind(int, const void *, uint32_t)')
const recv = libc.func('long recv(int, void *, size_t, int)')
const close = libc.func('int close(int)')
const EAGAIN = 11
const POLL_MS = 5

export interface NotifyMessage {
  /** Arrival time (Date.now()). */
  at: number
  /** The datagram, e.g. "READY=1\nSTATUS=…". */
  text: string
  /** Its KEY=VALUE assignments. */
  fields: Map<string, string>
}

export class NotifyReceiver {
  readonly messages: NotifyMessage[] = []
  readonly #fd: number
  readonly #timer: NodeJS.Timeout
  readonly #buf = Buffer.alloc(4096)
  #listeners: Array<() => void> = []

  /** `address` goes into NOTIFY_SOCKET as it is: "/path/x.sock" or "@name". */
  constructor (readonly address: string) {
    const parsed = parseNotifyAddress(address)
    if (typeof parsed === 'string') throw new Error(parsed)
    this.#fd = socket(C.AF_UNIX, C.SOCK_DGRAM | C.SOCK_CLOEXEC, 0)
    if (this.#fd < 0) throw new Error(`socket: errno ${koffi.errno()}`)
    if (bind(this.#fd, parsed.sockaddr, parsed.length) < 0) {
      const errno = koffi.errno()
      close(this.#fd)
      throw new Error(`bind ${address}: errno ${errno}`)
    }
    this.#timer = setInterval(() => { this.#drain() }, POLL_MS)
  }

  #drain (): void {
    for (;;) {
      const n = Number(recv(this.#fd, this.#buf, this.#buf.length, C.MSG_DONTWAIT))
      if (n < 0) {
        const errno = koffi.errno()
        if (errno !== EAGAIN) throw new Error(`recv: errno ${errno}`)
        break
      }
      const text = this.#buf.subarray(0, n).toString('utf8')
      const fields = new Map<string, string>()
      for (const line of text.split('\n')) {
        const eq = line.indexOf('=')
        if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1))
      }
      this.messages.push({ at: Date.now(), text, fields })
      for (const l of this.#listeners) l()
    }
  }

  /** Messages carrying KEY (optionally =value). */
  with (key: string, value?: string): NotifyMessage[] {
    return this.messages.filter(m => m.fields.has(key) && (value === undefined || m.fields.get(key) === value))
  }

  /** Resolves with the first message carrying KEY=value (already received or next). */
  async waitFor (key: string, value: string, timeoutMs = 30_000): Promise<NotifyMessage> {
    return await new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = this.with(key, value)[0]
        if (m === undefined) return false
        clearTimeout(timer)
        this.#listeners = this.#listeners.filter(l => l !== listener)
        resolve(m)
        return true
      }
      const listener = (): void => { check() }
      const timer = setTimeout(() => {
        this.#listeners = this.#listeners.filter(l => l !== listener)
        reject(new Error(`no ${key}=${value} on ${this.address} within ${timeoutMs} ms; got ${JSON.stringify(this.messages.map(m => m.text))}`))
      }, timeoutMs)
      if (!check()) this.#listeners.push(listener)
    })
  }

  close (): void {
    clearInterval(this.#timer)
    this.#drain()
    close(this.#fd)
    if (this.address.startsWith('/')) rmSync(this.address, { force: true })
  }
}
