/**
 * Shared pieces of the benches: flags, percentiles, /proc sampling, per-host byte
 * counters, a batched agent start (30 node processes at once on 2 cores would trip the
 * per-agent API timeout), the idle window (what a quiet cluster costs per agent), and the
 * machine description printed with every result.
 *
 * Everything a bench makes goes through test/utils/netns.ts, which names it with a
 * unique prefix, tracks it, and removes it in cluster.destroy() or, on Ctrl-C / SIGTERM /
 * an uncaught error, in its exit handler. Nothing else is touched.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus, loadavg, release } from 'node:os'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { TestAgent, writeClusterKey } from '../test/utils/agents.js'
import { waitFor, type Cluster, type Host, type Target } from '../test/utils/netns.js'

/** The node binary running this bench; child node processes use the same one. */
export const NODE = process.execPath

// ---- flags -------------------------------------------------------------------------------

/** The usage text given to flags(), appended to the errors of intFlag(). */
let usageText = ''

/** Prints the message and the usage to stderr and exits 64 (EX_USAGE). */
export function usageError (msg: string): never {
  process.stderr.write(`${msg}\n${usageText === '' ? '' : `\n${usageText}`}`)
  process.exit(64)
}

/**
 * Parses process.argv (strict) with --help / -h added: --help prints the usage to stdout
 * and exits 0, an unknown flag or a bad value prints the error and the usage to stderr
 * and exits 64. Positional arguments are allowed unless `allowPositionals` is false.
 */
export function flags (options: NonNullable<ParseArgsConfig['options']>, usage: string, { allowPositionals = true } = {}): { values: Record<string, string | boolean | undefined>, positionals: string[] } {
  usageText = usage
  try {
    const r = parseArgs({ args: process.argv.slice(2), options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true }) as
      { values: Record<string, string | boolean | string[] | undefined>, positionals: string[] }
    if (r.values.help === true) {
      process.stdout.write(usage)
      process.exit(0)
    }
    return r as { values: Record<string, string | boolean | undefined>, positionals: string[] }
  } catch (err) {
    usageError((err as Error).message)
  }
}

/**
 * An integer flag: `def` when absent, else an integer in min..max (default: any
 * non-negative integer); anything else prints the error and the usage and exits 64.
 */
export function intFlag (v: string | boolean | undefined, def: number, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return def
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN
  if (!Number.isInteger(n) || n < min || n > max) {
    const want = max === Number.MAX_SAFE_INTEGER ? (min === 0 ? 'a non-negative integer' : `an integer ≥ ${min}`) : `an integer in ${min}..${max}`
    usageError(`--${name}: expected ${want}, got ${String(v)}`)
  }
  return n
}

/** The agent command line of a bench: --log-level (flag `log-level`, default info) and any
 * repeated `agent-arg` flags. */
export function agentArgs (values: Record<string, unknown>): string[] {
  const extra = (values['agent-arg'] as string[] | undefined) ?? []
  return ['--log-level', String(values['log-level'] ?? 'info'), ...extra]
}

export function intList (v: readonly string[] | string | undefined, def: number[], name: string): number[] {
  if (v === undefined || (Array.isArray(v) && v.length === 0)) return def
  const parts = (Array.isArray(v) ? v : [v]).flatMap(s => String(s).split(',')).filter(s => s !== '')
  return parts.map(p => intFlag(p, 0, name))
}

// ---- statistics --------------------------------------------------------------------------

/** Nearest-rank percentile (p in 0..100) of a non-empty list. */
export function pct (values: readonly number[], p: number): number {
  if (values.length === 0) return NaN
  const s = [...values].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil((p / 100) * s.length))
  return s[Math.min(rank, s.length) - 1]!
}

/** The median: the middle value, or the mean of the two middle ones for an even count;
 * NaN for an empty list. (pct(v, 50) is the nearest-rank p50: the lower middle one.) */
export function median (values: readonly number[]): number {
  if (values.length === 0) return NaN
  const s = [...values].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export const max = (v: readonly number[]): number => v.reduce((a, b) => Math.max(a, b), -Infinity)
export const min = (v: readonly number[]): number => v.reduce((a, b) => Math.min(a, b), Infinity)
export const sum = (v: readonly number[]): number => v.reduce((a, b) => a + b, 0)

export function fmt (n: number, digits = 0): string {
  if (!Number.isFinite(n)) return '-'
  return n.toFixed(digits)
}

/** A plain text table (also valid Markdown). */
export function table (header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map(r => r.map(String))]
  const widths = header.map((_, i) => Math.max(...cells.map(r => (r[i] ?? '').length)))
  const line = (r: string[]): string => '| ' + r.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |'
  return [line(header), '|' + widths.map(w => '-'.repeat(w + 2)).join('|') + '|', ...cells.slice(1).map(line)].join('\n') + '\n'
}

