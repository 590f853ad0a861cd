/**
 * Distributed IPAM acceptance: real agents in namespaces allocate from one network's
 * address space with no central store. The invariant checked everywhere: no address is
 * held by two allocations, across hosts, partitions and crashes.
 */
import test from 'ava'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { createCluster, waitFor, sleep, type Cluster } from '../utils/netns.js'
import { startAgents, waitForPeers, printAgentErrors, MESHPLANE_JS, type TestAgent } from '../utils/agents.js'
import { isMeshplaneError } from '@meshplane/agent/errors.js'

const run = promisify(execFile)

async function withAgents (hosts: number, args: string[], fn: (cluster: Cluster, agents: TestAgent[]) => Promise<void>): Promise<void> {
  const cluster = await createCluster({ prefix: 'mpi', hosts })
  try {
    const agents = await startAgents(cluster, { args })
    await waitForPeers(agents, 'alive')
    await fn(cluster, agents)
  } catch (err) {
    printAgentErrors(cluster)
    throw err
  } finally {
    await cluster.destroy()
  }
}

async function createNetworkEverywhere (agents: TestAgent[], name: string, subnet: string): Promise<void> {
  await agents[0]!.createNetwork(name, subnet)
  await waitFor(async () => (await Promise.all(agents.map(async a => await a.networks()))).every(n => n.includes(name)), { what: `network ${name} on every agent` })
}

async function allocate (a: TestAgent, network: string, owner: string): Promise<string> {
  return (await a.api.call<{ ip: string }>('POST', '/v1/ipam/allocate', { network, owner })).ip
}

/** `count` allocations on one agent, `parallel` at a time; failures are collected, not thrown. */
async function allocateMany (a: TestAgent, network: string, tag: string, count: number, parallel = 10, onDone?: () => void): Promise<{ ips: string[], errors: string[] }> {
  const ips: string[] = []
  const errors: string[] = []
  let next = 0
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < count) {
      const k = next++
      try {
        ips.push(await allocate(a, network, `${tag}-${k}`))
        onDone?.()
      } catch (err) {
        errors.push(isMeshplaneError(err) ? err.code : (err as Error).message)
      }
    }
  }))
  return { ips, errors }
}

async function allocationsOf (a: TestAgent, network: string): Promise<string[]> {
  return (await a.api.call<Array<{ ip: string }>>('GET', `/v1/ipam/allocations?network=${network}`)).map(x => x.ip)
}

/** Every host's allocation list; fails the test on an address held twice. */
async function assertNoDuplicates (t: { deepEqual: (a: unknown, b: unknown, m?: string) => void }, agents: TestAgent[], network: string): Promise<Map<string, number>> {
  const holder = new Map<string, number>()
  const dups: string[] = []
  for (const [i, a] of agents.entries()) {
    for (const ip of await allocationsOf(a, network)) {
      if (holder.has(ip)) dups.push(`${ip} on hosts ${holder.get(ip)} and ${i}`)
      holder.set(ip, i)
    }
  }
  t.deepEqual(dups, [], 'no address is allocated on two hosts')
  return holder
}

