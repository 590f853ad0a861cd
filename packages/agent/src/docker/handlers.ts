/**
 * One handler per plugin method: parse the body (schemas.ts), do the local work, answer
 * with the exact field names Docker reads. See index.ts for how the parts fit.
 */
import type { Logger } from 'pino'
import { isIPv4 } from 'node:net'
import { randomBytes } from 'node:crypto'
import type { z } from 'zod'
import type { EndpointBody, NetworkBody } from '../state/types.js'
import { cidrsOverlap, defaultGateway, macFromIp, parseCidr, type Cidr } from '../net/addr.js'
import { normalizeMac } from '../dataplane/names.js'
import { conflict, invalid, isMeshplaneError, notFound } from '../errors.js'
import type { DockerPluginComponents } from './index.js'
import { DockerMapping, type DockerEndpointEntry, type DockerNetworkEntry } from './store.js'
import {
  CONTAINER_IFNAME_PREFIX, DOCKER_ALLOCATION_OWNER, GATEWAY_ADDRESS_TYPE, GENERIC_OPTIONS, GLOBAL_ADDRESS_SPACE,
  IMPLEMENTS, INTERNAL_OPTION, LOCAL_ADDRESS_SPACE, MTU_OPTION, NETWORK_OPTION, POOL_GATEWAY_DATA, POOL_ID_PREFIX, REQUEST_ADDRESS_TYPE, VNI_OPTION
} from './constants.js'
import {
  AllocateNetworkRequest, CreateEndpointRequest, CreateNetworkRequest, DiscoveryRequest, EndpointRequest, JoinRequest,
  NetworkRequest, PoolRequest, ProgramExternalConnectivityRequest, ReleaseAddressRequest, RequestAddressRequest, RequestPoolRequest, parseBody
} from './schemas.js'
import { assignPorts, checkHostIps, parsePortMap, portIsFree } from './ports.js'
import type { PublishedPort } from '../dataplane/firewall.js'

export type Handler = (body: unknown) => Promise<unknown>

/** Names lookups: right after Join, then from 50 ms doubling to 2 s, 12 tries (~15 s). */
const NAMES_RETRY_FIRST_MS = 50
const NAMES_RETRY_MAX_MS = 2_000
const NAMES_ATTEMPTS = 12

const CREATE_COMMAND = 'docker network create -d meshplane --ipam-driver meshplane --subnet CIDR -o meshplane.network=NAME NAME'

export class DockerHandlers {
  readonly #c: DockerPluginComponents
  readonly #log: Logger
  readonly mapping: DockerMapping
  /** Method name ("NetworkDriver.Join") → handler; anything else is a 404. */
  readonly methods: ReadonlyMap<string, Handler>
  /** Joined endpoints (Docker endpoint id → the Join's number): a names lookup publishes
   * only while the Join it was started for is still the endpoint's (Leave deletes it
   * before withdrawing, so a late lookup can never bring a withdrawn record back). */
  readonly #joins = new Map<string, number>()
  #joinSeq = 0
  readonly #timers = new Set<NodeJS.Timeout>()
  #closed = false