// ---- /proc -------------------------------------------------------------------------------

/** The node process of an agent. `ip netns exec` execs the command in place, so the
 * tracked pid is node itself; if it ever is a wrapper, take its only child. */
export function agentPid (a: TestAgent): number {
  const pid = a.proc?.pid
  if (pid === undefined) throw new Error(`agent on ${a.host.name} has no process`)
  const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  if (comm === 'node') return pid
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)
    if (kids.length === 1) return Number(kids[0])
  } catch { /* fall through */ }
  return pid
}

/** Resident set size in bytes (VmRSS). */
export function rssBytes (pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? NaN : Number(m[1]) * 1024
}

const CLK_TCK = (() => {
  try { return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100 } catch { return 100 }
})()

/** utime + stime of a process, in seconds; with `system`, stime alone (kernel time:
 * syscalls, netlink, socket work). */
export function cpuSeconds (pid: number, { system = false } = {}): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the ")" that closes comm: state is field 3, utime 14, stime 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((system ? 0 : Number(rest[11])) + Number(rest[12])) / CLK_TCK
}

export const MiB = 1024 * 1024

// ---- per-host traffic --------------------------------------------------------------------

export interface LinkCounters { rxBytes: number, txBytes: number, rxPackets: number, txPackets: number }

/** Counters of a host's underlay interface (everything the agent sends and receives). */
export function linkCounters (host: Host): LinkCounters {
  const out = execFileSync('ip', ['-n', host.name, '-s', '-j', 'link', 'show', 'dev', host.iface], { encoding: 'utf8', timeout: 10_000 })
  const [link] = JSON.parse(out) as Array<{ stats64: { rx: { bytes: number, packets: number }, tx: { bytes: number, packets: number } } }>
  const s = link!.stats64
  return { rxBytes: s.rx.bytes, txBytes: s.tx.bytes, rxPackets: s.rx.packets, txPackets: s.tx.packets }
}

// ---- agents ------------------------------------------------------------------------------

export interface StartedAgents {
  agents: TestAgent[]
  /** ms from the first spawn until every API answered. */
  apiUpMs: number
}

/**
 * Like startAgents() in test/utils/agents.ts (every host joins through host 0), but
 * starts at most `concurrency` agents at a time so a 2-core machine is not asked to boot
 * 30 node processes inside one 30 s API timeout. `env(i)`: extra environment for host i's
 * agent (e.g. NODE_OPTIONS for one profiled agent).
 */
export async function startAgentsBatched (cluster: Cluster, args: string[], concurrency = 6,
  { env }: { env?: (index: number) => Record<string, string> | undefined } = {}): Promise<StartedAgents> {
  const keyFile = writeClusterKey(cluster)
  const seed = `${cluster.hosts[0]!.ip}:7946`
  const agents = cluster.hosts.map((h, i) => new TestAgent(cluster, h, { keyFile, args, join: i === 0 ? [] : [seed], env: env?.(i) }))
  const t0 = Date.now()
  await agents[0]!.start()
  let next = 1
  const worker = async (): Promise<void> => {
    while (next < agents.length) {
      const a = agents[next++]!
      await a.start()
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, agents.length - 1) }, worker))
  return { agents, apiUpMs: Date.now() - t0 }
}

/** Waits until every agent sees every other as alive; cheaper than waitForPeers on 30 hosts. */
export async function waitAllAlive (agents: TestAgent[], timeoutMs: number): Promise<void> {
  const ids = new Set(agents.map(a => a.peerId))
  await waitFor(async () => {
    const views = await Promise.all(agents.map(async a => await a.peers().catch(() => [])))
    return views.every(peers => {
      const alive = peers.filter(p => ids.has(p.id) && p.state === 'alive').length
      return alive === ids.size
    })
  }, { timeoutMs, intervalMs: 500, what: `all ${agents.length} agents to see each other alive` })
}

export interface PeerRow { id: string, address: string, state: string, self: boolean, stateSinceMs: number | null }

