/**
 * Docker acceptance: real agents and one real dockerd (Debian's docker.io, 20.10) per
 * namespace host, each daemon finding its host's agent through plugins/meshplane.spec.
 * The one documented `docker network create` runs on every host; containers are
 * busybox-static imported locally.
 */
import test, { type ExecutionContext } from 'ava'
import { request } from 'node:http'
import { readFileSync } from 'node:fs'
import { createCluster, waitFor, sleep, type Cluster } from '../utils/netns.js'
import { startAgents, waitForPeers, type TestAgent } from '../utils/agents.js'
import { startDockerd, BUSYBOX, type TestDockerd } from '../utils/dockerd.js'
import { spawnTracked } from '../utils/proc.js'
import { DOCKER_PREREQUISITES } from '../utils/prerequisites.js'

const SUBNET = '10.240.0.0/16'
const createArgs = (name: string, subnet: string): string[] =>
  ['network', 'create', '-d', 'meshplane', '--ipam-driver', 'meshplane', '--subnet', subnet, '-o', `meshplane.network=${name}`, name]

/**
 * Agents run with the defaults: a restarted agent's entries (and its peers' entries for
 * it) are kept for restart-grace-ms (15 s), which covers a slow Node start or mesh
 * reconnect on a loaded 2-core machine next to dockerds.
 */
const AGENT_ARGS: string[] = []

interface Env { cluster: Cluster, agents: TestAgent[], dockerds: TestDockerd[], lap: (what: string) => void }

