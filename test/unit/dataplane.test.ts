/**
 * The dataplane's pure halves (computeDesired, diffKernel), its queue, and the parts of
 * the reconciler that need no kernel. No root, no namespaces, no sockets.
 */
import test from 'ava'
import { pino } from 'pino'
import {
  KernelQueue,
  bridgeName,
  computeDesired,
  computeOverlayMtu,
  createDataplane,
  diffKernel,
  vethName,
  vxlanIncompat,
  vxlanName
} from '@meshplane/agent/dataplane/index.js'
import type {
  DataplaneInput,
  DesiredKernelState,
  KernelOp,
  ObservedKernelState,
  ObservedLink
} from '@meshplane/agent/dataplane/index.js'
import type { EndpointBody, NetworkBody } from '@meshplane/agent/state/types.js'

// ---- builders ------------------------------------------------------------------------

const SELF = 'peer-a'

function network (name: string, vni: number, extra: Partial<NetworkBody> = {}): NetworkBody {
  return { name, vni, subnet: '10.240.0.0/16', gateway: '10.240.0.1', mtu: 0, options: new Map(), creator: SELF, createdAtMs: 0n, internal: false, ...extra } as NetworkBody
}

function endpoint (net: string, id: string, host: string, mac: string, ipv4: string): EndpointBody & { host: string } {
  return { network: net, id, mac, ipv4, ipv6: '', name: id, aliases: [], labels: new Map(), host }
}

function input (extra: Partial<DataplaneInput> = {}): DataplaneInput {
  return {
    self: { peerId: SELF, underlayIp: '10.77.0.11', underlayMtu: 1500, vxlanPort: 4789 },
    networks: [network('blue', 42)],
    endpoints: [
      endpoint('blue', 'a1', SELF, '02:00:0a:f0:01:0a', '10.240.1.10'),
      endpoint('blue', 'b1', 'peer-b', '02:00:0a:f0:02:0a', '10.240.2.10'),
      endpoint('blue', 'b2', 'peer-b', '02:00:0a:f0:02:0b', '10.240.2.11'),
      endpoint('blue', 'c1', 'peer-c', '02:00:0a:f0:03:0a', '10.240.3.10')
    ],
    hosts: new Map([
      [SELF, { underlayIp: '10.77.0.11', vxlanPort: 4789 }],
      ['peer-b', { underlayIp: '10.77.0.12', vxlanPort: 4789 }],
      ['peer-c', { underlayIp: '10.77.0.13', vxlanPort: 4789 }]
    ]),
    ...extra
  }
}

/** What the kernel dump would say after `desired` was applied perfectly. */
function observedFrom (desired: DesiredKernelState, extraLinks: ObservedLink[] = []): ObservedKernelState {
  let index = 10
  const links: ObservedLink[] = [
    { name: 'lo', index: 1, kind: undefined, mtu: 65536, up: true, master: undefined },
    { name: 'eth0', index: 2, kind: 'veth', mtu: 1500, up: true, master: undefined }
  ]
  for (const link of desired.links) {
    const observed: ObservedLink = { name: link.name, index: index++, kind: link.type, mtu: link.mtu ?? 1500, up: true, master: link.type === 'bridge' ? undefined : link.master }
    if (link.type === 'vxlan') observed.vxlan = { vni: link.vni, local: link.local, port: link.port, learning: link.learning, proxy: link.proxy }
    if (link.type === 'bridge') observed.forwarding = false
    links.push(observed)
  }
  return {
    links: [...links, ...extraLinks],
    addresses: [{ dev: 'eth0', ip: '10.77.0.11', prefixLen: 24 }, ...desired.addresses],
    neighbours: desired.neighbours.map(n => ({ ...n, permanent: true })),
    fdb: desired.fdb.map(f => ({ ...f, self: true, permanent: true }))
  }
}

const kinds = (ops: KernelOp[]): string[] => ops.map(op => op.kind)

