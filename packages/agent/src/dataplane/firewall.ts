/**
 * The firewall half of the desired kernel state: egress NAT, isolation, published ports,
 * as a pure function of the programmed networks, the cluster's subnets and this host's
 * published ports. No I/O: nft.ts reads and writes the kernel, the reconciler decides
 * when. Rendered as nftables JSON commands (what `nft -j -f -` takes), in a table of
 * meshplane's own, `inet meshplane`, that nobody else writes; the one exception is the
 * compat pair in `ip filter FORWARD` (see computeCompat).
 *
 * Why forwarding and these rules fit together: a network's bridge used to have IPv4
 * forwarding off, which isolated networks with no firewall at all, and made egress
 * impossible (nothing received on the bridge may be routed). An egress network's bridge now
 * forwards, and the isolation moves here: the forward chain accepts from a bridge only
 * (1) the same bridge (bridged frames under br_netfilter), (2) replies and published-port
 * traffic (conntrack), (3) new flows to addresses outside every meshplane subnet and not
 * out of another meshplane bridge. An internal network keeps forwarding off (nothing is
 * routed from it, whatever the rules say) and is dropped here too: two layers. Forwarding
 * on a bridge is turned on only after this table is in the kernel (reconciler.ts), so a
 * host without nft keeps today's isolation and reports egress as unavailable.
 *
 * Every rule carries a comment with a hash of its chain and expression; comparing the
 * comments the kernel lists with these is the whole diff (nft normalises expressions, so
 * comparing expressions would see differences that are not there). Any difference
 * replaces the table in one transaction: conntrack keeps established flows and their NAT
 * bindings, so a replacement cuts nothing.
 */
import { createHash } from 'node:crypto'
import { BRIDGE_PREFIX } from './constants.js'

export const FIREWALL_TABLE = 'meshplane'
export const FIREWALL_FAMILY = 'inet'
/** The comment on meshplane's own rules in another table's chain (iptables-nft lists it as
 * `-m comment --comment meshplane-…`). */
export const COMPAT_COMMENT_PREFIX = 'meshplane'

export type PortProtocol = 'tcp' | 'udp'

/** One published port of a local endpoint (Docker's -p), local knowledge: never gossiped. */
export interface PublishedPort {
  network: string
  endpointId: string
  protocol: PortProtocol
  /** '' = every local address of the host (Docker's default 0.0.0.0). */
  hostIp: string
  hostPort: number
  containerIp: string
  containerPort: number
}

/** A network this host programs (it has a local endpoint in it). */
export interface FirewallNetwork {
  name: string
  bridge: string
  subnet: string
  gateway: string
  egress: boolean
}

export interface FirewallInput {
  networks: FirewallNetwork[]
  /** Every meshplane subnet of the cluster (also those not programmed here): never NATed
   * to, never routed to from a bridge. */
  clusterSubnets: string[]
  ports: PublishedPort[]
  /** The resolver's address (issue: names), reachable from every bridge on port 53. */
  serviceAddress?: string
}

export type NftCommand = Record<string, unknown>

