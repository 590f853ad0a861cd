/**
 * Docker's legacy plugin protocol, both subsystems on one unix socket: `NetworkDriver`
 * (networks, endpoints, Join/Leave) and `IpamDriver` (pools, addresses), so that
 *
 *   docker network create -d meshplane --ipam-driver meshplane \
 *     --subnet 10.240.0.0/16 -o meshplane.network=blue blue
 *
 * run on every host makes or joins ONE cluster-wide meshplane network, and
 * `docker run --network blue …` on any host puts a container on it.
 *
 * How it works (protocol facts: docs/docker-plugin.md)
 * - Identity. Docker passes drivers only a random per-host NetworkID, never the name. The
 *   network is named by `-o meshplane.network=NAME` (CreateNetwork) and the IPAM pool by its
 *   subnet (PoolID `meshplane:<subnet>`; meshplane subnets never overlap, so a subnet names
 *   one network). CreateNetwork creates the cluster network when it does not exist yet,
 *   else checks it has the same subnet and gateway, and persists NetworkID → name
 *   (Docker does not replay CreateNetwork after a restart).
 * - Gateway. The network's anycast gateway (the same address on every host's bridge),
 *   handed to Docker in RequestPool's Data and in Join; never allocated from the IPAM.
 * - Addresses. RequestAddress allocates from the distributed IPAM (or claims `--ip`),
 *   ReleaseAddress frees; the IPAM guarantees no two hosts hand out the same address.
 * - Endpoints. CreateEndpoint records the endpoint locally (address, MAC). Join asks the
 *   dataplane for a veth pair (host side on the network's bridge, MTU set; the peer left
 *   in the host namespace for libnetwork to move in and rename eth0: the sandbox may not
 *   exist yet and is never entered) and publishes the endpoint record, so every other host
 *   programs it. Leave withdraws the record; DeleteEndpoint deletes the veth and the local
 *   entry. Deletes are idempotent: Docker ignores their errors and retries nothing.
 *   A ReleaseAddress for an address a local endpoint still holds means Docker forgot the
 *   endpoint without DeleteEndpoint (a daemon crash: it force-deletes stale endpoints
 *   without loading drivers); that endpoint is cleaned up then.
 * - Calls missed while the agent was down (Docker retries ~15 s, then only logs): at
 *   start, before listening, an endpoint whose veth peer is back in the host namespace
 *   (libnetwork moves it back after Leave, whether or not Leave reached us) or whose
 *   joined veth is gone (its container's namespace went away) is stale: withdrawn,
 *   veth deleted, address released.
 * - Handlers never call back into Docker (that deadlocks daemon start-up) and do only
 *   local work, except an allocation that needs a range from another host (bounded).
 * - Names. A container's name and its --network-alias aliases are read from dockerd's API
 *   (names.ts) after Join was answered, never inside a handler, and the endpoint record is
 *   written again with them (kept in the mapping, so a later Join has them at once).
 * - Errors: docker/errors.ts maps codes to Docker's bodies (`Err`; `Error` for IPAM);
 *   malformed bodies are E_INVALID_ARGUMENT replies; unknown methods get 404.
 *
 * @example
 * ```ts
 * const plugin = createDockerPlugin({ logger, store, networks, ipam, dataplane, endpoints, overlayMtu }, { socketPath })
 * await plugin.start()      // loads the mapping, listens
 * await plugin.stop()
 * ```
 */
import type { Logger } from 'pino'
import type { EndpointBody, NetworkBody } from '../state/types.js'
import type { CreateNetworkRequest } from '../control/networks.js'
import type { ErrorCode } from '../errors.js'
import type { PublishedPort } from '../dataplane/firewall.js'
import { DockerPluginServer } from './server.js'
import { DEFAULT_DOCKER_SOCKET, DOCKER_SOCKET_OFF } from './constants.js'
import type { NamesLookup } from './names.js'

export interface KeyValueStore {
  get(key: string): Promise<unknown>
  put(key: string, value: unknown): Promise<void>
  del(key: string): Promise<void>
  /** Every entry whose key starts with prefix. */
  list(prefix: string): Promise<Array<[string, unknown]>>
}

