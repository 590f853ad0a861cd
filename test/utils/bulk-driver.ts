/**
 * The bulk netlink path on a real kernel, run inside a host namespace by
 * test/netns/dataplane-bulk.test.ts:
 *   nsenter --net=/run/netns/<host> <node> bulk-driver.js '<json BulkConfig>'
 *
 * 1. Failures inside batches, on devices meshplane does not own (tbr/tvx43, tvx44, so the
 *    later pass leaves them alone): NetlinkKernel.apply with a window of 4 (chunks of 4
 *    messages) on ops where the kernel refuses some (ENODEV: a device deleted behind the
 *    adapter's back, so its cached ifindex is stale), one address does not parse, and
 *    deletes of absent entries count as done. Prints which ops failed and with what.
 * 2. A reconcile pass through the dataplane with `remotes` remote endpoints (one local
 *    endpoint, so the network is programmed), then a second pass (must be zero ops).
 * Then prints {"event":"ready",...} and keeps running with a 10-minute resync, so only
 * the netlink event path can repair what the test deletes, until SIGTERM.
 */
import { execFileSync } from 'node:child_process'
import type { pino } from 'pino'
import { NetlinkKernel, createDataplane, createRequestWindow } from '@meshplane/agent/dataplane/index.js'
import type { DataplaneHost, KernelOp } from '@meshplane/agent/dataplane/index.js'
import { macFromIp } from '@meshplane/agent/net/addr.js'
import { toEndpointBody, toNetworkBody } from './dataplane-bodies.js'
import { driverConfig, driverLogger, emit, exitAfter, runDriver } from './driver-io.js'

export interface BulkConfig {
  underlayIp: string
  /** First three octets of the underlay, for the remote VTEP addresses (.100 …). */
  underlayBase: string
  remotes: number
  vteps: number
  /** VNI of the reconciled network (the failure part uses 43 and 44). */
  vni: number
}

const RESYNC_MS = 600_000

async function failuresInBatches (config: BulkConfig, logger: pino.Logger): Promise<Record<string, unknown>> {
  const kernel = new NetlinkKernel({ logger })
  const window = createRequestWindow(4)
  try {
    const vxlan = (vni: number): KernelOp => ({ kind: 'link.ensureVxlan', name: `tvx${vni}`, params: { vni, local: config.underlayIp, port: 4789, learning: false, proxy: true }, mtu: 1450, master: `tbr${vni}` })
    const setup = await kernel.apply([
      { kind: 'link.ensureBridge', name: 'tbr43', mtu: 1450 }, vxlan(43),
      { kind: 'link.ensureBridge', name: 'tbr44', mtu: 1450 }, vxlan(44)
    ], window)
    // The adapter learns tvx44's ifindex here, then the device goes away behind its back.
    const learn = await kernel.apply([{ kind: 'neigh.set', dev: 'tvx44', ip: '10.244.0.1', mac: '02:00:0a:f4:00:01' }], window)
    execFileSync('ip', ['link', 'del', 'tvx44'])
    const ops: KernelOp[] = [
      { kind: 'neigh.set', dev: 'tvx43', ip: '10.243.0.1', mac: '02:00:0a:f3:00:01' },
      { kind: 'fdb.add', dev: 'tvx43', mac: '02:00:0a:f3:00:01', dst: `${config.underlayBase}.101` },
      { kind: 'neigh.set', dev: 'tvx43', ip: '10.243.0.2', mac: '02:00:0a:f3:00:02' },
      { kind: 'neigh.set', dev: 'tvx44', ip: '10.244.0.2', mac: '02:00:0a:f4:00:02' }, // last of chunk 1: ENODEV
      { kind: 'fdb.add', dev: 'tvx43', mac: '02:00:0a:f3:00:02', dst: `${config.underlayBase}.102` },
      { kind: 'fdb.add', dev: 'tvx44', mac: '02:00:0a:f4:00:02', dst: `${config.underlayBase}.102` }, // inside chunk 2: ENODEV
      { kind: 'neigh.set', dev: 'tvx43', ip: '10.243.0', mac: '02:00:0a:f3:00:03' }, // does not parse: EINVAL
      { kind: 'neigh.del', dev: 'tvx43', ip: '10.243.9.9' }, // absent: done
      { kind: 'fdb.add', dev: 'tvx43', mac: '00:00:00:00:00:00', dst: `${config.underlayBase}.101` },
      { kind: 'fdb.del', dev: 'tvx43', mac: '02:00:0a:f3:09:09', dst: `${config.underlayBase}.109` } // absent: done
    ]
    const result = await kernel.apply(ops, window)
    return {
      setupFailed: setup.failed.length + learn.failed.length,
      applied: result.applied,
      failed: result.failed.map(f => ({ index: ops.indexOf(f.op), code: f.code, error: f.error }))
    }
  } finally {
    kernel.close()
  }
}

async function main (): Promise<void> {
  const config = driverConfig<BulkConfig>('bulk-driver.js')
  const logger = driverLogger()
  const batches = await failuresInBatches(config, logger)

  const dataplane = createDataplane({ logger }, { resyncIntervalMs: RESYNC_MS })
  process.on('SIGTERM', () => { exitAfter(dataplane.stop()) })
  const network = toNetworkBody({ name: 'bulk', vni: config.vni, subnet: '10.245.0.0/16', gateway: '10.245.0.1', mtu: 0 })
  const hosts = new Map<string, DataplaneHost>([['self', { underlayIp: config.underlayIp, vxlanPort: 4789 }]])
  for (let v = 0; v < config.vteps; v++) hosts.set(`remote-${v}`, { underlayIp: `${config.underlayBase}.${100 + v}`, vxlanPort: 4789 })
  const endpoints = [toEndpointBody({ network: 'bulk', id: 'local', mac: macFromIp('10.245.0.2'), ipv4: '10.245.0.2', host: 'self' })]
  for (let i = 0; i < config.remotes; i++) {
    const ip = `10.245.${1 + Math.floor(i / 250)}.${2 + (i % 250)}`
    endpoints.push(toEndpointBody({ network: 'bulk', id: `r${i}`, mac: macFromIp(ip), ipv4: ip, host: `remote-${i % config.vteps}` }))
  }
  await dataplane.start()
  dataplane.update({ self: { peerId: 'self', underlayIp: config.underlayIp, underlayMtu: 1500, vxlanPort: 4789 }, networks: [network], endpoints, hosts })
  const first = await dataplane.reconcileNow()
  const second = await dataplane.reconcileNow()
  const summary = (r: typeof first): Record<string, unknown> => ({ ops: r.ops, byKind: r.byKind, applied: r.applied, failed: r.failed.length, durationMs: Math.round(r.durationMs) })
  emit({ event: 'ready', batches, first: summary(first), second: summary(second) })
}

runDriver('bulk driver', main)
