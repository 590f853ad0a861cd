/**
 * Real meshplane agents on the hosts of a test cluster: one process per host, started
 * with the built CLI inside the host's namespace, each with its own data directory and
 * control socket under the cluster's temp folder.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execFileSync } from 'node:child_process'
import { ApiClient } from '@meshplane/agent/cli/client.js'
import { waitFor, type Cluster, type Host, type ProcessHandle } from './netns.js'

export const REPO = resolve(fileURLToPath(import.meta.url), '../../../..')
export const MESHPLANE_JS = join(REPO, 'packages/agent/dist/src/bin/meshplane.js')

export interface AgentOptions {
  join?: string[]
  keyFile?: string
  args?: string[]
  env?: Record<string, string>
}

export interface PeerView { id: string, address: string, state: 'alive' | 'unreachable' | 'left', self: boolean }

export class TestAgent {
  proc: ProcessHandle | undefined
  peerId = ''
  readonly api: ApiClient
  readonly socket: string
  /** The agent's Docker plugin socket: per host, never in /run/docker/plugins (a socket
   * there would be found by every dockerd on the machine). */
  readonly dockerSocket: string
  readonly dataDir: string
  readonly log: string

  constructor (readonly cluster: Cluster, readonly host: Host, readonly opts: AgentOptions & { keyFile: string }) {
    this.socket = join(cluster.dir, `${host.name}.sock`)
    this.dockerSocket = join(cluster.dir, `${host.name}.plugin.sock`)
    this.dataDir = join(cluster.dir, `${host.name}.data`)
    this.log = join(cluster.dir, `${host.name}.log`)
    this.api = new ApiClient(this.socket, 10_000)
  }

  get seed (): string { return `${this.host.ip}:7946` }

  async start (extraArgs: string[] = []): Promise<this> {
    const join = (this.opts.join ?? []).flatMap(s => ['--join', s])
    this.proc = this.cluster.spawn(this.host, [process.execPath, MESHPLANE_JS, 'agent',
      '--data-dir', this.dataDir, '--cluster-key-file', this.opts.keyFile,
      '--listen', `${this.host.ip}:7946`, '--api-socket', this.socket, '--docker-socket', this.dockerSocket,
      '--log-level', 'debug',
      ...join, ...(this.opts.args ?? []), ...extraArgs], { stdout: this.log, env: this.opts.env, label: this.host.name })
    const probe = new ApiClient(this.socket, 2000)
    const status = await waitFor(async () => {
      if (this.proc?.alive !== true) throw new Error(`agent on ${this.host.name} exited: see ${this.log}`)
      return await probe.call<{ id: string }>('GET', '/v1/status').catch(() => undefined)
    }, { timeoutMs: 30_000, what: `agent on ${this.host.name} to serve its API` })
    this.peerId = status.id
    return this
  }

  /** SIGTERM and wait for the exit. */
  async stop (): Promise<void> {
    await this.proc?.stop(10_000)
  }

  async kill9 (): Promise<void> {
    this.proc?.kill('SIGKILL')
    await this.proc?.exited
  }

  async peers (): Promise<PeerView[]> {
    return await this.api.call<PeerView[]>('GET', '/v1/peers')
  }

  async stateOf (peerId: string): Promise<string | undefined> {
    return (await this.peers()).find(p => p.id === peerId)?.state
  }

  async networks (): Promise<string[]> {
    return (await this.api.call<Array<{ name: string }>>('GET', '/v1/networks')).map(n => n.name).sort()
  }

  async createNetwork (name: string, subnet: string): Promise<void> {
    await this.api.call('POST', '/v1/networks', { name, subnet })
  }
}

export function writeClusterKey (cluster: Cluster, name = 'cluster.key'): string {
  const file = join(cluster.dir, name)
  writeFileSync(file, execFileSync(process.execPath, [MESHPLANE_JS, 'keygen']), { mode: 0o600 })
  return file
}

/** Starts one agent per host; every host but the first joins through the first. */
export async function startAgents (cluster: Cluster, opts: AgentOptions & { hosts?: Host[] } = {}): Promise<TestAgent[]> {
  const keyFile = opts.keyFile ?? writeClusterKey(cluster)
  const hosts = opts.hosts ?? [...cluster.hosts]
  const seed = `${hosts[0]!.ip}:7946`
  const agents = hosts.map((h, i) => new TestAgent(cluster, h, { ...opts, keyFile, join: i === 0 ? opts.join : [seed, ...(opts.join ?? [])] }))
  await agents[0]!.start()
  await Promise.all(agents.slice(1).map(async a => await a.start()))
  return agents
}

/** Waits until every agent sees every other one in `state`. */
export async function waitForPeers (agents: TestAgent[], expect: Map<string, string> | 'alive', timeoutMs = 30_000): Promise<void> {
  await waitFor(async () => {
    for (const a of agents) {
      const peers = await a.peers()
      for (const b of agents) {
        if (b === a) continue
        const want = expect === 'alive' ? 'alive' : expect.get(b.peerId)
        if (want === undefined) continue
        if (peers.find(p => p.id === b.peerId)?.state !== want) return false
      }
    }
    return true
  }, { timeoutMs, intervalMs: 200, what: 'every agent to see every other peer in the expected state' })
}

/** On a failure, the last warnings and errors of each host's agent log (the logs go with
 * the cluster's folder when it is destroyed). */
export function printAgentErrors (cluster: Cluster, lines = 5): void {
  for (const h of cluster.hosts) {
    let text: string
    try { text = readFileSync(join(cluster.dir, `${h.name}.log`), 'utf8') } catch { continue }
    const bad = text.split('\n').filter(l => /"level":(40|50|60)/.test(l)).slice(-lines)
    if (bad.length > 0) console.error(`--- ${h.name} agent log (warn and worse) ---\n${bad.join('\n')}`)
  }
}
