/**
 * The Docker plugin's handlers through injected HTTP requests (no socket, fake agent
 * parts from test/utils/docker-fakes.ts), plus one test on a real unix socket and a few
 * over the agent's own Networks on real state replicas (stateHost). The netns suite
 * (test/netns/docker.test.ts) runs the same plugin under real dockerds.
 */
import test, { type ExecutionContext } from 'ava'
import { request } from 'node:http'
import { mkdtempSync, rmSync, statSync, existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { buildDockerApp, createDockerPlugin, DockerHandlers, dockerSocketPath } from '@meshplane/agent/docker/index.js'
import { ClusterState, DataStore, SYNC_BUCKETS } from '@meshplane/agent/state/index.js'
import { Networks } from '@meshplane/agent/control/networks.js'
import { intToIp, parseCidr } from '@meshplane/agent/net/addr.js'
import { FakeCluster, fakeHost, memoryStore, type FakeHost } from '../utils/docker-fakes.js'

const V12 = 'application/vnd.docker.plugins.v1.2+json'
const NET_A = 'a'.repeat(64)
const NET_B = 'b'.repeat(64)
const EP1 = '1'.repeat(64)
const EP2 = '2'.repeat(64)
const SUBNET = '10.240.0.0/16'
const VNI = 'meshplane.vni'
const MTU = 'com.docker.network.driver.mtu'

interface Reply { status: number, body: Record<string, any> }

async function host (cluster: FakeCluster, name: string, store = memoryStore()): Promise<{ app: FastifyInstance, fake: FakeHost }> {
  const fake = fakeHost(cluster, name, store)
  const handlers = new DockerHandlers(fake.components)
  await handlers.load()
  return { app: buildDockerApp(handlers, fake.components), fake }
}

async function call (app: FastifyInstance, method: string, body?: unknown, contentType: string | undefined = V12): Promise<Reply> {
  const payload = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body) + '\n'
  const headers: Record<string, string> = { accept: V12 }
  if (contentType !== undefined) headers['content-type'] = contentType
  const res = await app.inject({ method: 'POST', url: `/${method}`, payload, headers })
  return { status: res.statusCode, body: res.body === '' ? {} : res.json() }
}

async function ok (app: FastifyInstance, method: string, body?: unknown): Promise<Record<string, any>> {
  const r = await call(app, method, body)
  if (r.status !== 200) throw new Error(`${method}: ${r.status} ${JSON.stringify(r.body)}`)
  return r.body
}

/** What `docker network create -d meshplane --ipam-driver meshplane --subnet S -o meshplane.network=N [-o K=V…]`
 * sends: RequestPool, then CreateNetwork, whose reply is returned as it came. */
async function tryDockerNetworkCreate (app: FastifyInstance, networkId: string, name: string | undefined, subnet = '10.240.0.0/16', driverOpts: Record<string, string> = {}): Promise<{ poolId: string, gateway: string, reply: Reply }> {
  const pool = await ok(app, 'IpamDriver.RequestPool', { AddressSpace: 'meshplane-local', Pool: subnet, SubPool: '', Options: null, V6: false })
  const gateway = pool.Data['com.docker.network.gateway'] as string
  // Docker puts every -o, as a string, in the generic map, next to the network name.
  const generic: Record<string, string> = { ...(name === undefined ? {} : { 'meshplane.network': name }), ...driverOpts }
  const reply = await call(app, 'NetworkDriver.CreateNetwork', {
    NetworkID: networkId,
    Options: { 'com.docker.network.enable_ipv6': false, 'com.docker.network.generic': generic },
    IPv4Data: [{ AddressSpace: 'meshplane-local', Pool: pool.Pool, Gateway: gateway }],
    IPv6Data: []
  })
  return { poolId: pool.PoolID, gateway, reply }
}

async function dockerNetworkCreate (app: FastifyInstance, networkId: string, name: string | undefined, subnet = '10.240.0.0/16', driverOpts: Record<string, string> = {}): Promise<{ poolId: string, gateway: string }> {
  const { poolId, gateway, reply } = await tryDockerNetworkCreate(app, networkId, name, subnet, driverOpts)
  if (reply.status !== 200) throw new Error(`NetworkDriver.CreateNetwork: ${reply.status} ${JSON.stringify(reply.body)}`)
  return { poolId, gateway }
}

/** What `docker run --network N` sends up to Join. */
async function dockerRun (app: FastifyInstance, networkId: string, poolId: string, endpointId: string): Promise<{ address: string, mac: string, join: Record<string, any> }> {
  const addr = await ok(app, 'IpamDriver.RequestAddress', { PoolID: poolId, Address: '', Options: null })
  const created = await ok(app, 'NetworkDriver.CreateEndpoint', { NetworkID: networkId, EndpointID: endpointId, Interface: { Address: addr.Address, AddressIPv6: '', MacAddress: '' }, Options: {} })
  const joined = await ok(app, 'NetworkDriver.Join', { NetworkID: networkId, EndpointID: endpointId, SandboxKey: '/var/run/docker/netns/x', Options: null })
  await ok(app, 'NetworkDriver.EndpointOperInfo', { NetworkID: networkId, EndpointID: endpointId })
  return { address: addr.Address, mac: created.Interface.MacAddress, join: joined }
}

test('activation answers both subsystems; capabilities and address spaces', async t => {
  const { app } = await host(new FakeCluster(), 'h1')
  t.deepEqual(await ok(app, 'Plugin.Activate'), { Implements: ['NetworkDriver', 'IpamDriver'] })
  t.deepEqual(await ok(app, 'NetworkDriver.GetCapabilities'), { Scope: 'local', ConnectivityScope: 'global' })
  t.deepEqual(await ok(app, 'IpamDriver.GetCapabilities'), { RequiresMACAddress: false, RequiresRequestReplay: false })
  t.deepEqual(await ok(app, 'IpamDriver.GetDefaultAddressSpaces'), { LocalDefaultAddressSpace: 'meshplane-local', GlobalDefaultAddressSpace: 'meshplane-global' })
})

test('bodies with any content type, none, or no body at all are read', async t => {
  const { app } = await host(new FakeCluster(), 'h1')
  for (const ct of [V12, 'application/vnd.docker.plugins.v1+json', 'application/json', 'text/plain', undefined]) {
    const r = await call(app, 'IpamDriver.RequestPool', { Pool: '10.9.0.0/16' }, ct)
    t.is(r.status, 200, String(ct))
    t.is(r.body.PoolID, 'meshplane:10.9.0.0/16')
    t.is((await call(app, 'Plugin.Activate', undefined, ct)).status, 200)
  }
})

