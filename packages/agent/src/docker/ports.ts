/**
 * Docker's published ports (`docker run -p [HOSTIP:]HOSTPORT[-END]:PORT[/udp]`), as the
 * remote driver receives them: ProgramExternalConnectivity's Options carry
 * `com.docker.network.portmap`, a list of libnetwork `types.PortBinding`
 * ({Proto: 6|17, IP, Port, HostIP, HostPort, HostPortEnd}). Docker's bridge driver binds
 * each host port itself (docker-proxy) and so fails on a port that is taken; a remote
 * driver gets no proxy, so meshplane publishes with DNAT rules (dataplane/firewall.ts) and
 * keeps Docker's semantics here: a host port range takes its first free port, host port 0
 * an ephemeral one, a port another endpoint of this host publishes or a local process
 * listens on is refused (a DNAT rule would silently take it from that process: the agent's
 * own mesh port, VXLAN's UDP 4789, sshd).
 *
 * Pure except `portIsFree` (a bind test, as docker-proxy's own bind would fail).
 */
import { createServer } from 'node:net'
import { createSocket } from 'node:dgram'
import { isIPv4 } from 'node:net'
import { networkInterfaces } from 'node:os'
import { z } from 'zod'
import type { PortProtocol, PublishedPort } from '../dataplane/firewall.js'
import { conflict, invalid } from '../errors.js'

/** ProgramExternalConnectivity Options key (libnetwork netlabel.PortMap). */
export const PORT_MAP_OPTION = 'com.docker.network.portmap'

/** Where a host port 0 is taken from: Docker's default ephemeral range for -p (the low end
 * of Linux's ip_local_port_range default, 32768–60999, is Docker's 49153 since 1.x). */
export const EPHEMERAL_PORTS = { first: 49153, last: 60999 } as const

/** IANA protocol numbers Docker sends (types.TCP, types.UDP); SCTP (132) is not published. */
const PROTOCOLS: Record<number, PortProtocol> = { 6: 'tcp', 17: 'udp' }

const port = z.number().int().min(0).max(65535)
const PortBinding = z.looseObject({
  Proto: z.number().int(),
  IP: z.string().nullish(),
  Port: port,
  HostIP: z.string().nullish(),
  HostPort: port.optional().default(0),
  HostPortEnd: port.optional().default(0)
})

/** One requested binding, checked: host port range [first, last]. */
export interface PortRequest {
  protocol: PortProtocol
  /** '' = every address of the host. */
  hostIp: string
  first: number
  last: number
  containerPort: number
}

/** What ProgramExternalConnectivity's Options ask for; throws E_INVALID_ARGUMENT. */
export function parsePortMap (options: Record<string, unknown>): PortRequest[] {
  const raw = options[PORT_MAP_OPTION]
  if (raw === undefined || raw === null) return []
  const parsed = z.array(PortBinding).max(4096).safeParse(raw)
  if (!parsed.success) throw invalid(`${PORT_MAP_OPTION}: ${parsed.error.issues[0]?.message ?? 'not a list of port bindings'}`)
  return parsed.data.map(b => {
    const protocol = PROTOCOLS[b.Proto]
    if (protocol === undefined) throw invalid(`-p …/${b.Proto === 132 ? 'sctp' : `protocol ${b.Proto}`}: meshplane publishes TCP and UDP ports only`)
    if (b.Port === 0) throw invalid('a published port needs a container port')
    const hostIp = normalizeHostIp(b.HostIP ?? '')
    const first = b.HostPort
    const last = b.HostPortEnd === 0 ? first : b.HostPortEnd
    if (first === 0 && last !== 0) throw invalid(`host port range 0-${last} is not valid`)
    if (last < first) throw invalid(`host port range ${first}-${last} is empty`)
    return { protocol, hostIp, first, last, containerPort: b.Port }
  })
}