export interface DesiredChain {
  name: string
  /** Base chains only. */
  base?: { type: 'filter' | 'nat', hook: 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting', prio: number, policy: 'accept' }
  /** Rules in order; each has its comment (the hash). */
  rules: Array<{ comment: string, expr: unknown[] }>
}

export interface DesiredFirewall {
  /** Empty when this host programs no network: the table is removed. */
  chains: DesiredChain[]
  /** Ports accepted (programmed), and those not, with the reason. */
  ports: Array<PublishedPort & { programmed: boolean, reason?: string }>
  warnings: string[]
}

export interface ObservedChain {
  name: string
  type?: string
  hook?: string
  prio?: number
  policy?: string
  comments: string[]
}

export interface ObservedFirewall {
  /** undefined: the table does not exist. */
  table: ObservedChain[] | undefined
  /** `ip filter FORWARD` (iptables' and dockerd's): undefined when absent. */
  compat: { rules: Array<{ handle: number, comment: string }> } | undefined
}

// ---- expression helpers (nftables JSON, libnftables-json(5)) -------------------------

const meta = (key: string): unknown => ({ meta: { key } })
const eq = (left: unknown, right: unknown): unknown => ({ match: { op: '==', left, right } })
const ne = (left: unknown, right: unknown): unknown => ({ match: { op: '!=', left, right } })
const ipField = (field: 'saddr' | 'daddr'): unknown => ({ payload: { protocol: 'ip', field } })
const prefix = (cidr: string): unknown => {
  const [addr, len] = cidr.split('/')
  return { prefix: { addr, len: Number(len) } }
}
const anySet = (items: unknown[]): unknown => items.length === 1 ? items[0] : { set: items }
const ctState = (states: string[]): unknown => ({ match: { op: 'in', left: { ct: { key: 'state' } }, right: states } })
const ctDnat = (): unknown => ({ match: { op: 'in', left: { ct: { key: 'status' } }, right: 'dnat' } })
const localDaddr = (): unknown => ({ match: { op: '==', left: { fib: { result: 'type', flags: ['daddr'] } }, right: 'local' } })
const ACCEPT = { accept: null }
const DROP = { drop: null }
const ANY_BRIDGE = `${BRIDGE_PREFIX}*`

function rule (chain: string, expr: unknown[]): { comment: string, expr: unknown[] } {
  const hash = createHash('sha256').update(JSON.stringify([chain, expr])).digest('hex').slice(0, 16)
  return { comment: `mp-${hash}`, expr }
}

function validPort (port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535
}

export function computeFirewall (input: FirewallInput): DesiredFirewall {
  const warnings: string[] = []
  const networks = [...input.networks].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  const byName = new Map(networks.map(n => [n.name, n]))
  const subnets = [...new Set(input.clusterSubnets)].sort().map(prefix)

  // Ports: only of programmed egress networks, one binding per (host ip, protocol, port).
  const ports: DesiredFirewall['ports'] = []
  const taken = new Map<string, string>()
  const sortedPorts = [...input.ports].sort((a, b) => `${a.protocol}/${a.hostPort}/${a.hostIp}/${a.endpointId}` < `${b.protocol}/${b.hostPort}/${b.hostIp}/${b.endpointId}` ? -1 : 1)
  for (const port of sortedPorts) {
    const network = byName.get(port.network)
    const refuse = (reason: string): void => {
      ports.push({ ...port, programmed: false, reason })
      warnings.push(`port ${port.hostIp === '' ? '*' : port.hostIp}:${port.hostPort}/${port.protocol} of ${port.network}/${port.endpointId}: ${reason}`)
    }
    if (network === undefined) { refuse('the network is not programmed on this host'); continue }
    if (!network.egress) { refuse('the network is internal: nothing is published from it'); continue }
    if (!validPort(port.hostPort) || !validPort(port.containerPort)) { refuse('port out of 1..65535'); continue }
    const clashKeys = port.hostIp === '' ? [`*/${port.protocol}/${port.hostPort}`] : [`*/${port.protocol}/${port.hostPort}`, `${port.hostIp}/${port.protocol}/${port.hostPort}`]
    const clash = clashKeys.map(k => taken.get(k)).find(v => v !== undefined)
    if (clash !== undefined) { refuse(`already published by ${clash}`); continue }
    taken.set(clashKeys[clashKeys.length - 1]!, `${port.network}/${port.endpointId}`)
    if (port.hostIp === '') taken.set(`*/${port.protocol}/${port.hostPort}`, `${port.network}/${port.endpointId}`)
    ports.push({ ...port, programmed: true })
  }
  // A specific host ip and the wildcard on one port: the wildcard check above keeps at most
  // one of them per port, as the kernel's bind() would.

  if (networks.length === 0) return { chains: [], ports, warnings }

  const chains: DesiredChain[] = []
  const add = (name: string, base: DesiredChain['base'], exprs: unknown[][]): void => {
    const chain: DesiredChain = { name, rules: exprs.map(expr => rule(name, expr)) }
    if (base !== undefined) chain.base = base
    chains.push(chain)
  }

  // forward: everything leaving or entering a meshplane bridge.
  add('forward', { type: 'filter', hook: 'forward', prio: 0, policy: 'accept' }, [
    // Nearly every packet belongs to a flow that was let through when it started: one
    // conntrack match, first, is the whole cost of a bulk transfer (bench/egress.ts). An
    // accept here decides nothing for other tables: each base chain has its say.
    [ctState(['established', 'related']), ACCEPT],
    [eq(meta('iifname'), ANY_BRIDGE), { jump: { target: 'from-overlay' } }],
    [eq(meta('oifname'), ANY_BRIDGE), { jump: { target: 'to-overlay' } }]
  ])
  add('from-overlay', undefined, [
    // bridged frames of one network (br_netfilter), and routed hairpins on one bridge
    ...networks.map(n => [eq(meta('iifname'), n.bridge), eq(meta('oifname'), n.bridge), ACCEPT]),
    // an internal network starts nothing beyond its own bridge (not even a published port)
    ...networks.filter(n => !n.egress).map(n => [eq(meta('iifname'), n.bridge), DROP]),
    // a published port, wherever the client is (also another network, as with Docker)
    [ctDnat(), ACCEPT],
    // isolation: never into another network, never to a meshplane subnet by any route
    [eq(meta('oifname'), ANY_BRIDGE), DROP],
    ...(subnets.length > 0 ? [[eq(ipField('daddr'), anySet(subnets)), DROP]] : []),
    [eq(meta('nfproto'), 'ipv4'), ACCEPT],
    [DROP]
  ])
  add('to-overlay', undefined, [
    [ctDnat(), ACCEPT],
    // nothing else is routed into a network: no direct access to container addresses
    [DROP]
  ])

  // input: a container reaches its host's gateway (ping), the resolver, and nothing else
  // of the host's own addresses (ssh, the agent's mesh port, other bridges' gateways).
  add('input', { type: 'filter', hook: 'input', prio: 0, policy: 'accept' }, [
    [eq(meta('iifname'), ANY_BRIDGE), { jump: { target: 'overlay-input' } }]
  ])
  const serviceRules: unknown[][] = input.serviceAddress === undefined
    ? []
    : (['udp', 'tcp'] as const).map(proto => [eq(ipField('daddr'), input.serviceAddress), eq({ payload: { protocol: proto, field: 'dport' } }, 53), ACCEPT])
  add('overlay-input', undefined, [
    [ctState(['established', 'related']), ACCEPT],
    ...networks.filter(n => n.gateway !== '').map(n => [eq(meta('iifname'), n.bridge), eq(ipField('daddr'), n.gateway), eq(meta('l4proto'), 'icmp'), ACCEPT]),
    ...serviceRules,
    [DROP]
  ])

  // published ports: DNAT from any local address (prerouting: other hosts and outside;
  // output: the host itself), loopback aside (it would need route_localnet).
  const programmedPorts = ports.filter(p => p.programmed)
  const hook = (name: string, hookName: 'prerouting' | 'output'): void => {
    add(name, { type: 'nat', hook: hookName, prio: -100, policy: 'accept' }, programmedPorts.length === 0
      ? []
      : [[localDaddr(), ne(ipField('daddr'), prefix('127.0.0.0/8')), { jump: { target: 'published' } }]])
  }
  hook('prerouting', 'prerouting')
  hook('output', 'output')
  add('published', undefined, programmedPorts.map(p => [
    ...(p.hostIp === '' ? [] : [eq(ipField('daddr'), p.hostIp)]),
    eq(meta('l4proto'), p.protocol),
    eq({ payload: { protocol: 'th', field: 'dport' } }, p.hostPort),
    { dnat: { family: 'ip', addr: p.containerIp, port: p.containerPort } }
  ]))

  // postrouting: egress masquerade (fully random source ports: the conntrack race of
  // flannel#1004), hairpins to a published port from the same network.
  add('postrouting', { type: 'nat', hook: 'postrouting', prio: 100, policy: 'accept' }, [
    ...networks.map(n => [eq(meta('iifname'), n.bridge), eq(meta('oifname'), n.bridge), ctDnat(), { masquerade: null }]),
    ...networks.filter(n => n.egress).map(n => [
      eq(meta('iifname'), n.bridge),
      ne(meta('oifname'), ANY_BRIDGE),
      eq(ipField('saddr'), prefix(n.subnet)),
      ...(subnets.length > 0 ? [ne(ipField('daddr'), anySet(subnets))] : []),
      { masquerade: { flags: ['fully-random'] } }
    ])
  ])

  return { chains, ports, warnings }
}

/** The nft commands that make the kernel hold `desired`: none when it does already; else
 * the whole table replaced in one transaction (add, delete, add: valid whether or not it
 * exists). Also the compat rules. */
export function diffFirewall (desired: DesiredFirewall, observed: ObservedFirewall): NftCommand[] {
  const commands: NftCommand[] = []
  const table = { family: FIREWALL_FAMILY, name: FIREWALL_TABLE }
  if (desired.chains.length === 0) {
    if (observed.table !== undefined) commands.push({ delete: { table } })
  } else if (!tableMatches(desired, observed.table)) {
    commands.push({ add: { table } }, { delete: { table } }, { add: { table } })
    for (const chain of desired.chains) {
      commands.push({ add: { chain: { family: FIREWALL_FAMILY, table: FIREWALL_TABLE, name: chain.name, ...(chain.base ?? {}) } } })
    }
    for (const chain of desired.chains) {
      for (const r of chain.rules) commands.push({ add: { rule: { family: FIREWALL_FAMILY, table: FIREWALL_TABLE, chain: chain.name, comment: r.comment, expr: r.expr } } })
    }
  }
  commands.push(...diffCompat(desired.chains.length > 0, observed.compat))
  return commands
}

function tableMatches (desired: DesiredFirewall, observed: ObservedChain[] | undefined): boolean {
  if (observed === undefined || observed.length !== desired.chains.length) return false
  const byName = new Map(observed.map(c => [c.name, c]))
  for (const chain of desired.chains) {
    const seen = byName.get(chain.name)
    if (seen === undefined) return false
    if (chain.base !== undefined && (seen.type !== chain.base.type || seen.hook !== chain.base.hook || seen.prio !== chain.base.prio || seen.policy !== chain.base.policy)) return false
    if (chain.base === undefined && seen.hook !== undefined) return false
    if (seen.comments.length !== chain.rules.length || chain.rules.some((r, i) => seen.comments[i] !== r.comment)) return false
  }
  return true
}

/**
 * A FORWARD policy of DROP in iptables' filter table (dockerd sets one, so do ufw and
 * others) drops routed traffic whatever this table accepts: in nftables a packet must
 * pass every base chain of its hook. So where that chain exists, two rules of meshplane's
 * own accept what enters or leaves a meshplane bridge; this table, which every such packet
 * also passes, does the isolation. They are native nft rules that iptables-nft reads as
 * `-i mpbr+ -m comment --comment meshplane-in -j ACCEPT`, so dockerd's own iptables calls
 * keep working. Removed when no network is programmed here.
 */
export const COMPAT_RULES: Array<{ comment: string, expr: unknown[] }> = [
  { comment: `${COMPAT_COMMENT_PREFIX}-in`, expr: [eq(meta('iifname'), ANY_BRIDGE), { counter: { packets: 0, bytes: 0 } }, ACCEPT] },
  { comment: `${COMPAT_COMMENT_PREFIX}-out`, expr: [eq(meta('oifname'), ANY_BRIDGE), { counter: { packets: 0, bytes: 0 } }, ACCEPT] }
]

function diffCompat (wanted: boolean, compat: ObservedFirewall['compat']): NftCommand[] {
  if (compat === undefined) return []
  const ours = compat.rules.filter(r => r.comment.startsWith(COMPAT_COMMENT_PREFIX))
  const want = wanted ? COMPAT_RULES.map(r => r.comment) : []
  const have = ours.map(r => r.comment).sort()
  if (JSON.stringify(have) === JSON.stringify([...want].sort())) return []
  const commands: NftCommand[] = ours.map(r => ({ delete: { rule: { family: 'ip', table: 'filter', chain: 'FORWARD', handle: r.handle } } }))
  if (wanted) {
    for (const r of COMPAT_RULES) commands.push({ insert: { rule: { family: 'ip', table: 'filter', chain: 'FORWARD', comment: r.comment, expr: r.expr } } })
  }
  return commands
}
