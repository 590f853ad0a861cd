/**
 * Attach and detach without Docker: give a network namespace an interface on a network
 * (the kernel side first, through the data plane), then announce the endpoint record so
 * every other host programs its FDB and neighbour entries. Detach is the reverse.
 * Which namespace holds which endpoint is local knowledge, kept in the data directory.
 */
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isIPv4 } from 'node:net'
import type { ClusterState, EndpointBody } from '../state/index.js'
import { endpointKey } from '../state/index.js'
import type { DataStore } from '../state/store.js'
import type { Dataplane } from '../dataplane/index.js'
import { computeOverlayMtu } from '../dataplane/index.js'
import { parseCidr, macFromIp, ipToInt } from '../net/addr.js'
import { conflict, invalid, notFound, MeshplaneError } from '../errors.js'
import { canonicalAliases, canonicalName, endpointNamesProblem } from '../net/dns-name.js'
import type { Networks } from './networks.js'
import { resolvConfText, type DnsSettings } from '../dns/index.js'

export interface AttachRequest {
  network: string
  netns: string
  ip?: string
  ifname?: string
  /** DNS name on the network (unique in it), and aliases (may be shared: round robin). */
  name?: string
  aliases?: string[]
}
export interface DetachRequest { network: string, netns: string }

export interface EndpointsComponents {
  state: ClusterState
  store: DataStore
  networks: Networks
  dataplane: Dataplane
  /** Allocates an address when the caller gives none (the IPAM); undefined: --ip is required. */
  allocate?: (network: string, endpointId: string) => Promise<string>
  /** Records an operator-given address (the IPAM: E_CONFLICT when another holds it). */
  claim?: (network: string, ip: string, endpointId: string) => Promise<void>
  release?: (network: string, ip: string) => Promise<void>
  underlayMtu: () => number
  /** The resolver's settings for containers (dns/index.ts); undefined: no resolver, no resolv.conf. */
  dnsSettings?: () => DnsSettings | undefined
  /** Where iproute2 looks for a named namespace's /etc files (`ip netns exec` bind-mounts
   * /etc/netns/NAME/resolv.conf over /etc/resolv.conf). */
  netnsEtcDir?: string
}

const NETNS_ETC_DIR = '/etc/netns'
const RESOLV_CONF_MARK = '# written by meshplane attach'

interface LocalAttachment { endpointId: string, netnsPath: string, ifname: string }

export function netnsPathOf (netns: string): string {
  return netns.startsWith('/') ? netns : `/run/netns/${netns}`
}

export class Endpoints {
  readonly #c: EndpointsComponents

  constructor (components: EndpointsComponents) {
    this.#c = components
  }