test('the same docker network create on two hosts joins one cluster network; anycast gateway; distinct addresses', async t => {
  const cluster = new FakeCluster()
  const a = await host(cluster, 'h1')
  const b = await host(cluster, 'h2')
  const na = await dockerNetworkCreate(a.app, NET_A, 'blue')
  const nb = await dockerNetworkCreate(b.app, NET_B, 'blue')
  t.is(cluster.networks.size, 1)
  t.is(na.gateway, '10.240.0.1/16')
  t.is(nb.gateway, na.gateway, 'the same gateway on every host')
  t.is(na.poolId, nb.poolId)
  // Docker's gateway request (when RequestPool Data is not used, or with --gateway).
  const gw = await ok(b.app, 'IpamDriver.RequestAddress', { PoolID: nb.poolId, Address: '', Options: { RequestAddressType: 'com.docker.network.gateway' } })
  t.is(gw.Address, '10.240.0.1/16')
  t.false(cluster.allocated.get('blue')?.has('10.240.0.1') ?? false, 'the gateway is never allocated')

  const r1 = await dockerRun(a.app, NET_A, na.poolId, EP1)
  const r2 = await dockerRun(b.app, NET_B, nb.poolId, EP2)
  t.not(r1.address, r2.address)
  t.regex(r1.address, /^10\.240\.\d+\.\d+\/16$/)
  t.deepEqual(r1.join, { InterfaceName: { SrcName: `mpc-${EP1.slice(0, 4)}`, DstPrefix: 'eth' }, Gateway: '10.240.0.1', DisableGatewayService: false })
  t.regex(r1.mac, /^02:42:0a:f0:/)
  t.is(a.fake.veths.get(EP1)?.mtu, 1377, 'the overlay MTU the agent computes reaches the veth')
  t.is(a.fake.veths.get(EP1)?.mac, r1.mac)
  t.truthy(cluster.records.get(`h1/blue/${EP1}`), 'endpoint record published at Join')
  t.is(cluster.records.get(`h2/blue/${EP2}`)?.ipv4, r2.address.split('/')[0])
})

test('stop: Leave withdraws, DeleteEndpoint removes the veth (idempotent), ReleaseAddress frees the address', async t => {
  const cluster = new FakeCluster()
  const { app, fake } = await host(cluster, 'h1')
  const { poolId } = await dockerNetworkCreate(app, NET_A, 'blue')
  const r1 = await dockerRun(app, NET_A, poolId, EP1)
  const ip = r1.address.split('/')[0]!
  await ok(app, 'NetworkDriver.Leave', { NetworkID: NET_A, EndpointID: EP1 })
  t.false(cluster.records.has(`h1/blue/${EP1}`))
  t.true(fake.veths.has(EP1), 'libnetwork moves the interface back after Leave: the veth stays until DeleteEndpoint')
  await ok(app, 'NetworkDriver.DeleteEndpoint', { NetworkID: NET_A, EndpointID: EP1 })
  t.false(fake.veths.has(EP1))
  await ok(app, 'NetworkDriver.DeleteEndpoint', { NetworkID: NET_A, EndpointID: EP1 })
  await ok(app, 'IpamDriver.ReleaseAddress', { PoolID: poolId, Address: ip })
  await ok(app, 'IpamDriver.ReleaseAddress', { PoolID: poolId, Address: ip })
  t.false(cluster.allocated.get('blue')!.has(ip))
  const again = await dockerRun(app, NET_A, poolId, EP2)
  t.is(again.address.split('/')[0], ip, 'the address is reusable')
  // docker network rm: releases the gateway (never allocated: fine), then DeleteNetwork.
  await ok(app, 'IpamDriver.ReleaseAddress', { PoolID: poolId, Address: '10.240.0.1' })
  await ok(app, 'IpamDriver.ReleasePool', { PoolID: poolId })
  await ok(app, 'NetworkDriver.DeleteNetwork', { NetworkID: NET_A })
  await ok(app, 'NetworkDriver.DeleteNetwork', { NetworkID: NET_A })
  t.true(cluster.networks.has('blue'), 'the cluster network stays: other hosts use it')
  t.false(fake.store.data.has(`docker/network/${NET_A}`))
})

test('the mapping survives a restart: a new plugin over the same store serves old networks and endpoints', async t => {
  const cluster = new FakeCluster()
  const store = memoryStore()
  const first = await host(cluster, 'h1', store)
  const { poolId } = await dockerNetworkCreate(first.app, NET_A, 'blue')
  const addr = await ok(first.app, 'IpamDriver.RequestAddress', { PoolID: poolId, Address: '', Options: null })
  await ok(first.app, 'NetworkDriver.CreateEndpoint', { NetworkID: NET_A, EndpointID: EP1, Interface: { Address: addr.Address }, Options: null })
  await first.app.close()

  const second = await host(cluster, 'h1', store)
  const joined = await ok(second.app, 'NetworkDriver.Join', { NetworkID: NET_A, EndpointID: EP1, SandboxKey: '', Options: {} })
  t.is(joined.Gateway, '10.240.0.1')
  await ok(second.app, 'NetworkDriver.CreateEndpoint', { NetworkID: NET_A, EndpointID: EP2, Interface: { Address: '10.240.0.77/16' }, Options: {} })
  const info = await ok(second.app, 'NetworkDriver.EndpointOperInfo', { NetworkID: NET_A, EndpointID: EP1 })
  t.like(info.Value, { network: 'blue', ip: addr.Address.split('/')[0], joined: true })
})