// ---- computeDesired ------------------------------------------------------------------

test('remote endpoints become permanent neighbours and self FDB entries on the vxlan device', t => {
  const desired = computeDesired(input())
  t.deepEqual(desired.warnings, [])
  t.deepEqual(desired.links.map(l => `${l.type}:${l.name}`), ['bridge:mpbr42', 'vxlan:mpvx42', `veth:${vethName('blue', 'a1')}`])
  t.deepEqual(desired.neighbours, [
    // the local endpoint on the bridge: the host never ARPs for its own containers
    { dev: 'mpbr42', ip: '10.240.1.10', mac: '02:00:0a:f0:01:0a' },
    { dev: 'mpvx42', ip: '10.240.2.10', mac: '02:00:0a:f0:02:0a' },
    { dev: 'mpvx42', ip: '10.240.2.11', mac: '02:00:0a:f0:02:0b' },
    { dev: 'mpvx42', ip: '10.240.3.10', mac: '02:00:0a:f0:03:0a' }
  ])
  const unicast = desired.fdb.filter(f => f.mac !== '00:00:00:00:00:00')
  t.deepEqual(unicast, [
    { dev: 'mpvx42', mac: '02:00:0a:f0:02:0a', dst: '10.77.0.12' },
    { dev: 'mpvx42', mac: '02:00:0a:f0:02:0b', dst: '10.77.0.12' },
    { dev: 'mpvx42', mac: '02:00:0a:f0:03:0a', dst: '10.77.0.13' }
  ])
  t.false(desired.neighbours.some(n => n.ip === '10.240.1.10' && n.dev === 'mpvx42'), 'no VXLAN entry for the local endpoint')
})

test('one all-zeros FDB entry per remote host with an endpoint in the network', t => {
  const desired = computeDesired(input())
  t.deepEqual(desired.fdb.filter(f => f.mac === '00:00:00:00:00:00'), [
    { dev: 'mpvx42', mac: '00:00:00:00:00:00', dst: '10.77.0.12' },
    { dev: 'mpvx42', mac: '00:00:00:00:00:00', dst: '10.77.0.13' }
  ])
  // A host that is alive but has no endpoint in this network gets no flood entry.
  const withIdleHost = computeDesired(input({ hosts: new Map([...input().hosts, ['peer-d', { underlayIp: '10.77.0.14', vxlanPort: 4789 }]]) }))
  t.false(withIdleHost.fdb.some(f => f.dst === '10.77.0.14'))
})

test('vxlan and bridge parameters: vni, local, port, learning off, proxy on, master, gateway address', t => {
  const desired = computeDesired(input())
  const vxlan = desired.links.find(l => l.type === 'vxlan')
  t.deepEqual(vxlan, { type: 'vxlan', name: 'mpvx42', network: 'blue', vni: 42, local: '10.77.0.11', port: 4789, learning: false, proxy: true, mtu: 1450, master: 'mpbr42' })
  t.deepEqual(desired.addresses, [{ dev: 'mpbr42', ip: '10.240.0.1', prefixLen: 16 }])
  const veth = desired.links.find(l => l.type === 'veth')
  t.deepEqual(veth, { type: 'veth', name: vethName('blue', 'a1'), network: 'blue', endpointId: 'a1', master: 'mpbr42', mtu: 1450 })
})

test('no local endpoint in a network: nothing is programmed for it', t => {
  const desired = computeDesired(input({ endpoints: input().endpoints.filter(e => e.host !== SELF) }))
  t.deepEqual(desired, { links: [], addresses: [], neighbours: [], fdb: [], networks: [], ipForward: false, warnings: [] })
  t.deepEqual(computeDesired(input({ networks: [], endpoints: [] })).links, [])
})

