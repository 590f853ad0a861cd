/**
 * Data plane acceptance: real agents program real kernels (one namespace per host), and
 * "containers" (namespaces) attached with the agent's attach reach each other over VXLAN.
 */
import test from 'ava'
import { createCluster, waitFor, sleep, type Cluster, type Container } from '../utils/netns.js'
import { startAgents, waitForPeers, type TestAgent } from '../utils/agents.js'
import { macFromIp } from '@meshplane/agent/net/addr.js'

interface Ctr { c: Container, ip: string, host: number, agent: TestAgent }

async function withOverlay (opts: { hosts: number, perHost: number, underlayMtu?: number }, fn: (x: { cluster: Cluster, agents: TestAgent[], ctrs: Ctr[], vni: number }) => Promise<void>): Promise<void> {
  const cluster = await createCluster({ prefix: 'mpo', hosts: opts.hosts, underlayMtu: opts.underlayMtu, needs: ['socat', 'tcpdump'] })
  try {
    const agents = await startAgents(cluster)
    await waitForPeers(agents, 'alive')
    const net = await agents[0]!.api.call<{ vni: number }>('POST', '/v1/networks', { name: 'blue', subnet: '10.240.0.0/16' })
    await waitFor(async () => (await Promise.all(agents.map(async a => await a.networks()))).every(n => n.includes('blue')), { what: 'network everywhere' })
    const ctrs: Ctr[] = []
    for (const [h, agent] of agents.entries()) {
      for (let i = 0; i < opts.perHost; i++) {
        const c = await cluster.addContainer(cluster.hosts[h]!, `c${i}`)
        const ip = `10.240.${h + 1}.${10 + i}`
        await agent.api.call('POST', '/v1/attach', { network: 'blue', netns: c.name, ip })
        ctrs.push({ c, ip, host: h, agent })
      }
    }
    await fn({ cluster, agents, ctrs, vni: net.vni })
  } finally {
    await cluster.destroy()
  }
}

/** Whether a host's kernel holds meshplane's FDB entry (MAC → remote VTEP, `self` on the
 * VXLAN device) for a MAC. Entries the bridge learned on its own are not counted. */
async function fdbHas (cluster: Cluster, host: number, mac: string): Promise<boolean> {
  const out = (await cluster.exec(cluster.hosts[host]!, ['bridge', 'fdb', 'show'])).stdout
  return out.split('\n').some(l => l.startsWith(mac) && l.includes(' dst ') && l.includes('self'))
}

test('3 hosts × 2 containers: every pair pings; broadcast crosses hosts; ARP for remote containers is answered locally', async t => {
  await withOverlay({ hosts: 3, perHost: 2 }, async ({ cluster, ctrs }) => {
    await waitFor(async () => {
      for (const a of ctrs) for (const b of ctrs) if (a.host !== b.host && !await fdbHas(cluster, a.host, macFromIp(b.ip))) return false
      return true
    }, { what: 'every remote endpoint programmed' })
    const failures: string[] = []
    await Promise.all(ctrs.map(async a => {
      for (const b of ctrs) if (a !== b && !await cluster.ping(a.c, b.ip, { count: 1, timeoutS: 3 })) failures.push(`${a.ip}→${b.ip}`)
    }))
    t.deepEqual(failures, [], 'every container reaches every other one')

    // Broadcast: a UDP broadcast from a container on host 0 reaches a container on host 2.
    const rx = cluster.spawn(ctrs[4]!.c, ['socat', '-u', 'UDP4-RECVFROM:9999,reuseaddr', 'STDOUT'], { label: 'bcast-rx' })
    await sleep(500)
    await cluster.exec(ctrs[0]!.c, ['sh', '-c', 'echo hello-broadcast | socat -u STDIN UDP4-DATAGRAM:255.255.255.255:9999,broadcast'], { check: true })
    await waitFor(() => rx.output().includes('hello-broadcast'), { timeoutMs: 5000, what: 'the broadcast to arrive on another host' })
    rx.kill('SIGKILL')

    // ARP: with the container's neighbour cache flushed, a ping to a remote container needs
    // an ARP answer; the local VXLAN device answers it from its permanent neighbour entry,
    // so no ARP travels inside VXLAN over the underlay (inner ethertype at UDP offset 28).
    const host0 = cluster.hosts[0]!
    const cap = cluster.spawn(host0, ['tcpdump', '-n', '-l', '-i', 'eth0', 'udp port 4789 and udp[28:2] = 0x0806'], { label: 'tcpdump' })
    await sleep(1000)
    await cluster.exec(ctrs[0]!.c, ['ip', 'neigh', 'flush', 'all'])
    t.true(await cluster.ping(ctrs[0]!.c, ctrs[2]!.ip, { count: 2, timeoutS: 3 }))
    const neigh = await cluster.exec(ctrs[0]!.c, ['ip', 'neigh', 'show', ctrs[2]!.ip])
    t.true(neigh.stdout.includes(macFromIp(ctrs[2]!.ip)), 'the container resolved the remote MAC')
    await sleep(500)
    cap.kill('SIGINT')
    await cap.exited
    t.notRegex(cap.output(), /ARP|arp/, 'no ARP crossed the underlay')
    t.regex(cap.output(), /0 packets captured/)
  })
})