test('at start, endpoints Docker let go of while the agent was away are removed; live and pending ones stay', async t => {
  const cluster = new FakeCluster()
  const store = memoryStore()
  const first = await host(cluster, 'h1', store)
  const { poolId } = await dockerNetworkCreate(first.app, NET_A, 'blue')
  const ids = ['1', '2', '3', '4'].map(c => c.repeat(64))
  const ips: string[] = []
  for (const [i, id] of ids.entries()) {
    if (i < 3) {
      ips.push((await dockerRun(first.app, NET_A, poolId, id)).address.split('/')[0]!)
    } else {
      const addr = await ok(first.app, 'IpamDriver.RequestAddress', { PoolID: poolId, Address: '', Options: null })
      await ok(first.app, 'NetworkDriver.CreateEndpoint', { NetworkID: NET_A, EndpointID: id, Interface: { Address: addr.Address } })
      ips.push(addr.Address.split('/')[0])
    }
  }
  await first.app.close()

  // The agent was down: Docker moved endpoint 2's interface back to the host (Leave and
  // DeleteEndpoint never arrived); endpoint 3's container namespace is gone with its veth.
  const fake = fakeHost(cluster, 'h1', store)
  fake.vethStates.set(ids[0]!, 'peer-moved').set(ids[1]!, 'peer-in-host').set(ids[2]!, 'absent').set(ids[3]!, 'absent')
  const handlers = new DockerHandlers(fake.components)
  await handlers.load()
  t.deepEqual(handlers.mapping.endpoints().map(([id]) => id).sort(), [ids[0], ids[3]].sort(), 'running and not yet joined endpoints stay')
  t.deepEqual([...cluster.records.keys()], [`h1/blue/${ids[0]}`], 'the stale ones are withdrawn')
  t.true(fake.calls.includes(`veth- ${ids[1]}`))
  t.false(cluster.allocated.get('blue')!.has(ips[1]!), 'and their addresses released')
  t.false(cluster.allocated.get('blue')!.has(ips[2]!))
  t.true(cluster.allocated.get('blue')!.has(ips[0]!))
  t.true(cluster.allocated.get('blue')!.has(ips[3]!))
})

test('ReleaseAddress of an address a local endpoint still holds removes that stale endpoint', async t => {
  const cluster = new FakeCluster()
  const { app, fake } = await host(cluster, 'h1')
  const { poolId } = await dockerNetworkCreate(app, NET_A, 'blue')
  const r1 = await dockerRun(app, NET_A, poolId, EP1)
  await ok(app, 'IpamDriver.ReleaseAddress', { PoolID: poolId, Address: r1.address.split('/')[0] })
  t.false(cluster.records.has(`h1/blue/${EP1}`))
  t.false(fake.veths.has(EP1))
  t.is((await call(app, 'NetworkDriver.EndpointOperInfo', { NetworkID: NET_A, EndpointID: EP1 })).status, 404)
})

test('--ip claims the address; the same address twice is a conflict', async t => {
  const cluster = new FakeCluster()
  const { app } = await host(cluster, 'h1')
  const { poolId } = await dockerNetworkCreate(app, NET_A, 'blue')
  t.is((await ok(app, 'IpamDriver.RequestAddress', { PoolID: poolId, Address: '10.240.3.3', Options: {} })).Address, '10.240.3.3/16')
  const again = await call(app, 'IpamDriver.RequestAddress', { PoolID: poolId, Address: '10.240.3.3', Options: {} })
  t.is(again.status, 409)
  t.regex(again.body.Error, /in use/)
  const outside = await call(app, 'IpamDriver.RequestAddress', { PoolID: poolId, Address: '10.9.3.3', Options: {} })
  t.is(outside.status, 400)
})

