/**
 * TCP throughput over meshplane's overlay, next to the same overlay built by hand with
 * iproute2 and to the bare underlay. One cluster of four namespace hosts on one underlay
 * bridge (test/utils/netns.ts), all in the same run:
 *
 *   (a) meshplane  hosts 0 and 1 run real agents; a network is created and one container
 *                  namespace per host attached through the agents' API (POST /v1/networks,
 *                  POST /v1/attach); iperf3 between the two containers.
 *   (b) iproute2   hosts 2 and 3 get the design's layout by hand (docs/design.md): bridge,
 *                  VXLAN (learning off, ARP proxy, dev eth0, the MTU meshplane chose), a
 *                  container veth on the bridge, anycast gateway, static FDB + neighbour +
 *                  all-zeros entries; iperf3 between those two containers.
 *   (c) underlay   iperf3 between hosts 2 and 3 over eth0.
 *
 * Each pair: `iperf3 -s` spawned in the receiving namespace (ended by its pid after the
 * run), `iperf3 -c <ip> -t SECS -J` in the sending one; the figure is the receiver's
 * end.sum_received.bits_per_second. Every pair runs --reps times, the order rotating
 * between repetitions; medians are reported.
 *
 * From the repository root:
 *
 *   npx tsc -b && node_modules/.bin/node dist/bench/throughput.js
 */
import { loadavg } from 'node:os'
import { macFromIp } from '@meshplane/agent/net/addr.js'
import { bridgeName, vethName, vxlanName } from '@meshplane/agent/dataplane/names.js'
import { startAgents, waitForPeers, type TestAgent } from '../test/utils/agents.js'
import { createCluster, waitFor, type Cluster, type Container, type Host, type Target } from '../test/utils/netns.js'
import { commandLine, flags, fmt, intFlag, iperf, loadNote, log, machine, median, requireRoot, runMain, table, type IperfRun } from './lib.js'

const USAGE = `usage: node dist/bench/throughput.js [options]
  --seconds S     iperf3 duration per run (default 10)
  --reps R        runs per pair (default 3); medians reported
  --log-level L   agent log level (default info)
  --swap          meshplane on hosts 2 and 3, the hand-built overlay and the underlay pair on
                  hosts 0 and 1 (the other way round by default), to tell host position from overlay
`

const SUBNET = '10.240.0.0/16'
const GATEWAY = '10.240.0.1'

// ---- topologies -------------------------------------------------------------------------

interface Pair { key: 'a' | 'b' | 'c', label: string, server: Target, client: Target, ip: string }

interface MeshplaneSide { agents: TestAgent[], c0: Container, c1: Container, ip0: string, ip1: string, mtu: number, vni: number, /** host side of c0's veth */ hostVeth0: string }

async function buildMeshplane (cluster: Cluster, h0: Host, h1: Host, logLevel: string): Promise<MeshplaneSide> {
  log('(a) starting agents on hosts 0 and 1')
  const agents = await startAgents(cluster, { hosts: [h0, h1], args: ['--log-level', logLevel] })
  await waitForPeers(agents, 'alive', 60_000)
  const [a0, a1] = agents as [TestAgent, TestAgent]
  const network = await a0.api.call<{ name: string, vni: number, mtu?: number }>('POST', '/v1/networks', { name: 'bench', subnet: SUBNET })
  await waitFor(async () => (await a1.networks()).includes('bench'), { timeoutMs: 30_000, what: 'host 1 to learn the network' })
  const c0 = await cluster.addContainer(h0, 'c0')
  const c1 = await cluster.addContainer(h1, 'c1')
  const ip0 = '10.240.1.10'
  const ip1 = '10.240.2.10'
  const ep0 = await a0.api.call<{ id: string }>('POST', '/v1/attach', { network: 'bench', netns: c0.name, ip: ip0 })
  await a1.api.call('POST', '/v1/attach', { network: 'bench', netns: c1.name, ip: ip1 })
  await waitFor(async () => await cluster.ping(c0, ip1) && await cluster.ping(c1, ip0), { timeoutMs: 60_000, intervalMs: 500, what: 'the two meshplane containers to ping each other' })
  const mtu = (JSON.parse((await cluster.exec(c0, ['ip', '-j', 'link', 'show', 'dev', 'eth0'], { check: true })).stdout) as Array<{ mtu: number }>)[0]!.mtu
  log(`(a) network bench (vni ${network.vni}) up, containers ping each other, container MTU ${mtu}`)
  return { agents, c0, c1, ip0, ip1, mtu, vni: network.vni, hostVeth0: vethName('bench', ep0.id) }
}

