/**
 * The agent's side of Type=notify: READY=1 once it serves, STATUS= lines, WATCHDOG=1 at
 * half of WATCHDOG_USEC, STOPPING=1 when it begins to stop. Outside systemd (no
 * NOTIFY_SOCKET) every call is a no-op and nothing is loaded.
 *
 * A notify failure never stops the agent: the manager may be gone or restarting, and
 * the network must keep working. It is logged once per kind of failure.
 */
import type { Logger } from 'pino'
import { openNotifySocket, parseNotifyAddress, type NotifySocket } from './notify-socket.js'
import { DEFAULT_STATUS_INTERVAL_MS, WATCHDOG_FRACTION } from './constants.js'
import type { SystemdNotifier, SystemdNotifierComponents, SystemdNotifierInit } from './index.js'

type RunState =
  | { status: 'off' }
  | { status: 'on', socket: NotifySocket, watchdog: NodeJS.Timeout | undefined, statusTimer: NodeJS.Timeout | undefined }

export class Notifier implements SystemdNotifier {
  readonly #log: Logger
  readonly #watchdogIntervalMs: number | undefined
  #state: RunState
  #lastStatus = ''
  readonly #reported = new Set<number>()

  private constructor (log: Logger, state: RunState, watchdogIntervalMs: number | undefined) {
    this.#log = log
    this.#state = state
    this.#watchdogIntervalMs = watchdogIntervalMs
  }

  static async create (components: SystemdNotifierComponents, init: SystemdNotifierInit = {}): Promise<Notifier> {
    const log = components.logger.child({ component: 'systemd' })
    const env = init.env ?? process.env
    const text = env.NOTIFY_SOCKET
    const watchdogIntervalMs = watchdogInterval(env, log)
    // Like sd_notify(unset_environment=1): children (nsenter, netns-configure) must not
    // inherit the socket and speak for the agent.
    if (init.unsetEnvironment !== false) {
      delete env.NOTIFY_SOCKET
      delete env.WATCHDOG_USEC
      delete env.WATCHDOG_PID
    }
    if (text === undefined || text === '') return new Notifier(log, { status: 'off' }, undefined)
    const address = parseNotifyAddress(text)
    if (typeof address === 'string') {
      log.warn({ reason: address }, 'not notifying systemd')
      return new Notifier(log, { status: 'off' }, undefined)
    }
    try {
      const socket = await openNotifySocket(address)
      log.debug({ socket: text, watchdogIntervalMs }, 'notifying systemd')
      return new Notifier(log, { status: 'on', socket, watchdog: undefined, statusTimer: undefined }, watchdogIntervalMs)
    } catch (err) {
      log.warn({ err, socket: text }, 'cannot open the systemd notify socket; not notifying')
      return new Notifier(log, { status: 'off' }, undefined)
    }
  }

  get enabled (): boolean { return this.#state.status === 'on' }
  get watchdogIntervalMs (): number | undefined { return this.#watchdogIntervalMs }

  startWatchdog (): void {
    const s = this.#state
    if (s.status !== 'on' || this.#watchdogIntervalMs === undefined || s.watchdog !== undefined) return
    this.#send('WATCHDOG=1')
    // unref: the pings must never be what keeps a stopping agent alive.
    s.watchdog = setInterval(() => { this.#send('WATCHDOG=1') }, this.#watchdogIntervalMs)
    s.watchdog.unref()
  }

  ready (status?: string): void {
    if (status !== undefined) this.#lastStatus = status
    this.#send(status === undefined ? 'READY=1' : `READY=1\nSTATUS=${oneLine(status)}`)
  }

  status (text: string): void {
    if (text === this.#lastStatus) return
    this.#lastStatus = text
    this.#send(`STATUS=${oneLine(text)}`)
  }

  updateStatusEvery (compute: () => string, intervalMs = DEFAULT_STATUS_INTERVAL_MS): void {
    const s = this.#state
    if (s.status !== 'on') return
    if (s.statusTimer !== undefined) clearInterval(s.statusTimer)
    s.statusTimer = setInterval(() => {
      try {
        this.status(compute())
      } catch (err) {
        this.#log.debug({ err }, 'status line not computed')
      }
    }, intervalMs)
    s.statusTimer.unref()
  }

  stopping (status?: string): void {
    const s = this.#state
    if (s.status === 'on' && s.statusTimer !== undefined) {
      clearInterval(s.statusTimer)
      s.statusTimer = undefined
    }
    this.#send(status === undefined ? 'STOPPING=1' : `STOPPING=1\nSTATUS=${oneLine(status)}`)
  }

  close (): void {
    const s = this.#state
    if (s.status !== 'on') return
    if (s.watchdog !== undefined) clearInterval(s.watchdog)
    if (s.statusTimer !== undefined) clearInterval(s.statusTimer)
    s.socket.close()
    this.#state = { status: 'off' }
  }

  #send (message: string): void {
    const s = this.#state
    if (s.status !== 'on') return
    try {
      s.socket.send(message)
    } catch (err) {
      const errno = (err as { errno?: number }).errno ?? -1
      if (!this.#reported.has(errno)) {
        this.#reported.add(errno)
        this.#log.warn({ err, message: message.split('\n')[0] }, 'systemd notify failed')
      }
    }
  }
}

/** STATUS= is one line: a newline would start another assignment. */
function oneLine (text: string): string {
  return text.replace(/[\r\n]+/g, ' ')
}

/** WATCHDOG_USEC (and WATCHDOG_PID, when set, must be us) → ping interval in ms. */
function watchdogInterval (env: NodeJS.ProcessEnv, log: Logger): number | undefined {
  const usecText = env.WATCHDOG_USEC
  if (usecText === undefined || usecText === '') return undefined
  const pidText = env.WATCHDOG_PID
  if (pidText !== undefined && pidText !== '' && Number(pidText) !== process.pid) return undefined
  const usec = Number(usecText)
  if (!Number.isSafeInteger(usec) || usec <= 0) {
    log.warn({ WATCHDOG_USEC: usecText }, 'ignoring a WATCHDOG_USEC that is not a positive whole number')
    return undefined
  }
  return Math.max(1, Math.floor(usec / 1000 * WATCHDOG_FRACTION))
}
