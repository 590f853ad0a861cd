/** Record bodies for dataplane drivers, from the small JSON shapes the tests pass them. */
import type { EndpointBody, NetworkBody } from '@meshplane/agent/state/types.js'

export interface DriverNetwork { name: string, vni: number, subnet: string, gateway: string, mtu: number }
export interface DriverEndpoint { network: string, id: string, mac: string, ipv4: string, host: string }

export function toNetworkBody (network: DriverNetwork): NetworkBody {
  return { ...network, options: new Map(), creator: '', createdAtMs: 0n }
}

export function toEndpointBody (endpoint: DriverEndpoint): EndpointBody & { host: string } {
  return { ...endpoint, ipv6: '', name: endpoint.id, labels: new Map() }
}