interface HandSide { c2: Container, c3: Container, ip2: string, ip3: string }

/** The kernel layout of docs/design.md, made with iproute2 on hosts 2 and 3, one container each. */
async function buildByHand (cluster: Cluster, h2: Host, h3: Host, mtu: number, vni: number): Promise<HandSide> {
  const c2 = await cluster.addContainer(h2, 'c2')
  const c3 = await cluster.addContainer(h3, 'c3')
  const ip2 = '10.240.1.10'
  const ip3 = '10.240.2.10'
  const sides: Array<[Host, Container, string, Host, string]> = [[h2, c2, ip2, h3, ip3], [h3, c3, ip3, h2, ip2]]
  for (const [host, container, ip, remote, remoteIp] of sides) {
    await cluster.exec(host, ['ip', '-batch', '-'], {
      check: true,
      input: [
        `link add br0 mtu ${mtu} type bridge`,
        'link set br0 up',
        `link add vx0 mtu ${mtu} type vxlan id ${vni} local ${host.ip} dstport 4789 nolearning proxy dev eth0`,
        'link set vx0 master br0 up',
        `addr add ${GATEWAY}/16 dev br0`,
        `link add vc0 mtu ${mtu} type veth peer name eth0 mtu ${mtu} address ${macFromIp(ip)} netns ${container.name}`,
        'link set vc0 master br0 up',
        `neigh add ${remoteIp} lladdr ${macFromIp(remoteIp)} dev vx0 nud permanent`
      ].join('\n') + '\n'
    })
    await cluster.exec(host, ['bridge', '-batch', '-'], {
      check: true,
      input: [
        `fdb add ${macFromIp(remoteIp)} dev vx0 dst ${remote.ip} self permanent`,
        `fdb append 00:00:00:00:00:00 dev vx0 dst ${remote.ip} self permanent`
      ].join('\n') + '\n'
    })
    await cluster.exec(container, ['ip', '-batch', '-'], {
      check: true,
      input: [`addr add ${ip}/16 dev eth0`, 'link set eth0 up', `route add default via ${GATEWAY}`].join('\n') + '\n'
    })
  }
  await waitFor(async () => await cluster.ping(c2, ip3) && await cluster.ping(c3, ip2), { timeoutMs: 30_000, intervalMs: 500, what: 'the two hand-built containers to ping each other' })
  log(`(b) hand-built overlay up on ${h2.name} and ${h3.name}, containers ping each other`)
  return { c2, c3, ip2, ip3 }
}

/**
 * Everything `ip -d -j link` says about a device, minus what is per instance (names,
 * indexes, MAC addresses, the local VTEP, bridge ids and timers, counters): two devices
 * built the same way give the same object, and any difference is printed.
 */