  constructor (components: DockerPluginComponents) {
    this.#c = components
    this.#log = components.logger.child({ component: 'docker' })
    this.mapping = new DockerMapping(components.store)
    const m = new Map<string, Handler>()
    const on = <S extends z.ZodType>(name: string, schema: S | undefined, fn: (req: z.output<S>) => Promise<unknown> | unknown): void => {
      m.set(name, async body => await fn(schema === undefined ? (undefined as z.output<S>) : parseBody(schema, body)))
    }
    on('Plugin.Activate', undefined, () => ({ Implements: [...IMPLEMENTS] }))

    on('NetworkDriver.GetCapabilities', undefined, () => ({ Scope: 'local', ConnectivityScope: 'global' }))
    on('NetworkDriver.CreateNetwork', CreateNetworkRequest, async r => await this.createNetwork(r))
    on('NetworkDriver.DeleteNetwork', NetworkRequest, async r => await this.deleteNetwork(r))
    // Only swarmkit's allocator calls these (no swarm for legacy plugins): echo, as weave does.
    on('NetworkDriver.AllocateNetwork', AllocateNetworkRequest, r => ({ Options: r.Options }))
    on('NetworkDriver.FreeNetwork', NetworkRequest, () => ({}))
    on('NetworkDriver.CreateEndpoint', CreateEndpointRequest, async r => await this.createEndpoint(r))
    on('NetworkDriver.EndpointOperInfo', EndpointRequest, r => this.endpointOperInfo(r))
    on('NetworkDriver.DeleteEndpoint', EndpointRequest, async r => await this.deleteEndpoint(r))
    on('NetworkDriver.Join', JoinRequest, async r => await this.join(r))
    on('NetworkDriver.Leave', EndpointRequest, async r => await this.leave(r))
    // Published ports (-p): DNAT rules in the host's firewall (ports.ts, dataplane/firewall.ts).
    on('NetworkDriver.ProgramExternalConnectivity', ProgramExternalConnectivityRequest, async r => await this.programExternalConnectivity(r))
    on('NetworkDriver.RevokeExternalConnectivity', EndpointRequest, async r => await this.revokeExternalConnectivity(r))
    // Needs Docker's cluster store or swarm; meshplane's own mesh does discovery.
    on('NetworkDriver.DiscoverNew', DiscoveryRequest, () => ({}))
    on('NetworkDriver.DiscoverDelete', DiscoveryRequest, () => ({}))

    // No replay: allocations persist in the agent. No MAC: addresses do not depend on it.
    on('IpamDriver.GetCapabilities', undefined, () => ({ RequiresMACAddress: false, RequiresRequestReplay: false }))
    on('IpamDriver.GetDefaultAddressSpaces', undefined, () => ({ LocalDefaultAddressSpace: LOCAL_ADDRESS_SPACE, GlobalDefaultAddressSpace: GLOBAL_ADDRESS_SPACE }))
    on('IpamDriver.RequestPool', RequestPoolRequest, r => this.requestPool(r))
    on('IpamDriver.ReleasePool', PoolRequest, r => { poolSubnet(r.PoolID); return {} })
    on('IpamDriver.RequestAddress', RequestAddressRequest, async r => await this.requestAddress(r))
    on('IpamDriver.ReleaseAddress', ReleaseAddressRequest, async r => await this.releaseAddress(r))
    this.methods = m
  }

  #loaded = false

  /** The persisted mapping into memory, once. */
  async loadMapping (): Promise<void> {
    if (this.#loaded) return
    await this.mapping.load()
    this.#loaded = true
    this.#log.info(this.mapping.counts, 'docker mapping loaded')
  }

  async load (): Promise<void> {
    await this.loadMapping()
    await this.#removeStale()
    // names not read before the agent stopped
    for (const [id, ep] of this.mapping.endpoints()) {
      if (ep.joined) this.#readNames(id, ep.dockerNetworkId, this.#noteJoin(id))
    }
  }

  /** Stops the names lookups (the plugin is stopping). */
  close (): void {
    this.#closed = true
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
  }

  #noteJoin (dockerEndpointId: string): number {
    const seq = ++this.#joinSeq
    this.#joins.set(dockerEndpointId, seq)
    return seq
  }