test('only networks with a local endpoint are programmed', t => {
  const base = input()
  const desired = computeDesired({
    ...base,
    networks: [...base.networks, network('red', 7, { subnet: '10.241.0.0/16', gateway: '10.241.0.1' })],
    endpoints: [...base.endpoints, endpoint('red', 'r1', 'peer-b', '02:00:0a:f1:02:0a', '10.241.2.10')]
  })
  t.false(desired.links.some(l => l.name.endsWith('7')))
  t.false(desired.neighbours.some(n => n.ip === '10.241.2.10'))
})

test('MTU rule: the network MTU, else underlay − 50, on bridge, vxlan and veth alike', t => {
  t.is(computeOverlayMtu({ mtu: 0 }, 1500), 1450)
  t.is(computeOverlayMtu({ mtu: 0 }, 9000), 8950)
  t.is(computeOverlayMtu({ mtu: 1400 }, 9000), 1400)
  t.is(computeOverlayMtu({ mtu: 0 }, 0), undefined, 'unknown, never assumed')
  const jumbo = computeDesired(input({ self: { ...input().self, underlayMtu: 9000 } }))
  t.deepEqual(jumbo.links.map(l => l.mtu), [8950, 8950, 8950])
  const fixed = computeDesired(input({ networks: [network('blue', 42, { mtu: 1300 })] }))
  t.deepEqual(fixed.links.map(l => l.mtu), [1300, 1300, 1300])
})

test('endpoints of unknown hosts, bad MACs or addresses and duplicate IPs are skipped with a warning', t => {
  const base = input()
  const desired = computeDesired({
    ...base,
    endpoints: [
      ...base.endpoints,
      endpoint('blue', 'gone', 'peer-gone', '02:00:0a:f0:09:0a', '10.240.9.10'),
      endpoint('blue', 'badmac', 'peer-b', 'zz:00:0a:f0:02:0c', '10.240.2.12'),
      endpoint('blue', 'badip', 'peer-b', '02:00:0a:f0:02:0d', '10.240.2.999'),
      endpoint('blue', 'dupip', 'peer-c', '02:00:0a:f0:03:0b', '10.240.2.10')
    ]
  })
  t.is(desired.warnings.length, 4)
  t.false(desired.neighbours.some(n => n.ip === '10.240.9.10' || n.ip === '10.240.2.12'))
  t.is(desired.neighbours.filter(n => n.ip === '10.240.2.10').length, 1)
  t.is(desired.neighbours.find(n => n.ip === '10.240.2.10')?.mac, '02:00:0a:f0:02:0a', 'the first (sorted) holder wins')
})

test('MACs are normalised; an endpoint without IPv4 still gets its FDB entry', t => {
  const base = input()
  const desired = computeDesired({ ...base, endpoints: [base.endpoints[0] as EndpointBody & { host: string }, endpoint('blue', 'v6', 'peer-b', '02:00:0A:F0:02:AA', '')] })
  t.deepEqual(desired.neighbours.filter(n => n.dev === 'mpvx42'), [])
  t.deepEqual(desired.fdb, [
    { dev: 'mpvx42', mac: '02:00:0a:f0:02:aa', dst: '10.77.0.12' },
    { dev: 'mpvx42', mac: '00:00:00:00:00:00', dst: '10.77.0.12' }
  ])
})

test('a remote host on another VXLAN port gets the port on its FDB entries', t => {
  const base = input()
  const hosts = new Map(base.hosts)
  hosts.set('peer-c', { underlayIp: '10.77.0.13', vxlanPort: 4790 })
  const desired = computeDesired({ ...base, hosts })
  t.true(desired.fdb.filter(f => f.dst === '10.77.0.13').every(f => f.port === 4790))
  t.true(desired.fdb.filter(f => f.dst === '10.77.0.12').every(f => f.port === undefined))
})