const INSTANCE_KEYS = new Set([
  'ifindex', 'ifname', 'address', 'broadcast', 'link', 'link_index', 'link_netnsid', 'master', 'perm_address',
  'local', 'bridge_id', 'root_id', 'designated_root', 'hello_timer', 'tcn_timer', 'topology_change_timer',
  'gc_timer', 'forward_delay_timer', 'hold_timer', 'message_age_timer', 'root_port', 'root_path_cost', 'designated_bridge',
  'designated_port', 'designated_cost', 'id', 'no', 'stats64', 'operstate', 'linkmode', 'group', 'altnames'
])
async function linkFacts (cluster: Cluster, target: Target, dev: string): Promise<Record<string, unknown>> {
  const r = await cluster.exec(target, ['ip', '-d', '-j', 'link', 'show', 'dev', dev], { check: true })
  const [l] = JSON.parse(r.stdout) as Array<Record<string, unknown> & { linkinfo?: { info_kind?: string, info_data?: Record<string, unknown>, info_slave_kind?: string, info_slave_data?: Record<string, unknown> } }>
  const strip = (o: Record<string, unknown> | undefined): Record<string, unknown> =>
    Object.fromEntries(Object.entries(o ?? {}).filter(([k]) => !INSTANCE_KEYS.has(k) && k !== 'linkinfo'))
  return {
    ...strip(l),
    kind: l?.linkinfo?.info_kind,
    ...Object.fromEntries(Object.entries(strip(l?.linkinfo?.info_data)).map(([k, v]) => [`info.${k}`, v])),
    ...Object.fromEntries(Object.entries(strip(l?.linkinfo?.info_slave_data)).map(([k, v]) => [`port.${k}`, v]))
  }
}

// ---- main ------------------------------------------------------------------------------

