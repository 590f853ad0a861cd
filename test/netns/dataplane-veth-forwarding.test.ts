/**
 * The dataplane against a real kernel, driven one call at a time (test/utils/dataplane-control.ts
 * under nsenter, one per host namespace), for two things the Docker plugin and network
 * isolation rely on:
 *
 * - endpointVethState: 'peer-in-host' while the container side of a createEndpointVeth pair
 *   is still in the host namespace, 'peer-moved' once it is in a container namespace (moved
 *   and renamed there, as libnetwork does, or born there by attach), 'absent' when the pair
 *   is gone (never made, detached, or its container namespace deleted).
 * - forwarding off, on a host without nftables (no firewall, so no egress): every network bridge gets net.ipv4.conf.<bridge>.forwarding = 0 (the
 *   link.forwardingOff op: a new bridge right after it is made, any bridge observed with it
 *   on), with IPv4 forwarding on in the host namespace, as dockerd leaves it. Two networks
 *   on one host then do not route into each other; a hand change or an ip_forward toggle
 *   is heard (netconf events) and undone within a second; a write the kernel refuses (a
 *   read-only /proc/sys) is a failed op, retried until it works.
 *
 * Hosts: h1 with a 10-minute resync (only the passes a test asks for run), h2 with a 1 s
 * resync, h3 (started by its test) with a 10-minute resync in a mount namespace where
 * /proc/sys is read-only, so only the retry path can repair it.
 */
import test from 'ava'
import { fileURLToPath } from 'node:url'
import { createLab } from '../utils/dataplane-netns.js'
import type { Lab, LabHost } from '../utils/dataplane-netns.js'
import type { ControlCommands, ControlInput, ControlReply, ControlResults, DriverEndpoint, DriverNetwork } from '../utils/dataplane-control.js'
import { attachArgs } from '../utils/dataplane-bodies.js'
import { sleep, waitFor } from '../utils/wait.js'
import { bridgeName } from '@meshplane/agent/dataplane/names.js'

const CONTROL = fileURLToPath(new URL('../utils/dataplane-control.js', import.meta.url))
/** Far beyond the test: a repair seen on such a host came from a pass a test ran, or a retry. */
const LONG_RESYNC_MS = 600_000
const RESYNC_MS = 1000
const CALL_TIMEOUT_MS = 20_000
/** These hosts have no nftables: without the firewall that isolates networks, every bridge
 * keeps forwarding off (egress off), which is what these tests check. With the firewall,
 * egress networks' bridges forward: test/netns/egress.test.ts. */
const NO_NFT = '/nonexistent/nft'

const BLUE: DriverNetwork = { name: 'blue', vni: 42, subnet: '10.240.0.0/16', gateway: '10.240.0.1', mtu: 0 }
const GREEN: DriverNetwork = { name: 'green', vni: 43, subnet: '10.241.0.0/16', gateway: '10.241.0.1', mtu: 0 }
const BLUE_BRIDGE = bridgeName(BLUE.vni)
const GREEN_BRIDGE = bridgeName(GREEN.vni)
const SELF = 'self'
const B1: DriverEndpoint = { network: 'blue', id: 'b1', mac: '02:00:0a:f0:01:0a', ipv4: '10.240.1.10', host: SELF }
const G1: DriverEndpoint = { network: 'green', id: 'g1', mac: '02:00:0a:f1:01:0a', ipv4: '10.241.1.10', host: SELF }

interface Control {
  pid: number
  call: <C extends keyof ControlCommands>(cmd: C, args: ControlCommands[C]) => Promise<ControlResults[C]>
  log: () => string
  close: () => Promise<void>
}

let lab: Lab | undefined
const controls: Control[] = []
let h1: Control | undefined
let h2: Control | undefined

function getLab (): Lab {
  if (lab === undefined) throw new Error('lab not created')
  return lab
}

function hostAt (index: number): LabHost {
  const host = getLab().hosts[index]
  if (host === undefined) throw new Error(`no host ${index}`)
  return host
}