test('two networks on one VNI: the second is not programmed and a warning says why', t => {
  const base = input()
  const desired = computeDesired({
    ...base,
    networks: [...base.networks, network('aqua', 42)],
    endpoints: [...base.endpoints, endpoint('aqua', 'q1', SELF, '02:00:0a:f0:01:0b', '10.240.1.11')]
  })
  t.is(desired.links.filter(l => l.type === 'bridge').length, 1)
  t.regex(desired.warnings.join('\n'), /VNI 42 is already used by network aqua/)
})

test('output does not depend on input order', t => {
  const base = input()
  const shuffled = { ...base, endpoints: [...base.endpoints].reverse(), networks: [...base.networks].reverse() }
  t.deepEqual(computeDesired(shuffled), computeDesired(base))
})

test('device names are stable, owned-looking and fit IFNAMSIZ', t => {
  t.is(bridgeName(42), 'mpbr42')
  t.is(vxlanName(16777215), 'mpvx16777215')
  t.true(vxlanName(16777215).length < 16)
  t.regex(vethName('blue', 'a1'), /^mpv[0-9a-f]{8}$/)
  t.is(vethName('blue', 'a1'), vethName('blue', 'a1'))
  t.not(vethName('blue', 'a1'), vethName('red', 'a1'))
})

// ---- diffKernel ----------------------------------------------------------------------

test('an empty kernel gets links, then neighbours, then FDB, in that order', t => {
  const desired = computeDesired(input())
  const ops = diffKernel(desired, { links: [], addresses: [], neighbours: [], fdb: [] })
  t.deepEqual(kinds(ops), [
    // forwarding off before the vxlan device (or any port) joins the new bridge
    'link.ensureBridge', 'link.forwardingOff', 'link.ensureVxlan', 'addr.add',
    'neigh.set', 'neigh.set', 'neigh.set', 'neigh.set',
    'fdb.add', 'fdb.add', 'fdb.add', 'fdb.add', 'fdb.add'
  ])
  t.deepEqual(ops[1], { kind: 'link.forwardingOff', name: 'mpbr42' })
  t.deepEqual(ops[2], { kind: 'link.ensureVxlan', name: 'mpvx42', params: { vni: 42, local: '10.77.0.11', port: 4789, learning: false, proxy: true }, mtu: 1450, master: 'mpbr42' })
})

test('a network bridge whose forwarding is on, or could not be read, gets it turned off; one with it off gets nothing', t => {
  const desired = computeDesired(input())
  for (const [forwarding, expected] of [[true, 1], [undefined, 1], [false, 0]] as const) {
    const observed = observedFrom(desired)
    const bridge = observed.links.find(l => l.name === 'mpbr42')!
    if (forwarding === undefined) delete bridge.forwarding
    else bridge.forwarding = forwarding
    const ops = diffKernel(desired, observed)
    t.is(ops.filter(op => op.kind === 'link.forwardingOff' && op.name === 'mpbr42').length, expected, `forwarding ${String(forwarding)}`)
    t.is(ops.length, expected, 'and nothing else')
  }
})

test('a kernel that already matches gets zero ops (a restart adopts, no delete + re-add)', t => {
  const desired = computeDesired(input())
  t.deepEqual(diffKernel(desired, observedFrom(desired)), [])
})

test('stale meshplane entries are removed, after the additions', t => {
  const desired = computeDesired(input())
  const observed = observedFrom(desired)
  observed.neighbours.push({ dev: 'mpvx42', ip: '10.240.5.5', mac: '02:00:00:00:05:05', permanent: true })
  observed.fdb.push({ dev: 'mpvx42', mac: '02:00:00:00:05:05', dst: '10.77.0.15', self: true, permanent: true })
  observed.fdb.push({ dev: 'mpvx42', mac: '00:00:00:00:00:00', dst: '10.77.0.15', self: true, permanent: true })
  observed.addresses.push({ dev: 'mpbr42', ip: '10.99.0.1', prefixLen: 24 })
  observed.neighbours = observed.neighbours.filter(n => n.ip !== '10.240.3.10') // one missing too
  const ops = diffKernel(desired, observed)
  t.deepEqual(ops, [
    { kind: 'neigh.set', dev: 'mpvx42', ip: '10.240.3.10', mac: '02:00:0a:f0:03:0a' },
    { kind: 'addr.del', dev: 'mpbr42', ip: '10.99.0.1', prefixLen: 24 },
    { kind: 'neigh.del', dev: 'mpvx42', ip: '10.240.5.5' },
    { kind: 'fdb.del', dev: 'mpvx42', mac: '02:00:00:00:05:05', dst: '10.77.0.15' },
    { kind: 'fdb.del', dev: 'mpvx42', mac: '00:00:00:00:00:00', dst: '10.77.0.15' }
  ])
})

