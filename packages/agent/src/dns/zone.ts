/**
 * The names this host answers, per network, as a pure function of the cluster state the
 * agent hands in (the same endpoints the dataplane programs: those of live hosts). Rebuilt
 * when the input changes; lookups are map reads.
 */
import type { EndpointBody, NetworkBody } from '../state/types.js'
import { parseCidr, ipToInt, type Cidr } from '../net/addr.js'

export interface ZoneNetwork {
  name: string
  subnet: Cidr
  /** name or alias → addresses (sorted: the rotation, not arrival order, decides the order) */
  names: Map<string, string[]>
  /** address → the endpoint's name (its first alias when it has none) */
  ptr: Map<string, string>
}

export interface Zone {
  networks: ZoneNetwork[]
}

export function buildZone (networks: readonly NetworkBody[], endpoints: ReadonlyArray<Pick<EndpointBody, 'network' | 'name' | 'aliases' | 'ipv4'>>): Zone {
  const byName = new Map<string, ZoneNetwork>()
  for (const n of networks) {
    const subnet = parseCidr(n.subnet)
    if (subnet !== undefined) byName.set(n.name, { name: n.name, subnet, names: new Map(), ptr: new Map() })
  }
  for (const e of endpoints) {
    const zn = byName.get(e.network)
    if (zn === undefined || e.ipv4 === '') continue
    const names = e.name === '' ? e.aliases : [e.name, ...e.aliases]
    for (const name of names) {
      const list = zn.names.get(name) ?? []
      if (!list.includes(e.ipv4)) list.push(e.ipv4)
      zn.names.set(name, list)
    }
    if (names.length > 0 && !zn.ptr.has(e.ipv4)) zn.ptr.set(e.ipv4, names[0]!)
  }
  for (const zn of byName.values()) for (const list of zn.names.values()) list.sort((a, b) => ipToInt(a) - ipToInt(b))
  return { networks: [...byName.values()] }
}

/** The network a querier is on: network subnets never overlap, so its source address
 * says which one (Docker's embedded DNS forwards from the container's own address). */
export function networkOf (zone: Zone, sourceIp: string): ZoneNetwork | undefined {
  return zone.networks.find(n => n.subnet.contains(sourceIp))
}

/** `4.3.2.1.in-addr.arpa` → `1.2.3.4`; undefined for anything else. */
export function ptrAddress (qname: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/.exec(qname)
  if (m === null) return undefined
  const octets = [m[4], m[3], m[2], m[1]].map(Number)
  if (octets.some(o => o > 255)) return undefined
  return octets.join('.')
}

/** Every name of every network, for `meshplane dns`. */
export function zoneListing (zone: Zone): Array<{ network: string, name: string, addresses: string[] }> {
  const out: Array<{ network: string, name: string, addresses: string[] }> = []
  for (const zn of [...zone.networks].sort((a, b) => a.name < b.name ? -1 : 1)) {
    for (const [name, addresses] of [...zn.names].sort(([a], [b]) => a < b ? -1 : 1)) out.push({ network: zn.name, name, addresses: [...addresses] })
  }
  return out
}