  /** Reads the container's names from dockerd (after the current request was answered:
   * a timer, never awaited by a handler), retried while the endpoint is not in a
   * container yet, then writes the endpoint record with them. */
  #readNames (dockerEndpointId: string, dockerNetworkId: string, seq: number, attempt = 0): void {
    const lookup = this.#c.containerNames
    if (lookup === undefined || this.#closed) return
    const delay = attempt === 0 ? 0 : Math.min(NAMES_RETRY_FIRST_MS * 2 ** (attempt - 1), NAMES_RETRY_MAX_MS)
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      void lookup(dockerNetworkId, dockerEndpointId).then(async found => {
        if (this.#joins.get(dockerEndpointId) !== seq || this.#closed) return
        if (found === 'gone') return
        if (found === 'not-yet') {
          if (attempt + 1 < NAMES_ATTEMPTS) this.#readNames(dockerEndpointId, dockerNetworkId, seq, attempt + 1)
          else this.#log.warn({ endpoint: dockerEndpointId }, 'could not read the container\'s name from dockerd: the endpoint has no name')
          return
        }
        const ep = this.mapping.endpoint(dockerEndpointId)
        if (ep === undefined || (ep.name === found.name && sameList(ep.aliases ?? [], found.aliases))) return
        const named = { ...ep, name: found.name, aliases: found.aliases }
        // checked again right before the write is queued: a Leave since then wins
        if (this.#joins.get(dockerEndpointId) !== seq) return
        const published = this.#c.endpoints.publish(endpointBody(named, dockerEndpointId))
        await this.mapping.putEndpoint(dockerEndpointId, named)
        await published
        this.#log.info({ endpoint: dockerEndpointId, name: found.name, aliases: found.aliases }, 'docker endpoint named')
      }).catch((err: unknown) => { this.#log.warn({ err, endpoint: dockerEndpointId }, 'could not name a docker endpoint') })
    }, delay)
    this.#timers.add(timer)
  }

  /** Endpoints Docker let go of while no agent answered (see index.ts). Run before
   * listening: no Join can be in flight, so a peer on the host means Docker is done. */
  async #removeStale (): Promise<void> {
    for (const [id, ep] of this.mapping.endpoints()) {
      let state: Awaited<ReturnType<DockerPluginComponents['dataplane']['endpointVethState']>>
      try {
        state = await this.#c.dataplane.endpointVethState({ network: { name: ep.network }, endpointId: ep.endpointId })
      } catch (err) {
        this.#log.warn({ err, endpoint: id }, 'could not check a docker endpoint\'s veth')
        continue
      }
      if (state === 'peer-moved' || (state === 'absent' && !ep.joined)) continue
      this.#log.warn({ endpoint: id, network: ep.network, ip: ep.ipv4, veth: state }, 'docker let go of this endpoint while the agent was away: removing it')
      await this.#removeEndpoint(id, ep)
      await this.#c.ipam.release(ep.network, ep.ipv4).catch((err: unknown) => { this.#log.warn({ err, ip: ep.ipv4 }, 'could not release the address') })
    }
  }

  // ---- IpamDriver ----------------------------------------------------------------------

  requestPool (r: z.output<typeof RequestPoolRequest>): unknown {
    if (r.V6) throw invalid('meshplane networks are IPv4 only: create the Docker network without --ipv6')
    if (r.Pool === '') throw invalid(`meshplane needs the network's subnet, the same on every host: ${CREATE_COMMAND}`)
    if (r.SubPool !== '' && r.SubPool !== r.Pool) throw invalid('--ip-range is not supported: every host allocates from the whole subnet through the cluster-wide IPAM')
    const cidr = parseSubnet(r.Pool)
    const clash = this.#c.networks.list().find(n => n.subnet !== cidr.text && cidrsOverlap(parseCidr(n.subnet)!, cidr))
    if (clash !== undefined) throw conflict(`subnet ${cidr.text} overlaps meshplane network ${clash.name} (${clash.subnet})`)
    return {
      PoolID: POOL_ID_PREFIX + cidr.text,
      Pool: cidr.text,
      // Docker takes the gateway from here and skips its gateway RequestAddress.
      Data: { [POOL_GATEWAY_DATA]: `${this.#gatewayOf(cidr)}/${cidr.prefixLen}` }
    }
  }

  async requestAddress (r: z.output<typeof RequestAddressRequest>): Promise<unknown> {
    const cidr = poolSubnet(r.PoolID)
    if (r.Address !== '' && (!isIPv4(r.Address) || !cidr.contains(r.Address))) throw invalid(`${r.Address} is not an address in ${cidr.text}`)
    if (r.Options[REQUEST_ADDRESS_TYPE] === GATEWAY_ADDRESS_TYPE) {
      // `--gateway`: fine when it is (or will be) the network's anycast gateway.
      const gateway = this.#gatewayOf(cidr)
      const network = this.#networkBySubnet(cidr)
      if (r.Address !== '' && r.Address !== gateway && network !== undefined) throw conflict(`the gateway of meshplane network ${network.name} is ${gateway}, not ${r.Address}`)
      return { Address: `${r.Address !== '' ? r.Address : gateway}/${cidr.prefixLen}`, Data: {} }
    }
    const network = this.#networkBySubnet(cidr)
    if (network === undefined) {
      // A Docker network made with this subnet: its network was removed, or another host's
      // creation of it won.
      const mapped = this.mapping.networkBySubnet(cidr.text)
      const stale = mapped === undefined ? undefined : this.#staleMapping(mapped[0], mapped[1])
      if (stale !== undefined) throw stale
      throw notFound(`no meshplane network has subnet ${cidr.text} (create it with: ${CREATE_COMMAND})`)
    }
    const owner = `${DOCKER_ALLOCATION_OWNER}:${randomBytes(6).toString('hex')}`
    let ip = r.Address
    if (ip === '') {
      ip = await this.#c.ipam.allocate(network.name, owner)
    } else {
      await this.#c.ipam.claim(network.name, ip, owner)
    }
    this.#log.debug({ network: network.name, ip }, 'address handed to docker')
    return { Address: `${ip}/${cidr.prefixLen}`, Data: {} }
  }

  async releaseAddress (r: z.output<typeof ReleaseAddressRequest>): Promise<unknown> {
    const cidr = poolSubnet(r.PoolID)
    if (!isIPv4(r.Address)) throw invalid(`${r.Address} is not an IPv4 address`)
    const network = this.#networkBySubnet(cidr)
    // No network: nothing is allocated any more. The gateway was never allocated.
    if (network === undefined || r.Address === network.gateway) return {}
    const holder = this.mapping.endpointByAddress(network.name, r.Address)
    if (holder !== undefined) {
      // Docker releases an address only after DeleteEndpoint, so an endpoint still holding
      // it was forgotten by Docker (force-deleted at daemon start without the driver).
      this.#log.warn({ endpoint: holder[0], ip: r.Address }, 'address released while its endpoint exists: removing the stale endpoint')
      await this.#removeEndpoint(holder[0], holder[1])
    }
    await this.#c.ipam.release(network.name, r.Address)
    return {}
  }

  // ---- NetworkDriver: networks ---------------------------------------------------------

  async createNetwork (r: z.output<typeof CreateNetworkRequest>): Promise<unknown> {
    const generic = (r.Options[GENERIC_OPTIONS] ?? {}) as Record<string, unknown>
    const name = generic[NETWORK_OPTION]
    if (typeof name !== 'string' || name === '') throw invalid(`-o ${NETWORK_OPTION}=NAME is required (Docker does not tell drivers the network name): ${CREATE_COMMAND}`)
    if (r.IPv6Data.length > 0) throw invalid('meshplane networks are IPv4 only: create the Docker network without --ipv6')
    if (r.IPv4Data.length !== 1) throw invalid(`exactly one IPv4 subnet is needed, got ${r.IPv4Data.length}`)
    const data = r.IPv4Data[0]!
    if (data.AddressSpace !== LOCAL_ADDRESS_SPACE && data.AddressSpace !== GLOBAL_ADDRESS_SPACE) {
      throw invalid(`the network's addresses must come from meshplane's IPAM (another IPAM hands out the same addresses on every host): ${CREATE_COMMAND}`)
    }
    const cidr = parseSubnet(data.Pool)
    const gateway = data.Gateway === '' ? undefined : data.Gateway.split('/')[0]
    // Checked also when the network exists: a bad value is an error on every host.
    const vni = optionalInt(generic, VNI_OPTION)
    const mtu = optionalInt(generic, MTU_OPTION)
    // `docker network create --internal`: no egress (and Docker then asks for no ports).
    const internal = r.Options[INTERNAL_OPTION] === true
    let network = this.#c.networks.get(name)
    if (network === undefined) {
      const req: Parameters<DockerPluginComponents['networks']['create']>[0] = { name, subnet: cidr.text, internal }
      if (gateway !== undefined) req.gateway = gateway
      if (vni !== undefined) req.vni = vni
      if (mtu !== undefined) req.mtu = mtu
      try {
        network = await this.#c.networks.create(req)
        this.#log.info({ network: name, subnet: cidr.text, vni: network.vni }, 'created cluster network for docker')
      } catch (err) {
        // Created meanwhile (another host's record arrived): join it if it matches.
        network = this.#c.networks.get(name)
        if (network === undefined || !isMeshplaneError(err) || err.code !== 'E_CONFLICT') throw err
      }
    }
    if (network.subnet !== cidr.text) throw conflict(`meshplane network ${name} has subnet ${network.subnet}, not ${cidr.text}: use --subnet ${network.subnet}`)
    if (gateway !== undefined && gateway !== network.gateway) throw conflict(`meshplane network ${name} has gateway ${network.gateway}, not ${gateway}`)
    if (vni !== undefined && vni !== network.vni) throw conflict(`meshplane network ${name} has VNI ${network.vni}, not ${vni}: leave -o ${VNI_OPTION} out, or use ${network.vni}`)
    if (internal !== network.internal) throw conflict(`meshplane network ${name} is ${network.internal ? 'internal (no egress): add --internal' : 'not internal (egress through each host): leave --internal out'}`)
    if (mtu !== undefined && mtu !== network.mtu) throw conflict(`meshplane network ${name} has MTU ${network.mtu === 0 ? 'from the underlay (0)' : network.mtu}, not ${mtu}: leave -o ${MTU_OPTION} out${network.mtu === 0 ? '' : `, or use ${network.mtu}`}`)
    await this.mapping.putNetwork(r.NetworkID, { network: name, subnet: cidr.text })
    this.#log.info({ dockerNetwork: r.NetworkID, network: name }, 'docker network mapped')
    return {}
  }

  /** Forgets the mapping only: the cluster network is other hosts' too (`meshplane network rm`). */
  async deleteNetwork (r: z.output<typeof NetworkRequest>): Promise<unknown> {
    if (this.mapping.network(r.NetworkID) !== undefined) await this.mapping.deleteNetwork(r.NetworkID)
    return {}
  }

  // ---- NetworkDriver: endpoints --------------------------------------------------------

  async createEndpoint (r: z.output<typeof CreateEndpointRequest>): Promise<unknown> {
    const network = this.#mappedNetwork(r.NetworkID)
    const cidr = parseCidr(network.subnet)!
    const address = r.Interface?.Address ?? ''
    if (address === '') throw invalid('the endpoint has no IPv4 address: use --ipam-driver meshplane')
    const [ip, len] = address.split('/')
    if (ip === undefined || !isIPv4(ip) || !cidr.contains(ip) || Number(len) !== cidr.prefixLen) throw invalid(`address ${address} is not in ${network.name} (${network.subnet})`)
    const givenMac = r.Interface?.MacAddress ?? ''
    const mac = givenMac === '' ? macFromIp(ip) : normalizeMac(givenMac)
    if (mac === undefined) throw invalid(`MAC address ${givenMac} is not valid`)
    const existing = this.mapping.endpoint(r.EndpointID)
    if (existing !== undefined && (existing.ipv4 !== ip || existing.network !== network.name)) throw conflict(`endpoint ${r.EndpointID} exists with address ${existing.ipv4} in ${existing.network}`)
    if (existing === undefined) {
      await this.mapping.putEndpoint(r.EndpointID, {
        dockerNetworkId: r.NetworkID, network: network.name, endpointId: r.EndpointID, ipv4: ip, mac, joined: false
      })
    }
    // Docker accepts only fields it left empty; it then sets this MAC on the interface.
    return givenMac === '' ? { Interface: { MacAddress: mac } } : {}
  }

  endpointOperInfo (r: z.output<typeof EndpointRequest>): unknown {
    const ep = this.#endpoint(r)
    return { Value: { network: ep.network, ip: ep.ipv4, mac: ep.mac, joined: ep.joined, ports: (ep.ports ?? []).map(portText) } }
  }

  async join (r: z.output<typeof JoinRequest>): Promise<unknown> {
    const ep = this.#endpoint(r)
    const network = this.#c.networks.get(ep.network)
    if (network === undefined) throw notFound(`meshplane network ${ep.network} no longer exists`)
    const veth = await this.#c.dataplane.createEndpointVeth({ network, endpointId: ep.endpointId, ipv4: ep.ipv4, mac: ep.mac, mtu: this.#c.overlayMtu(network) })
    await this.#c.endpoints.publish(endpointBody(ep, r.EndpointID))
    if (!ep.joined) await this.mapping.putEndpoint(r.EndpointID, { ...ep, joined: true })
    // after this handler has answered (a timer): dockerd is waiting for this reply
    this.#readNames(r.EndpointID, r.NetworkID, this.#noteJoin(r.EndpointID))
    this.#log.info({ network: ep.network, endpoint: r.EndpointID, ip: ep.ipv4, veth: veth.hostIfname }, 'docker endpoint joined')
    return {
      InterfaceName: { SrcName: veth.peerIfname, DstPrefix: CONTAINER_IFNAME_PREFIX },
      Gateway: network.gateway,
      // A gateway is returned, so Docker adds no docker_gwbridge interface.
      DisableGatewayService: false
    }
  }

  async leave (r: z.output<typeof EndpointRequest>): Promise<unknown> {
    const ep = this.#endpoint(r)
    this.#joins.delete(r.EndpointID)
    // Withdraw first, so remote hosts stop sending before the interface goes. The veth
    // itself stays until DeleteEndpoint: libnetwork moves it back to the host after Leave.
    await this.#c.endpoints.withdraw(ep.network, ep.endpointId)
    if (ep.joined) await this.mapping.putEndpoint(r.EndpointID, { ...ep, joined: false })
    return {}
  }

  /**
   * `docker run -p`: picks the host ports (ports.ts), keeps them with the endpoint (an agent
   * restart must find them: Docker does not call this again) and has the firewall
   * programmed before answering, so the port answers when `docker run` returns. A port the
   * firewall could not program (no nftables, a refused transaction) fails the call, as a
   * port docker-proxy cannot bind fails Docker's bridge driver.
   */
  async programExternalConnectivity (r: z.output<typeof ProgramExternalConnectivityRequest>): Promise<unknown> {
    const requests = parsePortMap(r.Options)
    if (requests.length === 0 && (this.mapping.endpoint(r.EndpointID)?.ports ?? []).length === 0) return {}
    const ep = this.#endpoint(r)
    const network = this.#c.networks.get(ep.network)
    if (network === undefined) throw notFound(`meshplane network ${ep.network} no longer exists`)
    if (network.internal && requests.length > 0) throw invalid(`meshplane network ${ep.network} is internal: nothing is published from it`)
    checkHostIps(requests)
    const taken = this.publishedPorts().filter(p => p.endpointId !== ep.endpointId)
    const ports = await assignPorts(requests, { network: ep.network, endpointId: ep.endpointId, containerIp: ep.ipv4 }, taken, portIsFree)
    await this.mapping.putEndpoint(r.EndpointID, { ...ep, ports })
    const refused = (await this.#c.firewall.apply()).filter(p => p.endpointId === ep.endpointId)
    if (refused.length > 0) {
      await this.mapping.putEndpoint(r.EndpointID, { ...ep, ports: [] })
      await this.#c.firewall.apply().catch(() => [])
      const first = refused[0]!
      throw conflict(`port ${first.hostPort}/${first.protocol} not published: ${first.reason}`)
    }
    this.#log.info({ endpoint: r.EndpointID, ports: ports.map(portText) }, 'ports published')
    return {}
  }

  async revokeExternalConnectivity (r: z.output<typeof EndpointRequest>): Promise<unknown> {
    const ep = this.mapping.endpoint(r.EndpointID)
    if (ep === undefined || (ep.ports ?? []).length === 0) return {}
    await this.mapping.putEndpoint(r.EndpointID, { ...ep, ports: [] })
    await this.#c.firewall.apply()
    this.#log.info({ endpoint: r.EndpointID }, 'ports unpublished')
    return {}
  }

  /** Every port this host's Docker endpoints publish (the firewall's input). */
  publishedPorts (): PublishedPort[] {
    return this.mapping.endpoints().flatMap(([, ep]) => ep.ports ?? [])
  }

  async deleteEndpoint (r: z.output<typeof EndpointRequest>): Promise<unknown> {
    const ep = this.mapping.endpoint(r.EndpointID)
    if (ep !== undefined) await this.#removeEndpoint(r.EndpointID, ep)
    return {}
  }

  async #removeEndpoint (dockerEndpointId: string, ep: DockerEndpointEntry): Promise<void> {
    this.#joins.delete(dockerEndpointId)
    await this.#c.endpoints.withdraw(ep.network, ep.endpointId)
    await this.#c.dataplane.removeEndpointVeth({ network: this.#c.networks.get(ep.network) ?? { name: ep.network }, endpointId: ep.endpointId })
    await this.mapping.deleteEndpoint(dockerEndpointId)
    // Revoke normally came first; after a missed one (agent down) the ports go with it.
    if ((ep.ports ?? []).length > 0) await this.#c.firewall.apply().catch((err: unknown) => { this.#log.warn({ err }, 'could not unpublish ports') })
    this.#log.info({ network: ep.network, endpoint: dockerEndpointId, ip: ep.ipv4 }, 'docker endpoint deleted')
  }

  // ---- helpers -------------------------------------------------------------------------

  #mappedNetwork (dockerNetworkId: string): NetworkBody {
    const entry = this.mapping.network(dockerNetworkId)
    if (entry === undefined) throw notFound(`unknown network id ${dockerNetworkId}: not a meshplane network on this host`)
    const network = this.#c.networks.get(entry.network)
    const stale = this.#staleMapping(dockerNetworkId, entry, network)
    if (stale !== undefined || network === undefined) throw stale
    return network
  }