test('foreign devices and entries are never touched', t => {
  const desired = computeDesired(input())
  const observed = observedFrom(desired, [
    { name: 'docker0', index: 90, kind: 'bridge', mtu: 1500, up: true, master: undefined },
    { name: 'vxlan100', index: 91, kind: 'vxlan', mtu: 1450, up: true, master: undefined, vxlan: { vni: 100, local: '10.77.0.11', port: 4789, learning: true, proxy: false } },
    { name: 'mpbrx', index: 92, kind: 'bridge', mtu: 1500, up: true, master: undefined },
    { name: 'mpv123', index: 93, kind: 'veth', mtu: 1500, up: true, master: undefined }
  ])
  observed.neighbours.push({ dev: 'eth0', ip: '10.77.0.1', mac: '02:00:00:00:00:01', permanent: true })
  observed.neighbours.push({ dev: 'vxlan100', ip: '10.1.0.1', mac: '02:00:00:00:00:02', permanent: true })
  // The host's own ARP cache on our bridge: dynamic, the kernel's.
  observed.neighbours.push({ dev: 'mpbr42', ip: '10.240.1.10', mac: '02:00:0a:f0:01:0a', permanent: false })
  observed.fdb.push({ dev: 'vxlan100', mac: '00:00:00:00:00:00', dst: '10.77.0.99', self: true, permanent: true })
  // The bridge's entry for its port, and a veth's multicast list: not `self` on a vxlan.
  observed.fdb.push({ dev: 'mpvx42', mac: '5e:00:00:00:00:01', dst: '', self: false, permanent: true })
  observed.fdb.push({ dev: vethName('blue', 'a1'), mac: '33:33:00:00:00:01', dst: '', self: true, permanent: true })
  observed.addresses.push({ dev: 'docker0', ip: '172.17.0.1', prefixLen: 16 })
  t.deepEqual(diffKernel(desired, observed), [])
})

test('devices of networks no longer programmed are removed last, veth before vxlan before bridge, without per-entry deletes', t => {
  const desired = computeDesired(input())
  const oldVeth = vethName('red', 'r1')
  const observed = observedFrom(desired, [
    { name: 'mpbr7', index: 80, kind: 'bridge', mtu: 1450, up: true, master: undefined },
    { name: 'mpvx7', index: 81, kind: 'vxlan', mtu: 1450, up: true, master: 'mpbr7', vxlan: { vni: 7, local: '10.77.0.11', port: 4789, learning: false, proxy: true } },
    { name: oldVeth, index: 82, kind: 'veth', mtu: 1450, up: true, master: 'mpbr7' }
  ])
  observed.neighbours.push({ dev: 'mpvx7', ip: '10.241.2.10', mac: '02:00:0a:f1:02:0a', permanent: true })
  observed.fdb.push({ dev: 'mpvx7', mac: '02:00:0a:f1:02:0a', dst: '10.77.0.12', self: true, permanent: true })
  observed.addresses.push({ dev: 'mpbr7', ip: '10.241.0.1', prefixLen: 16 })
  t.deepEqual(diffKernel(desired, observed), [
    { kind: 'link.del', name: oldVeth },
    { kind: 'link.del', name: 'mpvx7' },
    { kind: 'link.del', name: 'mpbr7' }
  ])
})