test('errors: malformed JSON, bad bodies, unknown ids and methods get Docker-shaped replies, and serving goes on', async t => {
  const cluster = new FakeCluster()
  const { app, fake } = await host(cluster, 'h1')
  const bad = await call(app, 'NetworkDriver.CreateNetwork', '{"NetworkID": ')
  t.is(bad.status, 400)
  t.regex(bad.body.Err, /not JSON/)
  t.is(bad.body.Error, undefined, 'driver errors use Err only')
  const badIpam = await call(app, 'IpamDriver.RequestPool', '{nope')
  t.is(badIpam.status, 400)
  t.regex(badIpam.body.Error, /not JSON/, 'IPAM errors carry Error')
  t.is(badIpam.body.Err, badIpam.body.Error, '…and Err, which Docker reads on non-200')

  const unknown = await call(app, 'NetworkDriver.Frobnicate', {})
  t.is(unknown.status, 404)
  t.regex(unknown.body.Err, /does not implement NetworkDriver.Frobnicate/)
  t.is((await app.inject({ method: 'GET', url: '/Plugin.Activate' })).statusCode, 404)

  const noId = await call(app, 'NetworkDriver.CreateNetwork', { Options: {} })
  t.is(noId.status, 400)
  t.regex(noId.body.Err, /NetworkID/)
  const notAnId = await call(app, 'NetworkDriver.Join', { NetworkID: '../../etc', EndpointID: EP1 })
  t.is(notAnId.status, 400)

  const unknownNet = await call(app, 'NetworkDriver.CreateEndpoint', { NetworkID: NET_B, EndpointID: EP1, Interface: { Address: '10.240.0.5/16' } })
  t.is(unknownNet.status, 404)
  t.regex(unknownNet.body.Err, /unknown network id/)
  for (const m of ['Join', 'Leave', 'EndpointOperInfo']) {
    const r = await call(app, `NetworkDriver.${m}`, { NetworkID: NET_A, EndpointID: EP2 })
    t.is(r.status, 404, m)
    t.regex(r.body.Err, /unknown endpoint id/)
  }
  t.is((await call(app, 'NetworkDriver.DeleteEndpoint', { NetworkID: NET_A, EndpointID: EP2 })).status, 200, 'deletes are idempotent')
  t.is((await call(app, 'IpamDriver.RequestAddress', { PoolID: 'default/10.0.0.0/8', Address: '' })).status, 404)

  // Network creation mistakes.
  const noName = await call(app, 'NetworkDriver.CreateNetwork', { NetworkID: NET_A, Options: { 'com.docker.network.generic': {} }, IPv4Data: [{ AddressSpace: 'meshplane-local', Pool: '10.240.0.0/16' }] })
  t.is(noName.status, 400)
  t.regex(noName.body.Err, /meshplane\.network=NAME is required/)
  const otherIpam = await call(app, 'NetworkDriver.CreateNetwork', { NetworkID: NET_A, Options: { 'com.docker.network.generic': { 'meshplane.network': 'blue' } }, IPv4Data: [{ AddressSpace: 'LocalDefault', Pool: '172.18.0.0/16' }] })
  t.is(otherIpam.status, 400)
  t.regex(otherIpam.body.Err, /meshplane's IPAM/)
  const noSubnet = await call(app, 'IpamDriver.RequestPool', { Pool: '', V6: false })
  t.is(noSubnet.status, 400)
  t.regex(noSubnet.body.Error, /--subnet/)
  t.is((await call(app, 'IpamDriver.RequestPool', { Pool: '10.240.0.0/16', V6: true })).status, 400)

  await dockerNetworkCreate(app, NET_A, 'blue')
  const overlap = await call(app, 'IpamDriver.RequestPool', { Pool: '10.240.5.0/24' })
  t.is(overlap.status, 409)
  const mismatch = await call(app, 'NetworkDriver.CreateNetwork', { NetworkID: NET_B, Options: { 'com.docker.network.generic': { 'meshplane.network': 'blue' } }, IPv4Data: [{ AddressSpace: 'meshplane-local', Pool: '10.250.0.0/16' }] })
  t.is(mismatch.status, 409)
  t.regex(mismatch.body.Err, /has subnet 10\.240\.0\.0\/16/)

  // Still serving, and every request was counted once by outcome.
  t.is((await call(app, 'Plugin.Activate')).status, 200)
  t.true(fake.requests.some(([m, o]) => m === 'NetworkDriver.CreateNetwork' && o === 'E_INVALID_ARGUMENT'))
  t.true(fake.requests.some(([m, o]) => m === 'NetworkDriver.CreateNetwork' && o === 'E_CONFLICT'))
  t.true(fake.requests.some(([m, o]) => m === 'NetworkDriver.Join' && o === 'E_NOT_FOUND'))
  t.true(fake.requests.some(([m, o]) => m === 'unknown' && o === 'E_NOT_FOUND'))
  t.true(fake.requests.some(([m, o]) => m === 'Plugin.Activate' && o === 'ok'))
})

// ---- network options ----------------------------------------------------------------

test('-o meshplane.vni and -o com.docker.network.driver.mtu reach the cluster network the first host creates', async t => {
  const cluster = new FakeCluster()
  const a = await host(cluster, 'h1')
  const b = await host(cluster, 'h2')
  // Neither value is the fake's default (VNI 4242, MTU 0): only the options can give them.
  const na = await dockerNetworkCreate(a.app, NET_A, 'blue', SUBNET, { [VNI]: '5001', [MTU]: '1400' })
  t.like(cluster.networks.get('blue'), { name: 'blue', subnet: SUBNET, vni: 5001, mtu: 1400 })
  await dockerRun(a.app, NET_A, na.poolId, EP1)
  t.is(a.fake.veths.get(EP1)?.mtu, 1400, 'the network MTU reaches the container veth')
  // A host joining without options gets the network as it was made.
  const nb = await dockerNetworkCreate(b.app, NET_B, 'blue')
  await dockerRun(b.app, NET_B, nb.poolId, EP2)
  t.is(cluster.networks.size, 1)
  t.like(cluster.networks.get('blue'), { vni: 5001, mtu: 1400 })
  t.is(b.fake.veths.get(EP2)?.mtu, 1400)
})

test('a -o meshplane.vni or MTU that is not a positive integer: a 400 in the driver shape naming the option, nothing created or mapped', async t => {
  const cluster = new FakeCluster()
  const { app, fake } = await host(cluster, 'h1')
  const cases: Array<Record<string, string>> = [
    { [VNI]: 'abc' }, { [VNI]: '0' }, { [VNI]: '-7' }, { [VNI]: '4096.5' },
    // forms Number() would take
    { [VNI]: '0x1388' }, { [VNI]: '5e3' }, { [VNI]: ' 5001 ' }, { [VNI]: '05001' },
    { [MTU]: 'abc' }, { [MTU]: '1400bytes' }, { [MTU]: '0' },
    // a good VNI does not let the network be created with a bad MTU
    { [VNI]: '5001', [MTU]: 'jumbo' }
  ]
  for (const opts of cases) {
    const [key, value] = Object.entries(opts).at(-1)!
    const { reply } = await tryDockerNetworkCreate(app, NET_A, 'blue', SUBNET, opts)
    t.is(reply.status, 400, `${key}=${value}`)
    t.deepEqual(Object.keys(reply.body), ['Err'], 'NetworkDriver errors carry Err only')
    t.true(String(reply.body.Err).includes(`-o ${key}=${value} is not a positive integer`), String(reply.body.Err))
  }
  t.is(cluster.networks.size, 0, 'no cluster network')
  t.deepEqual([...fake.store.data.keys()], [], 'no docker network mapped')
  t.true(fake.requests.filter(([m]) => m === 'NetworkDriver.CreateNetwork').every(([, o]) => o === 'E_INVALID_ARGUMENT'))
})

test('joining an existing network: a bad option is still a 400, a VNI or MTU other than the network\'s a 409, the same values are fine', async t => {
  const cluster = new FakeCluster()
  const a = await host(cluster, 'h1')
  const b = await host(cluster, 'h2')
  await dockerNetworkCreate(a.app, NET_A, 'blue', SUBNET, { [VNI]: '5001', [MTU]: '1400' })
  const bad = await tryDockerNetworkCreate(b.app, NET_B, 'blue', SUBNET, { [VNI]: 'abc' })
  t.is(bad.reply.status, 400)
  const otherVni = await tryDockerNetworkCreate(b.app, NET_B, 'blue', SUBNET, { [VNI]: '5002' })
  t.is(otherVni.reply.status, 409)
  t.regex(String(otherVni.reply.body.Err), /has VNI 5001, not 5002/)
  const otherMtu = await tryDockerNetworkCreate(b.app, NET_B, 'blue', SUBNET, { [MTU]: '1450' })
  t.is(otherMtu.reply.status, 409)
  t.regex(String(otherMtu.reply.body.Err), /has MTU 1400, not 1450/)
  t.false(b.fake.store.data.has(`docker/network/${NET_B}`), 'nothing mapped by the refused creates')
  const same = await tryDockerNetworkCreate(b.app, NET_B, 'blue', SUBNET, { [VNI]: '5001', [MTU]: '1400' })
  t.is(same.reply.status, 200)
  t.is(cluster.networks.size, 1)
})

interface StateHost { app: FastifyInstance, fake: FakeHost, state: ClusterState, networks: Networks }

/** Addresses the state hosts' stand-in IPAM hands out, distinct across hosts. */
let stateHostAddresses = 0

/**
 * A host whose networks are the agent's own (control/networks.ts, with its range checks
 * and VNI choice) over a real ClusterState replica in a scratch directory, which sees no
 * other host's records until exchange() hands them over: two of them are two agents
 * before gossip reached either. The fakes' FakeCluster is one shared map, which no real
 * cluster is.
 */
async function stateHost (t: ExecutionContext, name: string): Promise<StateHost> {
  const dir = await mkdtemp(join(tmpdir(), 'mp-docker-state-'))
  let store: DataStore | undefined
  let state: ClusterState | undefined
  t.teardown(async () => {
    await state?.close()
    await store?.close()
    await rm(dir, { recursive: true, force: true })
  })
  store = await DataStore.open(dir)
  const key = await generateKeyPair('Ed25519')
  state = new ClusterState({ store, privateKey: key, peerId: peerIdFromPrivateKey(key).toString(), logger: pino({ level: 'silent' }) })
  await state.load()
  const networks = new Networks({ state })
  const fake = fakeHost(new FakeCluster(), name)
  fake.components.networks = { get: n => networks.find(n), list: () => networks.list(), create: async req => await networks.create(req) }
  // The distributed IPAM is not under test: addresses in order, from this host's view of the network.
  fake.components.ipam = {
    allocate: async network => intToIp(parseCidr(networks.get(network).subnet)!.firstHost + ++stateHostAddresses),
    claim: async () => {},
    release: async () => true
  }
  const handlers = new DockerHandlers(fake.components)
  await handlers.load()
  return { app: buildDockerApp(handlers, fake.components), fake, state, networks }
}

/** Where gossip ends: each replica holds every record the other does. */
async function exchange (a: ClusterState, b: ClusterState): Promise<void> {
  const all = new Set(Array.from({ length: SYNC_BUCKETS }, (_, i) => i))
  const toB = a.entriesInBuckets(all).map(o => o.envelope)
  const toA = b.entriesInBuckets(all).map(o => o.envelope)
  const results = [await b.apply(toB), await a.apply(toA)]
  if (results.some(r => r.rejected > 0)) throw new Error(`a replica rejected records: ${JSON.stringify(results)}`)
}

test('through the agent\'s own Networks: a VNI or MTU out of range is a 400 and writes no record; a VNI in use is a 409; good values are recorded as given', async t => {
  const h = await stateHost(t, 'h1')
  // These pass the plugin's integer check: the range is the network record's (state/codec.ts).
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ [VNI]: '16777216' }, /VNI 16777216 outside 1\.\.16777215/],
    [{ [MTU]: '575' }, /MTU 575 outside 576\.\.9000/],
    [{ [MTU]: '9001' }, /MTU 9001 outside 576\.\.9000/]
  ]
  for (const [opts, message] of cases) {
    const { reply } = await tryDockerNetworkCreate(h.app, NET_A, 'blue', SUBNET, opts)
    t.is(reply.status, 400, JSON.stringify(opts))
    t.regex(String(reply.body.Err), message)
  }
  t.is(h.state.size, 0, 'no record written')
  t.deepEqual([...h.fake.store.data.keys()], [], 'no docker network mapped')

  // The edges of both ranges are fine, and what the state records is what was asked for.
  await dockerNetworkCreate(h.app, NET_A, 'blue', SUBNET, { [VNI]: '16777215', [MTU]: '9000' })
  t.like(h.networks.find('blue'), { subnet: SUBNET, vni: 16777215, mtu: 9000 })
  await dockerNetworkCreate(h.app, NET_B, 'green', '10.242.0.0/16', { [VNI]: '1', [MTU]: '576' })
  t.like(h.networks.find('green'), { vni: 1, mtu: 576 })

  const taken = await tryDockerNetworkCreate(h.app, 'c'.repeat(64), 'red', '10.241.0.0/16', { [VNI]: '16777215' })
  t.is(taken.reply.status, 409)
  t.regex(String(taken.reply.body.Err), /VNI 16777215 is used by network blue/)
  t.is(h.networks.find('red'), undefined)
  t.false(h.fake.store.data.has(`docker/network/${'c'.repeat(64)}`))
})