async function cli (a: TestAgent, args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  try {
    const r = await run(process.execPath, [MESHPLANE_JS, '--api-socket', a.socket, ...args])
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (err) {
    const e = err as { code: number, stdout: string, stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

test('5 hosts allocate 200 addresses each, all at once, in one /22: 1,000 distinct, each held by exactly one host', async t => {
  await withAgents(5, [], async (_cluster, agents) => {
    await createNetworkEverywhere(agents, 'pool', '10.50.0.0/22')
    const started = Date.now()
    const results = await Promise.all(agents.map(async (a, i) => await allocateMany(a, 'pool', `h${i}`, 200)))
    t.log(`1,000 allocations in ${Date.now() - started} ms`)
    t.deepEqual(results.flatMap(r => r.errors), [], 'every allocation succeeded')
    const all = results.flatMap(r => r.ips)
    t.is(all.length, 1000)
    t.is(new Set(all).size, 1000, '1,000 distinct addresses')
    for (const ip of all) t.true(/^10\.50\.[0-3]\.\d+$/.test(ip) && ip !== '10.50.0.1' && ip !== '10.50.0.0' && ip !== '10.50.3.255', `${ip} is a host address of the /22 and not the gateway`)
    const holder = await assertNoDuplicates(t, agents, 'pool')
    for (const [i, r] of results.entries()) for (const ip of r.ips) t.is(holder.get(ip), i, `${ip} is recorded by the host that handed it out`)
    t.is(holder.size, 1000, 'exactly the handed-out addresses are recorded')

    const table = await cli(agents[0]!, ['ipam', '--network', 'pool'])
    t.is(table.code, 0)
    t.regex(table.stdout, /HOST\s+RANGES\s+SIZE\s+USED\s+FREE/)
    const json = JSON.parse((await cli(agents[0]!, ['ipam', '--json'])).stdout) as { networks: Array<{ network: string, hosts: unknown[] }> }
    t.is(json.networks[0]!.network, 'pool')
    t.is(json.networks[0]!.hosts.length, 5, 'all five hosts hold ranges')
  })
})

test('partition during heavy allocation: no duplicates after the heal, and both sides kept allocating', async t => {
  await withAgents(4, [], async (cluster, agents) => {
    await createNetworkEverywhere(agents, 'split', '10.51.0.0/22')
    // every host gets a range of its own first
    for (const [i, a] of agents.entries()) await allocate(a, 'split', `warm${i}`)
    const done: Array<{ side: number, at: number }> = []
    const loads = agents.map(async (a, i) => {
      const r = await allocateMany(a, 'split', `p${i}`, 150, 4, () => done.push({ side: i < 2 ? 0 : 1, at: Date.now() }))
      return r
    })
    await sleep(50)
    await cluster.partition([0, 1], [2, 3])
    const cutAt = Date.now()
    await sleep(6000)
    // heal while requests for ranges across the cut are still waiting: they complete now
    await cluster.healAll()
    const healAt = Date.now()
    const during = [0, 1].map(side => done.filter(d => d.side === side && d.at > cutAt && d.at < healAt).length)
    t.log(`during the 6 s cut: side A ${during[0]}, side B ${during[1]} allocations`)
    t.true(during[0]! > 0 && during[1]! > 0, 'both sides allocated during the partition')
    const results = await Promise.all(loads)
    const errors = results.flatMap(r => r.errors)
    t.true(errors.every(e => e === 'E_UNAVAILABLE'), `only "unreachable" failures: ${[...new Set(errors)].join(',')}`)
    await waitForPeers(agents, 'alive')
    const after = await Promise.all(agents.map(async (a, i) => await allocateMany(a, 'split', `q${i}`, 30, 5)))
    t.deepEqual(after.flatMap(r => r.errors), [], 'allocation works everywhere after the heal')
    const handed = [...results, ...after].flatMap(r => r.ips)
    t.is(new Set(handed).size, handed.length, 'no address was handed out twice')
    const holder = await assertNoDuplicates(t, agents, 'split')
    for (const ip of handed) t.true(holder.has(ip), `${ip} is still recorded`)
  })
})

test('kill -9 in the middle of allocations, restart: no duplicates, nothing acknowledged is lost', async t => {
  await withAgents(3, [], async (_cluster, agents) => {
    await createNetworkEverywhere(agents, 'crash', '10.52.0.0/22')
    const victim = agents[1]!
    const acked: string[] = []
    let stop = false
    const loop = (async () => {
      let k = 0
      await Promise.all(Array.from({ length: 6 }, async () => {
        while (!stop) {
          try { acked.push(await allocate(victim, 'crash', `v${k++}`)) } catch { return }
        }
      }))
    })()
    await waitFor(async () => acked.length >= 80, { what: 'the victim to hand out 80 addresses' })
    await victim.kill9()
    stop = true
    await loop
    t.log(`killed after ${acked.length} acknowledged allocations`)
    await victim.start()
    await waitForPeers(agents, 'alive')
    const kept = new Set(await allocationsOf(victim, 'crash'))
    const lost = acked.filter(ip => !kept.has(ip))
    t.deepEqual(lost, [], 'every acknowledged allocation survived the crash')
    const more = await Promise.all(agents.map(async (a, i) => await allocateMany(a, 'crash', `after${i}`, 60, 6)))
    t.deepEqual(more.flatMap(r => r.errors), [])
    const handed = [...acked, ...more.flatMap(r => r.ips)]
    t.is(new Set(handed).size, handed.length, 'no address handed out twice across the crash')
    await assertNoDuplicates(t, agents, 'crash')
  })
})

test('a small network runs out with a clear error, never a duplicate or a hang', async t => {
  await withAgents(2, [], async (cluster, agents) => {
    // /29: 8 addresses, less network, broadcast and gateway = 5
    await createNetworkEverywhere(agents, 'tiny', '10.53.0.0/29')
    const started = Date.now()
    const r = await Promise.all(agents.map(async (a, i) => await allocateMany(a, 'tiny', `t${i}`, 4, 2)))
    const ips = r.flatMap(x => x.ips)
    t.is(ips.length, 5, 'exactly the 5 allocatable addresses are handed out')
    t.is(new Set(ips).size, 5)
    t.deepEqual(r.flatMap(x => x.errors), ['E_EXHAUSTED', 'E_EXHAUSTED', 'E_EXHAUSTED'], 'the rest are refused as exhausted')
    t.true(Date.now() - started < 20_000, 'exhaustion is answered, not waited out')
    // attach without --ip through the CLI: exit code 5 and a one-line reason
    const c = await cluster.addContainer(cluster.hosts[1]!, 'late')
    const res = await cli(agents[1]!, ['attach', 'tiny', '--netns', c.name])
    t.is(res.code, 5, res.stderr)
    t.regex(res.stderr, /^meshplane: .*(no free address|exhausted)/i)
    await assertNoDuplicates(t, agents, 'tiny')
  })
})

test('attach allocates when --ip is absent and checks a given --ip cluster-wide', async t => {
  await withAgents(3, [], async (cluster, agents) => {
    await createNetworkEverywhere(agents, 'blue', '10.54.0.0/24')
    const c0 = await cluster.addContainer(cluster.hosts[1]!, 'a')
    const c1 = await cluster.addContainer(cluster.hosts[2]!, 'b')
    const e0 = await agents[1]!.api.call<{ ip: string }>('POST', '/v1/attach', { network: 'blue', netns: c0.name })
    const e1 = await agents[2]!.api.call<{ ip: string }>('POST', '/v1/attach', { network: 'blue', netns: c1.name })
    t.not(e0.ip, e1.ip)
    t.true(await waitFor(async () => await cluster.ping(c0, e1.ip, { count: 1, timeoutS: 2 }), { what: 'allocated endpoints to reach each other' }))
    // an operator-given address held by another host's range moves here
    const c2 = await cluster.addContainer(cluster.hosts[1]!, 'c')
    const e2 = await agents[1]!.api.call<{ ip: string }>('POST', '/v1/attach', { network: 'blue', netns: c2.name, ip: '10.54.0.200' })
    t.is(e2.ip, '10.54.0.200')
    // the same address elsewhere is a conflict (exit 4), and nothing is made for it
    const c3 = await cluster.addContainer(cluster.hosts[2]!, 'd')
    const res = await cli(agents[2]!, ['attach', 'blue', '--netns', c3.name, '--ip', '10.54.0.200'])
    t.is(res.code, 4, res.stderr)
    t.regex(res.stderr, /10\.54\.0\.200/)
    // detach releases: the address is allocatable again
    await agents[1]!.api.call('POST', '/v1/detach', { network: 'blue', netns: c2.name })
    await waitFor(async () => (await agents[2]!.api.call<unknown[]>('GET', '/v1/endpoints?network=blue')).length === 2, { what: 'the detach to reach host 2' })
    const again = await agents[2]!.api.call<{ ip: string }>('POST', '/v1/attach', { network: 'blue', netns: c3.name, ip: '10.54.0.200' })
    t.is(again.ip, '10.54.0.200', 'a released address can be claimed on another host')
    await assertNoDuplicates(t, agents, 'blue')
  })
})

test('rmpeer hands a dead host\'s ranges to this host; it is refused for a live host', async t => {
  await withAgents(3, ['--rmpeer-safety-ms', '1500'], async (_cluster, agents) => {
    // /27: 32 addresses, 29 allocatable
    await createNetworkEverywhere(agents, 'small', '10.55.0.0/27')
    const [a0, a1, a2] = agents as [TestAgent, TestAgent, TestAgent]
    await allocate(a2, 'small', 'doomed') // host 2 now holds a share of the range
    const heldBy2 = async (a: TestAgent): Promise<number> => (await a.api.call<{ networks: Array<{ hosts: Array<{ peer: string, size: number }> }> }>('GET', '/v1/ipam?network=small'))
      .networks[0]!.hosts.find(h => h.peer === a2.peerId)?.size ?? 0
    const held2 = await heldBy2(a2)
    t.true(held2 > 1, `host 2 holds a range (${held2} addresses)`)
    await waitFor(async () => await heldBy2(a1) === held2, { what: 'host 1 to learn host 2\'s range' })

    const refused = await cli(a1, ['rmpeer', a2.peerId])
    t.is(refused.code, 4, refused.stderr)
    t.regex(refused.stderr, /alive/)

    await a2.kill9()
    await waitFor(async () => await a1.stateOf(a2.peerId) === 'unreachable', { what: 'host 2 unreachable' })
    await sleep(1600)
    const ok = await cli(a1, ['rmpeer', a2.peerId, '--json'])
    t.is(ok.code, 0, ok.stderr)
    const reclaimed = (JSON.parse(ok.stdout) as { reclaimed: Array<{ addresses: number }> }).reclaimed
    t.is(reclaimed.reduce((s, r) => s + r.addresses, 0), held2, 'all of host 2\'s addresses were reclaimed')
    // everything but what hosts 0 and 1 already use is allocatable on the survivors now
    const r = await Promise.all([a0, a1].map(async (a, i) => await allocateMany(a, 'small', `s${i}`, 20, 2)))
    const got = r.flatMap(x => x.ips)
    t.is(got.length, 29, 'the whole /27 is allocatable on the survivors, host 2\'s share included')
    t.is(new Set(got).size, got.length)
    await assertNoDuplicates(t, [a0, a1], 'small')
  })
})

test('the same network created on both sides of a partition: one seeding wins when they meet, the loser\'s addresses are reported', async t => {
  await withAgents(4, [], async (cluster, agents) => {
    await cluster.partition([0, 1], [2, 3])
    await waitFor(async () => await agents[0]!.stateOf(agents[2]!.peerId) === 'unreachable', { what: 'the two sides to lose each other' })
    await agents[0]!.createNetwork('twin', '10.56.0.0/24')
    await agents[2]!.createNetwork('twin', '10.56.0.0/24')
    await waitFor(async () => (await agents[1]!.networks()).includes('twin') && (await agents[3]!.networks()).includes('twin'), { what: 'the network on both sides' })
    const sideA = await allocateMany(agents[1]!, 'twin', 'a', 5, 1)
    const sideB = await allocateMany(agents[3]!, 'twin', 'b', 5, 1)
    t.deepEqual([...sideA.errors, ...sideB.errors], [], 'each side allocates from its own seeding while apart')
    await cluster.healAll()
    await waitForPeers(agents, 'alive')
    type Status = { ipam: { conflicts: Array<{ reason: string, peer?: string, detail: string }> } }
    const conflicts = await waitFor(async () => {
      const all = await Promise.all(agents.map(async a => (await a.api.call<Status>('GET', '/v1/status')).ipam.conflicts))
      const creators = await Promise.all(agents.map(async a => (await a.api.call<{ creator: string }>('GET', '/v1/networks/twin')).creator))
      return new Set(creators).size === 1 && all.some(c => c.length > 0) ? { all, creator: creators[0]! } : undefined
    }, { what: 'every host to agree on one network record and a host to report the conflict' })
    t.log(JSON.stringify(conflicts.all))
    // the losing side's allocating host reports the addresses it handed out from its void seeding
    const loserAllocator = conflicts.creator === agents[0]!.peerId ? 3 : 1
    const lost = conflicts.creator === agents[0]!.peerId ? sideB.ips : sideA.ips
    const reported = conflicts.all[loserAllocator]!.map(c => JSON.stringify(c)).join(' ')
    for (const ip of lost) t.true(reported.includes(ip), `${ip} (handed out by the losing seeding) is reported`)
    const text = (await cli(agents[loserAllocator]!, ['ipam', '--network', 'twin'])).stdout
    t.regex(text, /CONFLICT/)
  })
})