test('underlay MTU 1400: overlay MTU 1350, a 1350-byte DF packet crosses, a larger one is refused locally', async t => {
  await withOverlay({ hosts: 2, perHost: 1, underlayMtu: 1400 }, async ({ cluster, ctrs }) => {
    const [a, b] = ctrs as [Ctr, Ctr]
    const link = await cluster.exec(a.c, ['ip', '-o', 'link', 'show', 'eth0'])
    t.regex(link.stdout, /mtu 1350 /)
    await waitFor(async () => await cluster.ping(a.c, b.ip, { count: 1, timeoutS: 2 }), { what: 'connectivity' })
    t.true(await cluster.ping(a.c, b.ip, { count: 1, timeoutS: 3, size: 1350 - 28, dontFragment: true }), '1350-byte DF ping crosses')
    const big = await cluster.exec(a.c, ['ping', '-c1', '-W2', '-M', 'do', '-s', String(1351 - 28), b.ip])
    t.not(big.code, 0)
    t.regex(big.stdout + big.stderr, /message too long|mtu/i, 'refused locally')
  })
})

test('two networks are isolated from each other', async t => {
  await withOverlay({ hosts: 2, perHost: 1 }, async ({ cluster, agents, ctrs }) => {
    await agents[0]!.api.call('POST', '/v1/networks', { name: 'red', subnet: '10.241.0.0/16' })
    await waitFor(async () => (await agents[1]!.networks()).includes('red'), { what: 'red everywhere' })
    const reds: Ctr[] = []
    for (const [h, agent] of agents.entries()) {
      const c = await cluster.addContainer(cluster.hosts[h]!, 'r')
      const ip = `10.241.${h + 1}.10`
      await agent.api.call('POST', '/v1/attach', { network: 'red', netns: c.name, ip })
      reds.push({ c, ip, host: h, agent })
    }
    await waitFor(async () => await cluster.ping(reds[0]!.c, reds[1]!.ip, { count: 1, timeoutS: 2 }), { what: 'red connectivity' })
    await waitFor(async () => await cluster.ping(ctrs[0]!.c, ctrs[1]!.ip, { count: 1, timeoutS: 2 }), { what: 'blue connectivity' })
    for (const [from, to] of [[ctrs[0]!, reds[1]!], [ctrs[0]!, reds[0]!], [reds[1]!, ctrs[0]!], [reds[0]!, ctrs[1]!]] as const) {
      t.false(await cluster.ping(from.c, to.ip, { count: 1, timeoutS: 1 }), `${from.ip} must not reach ${to.ip}`)
    }
  })
})

