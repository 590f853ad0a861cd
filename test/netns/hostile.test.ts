/**
 * A hostile member (issue 15): a real peer that holds the cluster key, on its own
 * namespace host, attacks two real agents whose containers ping each other. After the
 * attacks the honest hosts hold nothing the attacker should not have caused, their
 * containers still reach each other, and they still create networks and attach.
 * Attacks and expected outcomes: docs/security.md; the peer: test/utils/rogue-peer.ts.
 */
import test from 'ava'
import { join } from 'node:path'
import { createCluster, waitFor, type Cluster, type Container } from '../utils/netns.js'
import { startAgents, waitForPeers, REPO, type TestAgent } from '../utils/agents.js'

interface NetworkView { name: string, vni: number, subnet: string, gateway: string, creator: string, createdAt: string }
interface Status { clock: string, mesh: { gossipRejected: number }, liveness: { refutations: number } }

async function rogue (cluster: Cluster, seed: TestAgent, victim: TestAgent, env: Record<string, unknown>): Promise<Array<Record<string, unknown>>> {
  const victimRow = (await seed.peers()).find(p => p.id === victim.peerId) as unknown as { startedAt: string }
  const life = String(new Date(victimRow.startedAt).getTime())
  const proc = cluster.spawn(cluster.hosts[2]!, [process.execPath, join(REPO, 'dist/test/utils/rogue-peer.js'), seed.opts.keyFile, seed.seed, victim.peerId, '100', life],
    { label: 'rogue', env: { ROGUE_ATTACKS: JSON.stringify(env) } })
  const exit = await proc.exited
  if (exit.code !== 0) throw new Error(`rogue peer failed: ${proc.output()}`)
  return proc.output().split('\n').filter(l => l.startsWith('{"attack"')).map(l => JSON.parse(l) as Record<string, unknown>)
}

test('a member with the key cannot poison clocks, remove or rewrite a network it does not own, claim bad addresses, suspect a host at a life it never had, amplify a sync or take ranges; the containers keep talking', async t => {
  const cluster = await createCluster({ prefix: 'mph', hosts: 3 })
  try {
    const agents = await startAgents(cluster, { hosts: cluster.hosts.slice(0, 2) })
    await waitForPeers(agents, 'alive')
    const [a, b] = agents as [TestAgent, TestAgent]
    const blue = await a.api.call<NetworkView>('POST', '/v1/networks', { name: 'blue', subnet: '10.240.0.0/16' })
    await waitFor(async () => (await b.networks()).includes('blue'), { what: 'blue on both hosts' })
    /** One container per honest host on `network`, at <prefix>.<host + 1>.10. */
    const attachEach = async (network: string, name: string, prefix: string): Promise<Array<{ c: Container, ip: string }>> => {
      const out: Array<{ c: Container, ip: string }> = []
      for (const [h, agent] of agents.entries()) {
        const c = await cluster.addContainer(cluster.hosts[h]!, name)
        const ip = `${prefix}.${h + 1}.10`
        await agent.api.call('POST', '/v1/attach', { network, netns: c.name, ip })
        out.push({ c, ip })
      }
      return out
    }
    const ctrs = await attachEach('blue', 'c0', '10.240')
    const reach = async (): Promise<boolean> => await cluster.ping(ctrs[0]!.c, ctrs[1]!.ip, { count: 1, timeoutS: 2 })
    await waitFor(reach, { what: 'the containers to reach each other' })
    const victimRow = async (): Promise<{ state: string, stateSinceMs: number }> =>
      (await a.peers()).find(p => p.id === b.peerId) as unknown as { state: string, stateSinceMs: number }
    const before = await victimRow()
    const refutationsBefore = (await b.api.call<Status>('GET', '/v1/status')).liveness.refutations

    const results = await rogue(cluster, a, b, {
      network: blue,
      only: ['counter-poison', 'network-tombstone', 'network-rewrite', 'bad-vtep', 'bad-subnet', 'suspect-higher-life', 'sync-repeat-wants', 'ipam-no-host-record']
    })
    t.log(results.map(r => JSON.stringify(r)).join('\n'))
    const result = (attack: string): Record<string, unknown> => results.find(r => r.attack === attack) ?? {}
    for (const attack of ['counter-poison', 'network-tombstone', 'network-rewrite', 'bad-vtep', 'bad-subnet']) {
      t.true(Number(result(attack).result) >= 1, `${attack} reached a host`)
    }

    for (const agent of agents) {
      const status = await agent.api.call<Status>('GET', '/v1/status')
      t.true(BigInt(status.clock) < 1n << 32n, `counter-poison: the clock stayed low (${status.clock})`)
      t.deepEqual(await agent.networks(), ['blue'], 'counter-poison, bad-subnet: no record of the attacker\'s; network-tombstone: blue is still there')
      const net = await agent.api.call<NetworkView>('GET', '/v1/networks/blue')
      t.like(net, { vni: blue.vni, subnet: blue.subnet, creator: a.peerId }, 'network-rewrite: blue is as its owner wrote it')
      t.false((await agent.peers()).some(p => p.address === '224.0.0.1'), 'bad-vtep: no multicast VTEP')
    }
    t.true((await a.api.call<Status>('GET', '/v1/status')).mesh.gossipRejected >= 5, 'the seed rejected the gossiped attacks')
    // suspect-higher-life: not adopted, so nothing to refute and no state change
    const after = await victimRow()
    t.is(after.state, 'alive')
    t.is(after.stateSinceMs, before.stateSinceMs, 'suspect-higher-life: the victim never changed state')
    t.is((await b.api.call<Status>('GET', '/v1/status')).liveness.refutations, refutationsBefore, 'suspect-higher-life: nothing reached the victim to refute')
    t.like(result('sync-repeat-wants'), { distinct: 1, received: 1 }, 'sync-repeat-wants: one record per distinct want')
    t.true(Number(result('sync-repeat-wants').wanted) > 1)
    t.regex(String(result('ipam-no-host-record').error), /no host record/, 'ipam-no-host-record: refused')
    t.true(await reach(), 'the containers still reach each other')

    // network-contest: a competing creation of blue wins the name (residual risk), but no
    // host removes a local container's interface: both keep blue as they programmed it
    await rogue(cluster, a, b, { network: blue, only: ['network-contest'] })
    await waitFor(async () => (await Promise.all(agents.map(async g => (await g.api.call<NetworkView>('GET', '/v1/networks/blue')).creator))).every(c => c !== a.peerId),
      { what: 'the contest to win the name everywhere' })
    t.true(await reach(), 'network-contest: the containers still reach each other')
    for (const [h] of agents.entries()) {
      const links = (await cluster.exec(cluster.hosts[h]!, ['ip', '-o', 'link', 'show', 'master', `mpbr${blue.vni}`])).stdout
      t.regex(links, /mpv/, `network-contest: host ${h} keeps its container's veth on blue's bridge`)
    }

    // the honest hosts still create networks, attach and reach each other
    await b.createNetwork('after', '10.241.0.0/16')
    await waitFor(async () => (await a.networks()).includes('after'), { what: 'a new network everywhere' })
    const fresh = await attachEach('after', 'c1', '10.241')
    await waitFor(async () => await cluster.ping(fresh[0]!.c, fresh[1]!.ip, { count: 1, timeoutS: 2 }), { what: 'new containers to reach each other' })
    t.true(a.proc!.alive && b.proc!.alive)
  } finally {
    await cluster.destroy()
  }
})
