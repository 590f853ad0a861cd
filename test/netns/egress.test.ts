/**
 * Egress, internal networks and isolation, for real: agents on namespace hosts, containers
 * attached with the agent's attach, and an "outside" namespace on the underlay running no
 * agent (a TCP and a UDP server that answer with the address they saw the client come
 * from). Docker's published ports are in docker-ports.test.ts.
 */
import test from 'ava'
import { createCluster, waitFor, sleep, type Cluster, type Container } from '../utils/netns.js'
import { startAgents, waitForPeers, type TestAgent } from '../utils/agents.js'
import { startPeerEchoServers } from '../utils/outside.js'
import { findNft } from '@meshplane/agent/dataplane/nft.js'

/** Debian's nft by its path: in npm scripts PATH starts with node_modules/.bin, where ava's
 * @vercel/nft installs a command of the same name. */
const NFT = findNft()

const TCP_PORT = 8080
const UDP_PORT = 9000

interface Env { cluster: Cluster, agents: TestAgent[], outside: { name: string, ip: string } }

async function withEgress (hosts: number, fn: (env: Env) => Promise<void>): Promise<void> {
  const cluster = await createCluster({ prefix: 'mpe', hosts, needs: ['nft', 'socat'] })
  try {
    const outside = await cluster.addOutside()
    startPeerEchoServers(cluster, outside.name, { tcp: TCP_PORT, udp: UDP_PORT })
    const agents = await startAgents(cluster, { args: ['--resync-interval-ms', '2000'] })
    await waitForPeers(agents, 'alive')
    await fn({ cluster, agents, outside })
  } finally {
    await cluster.destroy()
  }
}

async function attach (env: Env, host: number, network: string, name: string, ip: string): Promise<Container> {
  const c = await env.cluster.addContainer(env.cluster.hosts[host]!, name)
  await env.agents[host]!.api.call('POST', '/v1/attach', { network, netns: c.name, ip })
  return c
}

async function createNetwork (env: Env, name: string, subnet: string, internal = false): Promise<void> {
  await env.agents[0]!.api.call('POST', '/v1/networks', { name, subnet, ...(internal ? { internal: true } : {}) })
  await waitFor(async () => (await Promise.all(env.agents.map(async a => await a.networks()))).every(n => n.includes(name)), { what: `network ${name} everywhere` })
}

/** What the outside server answered ('' when nothing came back). */
async function tcpFrom (env: Env, c: Container, ip = env.outside.ip, port = TCP_PORT): Promise<string> {
  const r = await env.cluster.exec(c, ['socat', '-T', '2', '-', `TCP:${ip}:${port},connect-timeout=2`], { input: '' })
  return r.stdout.trim()
}

/** UDP is lossy (and each answer is a fork on a loaded machine): a few tries. */
async function udpFrom (env: Env, c: Container): Promise<string> {
  return await waitFor(async () => {
    const r = await env.cluster.exec(c, ['socat', '-T', '2', '-', `UDP:${env.outside.ip}:${UDP_PORT}`], { input: 'hi\n' })
    return r.stdout.trim() || undefined
  }, { timeoutMs: 12_000, what: 'a UDP answer from outside' })
}

test('egress by default: containers on 3 hosts reach an outside server over TCP and UDP, seen from their host\'s address; inside the network, no NAT', async t => {
  await withEgress(3, async env => {
    await createNetwork(env, 'blue', '10.240.0.0/16')
    const ctrs = await Promise.all([0, 1, 2].map(async h => await attach(env, h, 'blue', `c${h}`, `10.240.${h + 1}.10`)))
    for (const [h, c] of ctrs.entries()) {
      const hostIp = env.cluster.hosts[h]!.ip
      t.is(await waitFor(async () => await tcpFrom(env, c) || undefined, { timeoutMs: 15_000, what: `TCP egress from host ${h}` }), `from ${hostIp}`)
      t.is(await udpFrom(env, c), `from ${hostIp}`, `UDP egress from host ${h}`)
    }
    // Between endpoints of one network the receiver sees the sender's overlay address.
    env.cluster.spawn(ctrs[1]!, ['socat', 'TCP-LISTEN:7000,fork,reuseaddr', 'SYSTEM:echo from $SOCAT_PEERADDR'], { label: 'c1-tcp' })
    env.cluster.spawn(ctrs[0]!, ['socat', 'TCP-LISTEN:7000,fork,reuseaddr', 'SYSTEM:echo from $SOCAT_PEERADDR'], { label: 'c0-tcp' })
    const c3 = await attach(env, 0, 'blue', 'c3', '10.240.1.11')
    await sleep(300)
    t.is(await waitFor(async () => await tcpFrom(env, ctrs[0]!, '10.240.2.10', 7000) || undefined, { timeoutMs: 10_000, what: 'across hosts' }), 'from 10.240.1.10')
    t.is(await waitFor(async () => await tcpFrom(env, c3, '10.240.1.10', 7000) || undefined, { timeoutMs: 10_000, what: 'same host' }), 'from 10.240.1.11')

    const status = await env.agents[0]!.api.call<{ dataplane: { firewall: { ok: boolean, rules: number } } }>('GET', '/v1/status')
    t.true(status.dataplane.firewall.ok)
    t.true(status.dataplane.firewall.rules > 0)
  })
})

