/**
 * Agent core acceptance: real agents as separate processes, one per network-namespace
 * host on one underlay.
 */
import test from 'ava'
import { join } from 'node:path'
import { createCluster, waitFor, sleep, type Cluster } from '../utils/netns.js'
import { startAgents, waitForPeers, writeClusterKey, TestAgent, REPO } from '../utils/agents.js'

async function withCluster (hosts: number, fn: (c: Cluster) => Promise<void>): Promise<void> {
  const cluster = await createCluster({ prefix: 'mpm', hosts })
  try {
    await fn(cluster)
  } finally {
    await cluster.destroy()
  }
}

async function waitForNetworks (agents: TestAgent[], names: string[], what: string, timeoutMs = 20_000): Promise<void> {
  const want = [...names].sort().join(',')
  await waitFor(async () => {
    const seen = await Promise.all(agents.map(async a => (await a.networks()).join(',')))
    return seen.every(s => s === want)
  }, { timeoutMs, what })
}

test('5 agents join through one seed, records reach all, a late sixth converges by sync, a restart keeps identity and state', async t => {
  await withCluster(6, async cluster => {
    const agents = await startAgents(cluster, { hosts: cluster.hosts.slice(0, 5) })
    await waitForPeers(agents, 'alive')
    // a record written on any of them reaches all
    await Promise.all(agents.map(async (a, i) => { await a.createNetwork(`net${i}`, `10.${100 + i}.0.0/16`) }))
    const names = agents.map((_, i) => `net${i}`)
    await waitForNetworks(agents, names, 'every network on every agent')

    // a sixth agent started later converges by sync (the records were published before it existed)
    const sixth = await new TestAgent(cluster, cluster.hosts[5]!, { keyFile: agents[0]!.opts.keyFile, join: [agents[0]!.seed] }).start()
    await waitForNetworks([sixth], names, 'the late agent to hold every network')
    await waitForPeers([...agents, sixth], 'alive')

    // restart one agent: same peer id, state served at once, rejoins by itself (remembered seed)
    const victim = agents[2]!
    const oldId = victim.peerId
    await victim.stop()
    await victim.start()
    t.is(victim.peerId, oldId, 'the restarted agent keeps its peer id')
    t.deepEqual(await victim.networks(), [...names].sort(), 'the last known state is served at once')
    await waitForPeers([...agents, sixth], 'alive')
    const meshCounters = async (): Promise<{ published: number, bundlesPublished: number }> =>
      (await victim.api.call<{ mesh: { published: number, bundlesPublished: number } }>('GET', '/v1/status')).mesh
    const before = await meshCounters()
    await victim.createNetwork('after-restart', '10.200.0.0/16')
    await waitForNetworks([...agents, sixth], [...names, 'after-restart'], 'a record written after the restart everywhere')
    const after = await meshCounters()
    // A create writes the network and its first ranges record, in one gossip message; a
    // young agent may also re-announce its host record meanwhile (one record, one message).
    const records = after.published - before.published
    const bundles = after.bundlesPublished - before.bundlesPublished
    t.true(records >= 2, `the create published its records (${records})`)
    t.is(records - bundles, 1, `the network and its ranges record travelled together (${records} records in ${bundles} messages)`)
  })
})

test('partition: records written on both sides while cut all survive the heal', async t => {
  await withCluster(4, async cluster => {
    const agents = await startAgents(cluster)
    await waitForPeers(agents, 'alive')
    await cluster.partition([0, 1], [2, 3])
    const [a0, a1, b0, b1] = agents as [TestAgent, TestAgent, TestAgent, TestAgent]
    // each side sees the other as unreachable
    await waitFor(async () => await a0.stateOf(b0.peerId) === 'unreachable' && await b1.stateOf(a1.peerId) === 'unreachable',
      { timeoutMs: 15_000, what: 'the sides to see each other unreachable' })
    await a0.createNetwork('left-a', '10.101.0.0/16')
    await a1.createNetwork('left-b', '10.102.0.0/16')
    await b0.createNetwork('right-a', '10.103.0.0/16')
    await b1.createNetwork('right-b', '10.104.0.0/16')
    await waitForNetworks([a0, a1], ['left-a', 'left-b'], 'the left side to agree')
    await waitForNetworks([b0, b1], ['right-a', 'right-b'], 'the right side to agree')
    t.deepEqual(await a0.networks(), ['left-a', 'left-b'], 'nothing crossed the partition')
    await cluster.healAll()
    await waitForNetworks(agents, ['left-a', 'left-b', 'right-a', 'right-b'], 'every record on every agent after the heal', 40_000)
    await waitForPeers(agents, 'alive')
  })
})