test('the ops of a mixed change come in phase order: links, neighbours, FDB, stale entries, devices', t => {
  const desired = computeDesired(input())
  const observed = observedFrom(desired, [{ name: 'mpbr7', index: 80, kind: 'bridge', mtu: 1450, up: true, master: undefined }])
  observed.neighbours = []
  observed.fdb = observed.fdb.filter(f => f.mac !== '02:00:0a:f0:02:0a')
  observed.fdb.push({ dev: 'mpvx42', mac: '02:00:00:00:05:05', dst: '10.77.0.15', self: true, permanent: true })
  const vxlan = observed.links.find(l => l.name === 'mpvx42') as ObservedLink
  vxlan.mtu = 1500
  const order = ['link.', 'addr.add', 'neigh.set', 'fdb.add', 'del', 'link.del']
  const phase = (op: KernelOp): number => op.kind === 'link.del' ? 5 : op.kind.endsWith('.del') ? 4 : order.findIndex(prefix => op.kind.startsWith(prefix))
  const ops = diffKernel(desired, observed)
  const phases = ops.map(phase)
  t.deepEqual(phases, [...phases].sort((a, b) => a - b))
  t.deepEqual(kinds(ops), ['link.set', 'neigh.set', 'neigh.set', 'neigh.set', 'neigh.set', 'fdb.add', 'fdb.del', 'link.del'])
})

test('an incompatible vxlan device is recreated with a reason, and its entries are programmed again', t => {
  const desired = computeDesired(input())
  for (const [change, reason] of [
    [{ vni: 43 }, /vni 43 vs 42/],
    [{ local: '10.77.0.99' }, /local 10.77.0.99 vs 10.77.0.11/],
    [{ port: 8472 }, /port 8472 vs 4789/],
    [{ learning: true }, /learning true vs false/],
    [{ proxy: false }, /proxy false vs true/]
  ] as const) {
    const observed = observedFrom(desired)
    const vxlan = observed.links.find(l => l.name === 'mpvx42') as ObservedLink
    vxlan.vxlan = { ...(vxlan.vxlan as NonNullable<ObservedLink['vxlan']>), ...change }
    const ops = diffKernel(desired, observed)
    const ensure = ops[0]
    t.is(ensure?.kind, 'link.ensureVxlan')
    t.regex(ensure?.kind === 'link.ensureVxlan' ? ensure.recreate ?? '' : '', reason)
    // Everything on the device is gone with it: re-added even though it was observed.
    t.is(ops.filter(op => op.kind === 'neigh.set').length, desired.neighbours.filter(n => n.dev === 'mpvx42').length)
    t.is(ops.filter(op => op.kind === 'fdb.add').length, desired.fdb.length)
    t.false(ops.some(op => op.kind.endsWith('.del')))
  }
})

test('a device of the wrong kind under a meshplane name is recreated', t => {
  const desired = computeDesired(input())
  const observed = observedFrom(desired)
  const bridge = observed.links.find(l => l.name === 'mpbr42') as ObservedLink
  bridge.kind = 'veth'
  const ops = diffKernel(desired, observed)
  t.like(ops[0], { kind: 'link.ensureBridge', name: 'mpbr42' })
  t.regex((ops[0] as { recreate?: string }).recreate ?? '', /not a bridge/)
  // Its ports must be put back on the new bridge.
  t.true(ops.some(op => op.kind === 'link.set' && op.name === 'mpvx42' && op.master === 'mpbr42'))
  t.true(ops.some(op => op.kind === 'link.set' && op.name === vethName('blue', 'a1') && op.master === 'mpbr42'))
  t.true(ops.some(op => op.kind === 'addr.add'))
})