// ---- the CreateNetwork race -------------------------------------------------------------

/**
 * Holds every host's networks.create until all of them are waiting (2 s at most), so
 * each host has looked the name up and found nothing before one commits: the worst
 * interleaving on one linearizable store (the FakeCluster). Counts the creates.
 */
function holdCreates (hosts: FakeHost[]): { creates: number } {
  const seen = { creates: 0 }
  const waiting: Array<() => void> = []
  const releaseAll = (): void => { for (const resolve of waiting.splice(0)) resolve() }
  for (const h of hosts) {
    const create = h.components.networks.create
    h.components.networks.create = async req => {
      seen.creates++
      const held = new Promise<void>(resolve => { waiting.push(resolve) })
      if (waiting.length === hosts.length) releaseAll()
      const timer = setTimeout(releaseAll, 2000)
      try {
        await held
      } finally {
        clearTimeout(timer)
      }
      return await create(req)
    }
  }
  return seen
}

test('two hosts create the same network at once, same subnet: the one whose create loses joins the other\'s network', async t => {
  const cluster = new FakeCluster()
  const a = await host(cluster, 'h1')
  const b = await host(cluster, 'h2')
  const held = holdCreates([a.fake, b.fake])
  const [ra, rb] = await Promise.all([tryDockerNetworkCreate(a.app, NET_A, 'blue'), tryDockerNetworkCreate(b.app, NET_B, 'blue')])
  t.is(held.creates, 2, 'both hosts found no network and created it: the race under test')
  t.is(ra.reply.status, 200, JSON.stringify(ra.reply.body))
  t.is(rb.reply.status, 200, JSON.stringify(rb.reply.body))
  t.is(cluster.networks.size, 1)
  t.deepEqual(a.fake.store.data.get(`docker/network/${NET_A}`), { network: 'blue', subnet: '10.240.0.0/16' })
  t.deepEqual(b.fake.store.data.get(`docker/network/${NET_B}`), { network: 'blue', subnet: '10.240.0.0/16' })
  const r1 = await dockerRun(a.app, NET_A, ra.poolId, EP1)
  const r2 = await dockerRun(b.app, NET_B, rb.poolId, EP2)
  t.not(r1.address, r2.address, 'one network: one address space')
})

