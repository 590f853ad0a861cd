/**
 * The Docker id → meshplane mapping, persisted in the agent's local sublevel (facts no
 * other host needs) and mirrored in memory. Docker does not replay CreateNetwork after a
 * restart, so an agent restart must find every network and endpoint here.
 */
import { ENDPOINT_KEY_PREFIX, NETWORK_KEY_PREFIX } from './constants.js'
import type { KeyValueStore } from './index.js'
import type { PublishedPort } from '../dataplane/firewall.js'

export interface DockerNetworkEntry {
  /** meshplane network name */
  network: string
  /** the subnet Docker created it with: the cluster network's then. Two hosts that create
   * one name at once with different subnets both succeed (neither has the other's record
   * yet); the merge keeps one, and this tells the other host's Docker network from one
   * that never had a meshplane network. */
  subnet?: string
}

export interface DockerEndpointEntry {
  dockerNetworkId: string
  network: string
  /** the meshplane endpoint id (record key `<peer>/<network>/<id>`) */
  endpointId: string
  ipv4: string
  mac: string
  /** Join ran and the endpoint record is published (until Leave). */
  joined: boolean
  /** Published ports (ProgramExternalConnectivity; Docker does not call it again after an
   * agent restart). */
  ports?: PublishedPort[]
  /** The container's name and aliases, once read from dockerd's API (names.ts). */
  name?: string
  aliases?: string[]
}

/** Adapts the data directory's local sublevel (DataStore.local, written through
 * putLocal / delLocal) to the plugin's KeyValueStore. */
export function keyValueStore (store: {
  local: {
    get(key: string): Promise<unknown>
    iterator(options: { gte: string, lt: string }): AsyncIterable<[string, unknown]>
  }
  putLocal(key: string, value: unknown): Promise<void>
  delLocal(key: string): Promise<void>
}): KeyValueStore {
  return {
    get: async key => await store.local.get(key),
    put: async (key, value) => { await store.putLocal(key, value) },
    del: async key => { await store.delLocal(key) },
    list: async prefix => {
      const out: Array<[string, unknown]> = []
      for await (const entry of store.local.iterator({ gte: prefix, lt: `${prefix}\xff` })) out.push(entry)
      return out
    }
  }
}

export class DockerMapping {
  readonly #store: KeyValueStore
  readonly #networks = new Map<string, DockerNetworkEntry>()
  readonly #endpoints = new Map<string, DockerEndpointEntry>()

  constructor (store: KeyValueStore) {
    this.#store = store
  }

  async load (): Promise<void> {
    this.#networks.clear()
    this.#endpoints.clear()
    for (const [key, value] of await this.#store.list(NETWORK_KEY_PREFIX)) this.#networks.set(key.slice(NETWORK_KEY_PREFIX.length), value as DockerNetworkEntry)
    for (const [key, value] of await this.#store.list(ENDPOINT_KEY_PREFIX)) this.#endpoints.set(key.slice(ENDPOINT_KEY_PREFIX.length), value as DockerEndpointEntry)
  }

  get counts (): { networks: number, endpoints: number } {
    return { networks: this.#networks.size, endpoints: this.#endpoints.size }
  }

  network (dockerNetworkId: string): DockerNetworkEntry | undefined {
    return this.#networks.get(dockerNetworkId)
  }

  /** The Docker network created with `subnet`, if any. */
  networkBySubnet (subnet: string): [string, DockerNetworkEntry] | undefined {
    for (const entry of this.#networks) if (entry[1].subnet === subnet) return entry
    return undefined
  }

  async putNetwork (dockerNetworkId: string, entry: DockerNetworkEntry): Promise<void> {
    await this.#store.put(NETWORK_KEY_PREFIX + dockerNetworkId, entry)
    this.#networks.set(dockerNetworkId, entry)
  }

  async deleteNetwork (dockerNetworkId: string): Promise<void> {
    await this.#store.del(NETWORK_KEY_PREFIX + dockerNetworkId)
    this.#networks.delete(dockerNetworkId)
  }

  endpoint (dockerEndpointId: string): DockerEndpointEntry | undefined {
    return this.#endpoints.get(dockerEndpointId)
  }

  endpoints (): Array<[string, DockerEndpointEntry]> {
    return [...this.#endpoints]
  }

  /** The local Docker endpoint holding `ip` in `network`, if any. */
  endpointByAddress (network: string, ip: string): [string, DockerEndpointEntry] | undefined {
    for (const entry of this.#endpoints) if (entry[1].network === network && entry[1].ipv4 === ip) return entry
    return undefined
  }

  async putEndpoint (dockerEndpointId: string, entry: DockerEndpointEntry): Promise<void> {
    await this.#store.put(ENDPOINT_KEY_PREFIX + dockerEndpointId, entry)
    this.#endpoints.set(dockerEndpointId, entry)
  }

  async deleteEndpoint (dockerEndpointId: string): Promise<void> {
    await this.#store.del(ENDPOINT_KEY_PREFIX + dockerEndpointId)
    this.#endpoints.delete(dockerEndpointId)
  }
}
