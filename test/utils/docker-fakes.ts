/**
 * In-memory stand-ins for what the Docker plugin needs from the agent, for unit tests of
 * the plugin's logic (the netns suite runs it against the real agent). Several plugin
 * instances can share one FakeCluster: they are then "hosts" of one cluster.
 */
import { pino } from 'pino'
import type { DockerPluginComponents, KeyValueStore } from '@meshplane/agent/docker/index.js'
import type { EndpointBody, NetworkBody } from '@meshplane/agent/state/types.js'
import type { CreateNetworkRequest } from '@meshplane/agent/control/networks.js'
import { intToIp, ipToInt, parseCidr } from '@meshplane/agent/net/addr.js'
import { MeshplaneError } from '@meshplane/agent/errors.js'

export function memoryStore (): KeyValueStore & { data: Map<string, unknown> } {
  const data = new Map<string, unknown>()
  return {
    data,
    get: async key => structuredClone(data.get(key)),
    put: async (key, value) => { data.set(key, structuredClone(value)) },
    del: async key => { data.delete(key) },
    list: async prefix => [...data].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k, structuredClone(v)])
  }
}

/** Networks, a cluster-wide allocator and endpoint records shared by every fake host. */
export class FakeCluster {
  readonly networks = new Map<string, NetworkBody>()
  readonly allocated = new Map<string, Set<string>>()
  readonly records = new Map<string, EndpointBody & { host: string }>()

  create (req: CreateNetworkRequest): NetworkBody {
    if (this.networks.has(req.name)) throw new MeshplaneError('E_CONFLICT', `network ${req.name} already exists`)
    const cidr = parseCidr(req.subnet)!
    const body: NetworkBody = {
      name: req.name, vni: req.vni ?? 4242, subnet: cidr.text, gateway: req.gateway ?? intToIp(cidr.firstHost), mtu: req.mtu ?? 0,
      options: new Map(), creator: 'fake', createdAtMs: 0n, internal: req.internal === true
    }
    this.networks.set(req.name, body)
    return body
  }

  allocate (network: string): string {
    const n = this.networks.get(network)
    if (n === undefined) throw new MeshplaneError('E_NOT_FOUND', `no network ${network}`)
    const cidr = parseCidr(n.subnet)!
    const used = this.allocated.get(network) ?? new Set<string>()
    this.allocated.set(network, used)
    for (let i = cidr.firstHost; i <= cidr.lastHost; i++) {
      const ip = intToIp(i)
      if (ip !== n.gateway && !used.has(ip)) {
        used.add(ip)
        return ip
      }
    }
    throw new MeshplaneError('E_EXHAUSTED', `no free address in ${network}`)
  }
}

export interface FakeHost {
  components: DockerPluginComponents
  store: ReturnType<typeof memoryStore>
  veths: Map<string, { network: string, mtu: number, mac: string }>
  vethStates: Map<string, 'absent' | 'peer-in-host' | 'peer-moved'>
  calls: string[]
  requests: Array<[string, string]>
}

export function fakeHost (cluster: FakeCluster, name: string, store = memoryStore()): FakeHost {
  const veths = new Map<string, { network: string, mtu: number, mac: string }>()
  /** What endpointVethState answers, by endpoint id (default: moved when made, else absent). */
  const vethStates = new Map<string, 'absent' | 'peer-in-host' | 'peer-moved'>()
  const calls: string[] = []
  const requests: Array<[string, string]> = []
  const components: DockerPluginComponents = {
    logger: pino({ level: 'silent' }),
    store,
    networks: {
      get: n => cluster.networks.get(n),
      list: () => [...cluster.networks.values()],
      create: async req => cluster.create(req)
    },
    ipam: {
      allocate: async network => cluster.allocate(network),
      claim: async (network, ip) => {
        const used = cluster.allocated.get(network) ?? new Set<string>()
        cluster.allocated.set(network, used)
        if (used.has(ip)) throw new MeshplaneError('E_CONFLICT', `${ip} is in use`)
        used.add(ip)
        void ipToInt(ip)
      },
      release: async (network, ip) => cluster.allocated.get(network)?.delete(ip) ?? false
    },
    dataplane: {
      createEndpointVeth: async ({ network, endpointId, mac, mtu }) => {
        calls.push(`veth+ ${endpointId}`)
        veths.set(endpointId, { network: network.name, mtu, mac })
        return { hostIfname: `mpv-${endpointId.slice(0, 4)}`, peerIfname: `mpc-${endpointId.slice(0, 4)}` }
      },
      removeEndpointVeth: async ({ endpointId }) => {
        calls.push(`veth- ${endpointId}`)
        veths.delete(endpointId)
      },
      endpointVethState: async ({ endpointId }) => vethStates.get(endpointId) ?? (veths.has(endpointId) ? 'peer-moved' : 'absent')
    },
    firewall: {
      apply: async () => { calls.push('firewall'); return [] }
    },
    endpoints: {
      publish: async body => {
        calls.push(`publish ${body.id}`)
        cluster.records.set(`${name}/${body.network}/${body.id}`, { ...body, host: name })
      },
      withdraw: async (network, id) => {
        calls.push(`withdraw ${id}`)
        cluster.records.delete(`${name}/${network}/${id}`)
      }
    },
    // not the dataplane's own default: a test that sees it knows the plugin passed it on
    overlayMtu: n => n.mtu > 0 ? n.mtu : 1377,
    onRequest: (method, outcome) => { requests.push([method, outcome]) }
  }
  return { components, store, veths, vethStates, calls, requests }
}
