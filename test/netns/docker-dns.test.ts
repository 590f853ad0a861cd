/**
 * Names across hosts with Docker (the acceptance): a real dockerd per namespace
 * host, each started with the ONE setting the README gives (`--dns 169.254.53.53`, the
 * resolver's service address), so Docker's embedded DNS in every container forwards the
 * names it does not know to the meshplane resolver on its own host. The agents read
 * container names and --network-alias aliases from their host's dockerd API.
 */
import test from 'ava'
import { readFileSync } from 'node:fs'
import { createCluster, waitFor, sleep, type Cluster, type Container } from '../utils/netns.js'
import { TestAgent, writeClusterKey, waitForPeers, printAgentErrors } from '../utils/agents.js'
import { startDockerd, dockerApiSocket, BUSYBOX, type TestDockerd } from '../utils/dockerd.js'
import { DNS_ADDRESS, DNS_PREREQUISITES, OUTSIDE_ADDRESS, OUTSIDE_NAME, startUpstream } from '../utils/dns.js'
import { requirePrerequisites } from '../utils/prerequisites.js'

const SUBNET = '10.240.0.0/16'

interface Env { cluster: Cluster, agents: TestAgent[], dockerds: TestDockerd[] }

async function withDockerDns (hosts: number, fn: (env: Env) => Promise<void>): Promise<void> {
  requirePrerequisites(DNS_PREREQUISITES)
  const cluster = await createCluster({ prefix: 'mpn', hosts })
  const dockerds: TestDockerd[] = []
  try {
    const { resolvConf } = await startUpstream(cluster)
    const keyFile = writeClusterKey(cluster)
    const agents = cluster.hosts.map((h, i) => new TestAgent(cluster, h, {
      keyFile,
      join: i === 0 ? [] : [`${cluster.hosts[0]!.ip}:7946`],
      args: ['--dns-resolv-conf', resolvConf, '--docker-api-socket', dockerApiSocket(cluster, h)]
    }))
    await agents[0]!.start()
    await Promise.all(agents.slice(1).map(async a => await a.start()))
    await waitForPeers(agents, 'alive')
    for (const [i, agent] of agents.entries()) dockerds.push(await startDockerd(cluster, cluster.hosts[i]!, agent.dockerSocket, { extraArgs: ['--dns', DNS_ADDRESS] }))
    await Promise.all(dockerds.map(async d => { await d.importBusybox() }))
    for (const d of dockerds) await d.run(['network', 'create', '-d', 'meshplane', '--ipam-driver', 'meshplane', '--subnet', SUBNET, '-o', 'meshplane.network=blue', 'blue'])
    await fn({ cluster, agents, dockerds })
  } catch (err) {
    printAgentErrors(cluster)
    throw err
  } finally {
    await Promise.all(dockerds.map(async d => { await d.destroy() }))
    await cluster.destroy()
  }
}

async function runContainer (d: TestDockerd, name: string, extra: string[] = []): Promise<string> {
  await d.run(['run', '-d', '--init', '--name', name, '--network', 'blue', ...extra, BUSYBOX, 'sleep', '100000'])
  return await d.run(['inspect', '-f', '{{(index .NetworkSettings.Networks "blue").IPAddress}}', name])
}

/** busybox nslookup inside a container: the addresses of the answer ([] for none). */
async function nslookup (d: TestDockerd, from: string, name: string, server?: string): Promise<string[]> {
  const r = await d.docker(['exec', from, 'nslookup', name, ...(server === undefined ? [] : [server])], { timeoutMs: 20_000 })
  const answer = r.stdout.split(/\n\s*\n/).slice(1).join('\n')
  return [...answer.matchAll(/Address(?: \d+)?:\s+(\d+\.\d+\.\d+\.\d+)/g)].map(m => m[1]!).sort()
}

async function attachNamed (env: Env, host: number, ctr: string, name: string): Promise<{ c: Container, ip: string }> {
  const c = await env.cluster.addContainer(env.cluster.hosts[host]!, ctr)
  const r = await env.agents[host]!.api.call<{ ip: string }>('POST', '/v1/attach', { network: 'blue', netns: c.name, name })
  return { c, ip: r.ip }
}