test('an agent with the wrong cluster key is never connected; forged and garbage gossip is rejected and nothing crashes', async t => {
  await withCluster(4, async cluster => {
    const agents = await startAgents(cluster, { hosts: cluster.hosts.slice(0, 2) })
    await waitForPeers(agents, 'alive')
    const [seed, other] = agents as [TestAgent, TestAgent]

    const wrongKey = writeClusterKey(cluster, 'wrong.key')
    const outsider = await new TestAgent(cluster, cluster.hosts[2]!, { keyFile: wrongKey, join: [seed.seed] }).start()
    await sleep(4000)
    t.false((await seed.peers()).some(p => p.id === outsider.peerId), 'the seed never learned of the outsider')
    t.deepEqual((await outsider.peers()).map(p => p.id), [outsider.peerId], 'the outsider learned of nobody')
    t.is((await outsider.api.call<{ connections: number }>('GET', '/v1/status')).connections, 0)

    // a member with the right key publishes garbage, a record owned by another host, an
    // oversized message, a false suspicion of the victim, and a leave and an alive about it
    const before = await seed.peers()
    const victimRow = before.find(p => p.id === other.peerId) as unknown as { startedAt: string, stateSinceMs: number }
    const victimLife = String(new Date(victimRow.startedAt).getTime())
    const rogue = cluster.spawn(cluster.hosts[3]!, [process.execPath, join(REPO, 'dist/test/utils/rogue-peer.js'),
      seed.opts.keyFile, seed.seed, other.peerId, '3000', victimLife], { label: 'rogue' })
    const exit = await rogue.exited
    t.is(exit.code, 0, rogue.output())
    t.regex(rogue.output(), /forged-owner/)
    t.regex(rogue.output(), /mixed-bundle/)
    t.regex(rogue.output(), /false-suspicion/)
    const status = await seed.api.call<{ mesh: { gossipRejected: number } }>('GET', '/v1/status')
    t.true(status.mesh.gossipRejected >= 5, `the seed rejected the forged messages (${status.mesh.gossipRejected})`)
    // the false suspicion was refuted by the victim: it never stopped being alive anywhere
    const victimStatus = await other.api.call<{ liveness: { refutations: number } }>('GET', '/v1/status')
    t.true(victimStatus.liveness.refutations >= 1, 'the victim refuted the suspicion')
    // longer than the longest suspicion (a lone accuser: 4 × 1.5 s, Lifeguard): an unrefuted
    // suspicion would have become unreachable by now
    await sleep(7000)
    const victimNow = (await seed.peers()).find(p => p.id === other.peerId) as unknown as { state: string, stateSinceMs: number }
    t.is(victimNow.state, 'alive', 'a false suspicion, a forged leave and a forged alive change nothing')
    t.is(victimNow.stateSinceMs, victimRow.stateSinceMs, 'the victim never changed state on the seed')
    const after = await seed.peers()
    t.deepEqual(after.find(p => p.id === other.peerId)?.address, before.find(p => p.id === other.peerId)?.address,
      'the victim\'s host record is untouched')
    t.false(after.some(p => p.address === '10.66.66.66'))
    t.false(after.some(p => p.address === '10.66.66.67'), 'a bundle with one forged record is rejected whole')
    // everybody still serves and still gossips
    await seed.createNetwork('still-works', '10.110.0.0/16')
    await waitForNetworks([seed, other], ['still-works'], 'gossip to work after the attack')
    t.true(seed.proc!.alive && other.proc!.alive)
  })
})

test.serial('kill -9 is seen as unreachable within dead-after + 1 s everywhere; SIGTERM as left within 1 s; a returning host is alive again', async t => {
  await withCluster(4, async cluster => {
    const agents = await startAgents(cluster)
    await waitForPeers(agents, 'alive')
    const [, , killed, stopped] = agents as [TestAgent, TestAgent, TestAgent, TestAgent]
    const observers = agents.filter(a => a !== killed && a !== stopped)

    const killedAt = Date.now()
    await killed.kill9()
    await waitFor(async () => (await Promise.all(observers.map(async o => await o.stateOf(killed.peerId)))).every(s => s === 'unreachable'),
      { timeoutMs: 10_000, intervalMs: 50, what: 'the killed host to be unreachable everywhere' })
    const detectMs = Date.now() - killedAt
    t.log(`kill -9 detected everywhere after ${detectMs} ms`)
    t.true(detectMs <= 2500 + 1000, `detected in ${detectMs} ms`)

    const stoppedAt = Date.now()
    stopped.proc!.kill('SIGTERM')
    await waitFor(async () => (await Promise.all(observers.map(async o => await o.stateOf(stopped.peerId)))).every(s => s === 'left'),
      { timeoutMs: 5000, intervalMs: 50, what: 'the stopped host to be left everywhere' })
    const leftMs = Date.now() - stoppedAt
    t.log(`SIGTERM seen as left everywhere after ${leftMs} ms`)
    t.true(leftMs <= 1000, `left in ${leftMs} ms`)
    t.is((await stopped.proc!.exited).code, 0, 'SIGTERM exits cleanly')

    // the stopped host comes back while the killed one is still dead: nobody gossips that
    // old death again, yet the returning agent must not show it alive (it learns it from
    // its first probe answer and checks for itself)
    await stopped.start()
    const backAt = Date.now()
    await waitFor(async () => await stopped.stateOf(killed.peerId) === 'unreachable',
      { timeoutMs: 10_000, intervalMs: 50, what: 'the returning agent to see the dead host unreachable' })
    const learnedMs = Date.now() - backAt
    t.log(`a returning agent saw the dead host unreachable ${learnedMs} ms after its API was up`)
    t.true(learnedMs <= 2500 + 1000, `learned in ${learnedMs} ms`)

    await killed.start()
    await waitForPeers(agents, 'alive')
  })
})

test('agents given only the seed do not depend on it: with the seed gone, records still reach everyone', async t => {
  await withCluster(5, async cluster => {
    const agents = await startAgents(cluster)
    await waitForPeers(agents, 'alive')
    const [seed, ...rest] = agents as [TestAgent, ...TestAgent[]]
    // give the agents a moment to have dialled a few others learned from host records
    await waitFor(async () => (await Promise.all(rest.map(async a => (await a.api.call<{ connections: number }>('GET', '/v1/status')).connections))).every(n => n >= 2),
      { timeoutMs: 15_000, what: 'agents to connect beyond the seed' })
    await seed.kill9()
    await rest[0]!.createNetwork('no-seed', '10.120.0.0/16')
    await waitForNetworks(rest, ['no-seed'], 'a record to reach every agent without the seed', 10_000)
    t.pass()
  })
})
