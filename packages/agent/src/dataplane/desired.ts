/**
 * computeDesired: the kernel state this host should hold, as a pure function of the
 * cluster state the caller hands in. No I/O, no clock, no logger: problems in the input
 * come back as `warnings` for the caller to log.
 *
 * Layout per network (docs/design.md, "The kernel"), only for networks with a LOCAL endpoint:
 *   mpbr<vni>  bridge, MTU, the anycast gateway address (its prefix route is the subnet route)
 *   mpvx<vni>  VXLAN port of the bridge: id=vni, local=underlay, learning off, ARP proxy on
 *   per remote endpoint  permanent neighbour ip→mac and `self` FDB mac→remote VTEP on mpvx
 *   per remote host      all-zeros FDB → its VTEP (head-end replication of broadcast)
 *   per local endpoint   host-side veth mpv<hash>, port of the bridge, MTU
 */
import { DEFAULT_VXLAN_PORT, VXLAN_IPV4_OVERHEAD, ZERO_MAC } from './constants.js'
import { bridgeName, normalizeMac, vethName, vxlanName } from './names.js'
import type { AddressEntry, DataplaneInput, DesiredKernelState, DesiredLink, FdbEntry, NeighbourEntry } from './types.js'
import type { NetworkBody } from '../state/types.js'
import type { FirewallNetwork } from './firewall.js'
import { parseCidr } from '../net/addr.js'
import { isIPv4 } from 'node:net'

const LOOPBACK = 'lo'

/** Overlay MTU: the network's own, else underlay − 50; undefined when neither is known. */
export function computeOverlayMtu (network: Pick<NetworkBody, 'mtu'>, underlayMtu: number): number | undefined {
  if (network.mtu > 0) return network.mtu
  if (underlayMtu > VXLAN_IPV4_OVERHEAD) return underlayMtu - VXLAN_IPV4_OVERHEAD
  return undefined
}

function byString<T> (key: (item: T) => string): (a: T, b: T) => number {
  return (a, b) => {
    const ka = key(a)
    const kb = key(b)
    return ka < kb ? -1 : ka > kb ? 1 : 0
  }
}

export interface ComputeDesiredOptions {
  /** The firewall is in the kernel: egress networks' bridges may forward. */
  egress?: boolean
}

