/**
 * The dataplane against a real kernel: two namespace hosts on an underlay bridge, one
 * dataplane per host (a driver process under nsenter, since Node cannot setns), one
 * container namespace per host attached by the dataplane.
 *
 * Checks: containers reach each other across hosts and their anycast gateway; an FDB
 * entry and a neighbour deleted by hand come back within the resync interval; an agent
 * restart adopts everything (first pass has zero ops, the host sees no deletion).
 */
import test from 'ava'
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createLab } from '../utils/dataplane-netns.js'
import type { Lab } from '../utils/dataplane-netns.js'
import type { DriverConfig, DriverEndpoint, DriverNetwork } from '../utils/dataplane-driver.js'
import { attachArgs } from '../utils/dataplane-bodies.js'

const NODE = process.execPath
const DRIVER = fileURLToPath(new URL('../utils/dataplane-driver.js', import.meta.url))
const RESYNC_MS = 1000
const VNI = 42
const VXLAN_DEV = `mpvx${VNI}`

interface Ready {
  event: 'ready'
  first: { ops: number, byKind: Record<string, number>, removed: number, failed: unknown[] }
  attach: { hostIfname: string, created: boolean }
  status: { programmed: { neighbours: number, fdb: number } }
}

interface Driver {
  child: ChildProcess
  ready: Promise<Ready>
  log: () => string
  stop: () => Promise<void>
}

let lab: Lab | undefined
const drivers = new Map<number, Driver>()

const network: DriverNetwork = { name: 'blue', vni: VNI, subnet: '10.240.0.0/16', gateway: '10.240.0.1', mtu: 0 }
const endpoints: DriverEndpoint[] = [
  { network: 'blue', id: 'ep1', mac: '02:00:0a:f0:01:0a', ipv4: '10.240.1.10', host: 'peer-h1' },
  { network: 'blue', id: 'ep2', mac: '02:00:0a:f0:02:0a', ipv4: '10.240.2.10', host: 'peer-h2' }
]

function configFor (current: Lab, index: number): DriverConfig {
  const host = current.hosts[index]
  const endpoint = endpoints[index]
  if (host === undefined || endpoint === undefined) throw new Error('no such host')
  return {
    self: { peerId: endpoint.host, underlayIp: host.ip, underlayMtu: 1500, vxlanPort: 4789 },
    networks: [network],
    endpoints,
    hosts: current.hosts.map((h, i) => [endpoints[i]?.host ?? '', { underlayIp: h.ip, vxlanPort: 4789 }]),
    attach: attachArgs(endpoint, network, current.containers[index] ?? ''),
    resyncIntervalMs: RESYNC_MS
  }
}

function startDriver (current: Lab, index: number): Driver {
  const host = current.hosts[index]
  if (host === undefined) throw new Error('no such host')
  const child = current.spawnIn(host.name, [NODE, DRIVER, JSON.stringify(configFor(current, index))])
  let stderr = ''
  let stdout = ''
  child.stderr?.on('data', chunk => { stderr += String(chunk) })
  const ready = new Promise<Ready>((resolve, reject) => {
    child.stdout?.on('data', chunk => {
      stdout += String(chunk)
      for (const line of stdout.split('\n')) {
        if (line.includes('"event":"ready"')) resolve(JSON.parse(line) as Ready)
      }
    })
    child.on('exit', code => { reject(new Error(`driver ${host.name} exited with ${String(code)}: ${stderr.slice(-2000)}`)) })
    setTimeout(() => { reject(new Error(`driver ${host.name} not ready in time: ${stderr.slice(-2000)}`)) }, 20_000).unref()
  })
  const exited = new Promise<void>(resolve => { child.on('exit', () => { resolve() }) })
  const driver: Driver = {
    child,
    ready,
    log: () => stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM')
      await exited
    }
  }
  drivers.set(index, driver)
  return driver
}