test('drift is repaired: FDB and neighbour entries deleted by hand come back within the resync interval', async t => {
  await withOverlay({ hosts: 2, perHost: 1 }, async ({ cluster, ctrs, vni }) => {
    const remote = ctrs[1]!
    const dev = `mpvx${vni}`
    await waitFor(async () => await fdbHas(cluster, 0, macFromIp(remote.ip)), { what: 'fdb entry' })
    await cluster.exec(0, ['bridge', 'fdb', 'del', macFromIp(remote.ip), 'dev', dev, 'dst', cluster.hosts[1]!.ip, 'self'], { check: true })
    await cluster.exec(0, ['ip', 'neigh', 'del', remote.ip, 'dev', dev], { check: true })
    await waitFor(async () => await fdbHas(cluster, 0, macFromIp(remote.ip)) &&
      (await cluster.exec(0, ['ip', 'neigh', 'show', remote.ip, 'dev', dev])).stdout.includes('PERMANENT'),
    { timeoutMs: 5000 + 2000, intervalMs: 100, what: 'the deleted entries to come back' })
    t.pass()
  })
})

test('detach withdraws an endpoint everywhere; a crashed agent\'s endpoints stay while its host answers; a dead host\'s are withdrawn after dead-after and come back with it', async t => {
  await withOverlay({ hosts: 3, perHost: 1 }, async ({ cluster, agents, ctrs }) => {
    const [a, b, c] = ctrs as [Ctr, Ctr, Ctr]
    await waitFor(async () => await fdbHas(cluster, 0, macFromIp(c.ip)) && await fdbHas(cluster, 1, macFromIp(c.ip)), { what: 'c programmed' })
    await c.agent.api.call('POST', '/v1/detach', { network: 'blue', netns: c.c.name })
    await waitFor(async () => !await fdbHas(cluster, 0, macFromIp(c.ip)) && !await fdbHas(cluster, 1, macFromIp(c.ip)), { timeoutMs: 5000, what: 'c withdrawn everywhere' })
    t.is((await c.agent.api.call<unknown[]>('GET', '/v1/endpoints?network=blue')).length, 2)

    await waitFor(async () => await fdbHas(cluster, 0, macFromIp(b.ip)), { what: 'b programmed on host 0' })
    const t0 = Date.now()
    const lap = (what: string): void => { t.log(`${what}: ${Date.now() - t0} ms`) }
    // kill -9: the host's kernel still answers (refuses the agent's port), b still runs.
    await agents[1]!.kill9()
    lap('killed')
    await waitFor(async () => await agents[0]!.stateOf(agents[1]!.peerId) === 'unreachable', { timeoutMs: 10_000, what: 'the killed agent unreachable' })
    await sleep(1000)
    t.true(await fdbHas(cluster, 0, macFromIp(b.ip)), 'a crashed agent\'s endpoints stay while its host answers')
    t.true(await cluster.ping(a.c, b.ip, { count: 1, timeoutS: 2 }), 'and b is still reached')
    await agents[1]!.start()
    lap('restarted')
    await waitFor(async () => await agents[0]!.stateOf(agents[1]!.peerId) === 'alive', { timeoutMs: 15_000, what: 'the agent alive again' })

    // A dead host: its underlay link goes down, nothing answers.
    const cutAt = Date.now()
    await cluster.exec(cluster.underlay, ['ip', 'link', 'set', cluster.hosts[1]!.port, 'down'], { check: true })
    await waitFor(async () => !await fdbHas(cluster, 0, macFromIp(b.ip)), { timeoutMs: 20_000, what: 'the dead host\'s endpoint withdrawn (about 3 s quiet; Lifeguard waits longer on a loaded machine)' })
    t.log(`withdrawn ${Date.now() - cutAt} ms after the cut`)
    await cluster.exec(cluster.underlay, ['ip', 'link', 'set', cluster.hosts[1]!.port, 'up'], { check: true })
    await waitFor(async () => await fdbHas(cluster, 0, macFromIp(b.ip)), { timeoutMs: 45_000, what: 'the endpoint back with its host (unreachable hosts are redialled with a backoff)' })
    lap('back')
    await waitFor(async () => await cluster.ping(a.c, b.ip, { count: 1, timeoutS: 2 }), { what: 'connectivity back' })
    lap('pings')
  })
})