function containerAt (index: number): string {
  const container = getLab().containers[index]
  if (container === undefined) throw new Error(`no container ${index}`)
  return container
}

function control (c: Control | undefined): Control {
  if (c === undefined) throw new Error('driver not started')
  return c
}

/** Starts a control driver in the host's namespace; `wrap` goes between nsenter and node. */
function startControl (host: LabHost, wrap: string[] = []): Control {
  const child = getLab().spawnIn(host.name, [...wrap, process.execPath, CONTROL], { stdin: true })
  let stderr = ''
  let buffered = ''
  let nextId = 1
  const pending = new Map<number, { resolve: (value: unknown) => void, reject: (err: Error) => void }>()
  let gone = false
  const exited = new Promise<void>(resolve => { child.on('exit', () => { gone = true; resolve() }) })
  // A write to a driver that died is answered by the exit handler below, not by an EPIPE throw.
  child.stdin?.on('error', () => {})
  child.stderr?.on('data', chunk => { stderr += String(chunk) })
  child.stdout?.on('data', chunk => {
    buffered += String(chunk)
    const lines = buffered.split('\n')
    buffered = lines.pop() ?? ''
    for (const line of lines) {
      if (line.trim() === '') continue
      const reply = JSON.parse(line) as ControlReply
      const waiter = pending.get(reply.id)
      pending.delete(reply.id)
      if (reply.ok) waiter?.resolve(reply.result)
      else waiter?.reject(new Error(`${host.name}: ${reply.error}`))
    }
  })
  child.on('exit', code => {
    for (const waiter of pending.values()) waiter.reject(new Error(`driver on ${host.name} exited with ${String(code)}: ${stderr.slice(-2000)}`))
    pending.clear()
  })
  if (child.pid === undefined) throw new Error(`driver on ${host.name} did not start`)
  async function call<C extends keyof ControlCommands> (cmd: C, args: ControlCommands[C]): Promise<ControlResults[C]> {
    return await new Promise<ControlResults[C]>((resolve, reject) => {
      if (gone) {
        reject(new Error(`driver on ${host.name} is gone: ${stderr.slice(-2000)}`))
        return
      }
      const id = nextId++
      const timer = setTimeout(() => {
        pending.delete(id)
        reject(new Error(`${host.name}: ${cmd} got no answer in ${CALL_TIMEOUT_MS} ms: ${stderr.slice(-2000)}`))
      }, CALL_TIMEOUT_MS)
      pending.set(id, {
        resolve: value => { clearTimeout(timer); resolve(value as ControlResults[C]) },
        reject: err => { clearTimeout(timer); reject(err) }
      })
      child.stdin?.write(`${JSON.stringify({ id, cmd, args })}\n`)
    })
  }
  const c: Control = {
    pid: child.pid,
    call,
    log: () => stderr,
    close: async () => {
      // End of stdin stops the dataplane; lab.destroy() kills it by pid if it hangs.
      child.stdin?.end()
      await Promise.race([exited, new Promise(resolve => setTimeout(resolve, 3000))])
    }
  }
  controls.push(c)
  return c
}

function inputFor (host: LabHost, networks: DriverNetwork[], endpoints: DriverEndpoint[]): ControlInput {
  return {
    self: { peerId: SELF, underlayIp: host.ip, underlayMtu: 1500, vxlanPort: 4789 },
    networks,
    endpoints,
    hosts: [[SELF, { underlayIp: host.ip, vxlanPort: 4789 }]]
  }
}

async function sysctl (ns: string, key: string): Promise<string> {
  return (await getLab().sh(['sysctl', '-n', key], { ns })).stdout.trim()
}

async function setSysctl (ns: string, key: string, value: string): Promise<void> {
  await getLab().sh(['sysctl', '-q', '-w', `${key}=${value}`], { ns })
}

const forwarding = async (ns: string, dev: string): Promise<string> => await sysctl(ns, `net.ipv4.conf.${dev}.forwarding`)