  #localKey (network: string, netnsPath: string): string {
    return `attach/${network}/${netnsPath}`
  }

  async attach (req: AttachRequest): Promise<EndpointBody> {
    const network = this.#c.networks.get(req.network)
    const netnsPath = netnsPathOf(req.netns)
    if (!existsSync(netnsPath)) throw notFound(`no network namespace at ${netnsPath}`)
    const ifname = req.ifname ?? 'eth0'
    const name = canonicalName(req.name ?? '')
    const aliases = canonicalAliases(name, req.aliases ?? [])
    const namesProblem = endpointNamesProblem(name, aliases)
    if (namesProblem !== undefined) throw invalid(namesProblem.replace(/^name/, '--name').replace(/^alias/, '--alias'))
    if (name !== '') {
      // Names are unique per network (as Docker's container names are per host); aliases
      // are for names shared by several endpoints. Two hosts naming at the same moment can
      // both succeed: the resolver then answers both addresses.
      const holder = this.#c.state.list('endpoint').find(e => e.body.network === network.name && e.body.name === name)
      if (holder !== undefined) throw conflict(`name ${name} is already used in ${network.name} by ${holder.body.ipv4} on host ${holder.key.split('/')[0]} (an --alias may be shared)`)
    }
    const existing = await this.#c.store.local.get(this.#localKey(network.name, netnsPath)) as LocalAttachment | undefined
    if (existing !== undefined) throw conflict(`${req.netns} is already attached to ${network.name}`)
    const peerId = this.#c.state.peerId
    const endpointId = createHash('sha256').update(`${peerId}/${network.name}/${netnsPath}/${Date.now()}`).digest('hex').slice(0, 16)
    const cidr = parseCidr(network.subnet)!

    let ip = req.ip
    if (ip === undefined) {
      if (this.#c.allocate === undefined) throw invalid('--ip is required (no address allocator in this build)')
      ip = await this.#c.allocate(network.name, endpointId)
    } else {
      if (!isIPv4(ip) || !cidr.contains(ip)) throw invalid(`--ip ${ip} is not an address in ${network.subnet}`)
      const n = ipToInt(ip)
      if (ip === network.gateway || n < cidr.firstHost || n > cidr.lastHost) throw invalid(`--ip ${ip} is the gateway, network or broadcast address of ${network.name}`)
      const holder = this.#c.state.list('endpoint').find(e => e.body.network === network.name && e.body.ipv4 === ip)
      if (holder !== undefined) throw conflict(`${ip} is already used by endpoint ${holder.body.id} on host ${holder.key.split('/')[0]}`)
      // The endpoint records only show what others already announced; the IPAM knows
      // what is allocated and moves the address here from whoever holds its range.
      await this.#c.claim?.(network.name, ip, endpointId)
    }
    const mac = macFromIp(ip)
    const mtu = computeOverlayMtu(network, this.#c.underlayMtu()) ?? 1450
    const localKey = this.#localKey(network.name, netnsPath)
    const recordId = endpointKey(peerId, network.name, endpointId)
    const body: EndpointBody = { network: network.name, id: endpointId, mac, ipv4: ip, ipv6: '', name, aliases, labels: new Map([['netns', netnsPath]]) }
    // The local key first: whatever happens next, `detach` can undo it.
    try {
      await this.#c.store.putLocal(localKey, { endpointId, netnsPath, ifname } satisfies LocalAttachment)
    } catch (err) {
      await this.#c.release?.(network.name, ip)
      throw err
    }
    // Announce while the kernel work runs. Address and MAC are fixed by now, and the
    // kernel side (veth, container side) is most of an attach: announcing after it made
    // every remote host wait for it (bench/attach-convergence).
    // Remote hosts may program the entries a moment before the container answers; nobody
    // knows its address yet, so nothing is lost.
    const [kernel, announced] = await Promise.allSettled([
      this.#c.dataplane.attach({ network, endpointId, netnsPath, ifname, ipv4: ip, prefixLen: cidr.prefixLen, mac, gateway: network.gateway, mtu }),
      this.#c.state.write('endpoint', recordId, body)
    ])
    if (kernel.status === 'fulfilled' && announced.status === 'fulfilled') {
      await this.#writeResolvConf(req.netns)
      return body
    }
    // Undo whichever half succeeded, then report the failure (the kernel's first).
    if (announced.status === 'fulfilled') await this.#c.state.write('endpoint', recordId, undefined).catch(() => {})
    if (kernel.status === 'fulfilled') await this.#c.dataplane.detach({ network: { name: network.name }, endpointId }).catch(() => {})
    await this.#c.store.delLocal(localKey).catch(() => {})
    await this.#c.release?.(network.name, ip)
    throw kernel.status === 'rejected' ? kernel.reason : (announced as PromiseRejectedResult).reason
  }

  async detach (req: DetachRequest): Promise<{ endpointId: string, ip: string }> {
    const netnsPath = netnsPathOf(req.netns)
    const key = this.#localKey(req.network, netnsPath)
    const local = await this.#c.store.local.get(key) as LocalAttachment | undefined
    if (local === undefined) throw notFound(`${req.netns} is not attached to ${req.network} on this host`)
    const id = endpointKey(this.#c.state.peerId, req.network, local.endpointId)
    const rec = this.#c.state.get(`endpoint/${id}`)
    const ip = rec?.kind === 'endpoint' && rec.body !== undefined ? rec.body.ipv4 : ''
    // Withdraw from the cluster first, so remote hosts stop sending before the veth goes.
    if (rec !== undefined && !rec.deleted) await this.#c.state.write('endpoint', id, undefined)
    try {
      await this.#c.dataplane.detach({ network: { name: req.network }, endpointId: local.endpointId })
    } catch (err) {
      throw new MeshplaneError('E_KERNEL', `endpoint withdrawn, but removing its veth failed: ${(err as Error).message}`, { cause: err })
    }
    await this.#c.store.delLocal(key)
    if (ip !== '') await this.#c.release?.(req.network, ip)
    if (!(await this.#attachedElsewhere(netnsPath))) await this.#removeResolvConf(req.netns)
    return { endpointId: local.endpointId, ip }
  }

  /** iproute2's convention for a named namespace (not a path): its resolv.conf names the
   * resolver on this host. Not written over one somebody else wrote. A failure to write
   * it does not undo the attach (the endpoint works; only names need it). */
  async #writeResolvConf (netns: string): Promise<void> {
    const settings = this.#c.dnsSettings?.()
    if (settings === undefined || netns.startsWith('/')) return
    const dir = join(this.#c.netnsEtcDir ?? NETNS_ETC_DIR, netns)
    const file = join(dir, 'resolv.conf')
    const current = await readFile(file, 'utf8').catch(() => undefined)
    if (current !== undefined && !current.startsWith(RESOLV_CONF_MARK)) return
    await mkdir(dir, { recursive: true })
    await writeFile(file, resolvConfText(settings))
  }

  async #removeResolvConf (netns: string): Promise<void> {
    if (netns.startsWith('/')) return
    const dir = join(this.#c.netnsEtcDir ?? NETNS_ETC_DIR, netns)
    const file = join(dir, 'resolv.conf')
    const current = await readFile(file, 'utf8').catch(() => undefined)
    if (current === undefined || !current.startsWith(RESOLV_CONF_MARK)) return
    await rm(file, { force: true })
    await rmdir(dir).catch(() => {}) // only when empty: other files there are not ours
  }

  async #attachedElsewhere (netnsPath: string): Promise<boolean> {
    for await (const key of this.#c.store.local.keys({ gte: 'attach/', lt: 'attach0' })) {
      if (key.endsWith(`/${netnsPath}`)) return true
    }
    return false
  }
}
