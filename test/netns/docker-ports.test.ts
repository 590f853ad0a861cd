/**
 * The world, with real dockerds (one per namespace host, as in docker.test.ts) and an
 * "outside" namespace on the underlay running no agent: Docker containers reach it through
 * their host (egress, masqueraded), `--internal` networks do not, and `docker run -p`
 * publishes a container's port on its host's underlay address, TCP and UDP, to other hosts
 * and to the outside, until `docker rm`; an agent restart cuts no established flow.
 *
 * Servers and clients that busybox lacks (UDP, a peer-address echo) are the host's socat
 * run in the container's network namespace (nsenter -t <container pid> -n): the packets take
 * exactly the container's path.
 */
import test, { type ExecutionContext } from 'ava'
import { createCluster, waitFor, sleep, type Cluster } from '../utils/netns.js'
import { startAgents, waitForPeers, type TestAgent } from '../utils/agents.js'
import { startPeerEchoServers } from '../utils/outside.js'
import { startDockerd, BUSYBOX, type TestDockerd } from '../utils/dockerd.js'
import { DOCKER_PREREQUISITES } from '../utils/prerequisites.js'

const SUBNET = '10.240.0.0/16'
const ECHO_TCP = 8080
const ECHO_UDP = 9000

interface Env { cluster: Cluster, agents: TestAgent[], dockerds: TestDockerd[], outside: { name: string, ip: string } }

async function withWorld (t: ExecutionContext, hosts: number, fn: (env: Env) => Promise<void>): Promise<void> {
  const cluster = await createCluster({ prefix: 'mpw', hosts, needs: [...DOCKER_PREREQUISITES, 'nft', 'socat'] })
  const dockerds: TestDockerd[] = []
  try {
    const outside = await cluster.addOutside()
    startPeerEchoServers(cluster, outside.name, { tcp: ECHO_TCP, udp: ECHO_UDP })
    const agents = await startAgents(cluster, { args: ['--resync-interval-ms', '2000'] })
    await waitForPeers(agents, 'alive')
    for (const [i, agent] of agents.entries()) dockerds.push(await startDockerd(cluster, cluster.hosts[i]!, agent.dockerSocket))
    await Promise.all(dockerds.map(async d => { await d.importBusybox() }))
    t.log('agents and dockerds up')
    await fn({ cluster, agents, dockerds, outside })
  } finally {
    await Promise.all(dockerds.map(async d => { await d.destroy() }))
    await cluster.destroy()
  }
}

async function createEverywhere (env: Env, name: string, subnet: string, extra: string[] = []): Promise<void> {
  for (const d of env.dockerds) await d.run(['network', 'create', '-d', 'meshplane', '--ipam-driver', 'meshplane', '--subnet', subnet, '-o', `meshplane.network=${name}`, ...extra, name])
}

async function pidOf (d: TestDockerd, container: string): Promise<string> {
  return await d.run(['inspect', '-f', '{{.State.Pid}}', container])
}

/** socat in the container's network namespace, as a client: what came back ('' for nothing). */
async function socatFrom (env: Env, d: TestDockerd, container: string, address: string, input = 'hi\n'): Promise<string> {
  const pid = await pidOf(d, container)
  const r = await env.cluster.exec(d.host, ['nsenter', '-t', pid, '-n', 'socat', '-T', '2', '-', address], { input })
  return r.stdout.trim()
}

/** From the outside namespace: what a TCP or UDP request to addr:port answers ('' for nothing). */
async function fromOutside (env: Env, proto: 'TCP' | 'UDP', ip: string, port: number, input = 'hi\n'): Promise<string> {
  const target = proto === 'TCP' ? `TCP:${ip}:${port},connect-timeout=2` : `UDP:${ip}:${port}`
  return (await env.cluster.exec(env.outside.name, ['socat', '-T', '2', '-', target], { input })).stdout.trim()
}

test.serial('Docker containers on 3 hosts reach the outside over TCP and UDP from their host\'s address; a --internal network reaches nothing outside', async t => {
  await withWorld(t, 3, async env => {
    const { dockerds, cluster } = env
    await createEverywhere(env, 'blue', SUBNET)
    await createEverywhere(env, 'vault', '10.242.0.0/16', ['--internal'])
    for (const [h, d] of dockerds.entries()) await d.run(['run', '-d', '--init', '--name', `c${h}`, '--network', 'blue', BUSYBOX, 'sleep', '100000'])
    await dockerds[0]!.run(['run', '-d', '--init', '--name', 'v0', '--network', 'vault', BUSYBOX, 'sleep', '100000'])
    for (const [h, d] of dockerds.entries()) {
      const hostIp = cluster.hosts[h]!.ip
      // busybox's own nc, inside the container, for TCP
      const tcp = await waitFor(async () => (await d.docker(['exec', `c${h}`, 'sh', '-c', `echo hi | nc ${env.outside.ip} ${ECHO_TCP}`])).stdout.trim() || undefined,
        { timeoutMs: 15_000, what: `TCP egress from host ${h}` })
      t.is(tcp, `from ${hostIp}`, `TCP from the container on host ${h} is seen from its host's address`)
      // UDP is lossy (each answer is a fork on a loaded machine): a few tries
      t.is(await waitFor(async () => await socatFrom(env, d, `c${h}`, `UDP:${env.outside.ip}:${ECHO_UDP}`) || undefined, { timeoutMs: 12_000, what: `UDP egress from host ${h}` }),
        `from ${hostIp}`, `UDP from host ${h}`)
    }
    t.is((await dockerds[0]!.docker(['exec', 'v0', 'sh', '-c', `echo hi | nc -w 2 ${env.outside.ip} ${ECHO_TCP}`])).stdout.trim(), '', 'the internal network reaches nothing outside')
    const status = await env.agents[0]!.api.call<{ dataplane: { firewall: { ok: boolean } } }>('GET', '/v1/status')
    t.true(status.dataplane.firewall.ok)
  })
})

