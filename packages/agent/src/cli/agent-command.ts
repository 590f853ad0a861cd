/**
 * `meshplane agent`: load config, run the agent, stop it cleanly on SIGTERM/SIGINT.
 * Under systemd (Type=notify) it tells the manager the truth: READY=1 only once
 * agent.start() has resolved (state loaded, kernel reconciled, sockets served), STATUS=
 * lines while it runs, watchdog pings, and STOPPING=1 before anything else on a stop.
 */
import { Agent } from '../agent.js'
import { loadAgentConfig, type AgentConfigInput } from '../config.js'
import { createSystemdNotifier } from '../systemd/index.js'
import { createAgentLogger } from '../log/index.js'

export async function runAgent (flags: AgentConfigInput, configFile: string | undefined): Promise<void> {
  const config = loadAgentConfig(flags, configFile)
  const { logger, recentErrors } = createAgentLogger(config['log-level'])
  const systemd = await createSystemdNotifier({ logger })
  // Pings start before the (possibly long) first reconcile: a slow start is not a hang.
  systemd.startWatchdog()
  const agent = new Agent(config, logger, { recentErrors })
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    systemd.stopping(`stopping (${signal})`)
    logger.info({ signal }, 'stopping')
    agent.stop().then(() => {
      systemd.close()
      process.exit(0)
    }, err => {
      logger.error({ err }, 'unclean stop')
      process.exit(1)
    })
  }
  process.on('SIGTERM', () => { stop('SIGTERM') })
  process.on('SIGINT', () => { stop('SIGINT') })
  try {
    await agent.start()
  } catch (err) {
    logger.fatal({ err }, 'agent failed to start')
    systemd.status(`failed to start: ${(err as Error).message}`)
    await agent.stop().catch(() => {})
    systemd.close()
    throw err
  }
  if (stopping) return
  systemd.ready(statusLine(agent.status()))
  systemd.updateStatusEvery(() => statusLine(agent.status()))
}

/** One line for `systemctl status`: peers and endpoints, and whether the kernel is healthy. */
export function statusLine (s: Record<string, any>): string {
  const peers = `${s.peers.alive} peers alive, ${s.peers.unreachable} unreachable, ${s.peers.left} left`
  const endpoints = `${s.endpoints.local} local endpoints (${s.endpoints.total} in the cluster)`
  const last = s.dataplane?.lastReconcile
  const kernel = last === undefined ? 'kernel not reconciled' : last.failed > 0 ? `kernel: ${last.failed} ops failing` : 'kernel in sync'
  return `${peers}; ${s.networks} networks; ${endpoints}; ${kernel}`
}