  /** Why a mapped Docker network has no meshplane network (removed, or its creation lost
   * to another host's with another subnet); undefined when it has one. */
  #staleMapping (dockerNetworkId: string, entry: DockerNetworkEntry, network = this.#c.networks.get(entry.network)): Error | undefined {
    if (network === undefined) return notFound(`meshplane network ${entry.network} (docker network ${dockerNetworkId}) no longer exists`)
    if (entry.subnet !== undefined && entry.subnet !== network.subnet) {
      return conflict(`meshplane network ${entry.network} was also created on another host at the same time, with subnet ${network.subnet}, and that creation won: ` +
        `this Docker network (${entry.subnet}) has no meshplane network. Remove it and create it again with --subnet ${network.subnet}`)
    }
    return undefined
  }

  #endpoint (r: { NetworkID: string, EndpointID: string }): DockerEndpointEntry {
    const ep = this.mapping.endpoint(r.EndpointID)
    if (ep === undefined) throw notFound(`unknown endpoint id ${r.EndpointID}`)
    if (ep.dockerNetworkId !== r.NetworkID) throw notFound(`endpoint ${r.EndpointID} is not in network ${r.NetworkID}`)
    return ep
  }

  #networkBySubnet (cidr: Cidr): NetworkBody | undefined {
    return this.#c.networks.list().find(n => n.subnet === cidr.text)
  }

  /** The network's anycast gateway, or the one it will get when created (first host). */
  #gatewayOf (cidr: Cidr): string {
    return this.#networkBySubnet(cidr)?.gateway ?? defaultGateway(cidr)
  }
}