async function ping (ns: string, ip: string): Promise<boolean> {
  return (await getLab().sh(['ping', '-c1', '-W1', ip], { ns, check: false })).code === 0
}

async function linkIn (ns: string, name: string): Promise<boolean> {
  return (await getLab().sh(['ip', 'link', 'show', 'dev', name], { ns, check: false })).code === 0
}

/** waitFor, returning how long it took. */
async function waitUntil (what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now()
  await waitFor(check, { timeoutMs, intervalMs: 100, what })
  return Date.now() - started
}

/** The pass count once no pass has run for `quietMs` (rather than after a guessed sleep). */
async function settledReconciles (c: Control, quietMs = 300): Promise<number> {
  let last = -1
  return await waitFor(async () => {
    const now = (await c.call('status', {})).reconciles as number
    if (now === last) return now
    last = now
    return undefined
  }, { timeoutMs: 10_000, intervalMs: quietMs, what: 'the reconciler to go quiet' })
}

test.before(async () => {
  lab = await createLab({ hosts: 3, containersPerHost: 3 })
  // IPv4 forwarding on, as on every Docker host: a new device (a network bridge) is born
  // forwarding, so a bridge at 0 is the dataplane's doing.
  for (const host of lab.hosts) await setSysctl(host.name, 'net.ipv4.ip_forward', '1')

  const host1 = hostAt(0)
  h1 = startControl(host1)
  await h1.call('start', { resyncIntervalMs: LONG_RESYNC_MS, nftPath: NO_NFT })
  await h1.call('update', inputFor(host1, [BLUE, GREEN], [B1, G1]))
  await h1.call('reconcileNow', {})
  await h1.call('attach', attachArgs(B1, BLUE, containerAt(0)))
  await h1.call('attach', attachArgs(G1, GREEN, containerAt(1)))

  const host2 = hostAt(1)
  h2 = startControl(host2)
  await h2.call('start', { resyncIntervalMs: RESYNC_MS, nftPath: NO_NFT })
  await h2.call('update', inputFor(host2, [BLUE], [B1]))
  await h2.call('reconcileNow', {})
})

test.after.always(async () => {
  for (const c of controls) await c.close()
  await lab?.destroy()
})

// ---- endpointVethState ---------------------------------------------------------------

const DOCKER_EP = { network: 'blue', endpointId: 'dk1' }

test.serial('endpointVethState: peer-in-host while the container side is still in the host namespace', async t => {
  const c = control(h1)
  const ns = hostAt(0).name
  // What the Docker plugin's Join makes: the peer stays here for libnetwork to move.
  const made = await c.call('createEndpointVeth', { ...DOCKER_EP, ipv4: '10.240.3.10', mac: '02:00:0a:f0:03:0a', mtu: 1450 })
  t.true(made.created)
  t.true(await linkIn(ns, made.hostIfname), 'host side in the host namespace')
  t.true(await linkIn(ns, made.peerIfname), 'container side in the host namespace too')
  t.is(await c.call('endpointVethState', DOCKER_EP), 'peer-in-host')
})

test.serial('endpointVethState: peer-moved once the container side is in a container namespace', async t => {
  const c = control(h1)
  const ns = hostAt(0).name
  const container = containerAt(2)
  const { peerIfname } = await c.call('createEndpointVeth', { ...DOCKER_EP, ipv4: '10.240.3.10', mac: '02:00:0a:f0:03:0a', mtu: 1450 })
  // As libnetwork does on Join: into the sandbox, then renamed there.
  await getLab().sh(['ip', 'link', 'set', 'dev', peerIfname, 'netns', container], { ns })
  t.is(await c.call('endpointVethState', DOCKER_EP), 'peer-moved', 'moved, not yet renamed')
  await getLab().sh(['ip', 'link', 'set', 'dev', peerIfname, 'name', 'eth0'], { ns: container })
  t.is(await c.call('endpointVethState', DOCKER_EP), 'peer-moved', 'moved and renamed')
  // attach() creates the peer inside the container namespace to begin with.
  t.is(await c.call('endpointVethState', { network: 'blue', endpointId: B1.id }), 'peer-moved')
})