async function main (): Promise<void> {
  const { values } = flags({ seconds: { type: 'string' }, reps: { type: 'string' }, 'log-level': { type: 'string' }, swap: { type: 'boolean' } }, USAGE, { allowPositionals: false })
  requireRoot()
  const seconds = intFlag(values.seconds, 10, 'seconds', 1, 600)
  const reps = intFlag(values.reps, 3, 'reps', 1, 50)
  const logLevel = String(values['log-level'] ?? 'info')
  const loadBefore = loadNote()

  let cluster: Cluster | undefined
  try {
    cluster = await createCluster({ hosts: 4, prefix: 'bthru' })
    const c = cluster
    const [x0, x1, x2, x3] = c.hosts as [Host, Host, Host, Host]
    // h0/h1: meshplane's pair, h2/h3: the hand-built overlay and the underlay pair.
    const [h0, h1, h2, h3] = values.swap === true ? [x2, x3, x0, x1] : [x0, x1, x2, x3]
    const mp = await buildMeshplane(c, h0, h1, logLevel)
    const hand = await buildByHand(c, h2, h3, mp.mtu, mp.vni)

    const facts: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
      ['VXLAN device', await linkFacts(c, h0, vxlanName(mp.vni)), await linkFacts(c, h2, 'vx0')],
      ['bridge', await linkFacts(c, h0, bridgeName(mp.vni)), await linkFacts(c, h2, 'br0')],
      ['container eth0', await linkFacts(c, mp.c0, 'eth0'), await linkFacts(c, hand.c2, 'eth0')],
      ['host-side veth', await linkFacts(c, h0, mp.hostVeth0), await linkFacts(c, h2, 'vc0')],
      ['underlay eth0', await linkFacts(c, h0, 'eth0'), await linkFacts(c, h2, 'eth0')]
    ]
    const differences: string[] = []
    for (const [what, a, b] of facts) {
      for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
        if (k === 'link') continue // an ifindex, differs by construction
        if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) differences.push(`${what} ${k}: meshplane ${JSON.stringify(a[k])}, by hand ${JSON.stringify(b[k])}`)
      }
    }
    log(differences.length === 0 ? 'meshplane and hand-built devices agree on every compared attribute' : `device differences: ${differences.join('; ')}`)

    const pairs: Pair[] = [
      { key: 'a', label: 'meshplane overlay (container → container)', server: mp.c1, client: mp.c0, ip: mp.ip1 },
      { key: 'b', label: 'iproute2 overlay (container → container)', server: hand.c3, client: hand.c2, ip: hand.ip3 },
      { key: 'c', label: 'underlay (host → host)', server: h3, client: h2, ip: h3.ip }
    ]
    const runs = new Map<Pair['key'], IperfRun[]>(pairs.map(p => [p.key, []]))
    for (let rep = 0; rep < reps; rep++) {
      const order = pairs.map((_, i) => pairs[(i + rep) % pairs.length]!)
      for (const p of order) {
        const r = await iperf(c, p.server, p.client, p.ip, seconds)
        runs.get(p.key)!.push(r)
        log(`rep ${rep + 1}/${reps} (${p.key}) ${p.label}: ${fmt(r.gbps, 2)} Gbit/s, ${r.retransmits} retransmits, load ${r.load.toFixed(2)}`)
      }
    }
    const agentsStillAlive = mp.agents.every(a => a.proc?.alive === true)

    const med = (k: Pair['key']): number => median(runs.get(k)!.map(r => r.gbps))
    const [ma, mb, mc] = [med('a'), med('b'), med('c')]
    const out: string[] = []
    out.push(`\nTCP throughput, iperf3 ${seconds} s per run, ${reps} runs per pair`)
    out.push(`date: ${new Date().toISOString()}`)
    out.push(`machine: ${machine()}; ${loadBefore} at start, ${loadavg()[0]!.toFixed(2)} at end`)
    out.push(`command: ${commandLine('throughput.js')}`)
    out.push(`underlay MTU ${c.underlayMtu ?? 1500} (veth into a bridge namespace); overlay MTU ${mp.mtu} on both overlays; VNI ${mp.vni}; agents running during (a)–(c): ${agentsStillAlive ? 'yes, both' : 'NO (one exited)'}`)
    out.push(`hosts: meshplane on ${h0.name} and ${h1.name}, hand-built overlay and underlay pair on ${h2.name} and ${h3.name}${values.swap === true ? ' (--swap)' : ''}`)
    out.push(differences.length === 0 ? 'devices: meshplane\'s and the hand-built ones agree on every attribute `ip -d -j link` shows (VXLAN, bridge, container eth0, host-side veth, underlay eth0; per-instance names, indexes, MACs, local address and timers aside)' : `devices differ: ${differences.join('; ')}`)
    out.push('')
    out.push(table(
      ['pair', 'what', ...Array.from({ length: reps }, (_, i) => `run ${i + 1} Gbit/s`), 'median Gbit/s', 'retransmits (median)', 'sender CPU % (median)', 'receiver CPU % (median)'],
      pairs.map(p => {
        const rs = runs.get(p.key)!
        return [p.key, p.label, ...rs.map(r => fmt(r.gbps, 2)), fmt(med(p.key), 2), fmt(median(rs.map(r => r.retransmits))), fmt(median(rs.map(r => r.senderCpu))), fmt(median(rs.map(r => r.receiverCpu)))]
      })))
    const ab = ma / mb
    out.push(table(
      ['ratio', 'value', 'goal'],
      [
        ['a/b meshplane / iproute2 overlay', fmt(ab, 3), `≥ 0.95: ${ab >= 0.95 ? 'met' : `MISSED by ${fmt((0.95 - ab) * 100, 1)} points`}`],
        ['a/c meshplane overlay / underlay', fmt(ma / mc, 3), '(cost of VXLAN encapsulation + bridge)']
      ]))
    const perRep = runs.get('a')!.map((r, i) => r.gbps / runs.get('b')![i]!.gbps)
    out.push(`a/b per repetition (a and b of the same repetition, at most 20 s apart): ${perRep.map(x => fmt(x, 2)).join(', ')}; median ${fmt(median(perRep), 3)}`)
    out.push(`(order rotated per repetition: ${Array.from({ length: reps }, (_, rep) => pairs.map((_, i) => pairs[(i + rep) % pairs.length]!.key).join('')).join(', ')})`)
    process.stdout.write(out.join('\n') + '\n')
  } finally {
    log('tearing down')
    await cluster?.destroy()
  }
}

runMain('throughput', main)
