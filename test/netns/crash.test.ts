/**
 * A crashed agent is not a dead host. kill -9 of an agent leaves its host's kernel and
 * containers running: the other hosts see its port refuse their dials (a reset from a live
 * kernel), keep its endpoints programmed for the restart grace, and a restart a second
 * later loses no ping at 10 ms intervals. A host whose underlay link goes down answers
 * nothing: its endpoints are withdrawn everywhere within dead-after (+ slack), and come back
 * with the link.
 */
import test from 'ava'
import { createCluster, waitFor, sleep, type Cluster, type Container } from '../utils/netns.js'
import { startAgents, waitForPeers, type TestAgent } from '../utils/agents.js'

interface Env { cluster: Cluster, agents: TestAgent[], ctrs: Container[] }

async function withCluster (fn: (env: Env) => Promise<void>): Promise<void> {
  const cluster = await createCluster({ prefix: 'mpk', hosts: 3 })
  try {
    const agents = await startAgents(cluster)
    await waitForPeers(agents, 'alive')
    await agents[0]!.createNetwork('blue', '10.240.0.0/16')
    await waitFor(async () => (await Promise.all(agents.map(async a => await a.networks()))).every(n => n.includes('blue')), { what: 'the network everywhere' })
    const ctrs: Container[] = []
    for (const [h, agent] of agents.entries()) {
      const c = await cluster.addContainer(cluster.hosts[h]!, `c${h}`)
      await agent.api.call('POST', '/v1/attach', { network: 'blue', netns: c.name, ip: `10.240.${h + 1}.10` })
      ctrs.push(c)
    }
    await waitFor(async () => await cluster.ping(ctrs[0]!, '10.240.2.10') && await cluster.ping(ctrs[2]!, '10.240.2.10'), { timeoutMs: 20_000, what: 'containers to reach each other' })
    await fn({ cluster, agents, ctrs })
  } finally {
    await cluster.destroy()
  }
}

/** `ping -i 0.01` from a container until stopped: transmitted and received counts. */
function pinger (cluster: Cluster, from: Container, ip: string): { stop: () => Promise<{ sent: number, received: number }> } {
  const p = cluster.spawn(from, ['ping', '-i', '0.01', '-W', '1', ip], { label: `ping-${from.shortName}` })
  return {
    stop: async () => {
      p.kill('SIGINT')
      await p.exited
      const m = /(\d+) packets transmitted, (\d+) received/.exec(p.output())
      if (m === null) throw new Error(`no ping summary: ${p.output().slice(-300)}`)
      return { sent: Number(m[1]), received: Number(m[2]) }
    }
  }
}

/** Whether host h's kernel holds the neighbour entry of a remote container (programmed). */
async function programmed (cluster: Cluster, host: number, ip: string): Promise<boolean> {
  return (await cluster.exec(cluster.hosts[host]!, ['ip', 'neigh', 'show', ip])).stdout.includes('PERMANENT')
}

test.serial('kill -9 of an agent and a restart a second later: no ping lost between containers of its host and the others', async t => {
  await withCluster(async ({ cluster, agents, ctrs }) => {
    const toVictim = pinger(cluster, ctrs[0]!, '10.240.2.10')
    const fromVictim = pinger(cluster, ctrs[1]!, '10.240.3.10')
    await sleep(1000)
    await agents[1]!.kill9()
    // The others find its port refusing: unreachable, but its endpoints stay.
    await waitFor(async () => await agents[0]!.stateOf(agents[1]!.peerId) === 'unreachable' && await agents[2]!.stateOf(agents[1]!.peerId) === 'unreachable',
      { timeoutMs: 10_000, what: 'the killed agent unreachable on the others' })
    t.true(await programmed(cluster, 0, '10.240.2.10'), 'host 0 keeps the crashed agent\'s container')
    t.true(await programmed(cluster, 2, '10.240.2.10'), 'host 2 keeps it too')
    await sleep(1000)
    await agents[1]!.start()
    await waitForPeers(agents, 'alive')
    await sleep(1500)
    const a = await toVictim.stop()
    const b = await fromVictim.stop()
    t.log(`to the crashed host's container: ${a.received}/${a.sent}; from it: ${b.received}/${b.sent}`)
    t.true(a.sent > 200 && b.sent > 200)
    t.is(a.sent - a.received, 0, 'no ping lost towards the crashed agent\'s container')
    t.is(b.sent - b.received, 0, 'no ping lost from it')
  })
})

test.serial('a host whose underlay link goes down: its endpoints withdrawn on every other host, back when the link returns', async t => {
  await withCluster(async ({ cluster, ctrs }) => {
    const victim = cluster.hosts[1]!
    const cutAt = Date.now()
    await cluster.exec(cluster.underlay, ['ip', 'link', 'set', victim.port, 'down'], { check: true })
    await waitFor(async () => !await programmed(cluster, 0, '10.240.2.10') && !await programmed(cluster, 2, '10.240.2.10'),
      { timeoutMs: 20_000, intervalMs: 50, what: 'the cut host\'s endpoint withdrawn on hosts 0 and 2' })
    // dead-after is 2.5 s and the first failed probe comes within one interval (0.5 s) of
    // the cut: about 3 s on a quiet machine (bench/liveness.ts --fault cut measures it). On a
    // loaded one, Lifeguard's local health lengthens the probe timeouts (up to 8×) before
    // an agent blames a peer, hence the test's wider bound.
    t.log(`withdrawn everywhere ${Date.now() - cutAt} ms after the cut`)
    await cluster.exec(cluster.underlay, ['ip', 'link', 'set', victim.port, 'up'], { check: true })
    await waitFor(async () => await programmed(cluster, 0, '10.240.2.10') && await programmed(cluster, 2, '10.240.2.10'),
      { timeoutMs: 45_000, what: 'the endpoint back once the link returns (unreachable hosts are redialled with a backoff)' })
    await waitFor(async () => await cluster.ping(ctrs[0]!, '10.240.2.10'), { timeoutMs: 10_000, what: 'a ping across again' })
    t.pass()
  })
})