async function waitUntil (what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now()
  while (Date.now() - started < timeoutMs) {
    if (await check()) return Date.now() - started
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`)
}

function getLab (): Lab {
  if (lab === undefined) throw new Error('lab not created')
  return lab
}

test.before(async () => {
  lab = await createLab({ hosts: 2, containersPerHost: 1 })
  const started = [startDriver(lab, 0), startDriver(lab, 1)]
  await Promise.all(started.map(async driver => await driver.ready))
})

test.after.always(async () => {
  for (const driver of drivers.values()) await Promise.race([driver.stop(), new Promise(resolve => setTimeout(resolve, 3000))])
  await lab?.destroy()
})

test.serial('first start programs the layout: bridge, vxlan, gateway, remote entries', async t => {
  const current = getLab()
  const ready = await drivers.get(0)?.ready
  t.truthy(ready)
  t.true(ready?.attach.created)
  t.is(ready?.first.failed.length, 0)
  t.deepEqual(ready?.status.programmed.neighbours, 2, 'the remote container on the VXLAN device, the local one on the bridge')
  t.deepEqual(ready?.status.programmed.fdb, 2, 'one unicast entry and one all-zeros entry')

  const h1 = current.hosts[0]?.name ?? ''
  const details = (await current.sh(['ip', '-d', 'link', 'show', VXLAN_DEV], { ns: h1 })).stdout
  t.regex(details, new RegExp(`vxlan id ${VNI} local ${current.hosts[0]?.ip ?? ''} dev eth0 .*dstport 4789 nolearning proxy`))
  t.regex(details, /mtu 1450 .*master mpbr42/)
  const fdb = (await current.sh(['bridge', 'fdb', 'show', 'dev', VXLAN_DEV], { ns: h1 })).stdout
  t.regex(fdb, new RegExp(`02:00:0a:f0:02:0a dst ${current.hosts[1]?.ip ?? ''} self permanent`))
  t.regex(fdb, new RegExp(`00:00:00:00:00:00 dst ${current.hosts[1]?.ip ?? ''} self permanent`))
  const neigh = (await current.sh(['ip', 'neigh', 'show', 'dev', VXLAN_DEV], { ns: h1 })).stdout
  t.regex(neigh, /10\.240\.2\.10 lladdr 02:00:0a:f0:02:0a PERMANENT/)
  const addr = (await current.sh(['ip', '-4', 'addr', 'show', 'dev', 'mpbr42'], { ns: h1 })).stdout
  t.regex(addr, /inet 10\.240\.0\.1\/16/)
  const inside = (await current.sh(['ip', '-d', 'addr', 'show', 'eth0'], { ns: current.containers[0] })).stdout
  t.regex(inside, /mtu 1450/)
  t.regex(inside, /link\/ether 02:00:0a:f0:01:0a/)
  t.regex(inside, /inet 10\.240\.1\.10\/16/)
  const route = (await current.sh(['ip', 'route', 'show', 'default'], { ns: current.containers[0] })).stdout
  t.regex(route, /default via 10\.240\.0\.1 dev eth0/)
})

test.serial('containers ping across hosts and their anycast gateway', async t => {
  const current = getLab()
  const [c1, c2] = current.containers
  t.is((await current.sh(['ping', '-c1', '-W2', '10.240.2.10'], { ns: c1, check: false })).code, 0, 'c1 → c2')
  t.is((await current.sh(['ping', '-c1', '-W2', '10.240.1.10'], { ns: c2, check: false })).code, 0, 'c2 → c1')
  t.is((await current.sh(['ping', '-c1', '-W2', '10.240.0.1'], { ns: c1, check: false })).code, 0, 'c1 → gateway')
  // MTU 1450: 1422 bytes of ICMP payload + 28 of headers is exactly 1450, don't-fragment.
  t.is((await current.sh(['ping', '-c1', '-W2', '-M', 'do', '-s', '1422', '10.240.2.10'], { ns: c1, check: false })).code, 0, 'full-size frame crosses')
})

test.serial('an FDB entry and a neighbour deleted by hand come back within the resync interval', async t => {
  const current = getLab()
  const h1 = current.hosts[0]?.name ?? ''
  const remote = current.hosts[1]?.ip ?? ''
  await current.sh(['bridge', 'fdb', 'del', '02:00:0a:f0:02:0a', 'dev', VXLAN_DEV, 'dst', remote, 'self'], { ns: h1 })
  await current.sh(['ip', 'neigh', 'del', '10.240.2.10', 'dev', VXLAN_DEV], { ns: h1 })
  const fdbBack = await waitUntil('fdb entry restored', async () => (await current.sh(['bridge', 'fdb', 'show', 'dev', VXLAN_DEV], { ns: h1 })).stdout.includes(`02:00:0a:f0:02:0a dst ${remote} self permanent`), RESYNC_MS + 2000)
  const neighBack = await waitUntil('neighbour restored', async () => /10\.240\.2\.10 lladdr 02:00:0a:f0:02:0a PERMANENT/.test((await current.sh(['ip', 'neigh', 'show', 'dev', VXLAN_DEV], { ns: h1 })).stdout), RESYNC_MS + 2000)
  t.log(`fdb back after ${fdbBack} ms, neighbour after ${neighBack} ms`)
  // The all-zeros list loses one destination: also repaired.
  await current.sh(['bridge', 'fdb', 'del', '00:00:00:00:00:00', 'dev', VXLAN_DEV, 'dst', remote, 'self'], { ns: h1 })
  await waitUntil('flood entry restored', async () => (await current.sh(['bridge', 'fdb', 'show', 'dev', VXLAN_DEV], { ns: h1 })).stdout.includes(`00:00:00:00:00:00 dst ${remote} self permanent`), RESYNC_MS + 2000)
  t.is((await current.sh(['ping', '-c1', '-W2', '10.240.2.10'], { ns: current.containers[0], check: false })).code, 0)
  if (process.env.DATAPLANE_TEST_LOGS !== undefined) t.log(drivers.get(0)?.log() ?? '')
})

test.serial('drift no event reports (MTU changed by hand) is repaired by the periodic resync', async t => {
  const current = getLab()
  const h1 = current.hosts[0]?.name ?? ''
  await current.sh(['ip', 'link', 'set', VXLAN_DEV, 'mtu', '1400'], { ns: h1 })
  const after = await waitUntil('vxlan MTU restored', async () => /mtu 1450/.test((await current.sh(['ip', 'link', 'show', VXLAN_DEV], { ns: h1 })).stdout), RESYNC_MS * 2 + 1000)
  t.log(`MTU back after ${after} ms`)
  t.pass()
})

test.serial('a restart adopts the kernel state: zero ops, no deletion', async t => {
  const current = getLab()
  const h1 = current.hosts[0]?.name ?? ''
  const monitor = current.spawnIn(h1, ['ip', 'monitor', 'link', 'address', 'neigh'])
  let events = ''
  monitor.stdout?.on('data', chunk => { events += String(chunk) })
  await new Promise(resolve => setTimeout(resolve, 300))

  await drivers.get(0)?.stop()
  const restarted = startDriver(current, 0)
  const ready = await restarted.ready
  // Let a few resyncs pass under the new agent, too.
  await new Promise(resolve => setTimeout(resolve, RESYNC_MS * 1.5))
  if (monitor.pid !== undefined) process.kill(monitor.pid, 'SIGTERM')

  t.is(ready.first.ops, 0, `first pass after restart: ${JSON.stringify(ready.first.byKind)}`)
  t.false(ready.attach.created, 'the veth pair was adopted')
  const deletions = events.split('\n').filter(line => line.startsWith('Deleted'))
  t.deepEqual(deletions, [], 'no entry, address or device was removed')
  t.is((await current.sh(['ping', '-c1', '-W2', '10.240.2.10'], { ns: current.containers[0], check: false })).code, 0)
  if (process.env.DATAPLANE_TEST_LOGS !== undefined) t.log(drivers.get(0)?.log() ?? '')
})
