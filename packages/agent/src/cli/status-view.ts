/**
 * `meshplane status` for humans: one host at a glance, from the API's status, peers,
 * networks and endpoints. Pure (no I/O) so the layout is tested without an agent.
 */
import { table, shortId, ago } from './format.js'

type Json = Record<string, any>

export interface StatusParts {
  status: Json
  peers: Json[]
  networks: Json[]
  endpoints: Json[]
}

export function formatStatus ({ status: s, peers, networks, endpoints }: StatusParts, nowMs = Date.now()): string {
  const self = s.id as string
  const local = endpoints.filter(e => e.host === self)
  const others = peers.filter(p => p.self !== true)
  const dp = s.dataplane ?? {}
  const last = dp.lastReconcile
  const failing = last?.failed ?? 0
  const health = last === undefined ? 'not reconciled yet' : failing > 0 ? `UNHEALTHY: ${failing} kernel ops failing (retried)` : 'healthy'
  const errors = (s.lastErrors ?? []) as Json[]
  const fw = dp.firewall as Json | undefined
  const ports = (fw?.ports ?? []) as Json[]
  const lines = [
    `meshplane ${s.version} on ${s.advertiseAddr}, up ${ago(s.uptimeMs).replace(' ago', '')}`,
    `  id         ${self}`,
    `  listening  ${(s.addresses as string[]).join(' ') || '-'}`,
    `  seeds      ${(s.seeds as string[]).join(' ') || '-'}`,
    `  metrics    ${s.metrics ?? 'off'}`,
    `  dns        ${dnsLine(s.dns)}`,
    '',
    `peers: ${s.peers.alive} alive, ${s.peers.unreachable} unreachable, ${s.peers.left} left (${s.connections} connected)`,
    ...indent(others.length === 0
      ? ['(none yet)']
      : table(['PEER', 'ADDRESS', 'STATE', 'LAST SEEN', 'CONNECTED'],
        others.map(p => [shortId(p.id), p.address, p.state, ago(p.lastSeenMsAgo), p.connected === true ? 'yes' : 'no'])).split('\n')),
    '',
    `networks: ${networks.length}`,
    ...indent(networks.length === 0
      ? ['(none)']
      : table(['NAME', 'SUBNET', 'VNI', 'EGRESS', 'LOCAL', 'CLUSTER'], networks.map(n => [n.name, n.subnet, n.vni, egressOf(n, fw),
        local.filter(e => e.network === n.name).length, endpoints.filter(e => e.network === n.name).length])).split('\n')),
    '',
    `endpoints: ${s.endpoints.local} local, ${s.endpoints.total} in the cluster`,
    ...indent(local.length === 0 ? [] : table(['NETWORK', 'IP', 'MAC', 'NAME'], local.map(e => [e.network, e.ip, e.mac, e.name])).split('\n')),
    ...(local.length === 0 ? [] : ['']),
    `kernel: ${health}`,
    ...indent([dp.summary ?? 'no dataplane status']),
    ...(fw === undefined ? [] : [firewallLine(fw)]),
    ...indent(ports.length === 0 ? [] : table(['PUBLISHED', 'TO', 'NETWORK', 'STATE'], ports.map(p => [
      `${p.hostIp === '' ? '*' : p.hostIp}:${p.hostPort}/${p.protocol}`, `${p.containerIp}:${p.containerPort}`, p.network,
      p.programmed === true && fw?.ok === true ? 'programmed' : `REFUSED: ${p.reason ?? fw?.error ?? 'firewall not in the kernel'}`])).split('\n')),
    ...(s.ipam === undefined ? [] : [`ipam: ${(s.ipam.conflicts as unknown[]).length === 0 ? 'no conflicts' : `${(s.ipam.conflicts as unknown[]).length} CONFLICTS (see meshplane ipam)`}`]),
    '',
    `last errors: ${errors.length === 0 ? 'none' : ''}`,
    ...indent(errors.slice(-5).map(e => `${ago(nowMs - Date.parse(e.at))}  ${e.level}  ${e.component ?? 'agent'}: ${e.message}`)),
    `records: ${Object.entries(s.records as Json).map(([k, v]) => `${k} ${v}`).join(', ')}; gossip ${s.mesh.gossipAccepted} accepted, ${s.mesh.gossipRejected} rejected; sync ${s.mesh.syncRounds} rounds` +
      (Number(s.unwrittenRecords ?? 0) > 0 ? `; ${String(s.unwrittenRecords)} not on disk yet (the data directory refuses writes)` : '')
  ]
  return lines.join('\n').replace(/\n{3,}/g, '\n\n')
}

/** nat: containers reach the world through this host; internal: nothing beyond the
 * subnet; off: an egress network on a host whose firewall is not in the kernel. */
function egressOf (network: Json, fw: Json | undefined): string {
  if (network.internal === true) return 'internal'
  return fw === undefined || fw.ok === true || fw.error === undefined ? 'nat' : 'off (no firewall)'
}

function firewallLine (fw: Json): string {
  if ((fw.ok !== true && fw.error === undefined) || (fw.ok === true && Number(fw.rules) === 0)) return 'firewall: none (no network programmed on this host)'
  if (fw.ok === true) return `firewall: ${String(fw.table)}, ${String(fw.rules)} rules (${String(fw.transactions)} transactions, ${String(fw.failures)} failed)`
  return `firewall: NOT IN THE KERNEL (egress and published ports off, networks still isolated): ${String(fw.error)}`
}

function dnsLine (dns: Json | null | undefined): string {
  if (dns === null || dns === undefined) return 'off'
  const q = (dns.queries ?? {}) as Record<string, number>
  const total = Object.values(q).reduce((a, b) => a + b, 0)
  const upstreams = (dns.upstreams as string[] | undefined ?? []).join(' ') || 'none'
  return `${String(dns.address)}:${String(dns.port)} ${dns.listening === true ? 'listening' : 'NOT LISTENING (see last errors)'}, upstream ${upstreams}, ${total} queries`
}

function indent (lines: string[]): string[] {
  return lines.map(l => `  ${l}`)
}
