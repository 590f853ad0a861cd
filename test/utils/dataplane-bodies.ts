/** Record bodies for dataplane drivers, from the small JSON shapes the tests pass them. */
import type { EndpointBody, NetworkBody } from '@meshplane/agent/state/types.js'
import type { AttachOptions } from '@meshplane/agent/dataplane/index.js'

export interface DriverNetwork { name: string, vni: number, subnet: string, gateway: string, mtu: number }
export interface DriverEndpoint { network: string, id: string, mac: string, ipv4: string, host: string }

export function toNetworkBody (network: DriverNetwork): NetworkBody {
  return { ...network, options: new Map(), creator: '', createdAtMs: 0n, internal: false }
}

export function toEndpointBody (endpoint: DriverEndpoint): EndpointBody & { host: string } {
  return { ...endpoint, ipv6: '', name: endpoint.id, aliases: [], labels: new Map() }
}

/** What the drivers pass to attach(): the network by name (the driver looks it up). */
export type DriverAttach = Omit<AttachOptions, 'network'> & { network: string }

/** attach() options for `endpoint` as eth0 in the container namespace `container` (/16, MTU 1450). */
export function attachArgs (endpoint: DriverEndpoint, network: DriverNetwork, container: string): DriverAttach {
  return {
    network: network.name,
    endpointId: endpoint.id,
    netnsPath: `/run/netns/${container}`,
    ifname: 'eth0',
    ipv4: endpoint.ipv4,
    prefixLen: 16,
    mac: endpoint.mac,
    gateway: network.gateway,
    mtu: 1450
  }
}
