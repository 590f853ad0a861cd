/** What the control API needs from the agent; the agent implements it. */
export interface AttachRequest { network: string, netns: string, ip?: string, ifname?: string }
export interface DetachRequest { network: string, netns: string }

export interface AgentView {
  status: () => Record<string, unknown>
  peers: () => Array<Record<string, unknown>>
  join: (seed: string) => Promise<Record<string, unknown>>
  networks: {
    list: () => Array<Record<string, unknown>>
    inspect: (name: string) => Record<string, unknown>
    create: (req: { name: string, subnet: string, vni?: number, mtu?: number, gateway?: string, options?: Record<string, string> }) => Promise<Record<string, unknown>>
    remove: (name: string) => Promise<void>
  }
  endpoints: (network?: string) => Array<Record<string, unknown>>
  attach: (req: AttachRequest) => Promise<Record<string, unknown>>
  detach: (req: DetachRequest) => Promise<Record<string, unknown>>
  records: () => Array<Record<string, unknown>>
}