export function computeDesired (input: DataplaneInput, options: ComputeDesiredOptions = {}): DesiredKernelState {
  const { self } = input
  const warnings: string[] = []
  const links: DesiredLink[] = []
  const addresses: AddressEntry[] = []
  const neighbours: NeighbourEntry[] = []
  const fdb: FdbEntry[] = []
  const programmed: FirewallNetwork[] = []
  const selfPort = self.vxlanPort > 0 ? self.vxlanPort : DEFAULT_VXLAN_PORT

  // Sorted so that the output (and so the op order, and the winner of any clash) does
  // not depend on the order records happened to arrive in.
  const networks = [...input.networks].sort(byString(n => n.name))
  const endpoints = [...input.endpoints].sort(byString(e => `${e.network}\u0000${e.host}\u0000${e.id}`))

  const endpointsByNetwork = new Map<string, typeof endpoints>()
  for (const endpoint of endpoints) {
    const list = endpointsByNetwork.get(endpoint.network) ?? []
    list.push(endpoint)
    endpointsByNetwork.set(endpoint.network, list)
  }

  const vniOwner = new Map<number, string>()
  for (const network of networks) {
    const members = endpointsByNetwork.get(network.name) ?? []
    // A host programs only the networks it has endpoints in (docs/design.md, "The kernel").
    if (!members.some(endpoint => endpoint.host === self.peerId)) continue

    if (!Number.isInteger(network.vni) || network.vni < 1 || network.vni > 0xffffff) {
      warnings.push(`network ${network.name}: VNI ${network.vni} is out of range 1..16777215, not programmed`)
      continue
    }
    const clash = vniOwner.get(network.vni)
    if (clash !== undefined) {
      // Device names derive from the VNI, so two networks cannot share one on a host.
      warnings.push(`network ${network.name}: VNI ${network.vni} is already used by network ${clash}, not programmed`)
      continue
    }
    vniOwner.set(network.vni, network.name)

    const bridge = bridgeName(network.vni)
    const vxlan = vxlanName(network.vni)
    const mtu = computeOverlayMtu(network, self.underlayMtu)

    const egress = network.internal !== true
    links.push({ type: 'bridge', name: bridge, network: network.name, vni: network.vni, mtu, forwarding: egress && options.egress === true })
    programmed.push({ name: network.name, bridge, subnet: network.subnet, gateway: network.gateway, egress })
    links.push({
      type: 'vxlan',
      name: vxlan,
      network: network.name,
      vni: network.vni,
      local: self.underlayIp,
      port: selfPort,
      learning: false,
      proxy: true,
      mtu,
      master: bridge
    })

    if (network.gateway !== '') {
      const prefixLen = parseCidr(network.subnet)?.prefixLen
      if (prefixLen === undefined || !isIPv4(network.gateway)) {
        warnings.push(`network ${network.name}: gateway ${network.gateway} or subnet ${network.subnet} is not valid IPv4, no gateway address`)
      } else {
        addresses.push({ dev: bridge, ip: network.gateway, prefixLen })
      }
    }

    const neighbourOwner = new Map<string, string>()
    const macOwner = new Map<string, string>()
    const floodHosts = new Map<string, { dst: string, port: number }>()

    for (const endpoint of members) {
      const who = `endpoint ${endpoint.network}/${endpoint.id} on ${endpoint.host}`
      if (endpoint.host === self.peerId) {
        links.push({ type: 'veth', name: vethName(network.name, endpoint.id), network: network.name, endpointId: endpoint.id, master: bridge, mtu })
        // The host resolves its own containers without ARP: a packet routed or DNATed to
        // one (egress replies, a published port) while its interface is still coming up
        // (docker run) would otherwise leave a FAILED entry that drops traffic for seconds.
        const mac = normalizeMac(endpoint.mac)
        if (mac !== undefined && mac !== ZERO_MAC && isIPv4(endpoint.ipv4) && !neighbourOwner.has(endpoint.ipv4)) {
          neighbourOwner.set(endpoint.ipv4, who)
          neighbours.push({ dev: bridge, ip: endpoint.ipv4, mac })
        }
        continue
      }
      const host = input.hosts.get(endpoint.host)
      if (host === undefined) {
        warnings.push(`${who}: host is not alive or unknown, not programmed`)
        continue
      }
      if (!isIPv4(host.underlayIp) || host.underlayIp === self.underlayIp) {
        warnings.push(`${who}: host underlay address ${host.underlayIp} is not usable, not programmed`)
        continue
      }
      const mac = normalizeMac(endpoint.mac)
      if (mac === undefined || mac === ZERO_MAC) {
        warnings.push(`${who}: MAC ${endpoint.mac} is not valid, not programmed`)
        continue
      }
      const macClash = macOwner.get(mac)
      if (macClash !== undefined) {
        warnings.push(`${who}: MAC ${mac} already belongs to ${macClash}, not programmed`)
        continue
      }
      const port = host.vxlanPort > 0 ? host.vxlanPort : DEFAULT_VXLAN_PORT
      if (endpoint.ipv4 !== '') {
        if (!isIPv4(endpoint.ipv4)) {
          warnings.push(`${who}: IPv4 ${endpoint.ipv4} is not valid, not programmed`)
          continue
        }
        const ipClash = neighbourOwner.get(endpoint.ipv4)
        if (ipClash !== undefined) {
          warnings.push(`${who}: IPv4 ${endpoint.ipv4} already belongs to ${ipClash}, not programmed`)
          continue
        }
        neighbourOwner.set(endpoint.ipv4, who)
        neighbours.push({ dev: vxlan, ip: endpoint.ipv4, mac })
      }
      // The FDB entry is useful without an IPv4 too (IPv6-only endpoints resolve by NDP
      // over the flood list, then unicast to this MAC).
      macOwner.set(mac, who)
      fdb.push(withPort({ dev: vxlan, mac, dst: host.underlayIp }, port, selfPort))
      floodHosts.set(host.underlayIp, { dst: host.underlayIp, port })
    }

    for (const { dst, port } of [...floodHosts.values()].sort(byString(h => h.dst))) {
      fdb.push(withPort({ dev: vxlan, mac: ZERO_MAC, dst }, port, selfPort))
    }
  }

  // The resolver's service address (dns/index.ts): on loopback, so it exists whether or
  // not a network is programmed, and every bridge's containers reach it by local delivery.
  if (input.serviceAddress !== undefined && isIPv4(input.serviceAddress)) addresses.push({ dev: LOOPBACK, ip: input.serviceAddress, prefixLen: 32 })

  const ipForward = links.some(link => link.type === 'bridge' && link.forwarding)
  return { links, addresses, neighbours, fdb, networks: programmed, ipForward, warnings }
}

/** The kernel reports NDA_PORT only when it differs from the device's dstport; mirror that. */
function withPort (entry: FdbEntry, port: number, devicePort: number): FdbEntry {
  return port === devicePort ? entry : { ...entry, port }
}
