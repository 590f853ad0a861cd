/**
 * systemd integration for `Type=notify` services, without libsystemd: datagrams to
 * $NOTIFY_SOCKET (a path or an @abstract name), as sd_notify(3) describes.
 *
 * @example
 * ```ts
 * const systemd = await createSystemdNotifier({ logger })
 * systemd.startWatchdog()                   // WATCHDOG=1 every WATCHDOG_USEC / 2, if set
 * await agent.start()                       // state loaded, kernel reconciled, sockets served
 * systemd.ready('3 peers alive, 2 networks')
 * systemd.updateStatusEvery(() => statusLine(agent.status()))
 * process.on('SIGTERM', async () => { systemd.stopping(); await agent.stop(); systemd.close() })
 * ```
 *
 * Without NOTIFY_SOCKET every method does nothing, so the agent calls them unconditionally.
 */
import type { Logger } from 'pino'
import { Notifier } from './notifier.js'

export interface SystemdNotifierComponents {
  logger: Logger
}

export interface SystemdNotifierInit {
  /** Where NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID are read (default process.env). */
  env?: NodeJS.ProcessEnv
  /** Remove those variables from `env` so child processes do not inherit them (default true). */
  unsetEnvironment?: boolean
}

export interface SystemdNotifier {
  /** True when NOTIFY_SOCKET was set and the socket could be opened. */
  readonly enabled: boolean
  /** Ping interval (half of WATCHDOG_USEC), when the watchdog is on for this process. */
  readonly watchdogIntervalMs: number | undefined
  /** Starts WATCHDOG=1 pings (one at once, then every watchdogIntervalMs). */
  startWatchdog: () => void
  /** READY=1, with a STATUS= line. Call once the agent serves. */
  ready: (status?: string) => void
  /** STATUS=text (sent only when it changed). */
  status: (text: string) => void
  /** Refreshes STATUS= from `compute` periodically until stopping(). */
  updateStatusEvery: (compute: () => string, intervalMs?: number) => void
  /** STOPPING=1: the first thing on SIGTERM. */
  stopping: (status?: string) => void
  /** Stops the timers and closes the socket. Idempotent. */
  close: () => void
}

export async function createSystemdNotifier (components: SystemdNotifierComponents, init: SystemdNotifierInit = {}): Promise<SystemdNotifier> {
  return await Notifier.create(components, init)
}

export { parseNotifyAddress } from './notify-socket.js'
export * as systemdConstants from './constants.js'