async function withDocker (t: ExecutionContext, hosts: number, fn: (env: Env) => Promise<void>): Promise<void> {
  const t0 = Date.now()
  const lap = (what: string): void => { t.log(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`) }
  const cluster = await createCluster({ prefix: 'mpd', hosts, needs: DOCKER_PREREQUISITES })
  const dockerds: TestDockerd[] = []
  try {
    const agents = await startAgents(cluster, { args: AGENT_ARGS })
    await waitForPeers(agents, 'alive')
    for (const [i, agent] of agents.entries()) dockerds.push(await startDockerd(cluster, cluster.hosts[i]!, agent.dockerSocket))
    await Promise.all(dockerds.map(async d => { await d.importBusybox() }))
    lap('agents and dockerds up')
    await fn({ cluster, agents, dockerds, lap })
  } finally {
    await Promise.all(dockerds.map(async d => { await d.destroy() }))
    await cluster.destroy()
  }
}

/** `docker network create …` on every host, one after another as an operator would. */
async function createEverywhere (env: Env, name: string, subnet: string): Promise<void> {
  for (const d of env.dockerds) await d.run(createArgs(name, subnet))
}

async function runContainer (d: TestDockerd, name: string, network: string, extra: string[] = []): Promise<string> {
  await d.run(['run', '-d', '--init', '--name', name, '--network', network, ...extra, BUSYBOX, 'sleep', '100000'])
  return await ipOf(d, name, network)
}

async function ipOf (d: TestDockerd, name: string, network: string): Promise<string> {
  return await d.run(['inspect', '-f', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, name])
}

async function macOf (d: TestDockerd, name: string, network: string): Promise<string> {
  return await d.run(['inspect', '-f', `{{(index .NetworkSettings.Networks "${network}").MacAddress}}`, name])
}

async function canPing (d: TestDockerd, from: string, ip: string, timeoutS = 2): Promise<boolean> {
  return (await d.docker(['exec', from, 'ping', '-c', '1', '-W', String(timeoutS), ip], { timeoutMs: (timeoutS + 10) * 1000 })).code === 0
}

/** Whether a host's kernel holds meshplane's entries for a remote container: `self` FDB entry for its MAC or a neighbour for its IP. */
async function hostHas (cluster: Cluster, host: number, mac: string, ip: string): Promise<boolean> {
  const fdb = (await cluster.exec(cluster.hosts[host]!, ['bridge', 'fdb', 'show'])).stdout
  const neigh = (await cluster.exec(cluster.hosts[host]!, ['ip', 'neigh', 'show', ip])).stdout
  return fdb.split('\n').some(l => l.startsWith(mac) && l.includes('self')) || neigh.includes('PERMANENT')
}

interface Ctr { host: number, name: string, ip: string, mac: string }

test.serial('3 hosts, the same docker network create on each, 2 containers per host: every container pings every other, addresses distinct; stop/rm withdraws everywhere and frees the address', async t => {
  await withDocker(t, 3, async env => {
    const { cluster, dockerds } = env
    await createEverywhere(env, 'blue', SUBNET)
    const nets = await Promise.all(env.agents.map(async a => await a.networks()))
    t.deepEqual(nets, [['blue'], ['blue'], ['blue']], 'one cluster network, known everywhere')

    const ctrs: Ctr[] = []
    for (const [h, d] of dockerds.entries()) {
      for (let i = 0; i < 2; i++) {
        const name = `c${h}${i}`
        const ip = await runContainer(d, name, 'blue')
        ctrs.push({ host: h, name, ip, mac: await macOf(d, name, 'blue') })
      }
    }
    t.log(ctrs.map(c => `${c.name}@h${c.host} ${c.ip}`).join(', '))
    t.is(new Set(ctrs.map(c => c.ip)).size, ctrs.length, 'all addresses distinct')
    for (const c of ctrs) t.regex(c.ip, /^10\.240\./)

    // The container's interface: the agent's veth, MTU set, default route via the anycast gateway.
    const link = await dockerds[0]!.run(['exec', 'c00', 'ip', 'link', 'show', 'eth0'])
    t.regex(link, /mtu 1450/)
    t.regex(await dockerds[0]!.run(['exec', 'c00', 'ip', 'route']), /default via 10\.240\.0\.1 dev eth0/)

    await waitFor(async () => {
      for (const a of ctrs) for (const b of ctrs) if (a.host !== b.host && !await hostHas(cluster, a.host, b.mac, b.ip)) return false
      return true
    }, { what: 'every remote container programmed on every host' })
    const failures: string[] = []
    await Promise.all(ctrs.map(async a => {
      for (const b of ctrs) if (a !== b && !await canPing(dockerds[a.host]!, a.name, b.ip)) failures.push(`${a.name}→${b.name} (${b.ip})`)
    }))
    t.deepEqual(failures, [], 'every container reaches every other one')
    env.lap('ping matrix')
    t.true(await canPing(dockerds[1]!, 'c10', '10.240.0.1'), 'the gateway is local')

    // docker stop + rm: withdrawn on every host, address free again.
    const gone = ctrs.find(c => c.name === 'c21')!
    await dockerds[2]!.run(['stop', '-t', '1', gone.name])
    await waitFor(async () => {
      for (const h of [0, 1]) if (await hostHas(cluster, h, gone.mac, gone.ip)) return false
      return true
    }, { timeoutMs: 10_000, what: 'the stopped container withdrawn on every host' })
    await dockerds[2]!.run(['rm', gone.name])
    const endpoints = await env.agents[0]!.api.call<Array<{ ip: string }>>('GET', '/v1/endpoints?network=blue')
    t.false(endpoints.some(e => e.ip === gone.ip), 'no endpoint record left')
    t.is(endpoints.length, 5)
    // Reused on another host: host 1 claims it from host 2, which holds it.
    const reused = await runContainer(dockerds[1]!, 'c12', 'blue', ['--ip', gone.ip])
    t.is(reused, gone.ip, 'the address is reusable')
    await waitFor(async () => await canPing(dockerds[0]!, 'c00', reused), { timeoutMs: 10_000, what: 'the new container reachable' })
    const taken = await dockerds[0]!.docker(['run', '-d', '--init', '--name', 'dup', '--network', 'blue', '--ip', ctrs[0]!.ip, BUSYBOX, 'sleep', '100000'])
    t.not(taken.code, 0, 'an address in use is refused')
    t.regex(taken.stderr, /IpamDriver\.RequestAddress: .*in use/)

    env.lap('stop/rm and reuse')
    // A second network: reachable inside, isolated from blue.
    await createEverywhere(env, 'red', '10.241.0.0/16')
    const r0 = await runContainer(dockerds[0]!, 'r0', 'red')
    const r1 = await runContainer(dockerds[1]!, 'r1', 'red')
    t.regex(r0, /^10\.241\./)
    await waitFor(async () => await canPing(dockerds[0]!, 'r0', r1), { what: 'red connectivity' })
    const c10 = ctrs.find(c => c.name === 'c10')!
    t.false(await canPing(dockerds[0]!, 'r0', c10.ip, 1), 'red does not reach blue')
    t.false(await canPing(dockerds[1]!, 'c10', r0, 1), 'blue does not reach red')
    t.false(await canPing(dockerds[0]!, 'c00', r1, 1), 'blue does not reach red across hosts')

    // docker network connect / disconnect: Join into a running container's namespace.
    await dockerds[1]!.run(['network', 'connect', 'red', 'c10'])
    t.regex(await dockerds[1]!.run(['exec', 'c10', 'ip', '-o', 'addr', 'show']), /eth1 +inet 10\.241\./, 'a second interface on red')
    await waitFor(async () => await canPing(dockerds[1]!, 'c10', r0), { timeoutMs: 10_000, what: 'c10 reaches red after connect' })
    t.true(await canPing(dockerds[1]!, 'c10', ctrs[0]!.ip), 'and still blue')
    await dockerds[1]!.run(['network', 'disconnect', 'red', 'c10'])
    t.false(await canPing(dockerds[1]!, 'c10', r0, 1), 'not red after disconnect')
    t.true(await canPing(dockerds[1]!, 'c10', ctrs[0]!.ip), 'blue untouched by the disconnect')
    env.lap('isolation, connect/disconnect')
    // The agent's plugin socket answers bad requests in Docker's shapes and keeps serving.
    const sock = env.agents[1]!.dockerSocket
    const bad = await post(sock, '/NetworkDriver.CreateEndpoint', '{"NetworkID": "x", ')
    t.is(bad.status, 400)
    t.regex(String(bad.body.Err), /not JSON/)
    const unknownMethod = await post(sock, '/NetworkDriver.Teleport', '{}')
    t.is(unknownMethod.status, 404)
    const unknownNetwork = await post(sock, '/NetworkDriver.CreateEndpoint', JSON.stringify({ NetworkID: 'f'.repeat(64), EndpointID: 'e'.repeat(64), Interface: { Address: '10.240.9.9/16' } }))
    t.is(unknownNetwork.status, 404)
    t.regex(String(unknownNetwork.body.Err), /unknown network id/)
    const unknownEndpoint = await post(sock, '/NetworkDriver.Join', JSON.stringify({ NetworkID: 'f'.repeat(64), EndpointID: 'e'.repeat(64) }))
    t.is(unknownEndpoint.status, 404)
    const badPool = await post(sock, '/IpamDriver.RequestAddress', '[1,2')
    t.is(badPool.status, 400)
    t.regex(String(badPool.body.Error), /not JSON/)
    t.is((await post(sock, '/Plugin.Activate', '')).status, 200)
    await runContainer(dockerds[1]!, 'c13', 'blue')
    t.true(await canPing(dockerds[1]!, 'c13', ctrs[0]!.ip), 'Docker still gets served after the bad requests')
  })
})

test.serial('an agent restart, or a kill -9 and a restart, loses no ping at 10 ms intervals; a restarted dockerd brings its restart-policy containers back, also when its agent comes up after it', async t => {
  await withDocker(t, 2, async env => {
    const { dockerds, agents } = env
    await createEverywhere(env, 'blue', SUBNET)
    const a = await runContainer(dockerds[0]!, 'ca', 'blue')
    const b = await runContainer(dockerds[1]!, 'cb', 'blue', ['--restart', 'always'])
    await waitFor(async () => await canPing(dockerds[0]!, 'ca', b), { what: 'a reaches b' })

    // 10 ms pings from a (iputils ping inside a's network namespace) while both agents
    // restart, one after the other (each back in the mesh before the next goes), then b's
    // agent is killed and restarted.
    const pid = await dockerds[0]!.run(['inspect', '-f', '{{.State.Pid}}', 'ca'])
    const pinger = spawnTracked(['nsenter', `--net=/proc/${pid}/ns/net`, 'ping', '-i', '0.01', '-W', '1', b], 'a', ['ping'], { label: 'pinger' })
    await sleep(1000)
    await agents[1]!.stop()
    await agents[1]!.start()
    await waitForPeers(agents, 'alive')
    await agents[0]!.stop()
    await agents[0]!.start()
    await waitForPeers(agents, 'alive')
    // A crash (kill -9, as an OOM kill or a watchdog restart) and a restart a second later.
    await agents[1]!.kill9()
    await sleep(1000)
    await agents[1]!.start()
    await waitForPeers(agents, 'alive')
    await sleep(1000)
    pinger.kill('SIGINT') // ping prints its summary and exits
    await pinger.exited
    const m = /(\d+) packets transmitted, (\d+) received/.exec(pinger.output())
    t.truthy(m, pinger.output())
    t.log(m![0])
    if (m![1] !== m![2]) {
      // What the agents saw meanwhile, for whoever reads a failure.
      for (const agent of agents) {
        const lines = readFileSync(agent.log, 'utf8').split('\n')
          .filter(l => /peer state changed|"reconciled"|dial failed|agent started|stopping/.test(l)).slice(-25)
        t.log(`${agent.host.name}:\n${lines.map(l => l.slice(0, 300)).join('\n')}`)
      }
    }
    t.is(m![1], m![2], `no ping lost across two agent restarts and a kill -9: ${m![0]}`)
    // The restarted agents still serve Docker: a new container on each host.
    const a2 = await runContainer(dockerds[0]!, 'ca2', 'blue')
    await waitFor(async () => await canPing(dockerds[1]!, 'cb', a2), { timeoutMs: 10_000, what: 'b reaches a2 after the restarts' })

    env.lap('agent restarts')
    // dockerd restart: b (restart always) stops with the daemon and comes back.
    await dockerds[1]!.stop()
    await waitFor(async () => !(await agents[0]!.api.call<Array<{ ip: string }>>('GET', '/v1/endpoints?network=blue')).some(e => e.ip === b),
      { timeoutMs: 10_000, what: 'b withdrawn while its daemon is down' })
    await dockerds[1]!.start()
    const b2 = await waitFor(async () => {
      const ip = await ipOf(dockerds[1]!, 'cb', 'blue').catch(() => '')
      return ip !== '' && (await dockerds[1]!.run(['inspect', '-f', '{{.State.Running}}', 'cb'])) === 'true' ? ip : undefined
    }, { timeoutMs: 30_000, what: 'b running again' })
    await waitFor(async () => await canPing(dockerds[0]!, 'ca', b2), { timeoutMs: 15_000, what: 'a reaches b after the dockerd restart' })
    t.true(await canPing(dockerds[1]!, 'cb', a), 'and back')

    env.lap('dockerd restart')
    // Boot order gone wrong: the daemon starts before its agent. Docker retries the plugin
    // for ~15 s; the agent comes up within that, and b comes back.
    await dockerds[1]!.stop()
    await agents[1]!.stop()
    const starting = dockerds[1]!.start()
    await sleep(2000)
    await agents[1]!.start()
    await starting
    const b3 = await waitFor(async () => {
      const ip = await ipOf(dockerds[1]!, 'cb', 'blue').catch(() => '')
      return ip !== '' && (await dockerds[1]!.run(['inspect', '-f', '{{.State.Running}}', 'cb'])) === 'true' ? ip : undefined
    }, { timeoutMs: 30_000, what: 'b running again after its agent came up' })
    await waitFor(async () => await canPing(dockerds[0]!, 'ca', b3), { timeoutMs: 15_000, what: 'a reaches b after the late agent' })
    const endpoints = await agents[0]!.api.call<Array<{ ip: string }>>('GET', '/v1/endpoints?network=blue')
    t.deepEqual(endpoints.map(e => e.ip).sort(), [a, a2, b3].sort(), 'no stale endpoint left behind')
  })
})

test.serial('a container stopped while its agent is down: the agent finds the endpoint stale when it comes back, withdraws it everywhere and frees its address', async t => {
  await withDocker(t, 2, async env => {
    const { cluster, dockerds, agents } = env
    await createEverywhere(env, 'blue', SUBNET)
    const a = await runContainer(dockerds[0]!, 'ca', 'blue')
    const b = await runContainer(dockerds[1]!, 'cb', 'blue')
    await waitFor(async () => await canPing(dockerds[1]!, 'cb', a), { what: 'cb reaches ca' })
    // Docker's Revoke/Leave/DeleteEndpoint/ReleaseAddress go unanswered (~15 s of retries
    // each, then only logged); libnetwork still moves the interface back to the host.
    await agents[1]!.stop()
    await dockerds[1]!.run(['stop', '-t', '0', 'cb'], 120_000)
    env.lap('docker stop with the agent down')
    await agents[1]!.start()
    await waitFor(async () => !(await agents[0]!.api.call<Array<{ ip: string }>>('GET', '/v1/endpoints?network=blue')).some(e => e.ip === b),
      { timeoutMs: 10_000, what: 'the stale endpoint withdrawn everywhere' })
    const held = await agents[1]!.api.call<Array<{ ip: string }>>('GET', '/v1/ipam/allocations?network=blue')
    t.false(held.some(h => h.ip === b), 'its address released')
    t.notRegex((await cluster.exec(cluster.hosts[1]!, ['ip', '-o', 'link', 'show'])).stdout, /\bmp[vc][0-9a-f]{8}\b/, 'and its veth gone')
    // Docker starts the container again: a new endpoint, reachable.
    await dockerds[1]!.run(['start', 'cb'])
    const b2 = await ipOf(dockerds[1]!, 'cb', 'blue')
    await waitFor(async () => await canPing(dockerds[0]!, 'ca', b2), { timeoutMs: 10_000, what: 'ca reaches cb again' })
  })
})

interface Reply { status: number, body: Record<string, unknown> }

/** One request on a plugin socket, as Docker 20.10 sends it (no Content-Type). */
function post (socketPath: string, path: string, body: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'POST', headers: { accept: 'application/vnd.docker.plugins.v1.2+json' } }, res => {
      let text = ''
      res.on('data', chunk => { text += String(chunk) })
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: text === '' ? {} : JSON.parse(text) as Record<string, unknown> })
        } catch (err) {
          reject(new Error(`${path}: reply is not JSON: ${text}`, { cause: err }))
        }
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}
