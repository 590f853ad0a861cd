/**
 * Runs one dataplane "on a host": started by the netns test as
 *   nsenter --net=/run/netns/<host> <node> dataplane-driver.js '<json DriverConfig>'
 * so its netlink sockets see that host's kernel. It starts the dataplane, hands it the
 * input, reconciles, attaches the container, then prints one JSON line
 * {"event":"ready",...} on stdout and keeps running (periodic resync, events) until
 * SIGTERM, when it stops the dataplane and prints {"event":"stopped"}.
 * Logs (pino) go to stderr.
 */
import { createDataplane } from '@meshplane/agent/dataplane/index.js'
import type { DataplaneInput } from '@meshplane/agent/dataplane/index.js'
import { toEndpointBody, toNetworkBody } from './dataplane-bodies.js'
import type { DriverAttach, DriverEndpoint, DriverNetwork } from './dataplane-bodies.js'
import { driverConfig, driverLogger, emit, exitAfter, runDriver } from './driver-io.js'

export type { DriverEndpoint, DriverNetwork } from './dataplane-bodies.js'

export interface DriverConfig {
  self: DataplaneInput['self']
  networks: DriverNetwork[]
  endpoints: DriverEndpoint[]
  hosts: Array<[string, { underlayIp: string, vxlanPort: number }]>
  attach?: DriverAttach
  resyncIntervalMs: number
}

async function main (): Promise<void> {
  const config = driverConfig<DriverConfig>('dataplane-driver.js')
  const logger = driverLogger({ agent: config.self.peerId })
  const dataplane = createDataplane({ logger }, { resyncIntervalMs: config.resyncIntervalMs })

  let stopping = false
  process.on('SIGTERM', () => {
    if (stopping) return
    stopping = true
    exitAfter(dataplane.stop().then(() => { emit({ event: 'stopped' }) }))
  })

  const networks = config.networks.map(toNetworkBody)
  await dataplane.start()
  dataplane.update({
    self: config.self,
    networks,
    endpoints: config.endpoints.map(toEndpointBody),
    hosts: new Map(config.hosts)
  })
  const first = await dataplane.reconcileNow()
  let attach
  if (config.attach !== undefined) {
    const network = networks.find(n => n.name === config.attach?.network)
    if (network === undefined) throw new Error(`unknown network ${config.attach.network}`)
    attach = await dataplane.attach({ ...config.attach, network })
  }
  emit({ event: 'ready', first, attach, status: dataplane.status() })
}

runDriver('driver', main)