/** What the plugin needs from the agent; agent.ts wires it. */
export interface DockerPluginComponents {
  logger: Logger
  /** Persists the Docker id → meshplane mapping (the agent's local sublevel). */
  store: KeyValueStore
  networks: {
    /** undefined when no such (live) network */
    get(name: string): NetworkBody | undefined
    list(): NetworkBody[]
    create(req: CreateNetworkRequest): Promise<NetworkBody>
  }
  ipam: {
    allocate(network: string, owner: string): Promise<string>
    claim(network: string, ip: string, owner: string): Promise<void>
    /** idempotent: an address not allocated here is not an error */
    release(network: string, ip: string): Promise<unknown>
  }
  dataplane: {
    createEndpointVeth(opts: { network: NetworkBody, endpointId: string, ipv4: string, mac: string, mtu: number }): Promise<{ hostIfname: string, peerIfname: string }>
    /** idempotent: a veth already gone is not an error */
    removeEndpointVeth(opts: { network: NetworkBody | Pick<NetworkBody, 'name'>, endpointId: string }): Promise<void>
    /** where the veth pair is: gone, both ends on the host (Docker moved it back), or in a container */
    endpointVethState(opts: { network: Pick<NetworkBody, 'name'>, endpointId: string }): Promise<'absent' | 'peer-in-host' | 'peer-moved'>
  }
  endpoints: {
    /** Writes this host's endpoint record (remote hosts then program it). */
    publish(body: EndpointBody): Promise<void>
    /** Tombstones it; idempotent. */
    withdraw(network: string, endpointId: string): Promise<void>
  }
  firewall: {
    /** Programs this host's published ports now (read back through the plugin's
     * publishedPorts()); resolves with the ports that could not be programmed and why
     * (no nftables, a refused transaction, a clash). */
    apply(): Promise<Array<PublishedPort & { reason: string }>>
  }
  /** The MTU a veth on this network gets (network MTU, else underlay − 50). */
  overlayMtu(network: NetworkBody): number
  /** Container names and aliases from dockerd's API (names.ts), asked only after a Join
   * was answered; undefined: endpoints get no names. */
  containerNames?: (dockerNetworkId: string, dockerEndpointId: string) => Promise<NamesLookup>
  /** Called once per request (metrics: plugin requests by method and outcome): the method
   * as Docker names it ('unknown' for one we do not implement), 'ok' or the error code. */
  onRequest?: (method: string, outcome: 'ok' | ErrorCode) => void
}

export interface DockerPluginInit {
  /** Unix socket to serve; DEFAULT_DOCKER_SOCKET by default. */
  socketPath?: string
}

export interface DockerPlugin {
  readonly socketPath: string
  /** Loads the persisted mapping (idempotent; start() does it too): the agent reads the
   * published ports before its first kernel pass, so a restart keeps them in place. */
  load(): Promise<void>
  /** Ports this host's Docker endpoints publish (empty until loaded). */
  publishedPorts(): PublishedPort[]
  /** Loads the persisted mapping, then listens. Idempotent. */
  start(): Promise<void>
  /** Stops listening (in-flight requests finish) and removes the socket. Idempotent. */
  stop(): Promise<void>
}

export function createDockerPlugin (components: DockerPluginComponents, init: DockerPluginInit = {}): DockerPlugin {
  return new DockerPluginServer(components, init)
}

/** `--docker-socket` value → path to serve, or undefined when the plugin is off. */
export function dockerSocketPath (value: string | undefined): string | undefined {
  if (value === undefined) return DEFAULT_DOCKER_SOCKET
  const v = value.trim()
  return v === '' || v === DOCKER_SOCKET_OFF ? undefined : v
}

export { buildDockerApp } from './app.js'
export { DockerHandlers } from './handlers.js'
export { keyValueStore } from './store.js'
export type { DockerNetworkEntry, DockerEndpointEntry } from './store.js'
export { lookupEndpointNames, type ContainerNames, type NamesLookup } from './names.js'