test('a failed attach is undone everywhere: no endpoint record, no veth, no remote entry; the same namespace attaches once fixed', async t => {
  await withOverlay({ hosts: 2, perHost: 1 }, async ({ cluster, agents }) => {
    // The endpoint is announced while the container side is configured; when that fails
    // (an eth0 is already in the namespace), the announcement must be withdrawn.
    const c = await cluster.addContainer(cluster.hosts[0]!, 'bad')
    await cluster.exec(c, ['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p'], { check: true })
    const ip = '10.240.1.99'
    const err = await t.throwsAsync(agents[0]!.api.call('POST', '/v1/attach', { network: 'blue', netns: c.name, ip }))
    t.regex(err?.message ?? '', /eth0 already exists/)
    await sleep(500)
    for (const a of agents) {
      const eps = await a.api.call<Array<{ ipv4: string }>>('GET', '/v1/endpoints?network=blue')
      t.false(eps.some(e => e.ipv4 === ip), 'no endpoint record left on any host')
    }
    t.false(await fdbHas(cluster, 1, macFromIp(ip)), 'the remote host holds no entry for it')
    const veths = (await cluster.exec(cluster.hosts[0]!, ['ip', '-o', 'link', 'show', 'type', 'veth'])).stdout.trim().split('\n').filter(Boolean)
    t.is(veths.length, 2, `only the underlay eth0 and c0's veth on host 0:\n${veths.join('\n')}`)

    await cluster.exec(c, ['ip', 'link', 'del', 'eth0'], { check: true })
    await agents[0]!.api.call('POST', '/v1/attach', { network: 'blue', netns: c.name, ip })
    await waitFor(async () => await fdbHas(cluster, 1, macFromIp(ip)), { timeoutMs: 5000, what: 'the fixed attach programmed on the other host' })
  })
})

test.serial('restarting an agent while its containers ping every 10 ms loses no ping and removes no kernel entry', async t => {
  await withOverlay({ hosts: 2, perHost: 1 }, async ({ cluster, agents, ctrs }) => {
    const [a, b] = ctrs as [Ctr, Ctr]
    await waitFor(async () => await cluster.ping(a.c, b.ip, { count: 1, timeoutS: 2 }), { what: 'connectivity' })
    const monitors = [0, 1].map(h => cluster.spawn(h, ['ip', 'monitor', 'neigh', 'link', 'address', 'route'], { label: `mon${h}` }))
    const fdbMonitors = [0, 1].map(h => cluster.spawn(h, ['bridge', 'monitor', 'fdb'], { label: `fdbmon${h}` }))
    await sleep(300)
    const pinger = cluster.spawn(a.c, ['ping', '-i', '0.01', '-c', '700', '-W', '1', b.ip], { label: 'pinger' })
    await sleep(1000)
    await agents[1]!.stop()
    await agents[1]!.start()
    await sleep(500)
    await agents[0]!.stop()
    await agents[0]!.start()
    await pinger.exited
    const out = pinger.output()
    const m = /(\d+) packets transmitted, (\d+) received/.exec(out)
    t.truthy(m, out)
    t.log(m![0])
    t.is(m![1], m![2], `no ping lost: ${m![0]}`)
    for (const mon of [...monitors, ...fdbMonitors]) mon.kill('SIGTERM')
    const events = [...monitors, ...fdbMonitors].map(mon => mon.output()).join('\n')
    t.notRegex(events, /^Deleted/m, `no kernel entry removed during the restarts:\n${events.split('\n').filter(l => l.startsWith('Deleted')).join('\n')}`)
  })
})
