/**
 * The dataplane's bulk netlink path (many requests per sendmsg, dataplane/batch.ts)
 * against a real kernel, in one namespace host driven by test/utils/bulk-driver.ts:
 *
 * - a failed entry inside a batch is reported on its own, with the kernel's errno, whether
 *   it is the last message of a chunk (the one carrying the ACK) or in the middle, and the
 *   rest of the batch is applied; deletes of absent entries count as done;
 * - a pass with 3,000 remote endpoints programs every entry, and the next pass has nothing
 *   to do;
 * - after the bulk pass the event socket hears deletions again (it leaves the neighbour
 *   group while we write, see netlink.ts): an FDB entry and a neighbour deleted by hand are
 *   back long before the 10-minute resync.
 */
import test from 'ava'
import type { ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { macFromIp } from '@meshplane/agent/net/addr.js'
import { REPO } from '../utils/agents.js'
import { createLab } from '../utils/dataplane-netns.js'
import type { Lab } from '../utils/dataplane-netns.js'
import type { BulkConfig } from '../utils/bulk-driver.js'

const DRIVER = fileURLToPath(new URL('../utils/bulk-driver.js', import.meta.url))
const CONFIGURE = join(REPO, 'packages/agent/dist/src/dataplane/netns-configure.js')
const REMOTES = 3000
const VTEPS = 30
const BULK_VNI = 45
const VXLAN = `mpvx${BULK_VNI}`

interface Ready {
  event: 'ready'
  batches: { setupFailed: number, applied: number, failed: Array<{ index: number, code?: string, error: string }> }
  first: { ops: number, byKind: Record<string, number>, applied: number, failed: number, durationMs: number }
  second: { ops: number, failed: number }
}

let lab: Lab | undefined
let driver: ChildProcess | undefined
let ready: Ready | undefined
let stderr = ''

function host (): { lab: Lab, name: string, ip: string } {
  const h = lab?.hosts[0]
  if (lab === undefined || h === undefined) throw new Error('lab not created')
  return { lab, name: h.name, ip: h.ip }
}

test.before(async () => {
  lab = await createLab({ hosts: 1, containersPerHost: 0 })
  const { name, ip } = host()
  const config: BulkConfig = { underlayIp: ip, underlayBase: ip.split('.').slice(0, 3).join('.'), remotes: REMOTES, vteps: VTEPS, vni: BULK_VNI }
  const child = lab.spawnIn(name, [process.execPath, DRIVER, JSON.stringify(config)])
  driver = child
  child.stderr?.on('data', chunk => { stderr += String(chunk) })
  ready = await new Promise<Ready>((resolve, reject) => {
    let stdout = ''
    child.stdout?.on('data', chunk => {
      stdout += String(chunk)
      const line = stdout.split('\n').find(l => l.includes('"event":"ready"'))
      if (line !== undefined) resolve(JSON.parse(line) as Ready)
    })
    child.on('exit', code => { reject(new Error(`bulk driver exited with ${String(code)}: ${stderr.slice(-2000)}`)) })
    setTimeout(() => { reject(new Error(`bulk driver not ready in time: ${stderr.slice(-2000)}`)) }, 60_000).unref()
  })
})

test.after.always(async () => {
  if (driver?.pid !== undefined && driver.exitCode === null && driver.signalCode === null) {
    const exited = new Promise(resolve => driver?.on('exit', resolve))
    process.kill(driver.pid, 'SIGTERM')
    await Promise.race([exited, new Promise(resolve => setTimeout(resolve, 3000))])
  }
  await lab?.destroy()
})

test.serial('a failed entry in a batch is reported alone, with its errno; the rest is applied', t => {
  const batches = ready?.batches
  t.is(batches?.setupFailed, 0)
  // Ops 3 (last of the first chunk of 4) and 5 (inside the second) name the deleted device;
  // op 6 has an address that does not parse. Everything else, the two absent deletes
  // included, counts as applied.
  t.deepEqual(batches?.failed.map(f => [f.index, f.code]), [[3, 'ENODEV'], [5, 'ENODEV'], [6, 'EINVAL']], JSON.stringify(batches?.failed))
  t.is(batches?.applied, 7)
  t.regex(batches?.failed[0]?.error ?? '', /set neighbour 10\.244\.0\.2 .* on tvx44: ENODEV/)
})

test.serial('the entries of a batch are in the kernel, the failed ones are not (and the reconciler left these foreign devices alone)', async t => {
  const { lab: current, name } = host()
  const neigh = (await current.sh(['ip', 'neigh', 'show', 'dev', 'tvx43'], { ns: name })).stdout
  t.regex(neigh, /10\.243\.0\.1 lladdr 02:00:0a:f3:00:01 PERMANENT/)
  t.regex(neigh, /10\.243\.0\.2 lladdr 02:00:0a:f3:00:02 PERMANENT/)
  t.notRegex(neigh, /10\.243\.0\.3|02:00:0a:f3:00:03/)
  const fdb = (await current.sh(['bridge', 'fdb', 'show', 'dev', 'tvx43'], { ns: name })).stdout
  t.regex(fdb, /02:00:0a:f3:00:01 dst \S+\.101 self permanent/)
  t.regex(fdb, /02:00:0a:f3:00:02 dst \S+\.102 self permanent/)
  t.regex(fdb, /00:00:00:00:00:00 dst \S+\.101 self permanent/)
})

test.serial(`a pass with ${REMOTES} remote endpoints programs every entry; the next pass has nothing to do`, async t => {
  const { lab: current, name } = host()
  const first = ready?.first
  t.is(first?.failed, 0)
  t.is(first?.byKind['neigh.set'], REMOTES + 1, 'one per remote endpoint, and the local endpoint\'s on the bridge')
  t.is(first?.byKind['fdb.add'], REMOTES + VTEPS, 'one FDB entry per endpoint plus one all-zeros entry per remote host')
  t.is(ready?.second.ops, 0)
  t.log(`first pass: ${first?.ops ?? 0} ops in ${first?.durationMs ?? 0} ms`)
  const neigh = (await current.sh(['ip', 'neigh', 'show', 'dev', VXLAN, 'nud', 'permanent'], { ns: name })).stdout.trim().split('\n')
  t.is(neigh.length, REMOTES)
  const fdb = (await current.sh(['bridge', 'fdb', 'show', 'dev', VXLAN], { ns: name })).stdout.split('\n').filter(line => / dst .* self permanent/.test(line))
  t.is(fdb.length, REMOTES + VTEPS)
})

test.serial('after the bulk pass, deletions are heard again: entries deleted by hand come back by event', async t => {
  const { lab: current, name, ip } = host()
  const remoteIp = '10.245.1.2'
  const mac = macFromIp(remoteIp)
  const vtep = `${ip.split('.').slice(0, 3).join('.')}.100`
  await current.sh(['bridge', 'fdb', 'del', mac, 'dev', VXLAN, 'dst', vtep, 'self'], { ns: name })
  await current.sh(['ip', 'neigh', 'del', remoteIp, 'dev', VXLAN], { ns: name })
  const started = Date.now()
  let back = false
  while (!back && Date.now() - started < 5000) {
    await new Promise(resolve => setTimeout(resolve, 50))
    const fdb = (await current.sh(['bridge', 'fdb', 'show', 'dev', VXLAN], { ns: name })).stdout
    const neigh = (await current.sh(['ip', 'neigh', 'show', remoteIp, 'dev', VXLAN], { ns: name })).stdout
    back = fdb.includes(`${mac} dst ${vtep} self permanent`) && neigh.includes('PERMANENT')
  }
  t.true(back, `not back within 5 s (the resync is 10 minutes away): ${stderr.slice(-1500)}`)
  t.log(`back after ${Date.now() - started} ms`)
})

test.serial('the nsenter fallback configures a container side: name, MAC, MTU, address, default route', async t => {
  const { lab: current } = host()
  const ns = `${current.prefix}-fb`
  await current.sh(['ip', 'netns', 'add', ns])
  try {
    await current.sh(['ip', '-n', ns, 'link', 'add', 'mpcfallbk', 'type', 'veth', 'peer', 'name', 'hostside'])
    const config = { peerName: 'mpcfallbk', ifname: 'eth0', mac: '02:00:0a:f6:00:02', mtu: 1400, ipv4: '10.246.0.2', prefixLen: 16, gateway: '10.246.0.1' }
    const r = await current.sh(['nsenter', `--net=/run/netns/${ns}`, process.execPath, CONFIGURE, JSON.stringify(config)], { check: false })
    t.is(r.code, 0, r.stderr)
    const link = (await current.sh(['ip', '-n', ns, 'link', 'show', 'eth0'])).stdout
    t.regex(link, /mtu 1400/)
    t.regex(link, /link\/ether 02:00:0a:f6:00:02/)
    t.regex((await current.sh(['ip', '-n', ns, '-4', 'addr', 'show', 'eth0'])).stdout, /inet 10\.246\.0\.2\/16/)
    t.regex((await current.sh(['ip', '-n', ns, 'route', 'show', 'default'])).stdout, /default via 10\.246\.0\.1 dev eth0/)
  } finally {
    await current.sh(['ip', 'netns', 'del', ns], { check: false })
  }
})
