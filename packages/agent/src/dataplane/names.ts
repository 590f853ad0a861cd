/**
 * Device names and small address helpers shared by the pure modules and the kernel adapter.
 * Names are derived, never stored: after a restart the same input gives the same names,
 * which is what lets a new agent adopt what the old one programmed.
 */
import { createHash } from 'node:crypto'
import { BRIDGE_NAME_RE, BRIDGE_PREFIX, VETH_NAME_RE, VETH_PEER_PREFIX, VETH_PREFIX, VXLAN_NAME_RE, VXLAN_PREFIX } from './constants.js'

export function bridgeName (vni: number): string {
  return `${BRIDGE_PREFIX}${vni}`
}

export function vxlanName (vni: number): string {
  return `${VXLAN_PREFIX}${vni}`
}

/** 8 hex digits of sha256(network/endpointId): stable, and short enough for IFNAMSIZ. */
function endpointHash (network: string, endpointId: string): string {
  return createHash('sha256').update(`${network}/${endpointId}`).digest('hex').slice(0, 8)
}

/** Host side of an endpoint's veth pair. */
export function vethName (network: string, endpointId: string): string {
  return `${VETH_PREFIX}${endpointHash(network, endpointId)}`
}

/** Temporary name of the container side, until netns-configure renames it. */
export function vethPeerName (network: string, endpointId: string): string {
  return `${VETH_PEER_PREFIX}${endpointHash(network, endpointId)}`
}

export type OwnedLinkType = 'bridge' | 'vxlan' | 'veth'

/** Which kind of meshplane device a name denotes, or undefined if meshplane does not own it. */
export function ownedLinkType (name: string): OwnedLinkType | undefined {
  if (BRIDGE_NAME_RE.test(name)) return 'bridge'
  if (VXLAN_NAME_RE.test(name)) return 'vxlan'
  if (VETH_NAME_RE.test(name)) return 'veth'
  return undefined
}

export function isOwnedLink (name: string): boolean {
  return ownedLinkType(name) !== undefined
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/

/** Lower-case colon form, or undefined if not a MAC. */
export function normalizeMac (mac: string): string | undefined {
  const lower = mac.trim().toLowerCase().replaceAll('-', ':')
  return MAC_RE.test(lower) ? lower : undefined
}

export function ipv4ToBytes (ip: string): Buffer {
  return Buffer.from(ip.split('.').map(Number))
}

export function bytesToIpv4 (bytes: Uint8Array): string {
  return Array.from(bytes).join('.')
}

export function macToBytes (mac: string): Buffer {
  return Buffer.from(mac.split(':').map(part => parseInt(part, 16)))
}

export function bytesToMac (bytes: Uint8Array): string {
  return Array.from(bytes, byte => byte.toString(16).padStart(2, '0')).join(':')
}