function endpointBody (ep: DockerEndpointEntry, dockerEndpointId: string): EndpointBody {
  return {
    network: ep.network,
    id: ep.endpointId,
    mac: ep.mac,
    ipv4: ep.ipv4,
    ipv6: '',
    // The container's name and --network-alias aliases come later, from dockerd's API
    // (docker/names.ts): the plugin protocol does not carry them.
    name: ep.name ?? '',
    aliases: ep.aliases ?? [],
    labels: new Map([['docker-endpoint', dockerEndpointId], ['docker-network', ep.dockerNetworkId]])
  }
}

function portText (p: PublishedPort): string {
  return `${p.hostIp === '' ? '' : `${p.hostIp}:`}${p.hostPort}->${p.containerIp}:${p.containerPort}/${p.protocol}`
}

function sameList (a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

function parseSubnet (text: string): Cidr {
  const cidr = parseCidr(text)
  if (cidr === undefined) throw invalid(`${JSON.stringify(text)} is not an IPv4 subnet like 10.240.0.0/16`)
  if (cidr.prefixLen > 30) throw invalid(`subnet ${text} is too small: use /30 or larger`)
  return cidr
}

function poolSubnet (poolId: string): Cidr {
  if (!poolId.startsWith(POOL_ID_PREFIX)) throw notFound(`unknown pool id ${poolId}`)
  const cidr = parseCidr(poolId.slice(POOL_ID_PREFIX.length))
  if (cidr === undefined) throw notFound(`unknown pool id ${poolId}`)
  return cidr
}

function optionalInt (options: Record<string, unknown>, key: string): number | undefined {
  const v = options[key]
  if (v === undefined || v === '') return undefined
  // digits only: Number() would also take "0x1388", "1e3" and " 5001 "
  if (typeof v !== 'string' || !/^[1-9][0-9]{0,9}$/.test(v)) throw invalid(`-o ${key}=${String(v)} is not a positive integer`)
  return Number(v)
}