test.serial('docker run -p on host 2: the port answers on host 2\'s address from outside and from another host, TCP and UDP, with the client\'s own source address; gone after docker rm; an agent restart keeps it and cuts no established flow', async t => {
  await withWorld(t, 2, async env => {
    const { dockerds, cluster } = env
    const d = dockerds[1]!
    const hostIp = cluster.hosts[1]!.ip
    await createEverywhere(env, 'blue', SUBNET)
    await d.run(['run', '-d', '--init', '--name', 'web', '--network', 'blue', '-p', '8080:80', '-p', '9000:9000/udp', '-p', '7001:7001', BUSYBOX, 'sleep', '100000'])
    const pid = await pidOf(d, 'web')
    // The container's servers: the host's socat in its namespace, answering with the peer address.
    const inWeb = (argv: string[], label: string): ReturnType<Cluster['spawn']> => cluster.spawn(d.host, ['nsenter', '-t', pid, '-n', ...argv], { label })
    inWeb(['socat', 'TCP-LISTEN:80,fork,reuseaddr', 'SYSTEM:echo web saw $SOCAT_PEERADDR'], 'web-tcp')
    inWeb(['socat', 'UDP-RECVFROM:9000,fork,reuseaddr', 'SYSTEM:echo web saw $SOCAT_PEERADDR'], 'web-udp')
    const sink = inWeb(['socat', '-u', 'TCP-LISTEN:7001,reuseaddr', 'STDOUT'], 'web-sink')
    await sleep(300)

    t.is(await waitFor(async () => await fromOutside(env, 'TCP', hostIp, 8080) || undefined, { timeoutMs: 10_000, what: 'the published TCP port from outside' }),
      `web saw ${env.outside.ip}`, 'TCP from outside, the client\'s own address (no proxy, no SNAT)')
    t.is(await waitFor(async () => await fromOutside(env, 'UDP', hostIp, 9000) || undefined, { timeoutMs: 12_000, what: 'the published UDP port' }), `web saw ${env.outside.ip}`, 'UDP from outside')
    const fromHost1 = await cluster.exec(cluster.hosts[0]!, ['socat', '-T', '2', '-', `TCP:${hostIp}:8080,connect-timeout=2`], { input: '' })
    t.is(fromHost1.stdout.trim(), `web saw ${cluster.hosts[0]!.ip}`, 'from another host of the cluster')
    t.is(await fromOutside(env, 'TCP', cluster.hosts[0]!.ip, 8080), '', 'host 1 publishes nothing')
    const status = await env.agents[1]!.api.call<{ dataplane: { firewall: { ports: Array<{ hostPort: number, programmed: boolean }> } } }>('GET', '/v1/status')
    t.deepEqual(status.dataplane.firewall.ports.map(p => [p.hostPort, p.programmed]).sort(), [[7001, true], [8080, true], [9000, true]])

    // An established flow from outside through the published port, across an agent restart.
    cluster.spawn(env.outside.name, ['sh', '-c', `(for i in $(seq 1 40); do echo tick $i; sleep 0.2; done) | socat -u - TCP:${hostIp}:7001`], { label: 'flow' })
    await waitFor(() => sink.output().includes('tick 3'), { timeoutMs: 5000, what: 'the flow to start' })
    await env.agents[1]!.stop()
    await env.agents[1]!.start()
    t.is(await waitFor(async () => await fromOutside(env, 'TCP', hostIp, 8080) || undefined, { timeoutMs: 15_000, what: 'the port after the agent restart' }), `web saw ${env.outside.ip}`)
    await waitFor(() => sink.output().includes('tick 40'), { timeoutMs: 20_000, what: 'the established flow to finish' })
    t.is(sink.output().split('\n').filter(l => l.startsWith('tick')).length, 40, 'the established flow lost nothing across the agent restart')

    await d.run(['rm', '-f', 'web'])
    await waitFor(async () => await fromOutside(env, 'TCP', hostIp, 8080) === '', { timeoutMs: 10_000, what: 'the port to close after docker rm' })
    const after = await env.agents[1]!.api.call<{ dataplane: { firewall: { ports: unknown[] } } }>('GET', '/v1/status')
    t.deepEqual(after.dataplane.firewall.ports, [])

    // A taken port fails docker run with a clear error, as Docker's bridge driver does.
    await d.run(['run', '-d', '--init', '--name', 'pa', '--network', 'blue', '-p', '8081:80', BUSYBOX, 'sleep', '100000'])
    const clash = await d.docker(['run', '-d', '--init', '--name', 'pb', '--network', 'blue', '-p', '8081:80', BUSYBOX, 'sleep', '100000'])
    t.not(clash.code, 0)
    t.regex(clash.stderr, /8081\/tcp is already published/)
    const agentPort = await d.docker(['run', '-d', '--init', '--name', 'pc', '--network', 'blue', '-p', '7946:80', BUSYBOX, 'sleep', '100000'])
    t.regex(agentPort.stderr, /7946\/tcp is not free on this host/, 'the agent\'s own mesh port cannot be taken')
  })
})