test('an internal network reaches nothing outside; two networks stay isolated with ip_forward=1 and with a FORWARD DROP policy; the host reaches its containers', async t => {
  await withEgress(2, async env => {
    await createNetwork(env, 'blue', '10.240.0.0/16')
    await createNetwork(env, 'green', '10.241.0.0/16')
    await createNetwork(env, 'red', '10.242.0.0/16', true)
    const blue0 = await attach(env, 0, 'blue', 'b0', '10.240.1.10')
    const blue1 = await attach(env, 1, 'blue', 'b1', '10.240.2.10')
    const green0 = await attach(env, 0, 'green', 'g0', '10.241.1.10')
    const green1 = await attach(env, 1, 'green', 'g1', '10.241.2.10')
    const red0 = await attach(env, 0, 'red', 'r0', '10.242.1.10')
    await attach(env, 1, 'red', 'r1', '10.242.2.10')
    const { cluster } = env
    await waitFor(async () => await cluster.ping(blue0, '10.240.2.10'), { timeoutMs: 15_000, what: 'blue across hosts' })
    await waitFor(async () => await tcpFrom(env, blue0) !== '', { timeoutMs: 15_000, what: 'blue egress' })

    const checkIsolation = async (when: string): Promise<void> => {
      t.is(await tcpFrom(env, red0), '', `${when}: internal red reaches no outside server`)
      t.true(await cluster.ping(red0, '10.242.2.10'), `${when}: red reaches red across hosts`)
      t.true(await cluster.ping(red0, '10.242.0.1'), `${when}: red reaches its gateway`)
      for (const [from, to] of [[green0, '10.240.1.10'], [green0, '10.240.2.10'], [green1, '10.240.1.10'], [blue0, '10.241.1.10'], [blue1, '10.241.1.10'], [red0, '10.240.1.10'], [blue0, '10.242.1.10']] as const) {
        t.false(await cluster.ping(from, to, { count: 1, timeoutS: 1 }), `${when}: ${from.shortName} must not reach ${to}`)
      }
      // another network's gateway is one of the host's own addresses: not for containers
      t.false(await cluster.ping(green0, '10.240.0.1', { count: 1, timeoutS: 1 }), `${when}: green must not reach blue's gateway`)
      t.true(await cluster.ping(blue0, '10.240.2.10'), `${when}: blue still reaches blue`)
      t.not(await tcpFrom(env, blue0), '', `${when}: blue still has egress`)
      t.true(await cluster.ping(cluster.hosts[0]!, '10.241.1.10'), `${when}: the host reaches its containers`)
    }
    for (const h of cluster.hosts) await cluster.exec(h, ['sysctl', '-qw', 'net.ipv4.ip_forward=1'], { check: true })
    await sleep(500)
    await checkIsolation('ip_forward=1')

    // dockerd's FORWARD policy (iptables-nft, as Debian's dockerd sets it)
    for (const h of cluster.hosts) await cluster.exec(h, ['iptables', '-P', 'FORWARD', 'DROP'], { check: true })
    await waitFor(async () => await tcpFrom(env, blue0) !== '', { timeoutMs: 10_000, what: 'egress through a FORWARD DROP policy (within the resync)' })
    await checkIsolation('FORWARD DROP')
    const saved = (await cluster.exec(cluster.hosts[0]!, ['iptables', '-S', 'FORWARD'], { check: true })).stdout
    t.regex(saved, /-i mpbr\+ .*meshplane-in -j ACCEPT/, 'iptables reads meshplane\'s compat rules')
  })
})

