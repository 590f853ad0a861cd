/** What the control API needs from the agent; the agent implements it. */
import type { AttachRequest, DetachRequest } from '../control/endpoints.js'
import type { CreateNetworkRequest } from '../control/networks.js'

export type { AttachRequest, DetachRequest }

export interface AgentView {
  status: () => Record<string, unknown>
  peers: () => Array<Record<string, unknown>>
  join: (seed: string) => Promise<Record<string, unknown>>
  networks: {
    list: () => Array<Record<string, unknown>>
    inspect: (name: string) => Record<string, unknown>
    create: (req: CreateNetworkRequest) => Promise<Record<string, unknown>>
    remove: (name: string) => Promise<void>
  }
  endpoints: (network?: string) => Array<Record<string, unknown>>
  attach: (req: AttachRequest) => Promise<Record<string, unknown>>
  detach: (req: DetachRequest) => Promise<Record<string, unknown>>
  ipam: {
    status: (network?: string) => unknown
    allocations: (network: string) => Array<Record<string, unknown>>
    allocate: (network: string, owner: string, ip?: string) => Promise<Record<string, unknown>>
    release: (network: string, ip: string) => Promise<Record<string, unknown>>
    rmpeer: (peer: string) => Promise<Record<string, unknown>>
  }
  records: () => Array<Record<string, unknown>>
  /** The names this host's resolver answers, per network (`meshplane dns`). */
  dns: () => Array<{ network: string, name: string, addresses: string[] }>
}