export interface MeshStatus {
  gossipAccepted: number, syncRounds: number, syncBytes: number, syncRecordsIn: number, livenessNewsOut: number,
  /** peers in the agent's gossipsub mesh for the records topic */
  recordsMeshPeers?: number
}

export interface LivenessStatus {
  probesSent: number, probesFailed: number, indirectProbes: number, probesAnswered: number,
  suspicionsRaised: number, suspicionsHeard: number, refutations: number, newsIn: number
}

/** The parts of GET /v1/status the benches read. */
export interface AgentStatus { connections: number, mesh: MeshStatus, liveness: LivenessStatus }

export async function agentStatus (a: TestAgent): Promise<AgentStatus> {
  return await a.api.call<AgentStatus>('GET', '/v1/status')
}

export interface RecordRow { id: string, writer: string, lamport: string, appliedAtMs: number | null }

export async function records (a: TestAgent): Promise<RecordRow[]> {
  return await a.api.call<RecordRow[]>('GET', '/v1/records')
}

// ---- idle window -------------------------------------------------------------------------

/** One agent's counters at one moment; a window is the difference of two. */
interface AgentSample { cpuS: number, probesOut: number, probesIn: number, newsIn: number, newsOut: number, suspicions: number, refutations: number, link: LinkCounters }

async function sampleAgents (agents: TestAgent[], pids: number[]): Promise<AgentSample[]> {
  const status = await Promise.all(agents.map(agentStatus))
  return agents.map((a, i) => {
    const { liveness: l, mesh: m } = status[i]!
    return {
      cpuS: cpuSeconds(pids[i]!),
      probesOut: l.probesSent + l.indirectProbes,
      probesIn: l.probesAnswered,
      newsIn: l.newsIn,
      newsOut: m.livenessNewsOut,
      suspicions: l.suspicionsRaised,
      refutations: l.refutations,
      link: linkCounters(a.host)
    }
  })
}

/** What a quiet cluster cost, per agent (index = agent) unless summed. */
export interface IdleWindow {
  /** wall-clock start and end of the window (ms since the epoch) */
  t0: number
  t1: number
  seconds: number
  cpuPct: number[]
  rssPeakMiB: number[]
  /** probes sent, direct + indirect */
  probesOutPerS: number[]
  probesInPerS: number[]
  newsInPerS: number[]
  newsOutPerS: number[]
  /** summed over agents */
  suspicions: number
  refutations: number
  rxBps: number[]
  txBps: number[]
  rxPps: number[]
  txPps: number[]
  /** (agent, peer) pairs whose /v1/peers row is non-alive or changed state in the window:
   * nobody was stopped, so each is a false alarm */
  falseAlarms: number
  /** open connections at the end */
  connections: number[]
}

/** Leaves the agents alone for `seconds` (RSS read every 5 s for its peak) and reports
 * what the window cost each of them. */
export async function idleWindow (agents: TestAgent[], seconds: number): Promise<IdleWindow> {
  const pids = agents.map(agentPid)
  const ids = new Set(agents.map(a => a.peerId))
  const t0 = Date.now()
  const before = await sampleAgents(agents, pids)
  const rssPeak = agents.map(() => 0)
  const readRss = (): void => { pids.forEach((pid, i) => { rssPeak[i] = Math.max(rssPeak[i]!, rssBytes(pid)) }) }
  const end = t0 + seconds * 1000
  while (Date.now() < end) {
    readRss()
    await sleepMs(Math.min(5000, Math.max(0, end - Date.now())))
  }
  const after = await sampleAgents(agents, pids)
  const t1 = Date.now()
  const s = (t1 - t0) / 1000
  readRss()

  let falseAlarms = 0
  const connections: number[] = []
  for (const a of agents) {
    for (const p of await a.api.call<PeerRow[]>('GET', '/v1/peers')) {
      if (p.self || !ids.has(p.id)) continue
      if (p.state !== 'alive' || (p.stateSinceMs !== null && p.stateSinceMs >= t0)) falseAlarms++
    }
    connections.push((await agentStatus(a)).connections)
  }
  const perS = (f: (x: AgentSample) => number): number[] => after.map((x, i) => (f(x) - f(before[i]!)) / s)
  const total = (f: (x: AgentSample) => number): number => after.reduce((c, x, i) => c + f(x) - f(before[i]!), 0)
  return {
    t0,
    t1,
    seconds: s,
    cpuPct: perS(x => x.cpuS).map(c => c * 100),
    rssPeakMiB: rssPeak.map(b => b / MiB),
    probesOutPerS: perS(x => x.probesOut),
    probesInPerS: perS(x => x.probesIn),
    newsInPerS: perS(x => x.newsIn),
    newsOutPerS: perS(x => x.newsOut),
    suspicions: total(x => x.suspicions),
    refutations: total(x => x.refutations),
    rxBps: perS(x => x.link.rxBytes),
    txBps: perS(x => x.link.txBytes),
    rxPps: perS(x => x.link.rxPackets),
    txPps: perS(x => x.link.txPackets),
    falseAlarms,
    connections
  }
}