test('two hosts create the same network at once, different subnets: the one whose create loses gets a 409 naming the subnet to use, and maps nothing', async t => {
  const cluster = new FakeCluster()
  const hosts = [
    { ...await host(cluster, 'h1'), id: NET_A, subnet: '10.240.0.0/16' },
    { ...await host(cluster, 'h2'), id: NET_B, subnet: '10.250.0.0/16' }
  ]
  const held = holdCreates(hosts.map(h => h.fake))
  const replies = await Promise.all(hosts.map(async h => (await tryDockerNetworkCreate(h.app, h.id, 'blue', h.subnet)).reply))
  t.is(held.creates, 2, 'both hosts found no network and created it: the race under test')
  t.deepEqual(replies.map(r => r.status).sort(), [200, 409], JSON.stringify(replies))
  const won = hosts[replies.findIndex(r => r.status === 200)]!
  const lost = hosts[replies.findIndex(r => r.status === 409)]!
  t.is(cluster.networks.size, 1)
  t.is(cluster.networks.get('blue')?.subnet, won.subnet)
  t.is(replies[hosts.indexOf(lost)]!.body.Err, `meshplane network blue has subnet ${won.subnet}, not ${lost.subnet}: use --subnet ${won.subnet}`)
  t.true(won.fake.store.data.has(`docker/network/${won.id}`))
  t.false(lost.fake.store.data.has(`docker/network/${lost.id}`), 'Docker rolls the refused network back: nothing to forget')
})

test('over real state replicas, before either host has the other\'s record, same subnet: both answer 200, and once the records meet both serve containers on one network', async t => {
  const a = await stateHost(t, 'h1')
  const b = await stateHost(t, 'h2')
  const [ra, rb] = await Promise.all([tryDockerNetworkCreate(a.app, NET_A, 'blue'), tryDockerNetworkCreate(b.app, NET_B, 'blue')])
  t.is(ra.reply.status, 200, JSON.stringify(ra.reply.body))
  t.is(rb.reply.status, 200, JSON.stringify(rb.reply.body))
  t.not(a.state.getEnvelope('network/blue')?.record.writer, b.state.getEnvelope('network/blue')?.record.writer, 'each host wrote its own record')
  // VNI from the name, default gateway: the two records differ only in who wrote them and when.
  const made = (h: StateHost): unknown => ({ ...h.networks.find('blue'), creator: undefined, createdAtMs: undefined })
  t.deepEqual(made(a), made(b))
  await exchange(a.state, b.state)
  t.is(a.state.getEnvelope('network/blue')?.record.writer, b.state.getEnvelope('network/blue')?.record.writer, 'one record won on both')
  t.like(a.networks.find('blue'), { subnet: SUBNET, gateway: '10.240.0.1' })
  for (const [h, id, pool, ep] of [[a, NET_A, ra.poolId, EP1], [b, NET_B, rb.poolId, EP2]] as const) {
    const run = await dockerRun(h.app, id, pool, ep)
    t.regex(run.address, /^10\.240\.\d+\.\d+\/16$/)
    t.is(run.join.Gateway, '10.240.0.1')
  }
})

// Two hosts that create one name before either has the other's record both succeed: no
// host can know of a creation it has not heard of (there is no central store). The merge
// keeps one record everywhere (version, then writer id), so one host is left with a
// Docker network whose subnet the cluster network does not have. What it must get is a
// clear conflict that names the winning subnet, not "create the network" (it exists).
test('over real state replicas, before either host has the other\'s record, different subnets: the host whose creation lost is told so, with the subnet to use', async t => {
  const hosts = [
    { ...await stateHost(t, 'h1'), id: NET_A, subnet: '10.240.0.0/16' },
    { ...await stateHost(t, 'h2'), id: NET_B, subnet: '10.250.0.0/16' }
  ]
  const created = await Promise.all(hosts.map(async h => await tryDockerNetworkCreate(h.app, h.id, 'blue', h.subnet)))
  t.true(created.every(c => c.reply.status === 200), 'neither host can know of the other\'s creation yet')
  await exchange(hosts[0]!.state, hosts[1]!.state)
  const blue = hosts[0]!.networks.find('blue')
  t.deepEqual(hosts[1]!.networks.find('blue'), blue, 'the replicas agree on one network')
  const winner = hosts.findIndex(h => h.subnet === blue?.subnet)
  t.not(winner, -1)
  const loser = 1 - winner
  const won = await call(hosts[winner]!.app, 'IpamDriver.RequestAddress', { PoolID: created[winner]!.poolId, Address: '', Options: null })
  t.is(won.status, 200)
  const lost = await call(hosts[loser]!.app, 'IpamDriver.RequestAddress', { PoolID: created[loser]!.poolId, Address: '', Options: null })
  t.is(lost.status, 409)
  t.regex(String(lost.body.Err), new RegExp(`blue was also created on another host .*subnet ${blue!.subnet.replace(/\./g, '\\.')}.*--subnet ${blue!.subnet.replace(/\./g, '\\.')}`))
  // the same answer where Docker asks with the network id (an address it already holds)
  const ep = await call(hosts[loser]!.app, 'NetworkDriver.CreateEndpoint', { NetworkID: hosts[loser]!.id, EndpointID: EP1, Interface: { Address: `${hosts[loser]!.subnet.split('/')[0]!.replace(/0$/, '5')}/16`, AddressIPv6: '', MacAddress: '' }, Options: {} })
  t.is(ep.status, 409)
  t.regex(String(ep.body.Err), /was also created on another host/)
})

/** Docker's portmap entry for -p [HOSTIP:]HOSTPORT[-END]:PORT[/proto] (libnetwork types.PortBinding). */
function binding (port: number, hostPort: number, opts: { proto?: number, hostIp?: string, hostPortEnd?: number } = {}): Record<string, unknown> {
  return { Proto: opts.proto ?? 6, IP: '', Port: port, HostIP: opts.hostIp ?? '', HostPort: hostPort, HostPortEnd: opts.hostPortEnd ?? hostPort }
}

async function program (app: FastifyInstance, endpointId: string, bindings: Array<Record<string, unknown>>): Promise<Reply> {
  return await call(app, 'NetworkDriver.ProgramExternalConnectivity', {
    NetworkID: NET_A, EndpointID: endpointId, Options: { 'com.docker.network.portmap': bindings, 'com.docker.network.endpoint.exposedports': [] }
  })
}