function normalizeHostIp (ip: string): string {
  if (ip === '' || ip === '0.0.0.0' || ip === '::') return ''
  if (!isIPv4(ip)) throw invalid(`host address ${ip}: meshplane publishes on IPv4 addresses only`)
  if (ip.startsWith('127.')) {
    // DNAT of a loopback destination needs route_localnet, which opens every loopback
    // service to the network (CVE-2020-8558); Docker's bridge uses its userland proxy.
    throw invalid(`host address ${ip}: publishing on loopback is not supported by meshplane (no userland proxy); publish on the host's address or on every address`)
  }
  return ip
}

/** Throws E_INVALID_ARGUMENT when a specific host address is not one of this host's. */
export function checkHostIps (requests: PortRequest[], local = localAddresses()): void {
  for (const r of requests) {
    if (r.hostIp !== '' && !local.has(r.hostIp)) throw invalid(`host address ${r.hostIp} is not an address of this host`)
  }
}

function localAddresses (): Set<string> {
  return new Set(Object.values(networkInterfaces()).flatMap(list => (list ?? []).map(a => a.address)))
}

/** Two bindings can take the same host port when neither is the wildcard and their
 * addresses differ (as bind() allows). */
function clashes (a: { protocol: PortProtocol, hostIp: string, hostPort: number }, b: { protocol: PortProtocol, hostIp: string, hostPort: number }): boolean {
  return a.protocol === b.protocol && a.hostPort === b.hostPort && (a.hostIp === '' || b.hostIp === '' || a.hostIp === b.hostIp)
}

/**
 * Picks the host port of each request: the first of its range that no binding in `taken`
 * (this host's other published ports) nor an earlier request holds, and that
 * `isFree` accepts. Throws E_CONFLICT naming the port when a range has none.
 */
export async function assignPorts (
  requests: PortRequest[],
  target: { network: string, endpointId: string, containerIp: string },
  taken: PublishedPort[],
  isFree: (protocol: PortProtocol, hostIp: string, hostPort: number) => Promise<boolean>
): Promise<PublishedPort[]> {
  const assigned: PublishedPort[] = []
  for (const r of requests) {
    const [first, last] = r.first === 0 ? [EPHEMERAL_PORTS.first, EPHEMERAL_PORTS.last] : [r.first, r.last]
    let chosen: PublishedPort | undefined
    let holder: PublishedPort | undefined
    for (let hostPort = first; hostPort <= last && chosen === undefined; hostPort++) {
      const candidate: PublishedPort = { ...target, protocol: r.protocol, hostIp: r.hostIp, hostPort, containerPort: r.containerPort }
      holder = [...taken, ...assigned].find(p => clashes(p, candidate))
      if (holder !== undefined) continue
      if (await isFree(r.protocol, r.hostIp, hostPort)) chosen = candidate
    }
    if (chosen === undefined) {
      const what = `${r.hostIp === '' ? '' : `${r.hostIp}:`}${first === last ? first : `${first}-${last}`}/${r.protocol}`
      throw conflict(first === last && holder !== undefined
        ? `host port ${what} is already published by endpoint ${holder.endpointId.slice(0, 12)} on network ${holder.network}`
        : `host port ${what} is not free on this host (published by another container, or a local process listens on it)`)
    }
    assigned.push(chosen)
  }
  return assigned
}

/** Whether a local process could bind the port now (what docker-proxy would do). */
export async function portIsFree (protocol: PortProtocol, hostIp: string, hostPort: number): Promise<boolean> {
  const host = hostIp === '' ? '0.0.0.0' : hostIp
  return await new Promise(resolve => {
    if (protocol === 'tcp') {
      const server = createServer()
      server.once('error', () => { resolve(false) })
      server.listen({ host, port: hostPort, exclusive: true }, () => { server.close(() => { resolve(true) }) })
    } else {
      const socket = createSocket('udp4')
      socket.once('error', () => { try { socket.close() } catch {} resolve(false) })
      socket.bind({ address: host, port: hostPort, exclusive: true }, () => { socket.close(() => { resolve(true) }) })
    }
  })
}
