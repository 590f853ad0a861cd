/** `meshplane agent`: load config, run the agent, stop it cleanly on SIGTERM/SIGINT. */
import { pino } from 'pino'
import { Agent } from '../agent.js'
import { loadAgentConfig, type AgentConfigInput } from '../config.js'

export async function runAgent (flags: AgentConfigInput, configFile: string | undefined): Promise<void> {
  const config = loadAgentConfig(flags, configFile)
  const logger = pino({ level: config['log-level'], base: { pid: process.pid } })
  const agent = new Agent(config, logger)
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'stopping')
    agent.stop().then(() => process.exit(0), err => {
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
    await agent.stop().catch(() => {})
    throw err
  }
}
