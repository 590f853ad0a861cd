/**
 * Names across hosts: a DNS resolver on every host that answers the names of every
 * endpoint of the cluster (the `name` and `aliases` of the endpoint records, which travel
 * with the records like everything else), scoped per network, and forwards the rest to
 * the host's own resolvers. Wired only in agent.ts:
 *
 *   const resolver = createResolver({ logger, onQuery }, { address, resolvConf })
 *   resolver.update(networks, endpoints)   // whenever the dataplane input changes
 *   await resolver.start()                 // once the address is on the host (first reconcile)
 *   resolver.names()                       // `meshplane dns`
 *
 * Where it listens, and why there. Every container of every meshplane network must reach
 * it on its own host without egress (internal networks too), at one address that is the
 * same on every host, so that ONE setting per host (dockerd's `dns` option, or `--dns`)
 * serves every network: Docker's embedded DNS (127.0.0.11 in each container) forwards
 * the names it does not know to that address, from inside the container's namespace.
 * The networks' anycast gateways would do for one network, but differ per network, and
 * dockerd takes one list of servers for all of them. So the resolver listens on a fixed
 * link-local service address, 169.254.53.53 by default (`dns-address`), which the
 * dataplane puts on the host's loopback device as kernel state (desired.ts, like every
 * other address it programs). A container's packet to it leaves by its default route to
 * the gateway on its bridge and is delivered locally: no forwarding, so internal networks
 * (bridge forwarding off) reach it too, and the firewall (firewall.ts) accepts UDP/TCP 53
 * to it from every bridge. Link-local addresses are never routed off a link, so no other
 * host and no outside network can reach it; it sits outside every network's subnet.
 *
 * Which network a query is for: the querier's source address (subnets never overlap).
 * Queries from anywhere else are refused. See answer.ts for what is answered how.
 */
export { Resolver, type ResolverComponents, type ResolverInit, type ResolverStatus, type Transport } from './resolver.js'
export type { QueryResult } from './answer.js'
export { DEFAULT_DNS_ADDRESS, DNS_PORT, ANSWER_TTL_S } from './constants.js'
import { Resolver, type ResolverComponents, type ResolverInit } from './resolver.js'

export function createResolver (components: ResolverComponents, init: ResolverInit): Resolver {
  return new Resolver(components, init)
}

/** What a container of a meshplane network should use as its DNS configuration: the
 * resolver's address and nothing else (it forwards what it does not hold). Shaped like
 * the `dns` field of a CNI result (nameservers, domain, search, options), so a CNI plugin
 * can return it as is; also what `meshplane attach` writes to /etc/netns/NAME/resolv.conf. */
export interface DnsSettings {
  nameservers: string[]
  search: string[]
  options: string[]
}

export function dnsSettings (serviceAddress: string): DnsSettings {
  // ndots:0: a one-label name goes out as is at once (no search-domain round trips first)
  return { nameservers: [serviceAddress], search: [], options: ['ndots:0'] }
}

export function resolvConfText (settings: DnsSettings): string {
  const lines = ['# written by meshplane attach: the meshplane resolver on this host (removed on detach)']
  for (const ns of settings.nameservers) lines.push(`nameserver ${ns}`)
  if (settings.search.length > 0) lines.push(`search ${settings.search.join(' ')}`)
  if (settings.options.length > 0) lines.push(`options ${settings.options.join(' ')}`)
  return lines.join('\n') + '\n'
}
