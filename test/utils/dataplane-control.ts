/**
 * One dataplane "on a host", driven one call at a time: started by a netns test as
 *   nsenter --net=/run/netns/<host> <node> dataplane-control.js
 * (with a pipe on stdin, see Lab.spawnIn) so its netlink sockets and /proc/sys/net see that
 * host's kernel. It reads one JSON command per line on stdin,
 *   {"id":1,"cmd":"endpointVethState","args":{"network":"blue","endpointId":"e1"}}
 * runs it on the dataplane and answers one line on stdout,
 *   {"id":1,"ok":true,"result":"peer-in-host"}  or  {"id":1,"ok":false,"error":"..."}.
 * Unlike dataplane-driver.ts, a test decides when passes run (reconcileNow) and asks
 * questions in between. The end of stdin (the test process went away) or SIGTERM stops
 * the dataplane and exits. Logs (pino) go to stderr.
 */
import { createInterface } from 'node:readline'
import { createDataplane } from '@meshplane/agent/dataplane/index.js'
import type {
  AttachResult,
  Dataplane,
  DataplaneHost,
  DataplaneSelf,
  DataplaneStatus,
  DetachResult,
  EndpointVethOptions,
  EndpointVethResult,
  EndpointVethState,
  ReconcileResult
} from '@meshplane/agent/dataplane/index.js'
import type { NetworkBody } from '@meshplane/agent/state/types.js'
import { toEndpointBody, toNetworkBody } from './dataplane-bodies.js'
import type { DriverAttach, DriverEndpoint, DriverNetwork } from './dataplane-bodies.js'
import { driverLogger, emit, exitAfter } from './driver-io.js'

export type { DriverEndpoint, DriverNetwork } from './dataplane-bodies.js'

export interface ControlInput {
  self: DataplaneSelf
  networks: DriverNetwork[]
  endpoints: DriverEndpoint[]
  hosts: Array<[string, DataplaneHost]>
}

/** A network is named; the driver passes the body it was last given in `update`. */
type Named<T> = Omit<T, 'network'> & { network: string }

export interface ControlCommands {
  /** nftPath: the firewall's nft binary (a missing path: a host without nftables). */
  start: { resyncIntervalMs: number, nftPath?: string }
  update: ControlInput
  reconcileNow: Record<string, never>
  attach: DriverAttach
  createEndpointVeth: Named<EndpointVethOptions>
  detach: { network: string, endpointId: string }
  endpointVethState: { network: string, endpointId: string }
  status: Record<string, never>
  stop: Record<string, never>
}

/** What each command answers (JSON: what survives a round trip, as it does for these). */
export interface ControlResults {
  start: null
  update: null
  reconcileNow: ReconcileResult
  attach: AttachResult
  createEndpointVeth: EndpointVethResult
  detach: DetachResult
  endpointVethState: EndpointVethState
  status: DataplaneStatus
  stop: null
}

export interface ControlRequest {
  id: number
  cmd: keyof ControlCommands
  args: unknown
}

export type ControlReply = { id: number, ok: true, result: unknown } | { id: number, ok: false, error: string }

const logger = driverLogger()
let dataplane: Dataplane | undefined
let networks: NetworkBody[] = []

function started (): Dataplane {
  if (dataplane === undefined) throw new Error('start first')
  return dataplane
}

function network (name: string): NetworkBody {
  const found = networks.find(n => n.name === name)
  if (found === undefined) throw new Error(`unknown network ${name} (not in the last update)`)
  return found
}

async function run (cmd: keyof ControlCommands, args: unknown): Promise<unknown> {
  switch (cmd) {
    case 'start': {
      const { resyncIntervalMs, nftPath } = args as ControlCommands['start']
      dataplane ??= createDataplane({ logger }, nftPath === undefined ? { resyncIntervalMs } : { resyncIntervalMs, nftPath })
      await dataplane.start()
      return null
    }
    case 'update': {
      const input = args as ControlCommands['update']
      networks = input.networks.map(toNetworkBody)
      started().update({ self: input.self, networks, endpoints: input.endpoints.map(toEndpointBody), hosts: new Map(input.hosts) })
      return null
    }
    case 'reconcileNow':
      return await started().reconcileNow()
    case 'attach': {
      const opts = args as ControlCommands['attach']
      return await started().attach({ ...opts, network: network(opts.network) })
    }
    case 'createEndpointVeth': {
      const opts = args as ControlCommands['createEndpointVeth']
      return await started().createEndpointVeth({ ...opts, network: network(opts.network) })
    }
    case 'detach': {
      const opts = args as ControlCommands['detach']
      return await started().detach({ network: { name: opts.network }, endpointId: opts.endpointId })
    }
    case 'endpointVethState': {
      const opts = args as ControlCommands['endpointVethState']
      return await started().endpointVethState({ network: { name: opts.network }, endpointId: opts.endpointId })
    }
    case 'status':
      return started().status()
    case 'stop':
      await dataplane?.stop()
      return null
  }
}

let exiting = false
function exit (): void {
  if (exiting) return
  exiting = true
  exitAfter(dataplane?.stop() ?? Promise.resolve())
}

process.on('SIGTERM', exit)
const lines = createInterface({ input: process.stdin })
lines.on('close', exit)
lines.on('line', line => {
  if (line.trim() === '') return
  let request: ControlRequest
  try {
    request = JSON.parse(line) as ControlRequest
  } catch {
    process.stderr.write(`unparsable command: ${line}\n`)
    return
  }
  // One at a time is the caller's business: the dataplane queues its own items anyway.
  run(request.cmd, request.args).then(
    result => { emit({ id: request.id, ok: true, result: result ?? null }) },
    (err: unknown) => { emit({ id: request.id, ok: false, error: err instanceof Error ? err.message : String(err) }) }
  )
})
