/**
 * Egress TCP throughput through meshplane's NAT, next to the same path built by hand, on
 * the same host in the same run. One namespace host with a real agent, and an "outside"
 * namespace on the underlay running no agent (test/utils/netns.ts addOutside):
 *
 *   (a) meshplane  a network created through the agent's API and a container namespace
 *                  attached to it (POST /v1/networks, POST /v1/attach): bridge, veth,
 *                  anycast gateway, forwarding, and the agent's nftables table (isolation
 *                  filter, masquerade with fully random ports);
 *   (b) by hand    on the same host: a bridge with a gateway address, a veth into another
 *                  container namespace with the same MTU, and one masquerade rule (fully
 *                  random, in an nft table of the bench's own) — the path without
 *                  meshplane's filter rules.
 *
 * iperf3 from each container to the outside namespace (server there), --reps runs each,
 * order rotating, medians reported; the goal is (a)/(b) ≥ 0.95.
 *
 *   npx tsc -b && node_modules/.bin/node dist/bench/egress.js [--seconds 10] [--reps 3]
 */
import { loadavg } from 'node:os'
import { findNft } from '@meshplane/agent/dataplane/nft.js'
import { startAgents } from '../test/utils/agents.js'
import { createCluster, type Cluster, type Target } from '../test/utils/netns.js'
import { commandLine, flags, fmt, intFlag, iperf, loadNote, log, machine, median, requireRoot, runMain, table, type IperfRun } from './lib.js'

const USAGE = `usage: node dist/bench/egress.js [options]
  --seconds S     iperf3 duration per run (default 10)
  --reps R        runs per path (default 3); medians reported
`

const HAND_SUBNET = '10.250.0'

async function main (): Promise<void> {
  const { values } = flags({ seconds: { type: 'string' }, reps: { type: 'string' } }, USAGE, { allowPositionals: false })
  requireRoot()
  const seconds = intFlag(values.seconds, 10, 'seconds', 1, 600)
  const reps = intFlag(values.reps, 3, 'reps', 1, 50)
  const loadBefore = loadNote()
  const nft = findNft()
  let cluster: Cluster | undefined
  try {
    cluster = await createCluster({ hosts: 1, prefix: 'begr' })
    const c = cluster
    const host = c.hosts[0]!
    const outside = await c.addOutside()

    log('(a) meshplane: agent, network, attached container')
    const [agent] = await startAgents(c, { hosts: [host] })
    await agent!.api.call('POST', '/v1/networks', { name: 'bench', subnet: '10.240.0.0/16' })
    const mp = await c.addContainer(host, 'mp')
    await agent!.api.call('POST', '/v1/attach', { network: 'bench', netns: mp.name, ip: '10.240.1.10' })
    const mtu = (await c.exec(mp, ['cat', '/sys/class/net/eth0/mtu'], { check: true })).stdout.trim()
    const status = await agent!.api.call<{ dataplane: { firewall: { ok: boolean, rules: number } } }>('GET', '/v1/status')
    if (!status.dataplane.firewall.ok) throw new Error('meshplane\'s firewall is not in the kernel: is nftables installed?')

    log('(b) by hand: bridge, veth, one masquerade rule')
    const hand = await c.addContainer(host, 'hand')
    await c.sh(host, [
      'ip link add hbr0 type bridge', `ip addr add ${HAND_SUBNET}.1/24 dev hbr0`, 'ip link set hbr0 up',
      `ip link add hv0 mtu ${mtu} type veth peer name eth0 mtu ${mtu} netns ${hand.name}`, 'ip link set hv0 master hbr0 up',
      `${nft} add table ip benchnat`,
      `${nft} 'add chain ip benchnat post { type nat hook postrouting priority 100; policy accept; }'`,
      `${nft} add rule ip benchnat post ip saddr ${HAND_SUBNET}.0/24 oifname != hbr0 masquerade fully-random`
    ].join(' && '), { check: true })
    await c.sh(hand, `ip addr add ${HAND_SUBNET}.10/24 dev eth0 && ip link set eth0 up && ip route add default via ${HAND_SUBNET}.1`, { check: true })

    const paths: Array<{ key: 'a' | 'b', label: string, client: Target }> = [
      { key: 'a', label: 'meshplane (container → outside, NAT by the agent\'s table)', client: mp },
      { key: 'b', label: 'by hand (container → outside, one masquerade rule)', client: hand }
    ]
    const runs = new Map<'a' | 'b', IperfRun[]>([['a', []], ['b', []]])
    for (let rep = 0; rep < reps; rep++) {
      const order = rep % 2 === 0 ? paths : [...paths].reverse()
      for (const p of order) {
        const r = await iperf(c, outside.name, p.client, outside.ip, seconds)
        runs.get(p.key)!.push(r)
        log(`rep ${rep + 1}/${reps} (${p.key}) ${fmt(r.gbps, 2)} Gbit/s, ${r.retransmits} retransmits, load ${r.load.toFixed(2)}`)
      }
    }
    const med = (k: 'a' | 'b'): number => median(runs.get(k)!.map(r => r.gbps))
    const ratio = med('a') / med('b')
    const perRep = runs.get('a')!.map((r, i) => r.gbps / runs.get('b')![i]!.gbps)
    const out = [
      `\nEgress TCP throughput through NAT, iperf3 ${seconds} s per run, ${reps} runs per path`,
      `date: ${new Date().toISOString()}`,
      `machine: ${machine()}; ${loadBefore} at start, ${loadavg()[0]!.toFixed(2)} at end`,
      `command: ${commandLine('egress.js')}`,
      `container MTU ${mtu} on both paths; meshplane's table: ${status.dataplane.firewall.rules} rules`,
      '',
      table(['path', 'what', ...Array.from({ length: reps }, (_, i) => `run ${i + 1} Gbit/s`), 'median Gbit/s', 'retransmits (median)'],
        paths.map(p => [p.key, p.label, ...runs.get(p.key)!.map(r => fmt(r.gbps, 2)), fmt(med(p.key), 2), fmt(median(runs.get(p.key)!.map(r => r.retransmits)))])),
      table(['ratio', 'value', 'goal'], [['a/b meshplane / by hand', fmt(ratio, 3), `≥ 0.95: ${ratio >= 0.95 ? 'met' : `MISSED by ${fmt((0.95 - ratio) * 100, 1)} points`}`]]),
      `a/b per repetition: ${perRep.map(x => fmt(x, 2)).join(', ')}; median ${fmt(median(perRep), 3)}`
    ]
    process.stdout.write(out.join('\n') + '\n')
  } finally {
    log('tearing down')
    await cluster?.destroy()
  }
}

runMain('egress', main)