test('published ports: Program keeps them with the endpoint and programs the firewall before answering; a range takes its next free port; Revoke removes them; a restart keeps them', async t => {
  const cluster = new FakeCluster()
  const store = memoryStore()
  const fake = fakeHost(cluster, 'h1', store)
  const handlers = new DockerHandlers(fake.components)
  await handlers.load()
  const app = buildDockerApp(handlers, fake.components)
  const { poolId } = await dockerNetworkCreate(app, NET_A, 'blue')
  const one = await dockerRun(app, NET_A, poolId, EP1)
  const two = await dockerRun(app, NET_A, poolId, EP2)
  fake.calls.length = 0
  t.is((await program(app, EP1, [binding(80, 38080), binding(53, 38053, { proto: 17 })])).status, 200)
  t.deepEqual(fake.calls, ['firewall'], 'the firewall is applied before the answer')
  t.deepEqual(handlers.publishedPorts().map(p => [p.protocol, p.hostPort, p.containerIp, p.containerPort]),
    [['tcp', 38080, one.address.split('/')[0], 80], ['udp', 38053, one.address.split('/')[0], 53]])
  // 38080 is taken: a range from it takes 38081; the same single port is a conflict naming the holder.
  const clash = await program(app, EP2, [binding(80, 38080)])
  t.is(clash.status, 409)
  t.regex(clash.body.Err, /38080\/tcp is already published by endpoint 111111111111/)
  t.is((await program(app, EP2, [binding(80, 38080, { hostPortEnd: 38090 })])).status, 200)
  t.deepEqual(handlers.publishedPorts().filter(p => p.containerIp === two.address.split('/')[0]).map(p => p.hostPort), [38081])
  const info = await ok(app, 'NetworkDriver.EndpointOperInfo', { NetworkID: NET_A, EndpointID: EP2 })
  t.deepEqual(info.Value.ports, [`38081->${two.address.split('/')[0]}:80/tcp`])

  // a new plugin over the same store (an agent restart): Docker does not program again
  const again = new DockerHandlers(fakeHost(cluster, 'h1', store).components)
  await again.loadMapping()
  t.is(again.publishedPorts().length, 3)

  fake.calls.length = 0
  t.deepEqual(await ok(app, 'NetworkDriver.RevokeExternalConnectivity', { NetworkID: NET_A, EndpointID: EP1 }), {})
  t.deepEqual(fake.calls, ['firewall'])
  t.deepEqual(handlers.publishedPorts().map(p => p.hostPort), [38081])
  // stop without a Revoke (missed while the agent was down): the ports go with the endpoint
  await ok(app, 'NetworkDriver.Leave', { NetworkID: NET_A, EndpointID: EP2 })
  await ok(app, 'NetworkDriver.DeleteEndpoint', { NetworkID: NET_A, EndpointID: EP2 })
  t.deepEqual(handlers.publishedPorts(), [])
})

test('published ports: bad bindings and refusals are clear errors that publish nothing', async t => {
  const cluster = new FakeCluster()
  const { app, fake } = await host(cluster, 'h1')
  const { poolId } = await dockerNetworkCreate(app, NET_A, 'blue')
  await dockerRun(app, NET_A, poolId, EP1)
  const cases: Array<[Array<Record<string, unknown>>, number, RegExp]> = [
    [[binding(80, 38080, { hostIp: '127.0.0.1' })], 400, /loopback is not supported/],
    [[binding(80, 38080, { proto: 132 })], 400, /sctp/],
    [[binding(80, 38080, { hostIp: '192.0.2.77' })], 400, /not an address of this host/],
    [[binding(80, 38080, { hostIp: '::1' })], 400, /IPv4 addresses only/],
    [[binding(0, 38080)], 400, /container port/],
    [[binding(80, 38090, { hostPortEnd: 38080 })], 400, /is empty/],
    [[{ Proto: 'tcp', Port: 80 }], 400, /portmap/]
  ]
  for (const [bindings, status, message] of cases) {
    const r = await program(app, EP1, bindings)
    t.is(r.status, status, JSON.stringify(bindings))
    t.regex(String(r.body.Err), message)
  }
  // a port the firewall could not program: refused, and not kept
  const handlers = new DockerHandlers(fake.components)
  await handlers.load()
  const app2 = buildDockerApp(handlers, fake.components)
  const ep = handlers.mapping.endpoint(EP1)!
  fake.components.firewall.apply = async () => handlers.publishedPorts().map(p => ({ ...p, reason: 'the firewall is not in the kernel: nft not found' }))
  const r = await program(app2, EP1, [binding(80, 38080)])
  t.is(r.status, 409)
  t.regex(r.body.Err, /not published: the firewall is not in the kernel: nft not found/)
  t.deepEqual(handlers.mapping.endpoint(EP1)?.ports, [])
  t.is(handlers.mapping.endpoint(EP1)?.ipv4, ep.ipv4, 'the endpoint itself is kept')
})

test('docker network create --internal makes an internal network; joining it needs the same flag', async t => {
  const cluster = new FakeCluster()
  const { app } = await host(cluster, 'h1')
  const create = async (networkId: string, internal: boolean): Promise<Reply> => {
    const pool = await ok(app, 'IpamDriver.RequestPool', { AddressSpace: 'meshplane-local', Pool: '10.250.0.0/16', SubPool: '', Options: null, V6: false })
    return await call(app, 'NetworkDriver.CreateNetwork', {
      NetworkID: networkId,
      Options: { 'com.docker.network.enable_ipv6': false, 'com.docker.network.generic': { 'meshplane.network': 'vault' }, ...(internal ? { 'com.docker.network.internal': true } : {}) },
      IPv4Data: [{ AddressSpace: 'meshplane-local', Pool: pool.Pool, Gateway: pool.Data['com.docker.network.gateway'] }],
      IPv6Data: []
    })
  }
  t.is((await create(NET_A, true)).status, 200)
  t.true(cluster.networks.get('vault')?.internal)
  const without = await create(NET_B, false)
  t.is(without.status, 409)
  t.regex(without.body.Err, /is internal \(no egress\): add --internal/)
  t.is((await create(NET_B, true)).status, 200)
})

test('optional methods answer: external connectivity without ports, discovery, swarm allocation', async t => {
  const { app } = await host(new FakeCluster(), 'h1')
  t.deepEqual(await ok(app, 'NetworkDriver.ProgramExternalConnectivity', { NetworkID: NET_A, EndpointID: EP1, Options: {} }), {})
  t.deepEqual(await ok(app, 'NetworkDriver.RevokeExternalConnectivity', { NetworkID: NET_A, EndpointID: EP1 }), {})
  t.deepEqual(await ok(app, 'NetworkDriver.DiscoverNew', { DiscoveryType: 1, DiscoveryData: { Address: '10.0.0.1', Self: true } }), {})
  t.deepEqual(await ok(app, 'NetworkDriver.DiscoverDelete', { DiscoveryType: 1, DiscoveryData: {} }), {})
  t.deepEqual(await ok(app, 'NetworkDriver.AllocateNetwork', { NetworkID: NET_A, Options: { x: 'y' } }), { Options: { x: 'y' } })
  t.deepEqual(await ok(app, 'NetworkDriver.FreeNetwork', { NetworkID: NET_A }), {})
})