test('link drift (MTU, master, down) is fixed in place with link.set', t => {
  const desired = computeDesired(input())
  const observed = observedFrom(desired)
  const veth = observed.links.find(l => l.name === vethName('blue', 'a1')) as ObservedLink
  veth.master = undefined
  veth.mtu = 1500
  const bridge = observed.links.find(l => l.name === 'mpbr42') as ObservedLink
  bridge.up = false
  t.deepEqual(diffKernel(desired, observed), [
    { kind: 'link.set', name: 'mpbr42', up: true },
    { kind: 'link.set', name: vethName('blue', 'a1'), mtu: 1450, master: 'mpbr42' }
  ])
})

test('a missing veth is not created by a pass (attach does that)', t => {
  const desired = computeDesired(input())
  const observed = observedFrom(desired)
  observed.links = observed.links.filter(l => l.name !== vethName('blue', 'a1'))
  t.deepEqual(diffKernel(desired, observed), [])
})

test('a MAC that moved to another host is replaced in place, not deleted first', t => {
  const desired = computeDesired(input())
  const observed = observedFrom(desired)
  const moved = observed.fdb.find(f => f.mac === '02:00:0a:f0:03:0a')
  if (moved !== undefined) moved.dst = '10.77.0.12'
  t.deepEqual(diffKernel(desired, observed), [{ kind: 'fdb.add', dev: 'mpvx42', mac: '02:00:0a:f0:03:0a', dst: '10.77.0.13' }])
})

test('a neighbour with the wrong MAC or not permanent is set again', t => {
  const desired = computeDesired(input())
  const observed = observedFrom(desired)
  const [first, second] = observed.neighbours
  if (first !== undefined) first.mac = '02:00:00:00:00:99'
  if (second !== undefined) second.permanent = false
  t.deepEqual(kinds(diffKernel(desired, observed)), ['neigh.set', 'neigh.set'])
})

test('vxlanIncompat is empty for a compatible device and lists every difference otherwise', t => {
  const params = { vni: 42, local: '10.77.0.11', port: 4789, learning: false, proxy: true }
  t.is(vxlanIncompat(params, { ...params }), '')
  t.is(vxlanIncompat(params, { vni: 1, local: '', port: 8472, learning: true, proxy: false }), 'vni 1 vs 42, local none vs 10.77.0.11, port 8472 vs 4789, learning true vs false, proxy false vs true')
  t.is(vxlanIncompat(params, undefined), 'not a vxlan device')
})

test('diffKernel then applying its ops to the model converges (random drift)', t => {
  const desired = computeDesired(input())
  for (let seed = 1; seed <= 50; seed++) {
    const observed = observedFrom(desired)
    let state = seed
    const random = (): number => { state = (state * 1103515245 + 12345) % 2 ** 31; return state / 2 ** 31 }
    observed.neighbours = observed.neighbours.filter(() => random() > 0.3)
    observed.fdb = observed.fdb.filter(() => random() > 0.3)
    if (random() > 0.5) observed.fdb.push({ dev: 'mpvx42', mac: '02:00:00:00:00:77', dst: '10.77.0.77', self: true, permanent: true })
    const ops = diffKernel(desired, observed)
    // Apply to the model: the second diff must be empty.
    for (const op of ops) {
      if (op.kind === 'neigh.set') observed.neighbours.push({ dev: op.dev, ip: op.ip, mac: op.mac, permanent: true })
      if (op.kind === 'fdb.add') observed.fdb.push({ dev: op.dev, mac: op.mac, dst: op.dst, self: true, permanent: true })
      if (op.kind === 'fdb.del') observed.fdb = observed.fdb.filter(f => !(f.dev === op.dev && f.mac === op.mac && f.dst === op.dst))
    }
    t.deepEqual(diffKernel(desired, observed), [], `seed ${seed}`)
  }
})

// ---- queue ---------------------------------------------------------------------------

const tick = async (ms = 1): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