test.serial('endpointVethState: absent when the pair never existed, once its container namespace is gone, and after detach', async t => {
  const c = control(h1)
  const ns = hostAt(0).name
  t.is(await c.call('endpointVethState', { network: 'blue', endpointId: 'never-made' }), 'absent')
  // Names derive from network and endpoint: b1's pair is not green's.
  t.is(await c.call('endpointVethState', { network: 'green', endpointId: B1.id }), 'absent')

  // The container dies with dk1's peer in it: the kernel deletes the veth, then its host side.
  const { hostIfname } = await c.call('createEndpointVeth', { ...DOCKER_EP, ipv4: '10.240.3.10', mac: '02:00:0a:f0:03:0a', mtu: 1450 })
  t.is(await c.call('endpointVethState', DOCKER_EP), 'peer-moved', 'precondition: dk1 is in the container from the previous test')
  await getLab().sh(['ip', 'netns', 'del', containerAt(2)])
  await waitUntil('dk1 absent once its namespace is gone', async () => await c.call('endpointVethState', DOCKER_EP) === 'absent', 10_000)
  t.false(await linkIn(ns, hostIfname))
  await c.call('detach', DOCKER_EP) // already gone counts as done

  // Detach while the peer is still on the host: both ends go.
  const dk2 = { network: 'blue', endpointId: 'dk2' }
  const made = await c.call('createEndpointVeth', { ...dk2, ipv4: '10.240.3.11', mac: '02:00:0a:f0:03:0b', mtu: 1450 })
  t.is(await c.call('endpointVethState', dk2), 'peer-in-host')
  await c.call('detach', dk2)
  t.is(await c.call('endpointVethState', dk2), 'absent')
  t.false(await linkIn(ns, made.hostIfname))
  t.false(await linkIn(ns, made.peerIfname))
})

// ---- forwarding off ------------------------------------------------------------------

test.serial('after a pass, forwarding is off on every network bridge, and only there', async t => {
  const ns = hostAt(0).name
  t.is(await sysctl(ns, 'net.ipv4.conf.default.forwarding'), '1', 'precondition: new devices are born forwarding')
  t.is(await forwarding(ns, BLUE_BRIDGE), '0')
  t.is(await forwarding(ns, GREEN_BRIDGE), '0')
  // The host keeps routing elsewhere: the dataplane turns off no global switch.
  t.is(await sysctl(ns, 'net.ipv4.ip_forward'), '1')
  t.is(await forwarding(ns, 'eth0'), '1')
  t.is(await forwarding(hostAt(1).name, BLUE_BRIDGE), '0', 'h2 too')
})

test.serial('two networks on one host are isolated; with the agent away and forwarding turned on by hand they are not, and its start isolates them again', async t => {
  const c = control(h1)
  const ns = hostAt(0).name
  const blue = containerAt(0)
  t.true(await ping(blue, BLUE.gateway), 'precondition: blue reaches its gateway')
  t.false(await ping(blue, G1.ipv4), 'blue does not reach green through the gateways')

  // That is the per-bridge setting's doing: with it on, the host routes between the bridges.
  // (Stopped first: a running dataplane hears the change and turns it off at once.)
  await c.call('stop', {})
  await setSysctl(ns, `net.ipv4.conf.${BLUE_BRIDGE}.forwarding`, '1')
  await setSysctl(ns, `net.ipv4.conf.${GREEN_BRIDGE}.forwarding`, '1')
  t.true(await ping(blue, G1.ipv4), 'with forwarding on, blue reaches green')

  await c.call('start', { resyncIntervalMs: LONG_RESYNC_MS, nftPath: NO_NFT })
  await waitUntil('forwarding off after the start pass', async () => await forwarding(ns, BLUE_BRIDGE) === '0' && await forwarding(ns, GREEN_BRIDGE) === '0', 5_000)
  t.false(await ping(blue, G1.ipv4), 'isolated again')
})