test('--docker-socket values', t => {
  t.is(dockerSocketPath(undefined), '/run/docker/plugins/meshplane.sock')
  t.is(dockerSocketPath('/x/y.sock'), '/x/y.sock')
  t.is(dockerSocketPath('off'), undefined)
  t.is(dockerSocketPath(''), undefined)
})

function post (socketPath: string, path: string, body: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // As Docker 20.10 sends it: no Content-Type, Host = the socket path.
    const req = request({ socketPath, path, method: 'POST', headers: { accept: V12, host: socketPath } }, res => {
      let text = ''
      res.on('data', chunk => { text += String(chunk) })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: text === '' ? {} : JSON.parse(text) }) })
    })
    req.on('error', reject)
    req.end(body)
  })
}

test('on a real unix socket: root-only, bad requests answered, still serving, removed on stop', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'mp-docker-'))
  try {
    const fake = fakeHost(new FakeCluster(), 'h1')
    const socketPath = join(dir, 'plugins', 'meshplane.sock')
    const plugin = createDockerPlugin(fake.components, { socketPath })
    await plugin.start()
    t.is(statSync(socketPath).mode & 0o777, 0o600)
    const bad = await post(socketPath, '/NetworkDriver.Join', '{"NetworkID":')
    t.is(bad.status, 400)
    t.regex(bad.body.Err, /not JSON/)
    const unknown = await post(socketPath, '/IpamDriver.Nope', '')
    t.is(unknown.status, 404)
    t.truthy(unknown.body.Error)
    const noEndpoint = await post(socketPath, '/NetworkDriver.Join', JSON.stringify({ NetworkID: NET_A, EndpointID: EP1 }) + '\n')
    t.is(noEndpoint.status, 404)
    t.deepEqual(await post(socketPath, '/Plugin.Activate', ''), { status: 200, body: { Implements: ['NetworkDriver', 'IpamDriver'] } })
    await plugin.stop()
    t.false(existsSync(socketPath))
    await plugin.stop()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('names: Join answers without waiting for dockerd; the record is written again with the container name and aliases; a lookup that ends after Leave writes nothing', async t => {
  const cluster = new FakeCluster()
  const fake = fakeHost(cluster, 'h1')
  const pending: Array<{ endpoint: string, resolve: (v: 'not-yet' | { name: string, aliases: string[] }) => void }> = []
  fake.components.containerNames = async (_network, endpoint) => await new Promise(resolve => { pending.push({ endpoint, resolve }) })
  const handlers = new DockerHandlers(fake.components)
  await handlers.load()
  t.teardown(() => { handlers.close() })
  const app = buildDockerApp(handlers, fake.components)
  const { poolId } = await dockerNetworkCreate(app, NET_A, 'blue')
  // The lookup below stays unanswered until the test answers it: Join (and the calls
  // after it) were answered meanwhile, so no handler waits for dockerd.
  await dockerRun(app, NET_A, poolId, EP1)
  await waitUntil(() => pending.length === 1)
  t.false([...cluster.records.values()].some(r => r.name !== ''), 'the endpoint is published at Join, without a name yet')
  pending.shift()!.resolve('not-yet') // not in a container's sandbox yet: asked again
  await waitUntil(() => pending.length === 1)
  pending.shift()!.resolve({ name: 'db', aliases: ['svc'] })
  await waitUntil(() => [...cluster.records.values()].some(r => r.name === 'db'))
  const record = [...cluster.records.values()][0]!
  t.deepEqual([record.name, record.aliases], ['db', ['svc']])

  // a second endpoint whose lookup answers only after Leave: nothing is brought back
  await dockerRun(app, NET_A, poolId, EP2)
  await waitUntil(() => pending.length === 1)
  await ok(app, 'NetworkDriver.Leave', { NetworkID: NET_A, EndpointID: EP2 })
  const before = fake.calls.length
  pending.shift()!.resolve({ name: 'late', aliases: [] })
  await new Promise(resolve => setTimeout(resolve, 100))
  t.is(fake.calls.length, before, 'no publish after Leave')
  t.false([...cluster.records.values()].some(r => r.name === 'late'))
})

async function waitUntil (cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time')
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

test('lookupEndpointNames reads the name and aliases from a dockerd API socket, without the short id Docker adds; bad names are left out', async t => {
  const { createServer } = await import('node:http')
  const { lookupEndpointNames } = await import('@meshplane/agent/docker/index.js')
  const dir = mkdtempSync(join(tmpdir(), 'mp-dockerapi-'))
  const socketPath = join(dir, 'docker.sock')
  const cid = 'c'.repeat(64)
  let inSandbox = false
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json')
    if (req.url === `/networks/${NET_A}`) {
      res.end(JSON.stringify({ Containers: { [inSandbox ? cid : `ep-${EP1}`]: { Name: 'My_DB', EndpointID: EP1 }, [NET_B]: { Name: 'other', EndpointID: EP2 } } }))
    } else if (req.url === `/containers/${cid}/json`) {
      res.end(JSON.stringify({ Id: cid, NetworkSettings: { Networks: { blue: { EndpointID: EP1, Aliases: ['svc', cid.slice(0, 12), 'Svc', 'bad.alias', 'primary'] } } } }))
    } else {
      res.statusCode = 404
      res.end('{"message":"not found"}')
    }
  })
  await new Promise<void>(resolve => server.listen(socketPath, resolve))
  t.teardown(() => { server.close(); rmSync(dir, { recursive: true, force: true }) })
  t.is(await lookupEndpointNames(socketPath, NET_A, EP1), 'not-yet', 'not in a sandbox yet')
  inSandbox = true
  t.deepEqual(await lookupEndpointNames(socketPath, NET_A, EP1), { name: 'my_db', aliases: ['svc', 'primary'] })
  t.is(await lookupEndpointNames(socketPath, 'f'.repeat(64), EP1), 'gone')
  t.is(await lookupEndpointNames(join(dir, 'nothing.sock'), NET_A, EP1), 'not-yet', 'no daemon (yet)')
})
