/**
 * Operator intents on networks, turned into network records. A network is a
 * cluster-wide record owned by the host that created it: only that host (or the host that
 * reclaimed it with rmpeer) removes it; other hosts join it without writing it. Two
 * creations of one name while apart resolve by the state's version order. The VNI, when not given, is derived from the name (so two hosts that
 * create the same network while apart pick the same one) and probed past collisions.
 */
import { createHash } from 'node:crypto'
import type { ClusterState, NetworkBody } from '../state/index.js'
import { checkNetwork, reclaimed } from '../state/index.js'
import { parseCidr, cidrsOverlap, defaultGateway } from '../net/addr.js'
import { conflict, invalid, notFound, MeshplaneError } from '../errors.js'

export interface CreateNetworkRequest {
  name: string
  subnet: string
  vni?: number
  mtu?: number
  gateway?: string
  /** no egress (docker network create --internal) */
  internal?: boolean
  options?: Record<string, string>
}

const VNI_MIN = 4096 // below this, leave room for VNIs an operator picks by hand
const VNI_SPAN = 0xffffff - VNI_MIN

export function vniForName (name: string, taken: Set<number>): number {
  const h = createHash('sha256').update(name).digest().readUInt32BE(0)
  for (let i = 0; i < VNI_SPAN; i++) {
    const vni = VNI_MIN + ((h + i) % VNI_SPAN)
    if (!taken.has(vni)) return vni
  }
  throw new MeshplaneError('E_EXHAUSTED', 'no free VNI')
}

export class Networks {
  readonly #state: ClusterState

  constructor (components: { state: ClusterState }) {
    this.#state = components.state
  }

  list (): NetworkBody[] {
    return this.#state.list('network').map(r => r.body).sort((a, b) => a.name.localeCompare(b.name))
  }

  get (name: string): NetworkBody {
    const body = this.find(name)
    if (body === undefined) throw notFound(`no network named ${JSON.stringify(name)}`)
    return body
  }

  /** The network named `name`, or undefined: one map lookup, no listing. */
  find (name: string): NetworkBody | undefined {
    const rec = this.#state.get(`network/${name}`)
    return rec?.kind !== 'network' || rec.deleted ? undefined : rec.body
  }

  async create (req: CreateNetworkRequest): Promise<NetworkBody> {
    if (typeof req.name !== 'string' || typeof req.subnet !== 'string') throw invalid('a network needs a name and a --subnet')
    const cidr = parseCidr(req.subnet)
    if (cidr === undefined) throw invalid(`--subnet ${JSON.stringify(req.subnet)} is not an IPv4 CIDR like 10.240.0.0/16`)
    if (cidr.prefixLen > 30) throw invalid(`--subnet ${req.subnet} is too small: use /30 or larger`)
    const existing = this.#state.get(`network/${req.name}`)
    if (existing !== undefined && !existing.deleted) throw conflict(`network ${JSON.stringify(req.name)} already exists`)
    const others = this.list()
    const taken = new Set(others.map(n => n.vni))
    if (req.vni !== undefined && taken.has(req.vni)) {
      throw conflict(`VNI ${req.vni} is used by network ${others.find(n => n.vni === req.vni)!.name}`)
    }
    for (const n of others) {
      if (cidrsOverlap(cidr, parseCidr(n.subnet)!)) {
        throw conflict(`subnet ${cidr.text} overlaps network ${n.name} (${n.subnet})`)
      }
    }
    const body: NetworkBody = {
      name: req.name,
      vni: req.vni ?? vniForName(req.name, taken),
      subnet: cidr.text,
      gateway: req.gateway ?? defaultGateway(cidr),
      mtu: req.mtu ?? 0,
      options: new Map(Object.entries(req.options ?? {})),
      creator: this.#state.peerId,
      createdAtMs: BigInt(Date.now()),
      internal: req.internal === true
    }
    try {
      checkNetwork(body)
    } catch (err) {
      throw invalid((err as Error).message.replace(/^invalid record: /, ''))
    }
    await this.#state.write('network', body.name, body)
    return body
  }

  /** The host that may remove `name`: its creator, unless this host reclaimed the creator
   * with rmpeer (docs/security.md). */
  owner (name: string): string {
    const creator = this.get(name).creator
    return creator !== this.#state.peerId && reclaimed({ get: id => this.#state.getEnvelope(id) }, name, this.#state.peerId, creator)
      ? this.#state.peerId
      : creator
  }

  async remove (name: string): Promise<void> {
    const owner = this.owner(name)
    if (owner !== this.#state.peerId) {
      throw conflict(`network ${name} is owned by ${owner}: run \`meshplane network rm ${name}\` on that host, or \`meshplane rmpeer ${owner}\` here first if it is gone for good`)
    }
    const inUse = this.#state.list('endpoint').filter(e => e.body.network === name)
    if (inUse.length > 0) {
      throw conflict(`network ${name} still has ${inUse.length} endpoint(s); detach them first`)
    }
    await this.#state.write('network', name, undefined)
  }
}

export function networkToJson (n: NetworkBody): Record<string, unknown> {
  return {
    name: n.name,
    vni: n.vni,
    subnet: n.subnet,
    gateway: n.gateway,
    mtu: n.mtu === 0 ? null : n.mtu,
    internal: n.internal,
    options: Object.fromEntries(n.options),
    creator: n.creator,
    createdAt: new Date(Number(n.createdAtMs)).toISOString()
  }
}