test.serial('a change of forwarding is heard (netconf events): a hand change or an ip_forward toggle is undone within a second, long before the resync', async t => {
  const ns = hostAt(0).name
  const before = (await control(h1).call('status', {})).reconciles
  // h1's resync is 10 minutes away: only the event can trigger these passes.
  await setSysctl(ns, `net.ipv4.conf.${BLUE_BRIDGE}.forwarding`, '1')
  const byHand = await waitUntil('blue forwarding off after a hand change', async () => await forwarding(ns, BLUE_BRIDGE) === '0', 1_000)
  // What a dockerd start does: ip_forward=1 resets every device's forwarding.
  await setSysctl(ns, 'net.ipv4.ip_forward', '0')
  await setSysctl(ns, 'net.ipv4.ip_forward', '1')
  const byToggle = await waitUntil('both bridges off after an ip_forward toggle', async () => await forwarding(ns, BLUE_BRIDGE) === '0' && await forwarding(ns, GREEN_BRIDGE) === '0', 1_000)
  t.is(await sysctl(ns, 'net.ipv4.ip_forward'), '1', 'the host keeps routing elsewhere')
  t.log(`off again after ${byHand} ms (hand change), ${byToggle} ms (toggle)`)
  // Its own writes (forwarding off) trigger no pass of their own: no loop.
  const settled = await settledReconciles(control(h1))
  t.true(settled > before)
  await sleep(1_000)
  t.is((await control(h1).call('status', {})).reconciles, settled, 'no pass loop')
})

test.serial('a refused forwarding write (read-only /proc/sys) is recorded and retried until it works; then the retries stop', async t => {
  const host3 = hostAt(2)
  const ns = host3.name
  // Its own mount namespace, /proc/sys read-only in it (as in a container): netlink works,
  // the sysctl write fails with EROFS. The test's own sysctl calls see a writable /proc/sys.
  const c = startControl(host3, [
    'unshare', '--mount', '--propagation', 'private', 'sh', '-c',
    'mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && exec "$@"', 'sh'
  ])
  await c.call('start', { resyncIntervalMs: LONG_RESYNC_MS, nftPath: NO_NFT })
  await c.call('update', inputFor(host3, [BLUE], [B1]))
  const first = await c.call('reconcileNow', {})
  // A failed op like any other: in the pass's result (so in status, metrics and the
  // agent's READY summary), not only in a log line.
  t.deepEqual(first.failed.map((f: { op: { kind: string, name?: string }, code?: string }) => [f.op.kind, f.op.name, f.code]), [['link.forwardingOff', BLUE_BRIDGE, 'EROFS']])
  t.is(await forwarding(ns, BLUE_BRIDGE), '1', 'the write really failed')
  const status = await c.call('status', {})
  t.true(status.lastErrors.some(e => /disable forwarding on mpbr42: .*EROFS/.test(e.message)), JSON.stringify(status.lastErrors))

  // Retried with backoff (250 ms, 500 ms, 1 s, …), not left to the resync 10 minutes away.
  await sleep(2000)
  const retrying = await c.call('status', {})
  t.true(retrying.reconciles > status.reconciles, `passes: ${status.reconciles} then ${retrying.reconciles}`)
  t.is(await forwarding(ns, BLUE_BRIDGE), '1')

  // The kernel accepts the write again: the next retry turns forwarding off.
  await getLab().sh(['nsenter', '-t', String(c.pid), '-m', 'mount', '-o', 'remount,bind,rw', '/proc/sys'])
  const after = await waitUntil('forwarding off after /proc/sys is writable', async () => await forwarding(ns, BLUE_BRIDGE) === '0', 10_000)
  t.log(`off ${after} ms after /proc/sys became writable`)

  // A clean pass ends the retries.
  const settled = await settledReconciles(c)
  await sleep(3000)
  t.is((await c.call('status', {})).reconciles, settled, 'no more passes once forwarding is off')
  if (process.env.DATAPLANE_TEST_LOGS !== undefined) t.log(c.log())
})
