/**
 * The Docker plugin's handlers through injected HTTP requests (no socket, fake agent
 * parts from test/utils/docker-fakes.ts), plus one test on a real unix socket. The
 * netns suite (test/netns/docker.test.ts) runs the same plugin under real dockerds.
 */
import test from 'ava'
import { request } from 'node:http'
import { mkdtempSync, rmSync, statSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildDockerApp, createDockerPlugin, DockerHandlers, dockerSocketPath } from '@meshplane/agent/docker/index.js'
import { FakeCluster, fakeHost, memoryStore, type FakeHost } from '../utils/docker-fakes.js'

const V12 = 'application/vnd.docker.plugins.v1.2+json'
const NET_A = 'a'.repeat(64)
const NET_B = 'b'.repeat(64)
const EP1 = '1'.repeat(64)
const EP2 = '2'.repeat(64)

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

/** What `docker network create -d meshplane --ipam-driver meshplane --subnet S -o meshplane.network=N` sends. */
async function dockerNetworkCreate (app: FastifyInstance, networkId: string, name: string | undefined, subnet = '10.240.0.0/16'): Promise<{ poolId: string, gateway: string }> {
  const pool = await ok(app, 'IpamDriver.RequestPool', { AddressSpace: 'meshplane-local', Pool: subnet, SubPool: '', Options: null, V6: false })
  const gateway = pool.Data['com.docker.network.gateway'] as string
  const generic: Record<string, string> = name === undefined ? {} : { 'meshplane.network': name }
  await ok(app, 'NetworkDriver.CreateNetwork', {
    NetworkID: networkId,
    Options: { 'com.docker.network.enable_ipv6': false, 'com.docker.network.generic': generic },
    IPv4Data: [{ AddressSpace: 'meshplane-local', Pool: pool.Pool, Gateway: gateway }],
    IPv6Data: []
  })
  return { poolId: pool.PoolID, gateway }
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

test('optional methods answer: external connectivity, discovery, swarm allocation', async t => {
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