test('Docker: db on host 1, api --network-alias svc on host 2, another svc on host 3; from host 3: ping db, nslookup svc, an outside name; namespace endpoints and containers resolve each other; docker rm db gives NXDOMAIN on every host within a second', async t => {
  await withDockerDns(3, async env => {
    const [d0, d1, d2] = env.dockerds as [TestDockerd, TestDockerd, TestDockerd]
    const db = await runContainer(d0, 'db')
    const api = await runContainer(d1, 'api', ['--network-alias', 'svc'])
    const svc2 = await runContainer(d2, 'svc2', ['--network-alias', 'svc'])
    await runContainer(d2, 'client')

    // ping db by name from host 3, through Docker's embedded DNS and the meshplane resolver
    const started = Date.now()
    await waitFor(async () => (await d2.docker(['exec', 'client', 'ping', '-c', '1', '-W', '1', 'db'], { timeoutMs: 10_000 })).code === 0,
      { timeoutMs: 20_000, intervalMs: 100, what: 'ping db from host 3' })
    t.log(`db pingable by name from host 3 ${Date.now() - started} ms after the last container started`)
    t.deepEqual(await nslookup(d2, 'client', 'db'), [db])
    t.deepEqual(await nslookup(d0, 'db', 'api'), [api], 'the other way round')

    // svc: the meshplane resolver holds both; Docker's embedded DNS on host 3 knows its own
    // svc2 and answers that one itself, without asking (it forwards only names it lacks)
    await waitFor(async () => (await nslookup(d2, 'client', 'svc', DNS_ADDRESS)).length === 2, { timeoutMs: 30_000, what: 'svc with two addresses' })
    t.deepEqual(await nslookup(d2, 'client', 'svc', DNS_ADDRESS), [api, svc2].sort(), 'two addresses for svc from the resolver')
    t.deepEqual(await nslookup(d0, 'db', 'svc'), [api, svc2].sort(), 'from host 1 (no local svc): both, through Docker\'s embedded DNS')
    const viaDocker = await nslookup(d2, 'client', 'svc')
    t.log(`nslookup svc through Docker's embedded DNS on host 3: ${viaDocker.join(', ')}`)
    t.true(viaDocker.includes(svc2))
    t.deepEqual(await nslookup(d2, 'client', OUTSIDE_NAME), [OUTSIDE_ADDRESS], 'an outside name through the hosts\' upstream')

    // namespace endpoints named with attach --name, and containers, resolve each other
    const ns = [await attachNamed(env, 0, 'q0', 'nsq0'), await attachNamed(env, 1, 'q1', 'nsq1'), await attachNamed(env, 2, 'q2', 'nsq2')]
    await waitFor(async () => (await nslookup(d2, 'client', 'nsq0')).length === 1, { timeoutMs: 30_000, what: 'nsq0 from a container' })
    t.deepEqual(await nslookup(d2, 'client', 'nsq0'), [ns[0]!.ip])
    const dig = await env.cluster.exec(ns[1]!.c, ['dig', '+short', '+time=1', '+tries=2', 'db'])
    t.is(dig.stdout.trim(), db, 'a container\'s name from a namespace endpoint')

    // docker rm -f db: NXDOMAIN on every host within a second
    const watchers = ns.map(q => env.cluster.spawn(q.c, ['sh', '-c',
      'until dig +time=1 +tries=1 db | grep -q "status: NXDOMAIN"; do sleep 0.02; done; date +%s%3N'], { label: `watch-${q.c.shortName}` }))
    await sleep(300)
    t.true(watchers.every(w => w.alive), 'db resolves on every host before the rm')
    const rmAt = Date.now()
    await d0.run(['rm', '-f', 'db'])
    await Promise.race([Promise.all(watchers.map(async w => { await w.exited })), sleep(5000)])
    const goneAt = Math.max(...watchers.map(w => Number(w.output().trim().split('\n').at(-1))))
    // Docker kills and tears the container down before it tells the driver (Leave): from
    // then on the name is meshplane's to withdraw. The agent logs the request (same clock).
    const leaveAt = readFileSync(env.agents[0]!.log, 'utf8').split('\n').filter(l => l.includes('"method":"NetworkDriver.Leave"'))
      .map(l => (JSON.parse(l) as { time: number }).time).at(-1) ?? Number.NaN
    t.log(`docker rm -f db → NXDOMAIN on all 3 hosts: ${goneAt - rmAt} ms after the command started, ${goneAt - leaveAt} ms after Docker's Leave reached the agent`)
    t.true(goneAt - leaveAt < 1000, `within a second of the Leave (${goneAt - leaveAt} ms)`)
    t.deepEqual(await nslookup(d2, 'client', 'db'), [], 'gone for containers too')

    const names = await env.agents[0]!.api.call<Array<{ name: string }>>('GET', '/v1/dns')
    t.deepEqual(names.map(n => n.name).sort(), ['api', 'client', 'nsq0', 'nsq1', 'nsq2', 'svc', 'svc2'])
  })
})
