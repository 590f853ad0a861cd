/**
 * A remote change never removes a local container's interface (issue 15): a network
 * with local endpoints keeps its kernel state when its record is removed or rewritten.
 */
import test from 'ava'
import { computeDesired, vethName, bridgeName } from '@meshplane/agent/dataplane/index.js'
import { LocalNetworkHold } from '@meshplane/agent/dataplane/held-networks.js'
import type { DataplaneInput } from '@meshplane/agent/dataplane/index.js'
import type { NetworkBody } from '@meshplane/agent/state/types.js'

const SELF = 'peer-a'
const network = (name: string, vni: number, extra: Partial<NetworkBody> = {}): NetworkBody =>
  ({ name, vni, subnet: '10.240.0.0/16', gateway: '10.240.0.1', mtu: 0, options: new Map(), creator: 'owner', createdAtMs: 1n, internal: false, ...extra })
const endpoints: DataplaneInput['endpoints'] = [
  { network: 'blue', id: 'c1', mac: '02:42:0a:f0:00:02', ipv4: '10.240.0.2', ipv6: '', name: '', aliases: [], labels: new Map(), host: SELF },
  { network: 'blue', id: 'r1', mac: '02:42:0a:f0:00:03', ipv4: '10.240.0.3', ipv6: '', name: '', aliases: [], labels: new Map(), host: 'peer-b' }
]
const hosts = new Map([[SELF, { underlayIp: '10.0.0.1', vxlanPort: 4789 }], ['peer-b', { underlayIp: '10.0.0.2', vxlanPort: 4789 }]])

function desired (hold: LocalNetworkHold, records: NetworkBody[], eps = endpoints): { links: string[], held: string[], fdb: number } {
  const local = new Set(eps.filter(e => e.host === SELF).map(e => e.network))
  const { networks, held } = hold.resolve(records, local)
  const d = computeDesired({ self: { peerId: SELF, underlayIp: '10.0.0.1', underlayMtu: 1500, vxlanPort: 4789 }, networks, endpoints: eps, hosts })
  return { links: d.links.map(l => l.name).sort(), held: held.map(h => `${h.name}:${h.reason}`), fdb: d.fdb.length }
}

test('a network with a local endpoint keeps its devices and veths when its record is removed or moved to another VNI', t => {
  const hold = new LocalNetworkHold()
  const blue = network('blue', 4100)
  const before = desired(hold, [blue])
  t.true(before.links.includes(vethName('blue', 'c1')))
  t.true(before.links.includes(bridgeName(4100)))

  // a tombstone from elsewhere: the record is gone, the kernel keeps the network
  const removed = desired(hold, [])
  t.deepEqual(removed.links, before.links, 'bridge, VXLAN device and the local veth stay')
  t.is(removed.fdb, before.fdb, 'remote endpoints stay programmed')
  t.deepEqual(removed.held, ['blue:removed'])

  // a rewrite onto another network's VNI (which has a local endpoint too)
  const red = network('red', 4200, { subnet: '10.241.0.0/16', gateway: '10.241.0.1' })
  const both = [...endpoints, { network: 'red', id: 'c2', mac: '02:42:0a:f1:00:02', ipv4: '10.241.0.2', ipv6: '', name: '', aliases: [], labels: new Map(), host: SELF }]
  const hold2 = new LocalNetworkHold()
  desired(hold2, [blue, red], both)
  const clash = desired(hold2, [network('blue', 4200), red], both)
  t.true(clash.links.includes(vethName('blue', 'c1')), 'blue\'s veth stays')
  t.true(clash.links.includes(vethName('red', 'c2')), 'red\'s veth stays')
  t.true(clash.links.includes(bridgeName(4100)) && clash.links.includes(bridgeName(4200)))
  t.deepEqual(clash.held, ['blue:changed'])

  // once the last local endpoint is detached, the record takes effect
  const detached = desired(hold, [], endpoints.filter(e => e.host !== SELF))
  t.deepEqual(detached.links, [])
  t.deepEqual(detached.held, [])
  // and a change that leaves the kernel state alone (another lineage, same values) passes through
  const hold3 = new LocalNetworkHold()
  desired(hold3, [blue])
  t.deepEqual(desired(hold3, [{ ...blue, creator: 'other', createdAtMs: 2n }]).held, [])
})