test('queue: items run one at a time, in order, and return their results', async t => {
  const queue = new KernelQueue({ maxInFlight: 4 })
  const trace: string[] = []
  let running = 0
  const item = (name: string) => async (): Promise<string> => {
    running++
    t.is(running, 1, 'never two items at once')
    trace.push(`start ${name}`)
    await tick(5)
    trace.push(`end ${name}`)
    running--
    return name
  }
  const results = await Promise.all([queue.enqueue(item('a')), queue.enqueue(item('b')), queue.enqueue(item('c'))])
  t.deepEqual(results, ['a', 'b', 'c'])
  t.deepEqual(trace, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c'])
})

test('queue: a failing item rejects its caller only; the next items still run', async t => {
  const queue = new KernelQueue()
  const failing = queue.enqueue(async () => { throw new Error('boom') })
  const next = queue.enqueue(async () => 'ok')
  await t.throwsAsync(failing, { message: 'boom' })
  t.is(await next, 'ok')
})

test('queue: the request window bounds requests in flight', async t => {
  const queue = new KernelQueue({ maxInFlight: 16 })
  let inFlight = 0
  let peak = 0
  const results = await queue.enqueue(async window => await window.map(Array.from({ length: 10_000 }, (_, i) => i), async i => {
    inFlight++
    peak = Math.max(peak, inFlight)
    await (i % 7 === 0 ? tick(0) : Promise.resolve())
    inFlight--
    if (i === 13) throw new Error('one fails')
    return i * 2
  }))
  t.is(peak, 16)
  t.is(results.length, 10_000)
  t.deepEqual(results[3], { status: 'fulfilled', value: 6 })
  t.is(results[13]?.status, 'rejected')
  t.is(results.filter(r => r.status === 'fulfilled').length, 9_999)
})

test('queue: close fails items that have not started and waits for the running one', async t => {
  const queue = new KernelQueue()
  let finished = false
  const running = queue.enqueue(async () => { await tick(20); finished = true })
  const waiting = queue.enqueue(async () => 'never')
  await tick(1)
  await queue.close()
  t.true(finished)
  await running
  await t.throwsAsync(waiting, { message: /closed/ })
  await t.throwsAsync(queue.enqueue(async () => 1), { message: /closed/ })
})

// ---- reconciler without a kernel -----------------------------------------------------

const quietLogger = pino({ level: 'silent' })

test('dataplane: update() before start never throws; reconcileNow/attach need a started dataplane; stop is idempotent', async t => {
  const dataplane = createDataplane({ logger: quietLogger }, { resyncIntervalMs: 1000 })
  t.notThrows(() => { dataplane.update(input()) })
  await t.throwsAsync(dataplane.reconcileNow(), { message: /not started/ })
  await t.notThrowsAsync(dataplane.stop())
  await t.notThrowsAsync(dataplane.stop())
  const status = dataplane.status()
  t.false(status.running)
  t.is(status.reconciles, 0)
  t.is(status.netlinkErrors, 0)
})

test('dataplane: attach validates its arguments before touching anything', async t => {
  const dataplane = createDataplane({ logger: quietLogger })
  const error = await t.throwsAsync(dataplane.attach({
    network: network('blue', 42),
    endpointId: 'a1',
    netnsPath: '/run/netns/none',
    ifname: 'a-very-long-interface-name',
    ipv4: '10.240.1.300',
    prefixLen: 40,
    mac: 'nope',
    gateway: '10.240.0.1',
    mtu: 1450
  }))
  t.is((error as { dataplaneCode?: string } | undefined)?.dataplaneCode, 'E_DATAPLANE_INVALID_ARGUMENT')
  t.is((error as { code?: string } | undefined)?.code, 'E_INVALID_ARGUMENT')
  t.regex(error?.message ?? '', /ifname.*ipv4.*prefixLen.*mac/)
})

test('dataplane: bad settings are refused at construction', t => {
  t.throws(() => createDataplane({ logger: quietLogger }, { resyncIntervalMs: 0 }), { message: /resyncIntervalMs/ })
})