// ---- context -----------------------------------------------------------------------------

export function machine (): string {
  const model = cpus()[0]?.model ?? 'unknown'
  return `${cpus().length} cores (${model}), kernel ${release()}, node ${process.version}`
}

/** The 1-minute load average: the benches share the machine with whatever else runs
 * (other test suites, builds), and the figures should say how busy it was. */
export function loadNote (): string {
  return `load average (1 min) ${loadavg()[0]!.toFixed(2)}`
}

/** The command line that reproduces this run, from the repository root. */
export function commandLine (script: string): string {
  const quote = (s: string): string => /^[A-Za-z0-9_./,=:@-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`
  return `npx tsc -b && node_modules/.bin/node dist/bench/${script} ${process.argv.slice(2).map(quote).join(' ')}`.trimEnd()
}

export function log (msg: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 23)}] ${msg}\n`)
}

/** Runs a bench's main: a failure prints its stack and sets exit code 1. */
export function runMain (name: string, main: () => Promise<void>): void {
  main().catch(err => {
    process.stderr.write(`${name} bench failed: ${(err as Error).stack ?? String(err)}\n`)
    process.exitCode = 1
  })
}

export async function sleepMs (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

export function requireRoot (): void {
  if (process.getuid?.() !== 0) {
    process.stderr.write('benches need root: they create network namespaces\n')
    process.exit(77)
  }
}

const IPERF_PORT = 5201

// ---- iperf3 ---------------------------------------------------------------------------

export interface IperfRun { gbps: number, retransmits: number, senderCpu: number, receiverCpu: number, load: number }

interface IperfJson {
  error?: string
  end?: {
    sum_received?: { bits_per_second: number }
    sum_sent?: { retransmits?: number }
    cpu_utilization_percent?: { host_total: number, remote_total: number }
  }
}

/** iperf3 -s spawned in `server` (ended by its pid after the run), `iperf3 -c ip -t seconds
 * -J` in `client`; the receiver's end.sum_received is the figure. */
export async function iperf (cluster: Cluster, server: Target, client: Target, ip: string, seconds: number): Promise<IperfRun> {
  const srv = cluster.spawn(server, ['iperf3', '-s', '-p', String(IPERF_PORT)], { label: 'iperf3-s' })
  try {
    await waitFor(async () => {
      if (!srv.alive) throw new Error(`iperf3 -s exited: ${srv.output()}`)
      const r = await cluster.exec(server, ['ss', '-Hltn', `sport = :${IPERF_PORT}`])
      return r.stdout.trim() !== ''
    }, { timeoutMs: 15_000, intervalMs: 50, what: 'iperf3 -s to listen' })
    const load = loadavg()[0]!
    const r = await cluster.exec(client, ['iperf3', '-c', ip, '-p', String(IPERF_PORT), '-t', String(seconds), '-J'], { timeoutMs: (seconds + 60) * 1000 })
    let json: IperfJson
    try {
      json = JSON.parse(r.stdout) as IperfJson
    } catch {
      throw new Error(`iperf3 -c ${ip} (exit ${r.code}): no JSON: ${r.stdout.slice(0, 500)} ${r.stderr.slice(0, 500)}`)
    }
    if (json.error !== undefined || json.end?.sum_received === undefined) throw new Error(`iperf3 -c ${ip}: ${json.error ?? 'no result'}`)
    return {
      gbps: json.end.sum_received.bits_per_second / 1e9,
      retransmits: json.end.sum_sent?.retransmits ?? NaN,
      senderCpu: json.end.cpu_utilization_percent?.host_total ?? NaN,
      receiverCpu: json.end.cpu_utilization_percent?.remote_total ?? NaN,
      load
    }
  } finally {
    await srv.stop(3000)
  }
}

