/**
 * The dataplane's data model: what it is told (DataplaneInput), what it wants the kernel
 * to hold (DesiredKernelState), what the kernel holds (ObservedKernelState), and the
 * operations that turn one into the other (KernelOp). Plain data only: no sockets, so
 * desired.ts and diff.ts stay pure and testable without root.
 */
import type { EndpointBody, NetworkBody } from '../state/types.js'
import type { FirewallNetwork, PublishedPort } from './firewall.js'

export interface DataplaneSelf {
  peerId: string
  underlayIp: string
  /** Used only when the underlay device cannot be found in the kernel (see reconciler.ts). */
  underlayMtu: number
  vxlanPort: number
}

export interface DataplaneHost {
  underlayIp: string
  vxlanPort: number
}

export interface DataplaneInput {
  self: DataplaneSelf
  /** Networks that exist (not deleted). */
  networks: NetworkBody[]
  /** Every endpoint, local and remote; the caller removed endpoints of unreachable/left hosts. */
  endpoints: Array<EndpointBody & { host: string }>
  /** Alive hosts, self included. */
  hosts: Map<string, DataplaneHost>
  /** This host's published ports (Docker's -p): local knowledge, never gossiped. */
  ports?: PublishedPort[]
  /** The resolver's service address, reachable from every bridge on port 53. */
  serviceAddress?: string
}

// ---- desired ----------------------------------------------------------------------

export interface DesiredBridge {
  type: 'bridge'
  name: string
  network: string
  vni: number
  /** undefined: MTU unknown (no network MTU and no underlay MTU), leave it to the kernel. */
  mtu: number | undefined
  /** IPv4 forwarding on the bridge: only for an egress network, and only once the firewall
   * that isolates it is in the kernel (firewall.ts). */
  forwarding: boolean
}

/** The properties that decide whether an existing VXLAN device can be adopted. */
export interface VxlanParams {
  vni: number
  local: string
  port: number
  learning: boolean
  proxy: boolean
}

export interface DesiredVxlan extends VxlanParams {
  type: 'vxlan'
  name: string
  network: string
  mtu: number | undefined
  /** Bridge the VXLAN device is a port of. */
  master: string
}

export interface DesiredVeth {
  type: 'veth'
  /** Host-side name; the pair is created by attach(), the reconciler only keeps it in shape. */
  name: string
  network: string
  endpointId: string
  master: string
  mtu: number | undefined
}

export type DesiredLink = DesiredBridge | DesiredVxlan | DesiredVeth

export interface AddressEntry {
  dev: string
  ip: string
  prefixLen: number
}

export interface NeighbourEntry {
  dev: string
  ip: string
  mac: string
}

export interface FdbEntry {
  dev: string
  mac: string
  /** Remote VTEP (underlay IPv4). */
  dst: string
  /** Remote UDP port; only when it differs from the device's own dstport (the kernel reports it only then). */
  port?: number
}

export interface DesiredKernelState {
  links: DesiredLink[]
  addresses: AddressEntry[]
  neighbours: NeighbourEntry[]
  fdb: FdbEntry[]
  /** The programmed networks, for the firewall (firewall.ts). */
  networks: FirewallNetwork[]
  /** net.ipv4.ip_forward must be 1 (an egress bridge is programmed). false: left as it is,
   * never turned off (other things on the host may route). */
  ipForward: boolean
  /** Input that could not be programmed, with the reason (bad MAC, VNI clash, unknown host…). */
  warnings: string[]
}

// ---- observed ---------------------------------------------------------------------

export interface ObservedLink {
  name: string
  index: number
  /** IFLA_INFO_KIND ('bridge', 'vxlan', 'veth'…); undefined for devices without one (lo, physical). */
  kind: string | undefined
  mtu: number
  up: boolean
  /** Name of the master device, if enslaved. */
  master: string | undefined
  vxlan?: VxlanParams
  /** Owned bridges: whether IPv4 forwarding is on (net.ipv4.conf.<name>.forwarding);
   * undefined when it could not be read. */
  forwarding?: boolean
}

export interface ObservedNeighbour extends NeighbourEntry {
  permanent: boolean
}

export interface ObservedFdb extends FdbEntry {
  /** NTF_SELF: the device's own table (what `bridge fdb … self` programs), not the bridge's. */
  self: boolean
  permanent: boolean
}

export interface ObservedKernelState {
  links: ObservedLink[]
  /** IPv4 addresses only. */
  addresses: AddressEntry[]
  /** AF_INET neighbours. */
  neighbours: ObservedNeighbour[]
  /** AF_BRIDGE neighbours (FDB entries) that carry a MAC. */
  fdb: ObservedFdb[]
  /** net.ipv4.ip_forward; undefined when unreadable. */
  ipForward?: boolean
}

// ---- operations -------------------------------------------------------------------

/**
 * One kernel change. Objects with named fields, never positional booleans, so a log line
 * or a test assertion reads on its own. `recreate` carries the reason a device that exists
 * must be deleted and made again (logged).
 */
export type KernelOp =
  | { kind: 'link.ensureBridge', name: string, mtu: number | undefined, recreate?: string }
  | { kind: 'link.ensureVxlan', name: string, params: VxlanParams, mtu: number | undefined, master: string, recreate?: string }
  | { kind: 'link.set', name: string, mtu?: number, master?: string, up?: true }
  /** a network bridge routes nothing (netlink.ts setForwarding) */
  | { kind: 'link.forwardingOff', name: string }
  /** an egress network's bridge routes (its firewall is in place) */
  | { kind: 'link.forwardingOn', name: string }
  /** net.ipv4.ip_forward=1, as Docker and flannel set it: egress replies and published
   * ports arrive on the underlay device, which must forward too */
  | { kind: 'sysctl.ipForward' }
  | { kind: 'addr.add', dev: string, ip: string, prefixLen: number }
  | { kind: 'neigh.set', dev: string, ip: string, mac: string }
  | { kind: 'fdb.add', dev: string, mac: string, dst: string, port?: number }
  | { kind: 'addr.del', dev: string, ip: string, prefixLen: number }
  | { kind: 'neigh.del', dev: string, ip: string }
  | { kind: 'fdb.del', dev: string, mac: string, dst: string, port?: number }
  | { kind: 'link.del', name: string }

export type KernelOpKind = KernelOp['kind']

export interface OpFailure {
  op: KernelOp
  error: string
  /** errno name when the kernel refused (EEXIST, EINVAL…). */
  code?: string
}

export interface ApplyResult {
  applied: number
  failed: OpFailure[]
  durationMs: number
}