test('rules flushed by hand come back within the resync; another table is untouched; an agent restart keeps an established flow; the last endpoint gone, the rules go', async t => {
  await withEgress(1, async env => {
    const { cluster } = env
    const host = cluster.hosts[0]!
    await createNetwork(env, 'blue', '10.240.0.0/16')
    const c = await attach(env, 0, 'blue', 'c0', '10.240.1.10')
    await waitFor(async () => await tcpFrom(env, c) !== '', { timeoutMs: 15_000, what: 'egress' })
    await cluster.sh(host, `${NFT} add table inet testtbl && ${NFT} add chain inet testtbl c && ${NFT} add rule inet testtbl c counter comment keep-me`, { check: true })

    for (const flush of [`${NFT} flush table inet meshplane`, `${NFT} delete table inet meshplane`]) {
      await cluster.sh(host, flush, { check: true })
      const gone = await cluster.sh(host, `${NFT} list ruleset`)
      t.notRegex(gone.stdout, /masquerade/, `${flush} took the rules away`)
      await waitFor(async () => /masquerade/.test((await cluster.sh(host, `${NFT} list ruleset`)).stdout), { timeoutMs: 10_000, what: `rules back after ${flush}` })
      t.not(await tcpFrom(env, c), '', `egress after ${flush}`)
    }
    // iptables -F empties the FORWARD chain: with a DROP policy, egress needs the compat rules back
    await cluster.exec(host, ['iptables', '-P', 'FORWARD', 'DROP'], { check: true })
    await waitFor(async () => await tcpFrom(env, c) !== '', { timeoutMs: 10_000, what: 'egress through FORWARD DROP' })
    await cluster.exec(host, ['iptables', '-F'], { check: true })
    t.notRegex((await cluster.exec(host, ['iptables', '-S', 'FORWARD'])).stdout, /meshplane/)
    await waitFor(async () => /meshplane-in/.test((await cluster.exec(host, ['iptables', '-S', 'FORWARD'])).stdout), { timeoutMs: 10_000, what: 'compat rules back after iptables -F' })
    t.not(await tcpFrom(env, c), '', 'egress after iptables -F')
    const other = await cluster.exec(host, [NFT, 'list', 'table', 'inet', 'testtbl'], { check: true })
    t.regex(other.stdout, /keep-me/, 'the other table keeps its rule')

    // a long-lived flow (a TCP connection to the outside) across an agent restart
    const sink = cluster.spawn(env.outside.name, ['socat', '-u', 'TCP-LISTEN:7001,reuseaddr', 'STDOUT'], { label: 'sink' })
    await sleep(300)
    cluster.spawn(c, ['sh', '-c', `(for i in $(seq 1 60); do echo tick $i; sleep 0.2; done) | socat -u - TCP:${env.outside.ip}:7001`], { label: 'flow' })
    await waitFor(() => sink.output().includes('tick 3'), { timeoutMs: 5000, what: 'the flow to start' })
    await env.agents[0]!.stop()
    await env.agents[0]!.start()
    await waitFor(async () => await tcpFrom(env, c) !== '', { timeoutMs: 15_000, what: 'egress after the restart' })
    await waitFor(() => sink.output().includes('tick 60'), { timeoutMs: 20_000, what: 'the established flow to finish' })
    const ticks = sink.output().split('\n').filter(l => l.startsWith('tick')).length
    t.is(ticks, 60, 'the established flow lost nothing across the agent restart')

    // The last endpoint gone: the table and the compat rules go with it; the other table stays.
    await env.agents[0]!.api.call('POST', '/v1/detach', { network: 'blue', netns: c.name })
    await waitFor(async () => (await cluster.exec(host, [NFT, 'list', 'table', 'inet', 'meshplane'])).code !== 0, { timeoutMs: 10_000, what: 'the table removed with the last endpoint' })
    t.notRegex((await cluster.exec(host, ['iptables', '-S', 'FORWARD'])).stdout, /meshplane/, 'the compat rules removed too')
    t.regex((await cluster.exec(host, [NFT, 'list', 'table', 'inet', 'testtbl'], { check: true })).stdout, /keep-me/)
  })
})
