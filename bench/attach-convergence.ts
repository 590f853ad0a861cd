/**
 * How long after `attach` on one host the new endpoint's FDB entry is in the kernel of
 * every other host.
 *
 * For each cluster size N: N namespace hosts, one real agent each (every host joins
 * through host 0), all alive; one network, and one "baseline" container attached on every
 * host (a host programs a network only while it has a local endpoint in it), until every
 * kernel holds every baseline entry. Then `--attaches` measured attaches, one at a time,
 * spaced `--spacing-ms` apart, rotating over the hosts (attach k on host k mod N), each
 * address allocated by the attaching host's IPAM (`--static-ip`: given, and claimed
 * cluster-wide): the container namespace is made first (not timed), then
 *
 *   t0 = just before POST /v1/attach (what `meshplane attach` sends) on the attaching host
 *   per other host: the time its kernel announced the FDB entry <MAC> dst <attaching host> self
 *   convergence of the attach = max over the other N − 1 hosts (FDB time − t0)
 *
 * How the FDB time is seen: `bridge -timestamp monitor fdb` runs in every host namespace
 * for the whole run and prints each RTM_NEWNEIGH it receives with gettimeofday(), µs
 * resolution, stamped when the monitor reads the kernel's notification (its wake-up
 * delay is included: on a loaded machine a few ms). No polling. All namespaces share this
 * machine's clock, so the monitor's and the bench's timestamps compare directly.
 *
 * Where the time goes, per attach (medians printed): the attach call itself (veth, the
 * container side configured through nsenter, then the endpoint record written), the
 * record's gossip (appliedAtMs on the writer → on the slowest other host, from
 * GET /v1/records), and the remote dataplane (record applied → FDB entry in the kernel).
 *
 *   npx tsc -b && node_modules/.bin/node dist/bench/attach-convergence.js 3 10
 */
import { loadavg } from 'node:os'
import type { TestAgent } from '../test/utils/agents.js'
import { createCluster, waitFor, type Cluster, type Host, type ProcessHandle } from '../test/utils/netns.js'
import {
  agentArgs, commandLine, flags, fmt, intFlag, intList, loadNote, log, machine, max, median, pct, records, requireRoot, runMain, sleepMs,
  startAgentsBatched, table, waitAllAlive, type RecordRow
} from './lib.js'

const USAGE = `usage: node dist/bench/attach-convergence.js [N ...] [options]
  N                      cluster sizes (default 3 10)
  --attaches K           measured attaches per size (default 60, at least 10)
  --spacing-ms MS        pause after each attach has converged (default 200)
  --concurrency C        agents started at once (default 6)
  --static-ip            give every attach an address (--ip, which the IPAM then claims cluster-wide)
                         instead of letting the host's IPAM allocate one (the default)
  --log-level LEVEL      agent log level (default info)
  --agent-arg ARG        extra agent flag, repeatable (e.g. --agent-arg=--probe-interval-ms=1000)
`

const NETWORK = 'bench'
const SUBNET = '10.240.0.0/16'

interface AttachSample {
  host: number
  mac: string
  endpointId: string
  t0: number
  /** The attach call returned. */
  t1: number
  /** Per other host index: when its kernel announced the FDB entry (ms since the epoch, µs fraction). */
  fdbAt: Map<number, number>
}

// ---- FDB monitors -----------------------------------------------------------------------

const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 }

/**
 * One `bridge -timestamp monitor fdb` per host. Its output alternates
 *   Timestamp: Tue Dec  1 17:58:22 2026 694134 usec
 *   02:42:0a:f0:64:02 dev mpvx123 dst 10.77.9.12 self permanent
 * (TZ=UTC, so the stamp is UTC). seen(mac, dst) is the first time such an entry was added.
 */
class FdbMonitor {
  readonly #proc: ProcessHandle
  #parsed = 0
  #stamp = NaN
  readonly #added = new Map<string, number>()

  constructor (cluster: Cluster, host: Host) {
    this.#proc = cluster.spawn(host, ['bridge', '-timestamp', 'monitor', 'fdb'], { env: { TZ: 'UTC' }, label: `fdbmon-${host.name}` })
  }

  get alive (): boolean { return this.#proc.alive }

  #scan (): void {
    const out = this.#proc.output()
    // output() is a bounded tail; the run stays far below its 256 KiB.
    const lines = out.slice(this.#parsed).split('\n')
    const complete = lines.slice(0, -1)
    this.#parsed += complete.reduce((n, l) => n + l.length + 1, 0)
    for (const line of complete) {
      const ts = /^Timestamp: \w+ (\w+) +(\d+) (\d+):(\d+):(\d+) (\d+) (\d+) usec$/.exec(line)
      if (ts !== null) {
        const [, mon, day, h, m, s, year, usec] = ts
        this.#stamp = Date.UTC(Number(year), MONTHS[mon!] ?? NaN, Number(day), Number(h), Number(m), Number(s)) + Number(usec) / 1000
        continue
      }
      const entry = /^([0-9a-f:]{17}) dev \S+ dst (\S+) .*\bself\b/.exec(line)
      if (entry !== null && !line.startsWith('Deleted')) {
        const key = `${entry[1]!} ${entry[2]!}`
        if (!this.#added.has(key)) this.#added.set(key, this.#stamp)
      }
    }
  }

  seen (mac: string, dst: string): number | undefined {
    this.#scan()
    return this.#added.get(`${mac} ${dst}`)
  }

  async stop (): Promise<void> {
    await this.#proc.stop(2000)
  }
}

// ---- one cluster size -------------------------------------------------------------------

interface RunResult {
  n: number
  samples: AttachSample[]
  /** Per sample: max over other hosts of (record applied there − applied on the writer). */
  gossipMs: number[]
  /** Per sample: t0 → record applied on the writer. */
  writtenMs: number[]
  /** Per sample, per other host: FDB time − record applied on that host; the max. */
  kernelMs: number[]
  loadStart: number
  loadEnd: number
}

function ipOf (k: number): string {
  return `10.240.${100 + Math.floor(k / 250)}.${2 + (k % 250)}`
}

async function runOne (n: number, opts: { attaches: number, spacingMs: number, concurrency: number, args: string[], staticIp: boolean }): Promise<RunResult> {
  let cluster: Cluster | undefined
  const monitors: FdbMonitor[] = []
  try {
    log(`N=${n}: creating ${n} namespace hosts, starting agents`)
    cluster = await createCluster({ hosts: n, prefix: 'batt' })
    const c = cluster
    const { agents } = await startAgentsBatched(c, opts.args, opts.concurrency)
    await waitAllAlive(agents, 180_000)
    await agents[0]!.api.call('POST', '/v1/networks', { name: NETWORK, subnet: SUBNET })
    await waitFor(async () => (await Promise.all(agents.map(async a => await a.networks()))).every(l => l.includes(NETWORK)), { timeoutMs: 60_000, intervalMs: 250, what: 'every agent to know the network' })

    // Baseline: one endpoint per host, so every host has the network's devices.
    log(`N=${n}: attaching one baseline container per host`)
    const baseMacs: string[] = []
    for (const [i, h] of c.hosts.entries()) {
      const ctr = await c.addContainer(h, 'base')
      baseMacs.push((await agents[i]!.api.call<{ mac: string }>('POST', '/v1/attach', { network: NETWORK, netns: ctr.name })).mac)
    }
    await waitFor(async () => {
      const dumps = await Promise.all(c.hosts.map(async h => (await c.exec(h, ['bridge', 'fdb', 'show'])).stdout))
      return dumps.every((d, i) => c.hosts.every((other, j) => j === i || d.includes(`${baseMacs[j]!} dev mpvx`) && d.includes(`dst ${other.ip} self`)))
    }, { timeoutMs: 60_000, intervalMs: 250, what: 'every kernel to hold every baseline FDB entry' })
    for (const h of c.hosts) monitors.push(new FdbMonitor(c, h))
    await sleepMs(1000)

    const loadStart = loadavg()[0]!
    log(`N=${n}: ${opts.attaches} measured attaches (load ${loadStart.toFixed(2)})`)
    const samples: AttachSample[] = []
    for (let k = 0; k < opts.attaches; k++) {
      const hi = k % n
      const host = c.hosts[hi]!
      const ctr = await c.addContainer(host, `a${k}`)
      const request: Record<string, string> = { network: NETWORK, netns: ctr.name }
      if (opts.staticIp) request.ip = ipOf(k)
      const t0 = Date.now()
      const body = await agents[hi]!.api.call<{ id: string, mac: string }>('POST', '/v1/attach', request)
      const t1 = Date.now()
      const mac = body.mac
      const sample: AttachSample = { host: hi, mac, endpointId: body.id, t0, t1, fdbAt: new Map() }
      await waitFor(async () => {
        for (const [j, mon] of monitors.entries()) {
          if (j === hi || sample.fdbAt.has(j)) continue
          if (!mon.alive) throw new Error(`the FDB monitor on host ${j} exited`)
          const at = mon.seen(mac, host.ip)
          if (at !== undefined) sample.fdbAt.set(j, at)
        }
        return sample.fdbAt.size === n - 1
      }, { timeoutMs: 30_000, intervalMs: 5, what: `attach ${k}'s FDB entry on every other host` })
      samples.push(sample)
      const worst = max([...sample.fdbAt.values()].map(at => at - t0))
      if ((k + 1) % 10 === 0 || k === 0) log(`N=${n}: attach ${k + 1}/${opts.attaches} on host ${hi}: call ${t1 - t0} ms, in every other kernel after ${fmt(worst, 1)} ms`)
      await sleepMs(opts.spacingMs)
    }
    const loadEnd = loadavg()[0]!

    // Where the time went: the endpoint records' appliedAtMs on every agent.
    const views = await Promise.all(agents.map(async (a: TestAgent) => new Map((await records(a)).map(r => [r.id, r]))))
    const gossipMs: number[] = []
    const writtenMs: number[] = []
    const kernelMs: number[] = []
    for (const s of samples) {
      const find = (view: Map<string, RecordRow>): number | undefined => {
        for (const [id, r] of view) if (id.endsWith(`/${NETWORK}/${s.endpointId}`)) return r.appliedAtMs ?? undefined
        return undefined
      }
      const written = find(views[s.host]!)
      if (written === undefined) continue
      writtenMs.push(written - s.t0)
      let gossip = 0
      let kernel = 0
      for (const [j, at] of s.fdbAt) {
        const applied = find(views[j]!)
        if (applied === undefined) continue
        gossip = Math.max(gossip, applied - written)
        kernel = Math.max(kernel, at - applied)
      }
      gossipMs.push(gossip)
      kernelMs.push(kernel)
    }
    return { n, samples, gossipMs, writtenMs, kernelMs, loadStart, loadEnd }
  } finally {
    for (const m of monitors) await m.stop().catch(() => {})
    log(`N=${n}: tearing down`)
    await cluster?.destroy()
  }
}

// ---- main -------------------------------------------------------------------------------

async function main (): Promise<void> {
  const { values, positionals } = flags({
    attaches: { type: 'string' },
    'spacing-ms': { type: 'string' },
    concurrency: { type: 'string' },
    'log-level': { type: 'string' },
    'static-ip': { type: 'boolean' },
    'agent-arg': { type: 'string', multiple: true }
  }, USAGE)
  requireRoot()
  const sizes = intList(positionals, [3, 10], 'N')
  if (sizes.some(n => n < 2 || n > 100)) throw new Error('N: 2..100')
  const attaches = Math.max(10, intFlag(values.attaches, 60, 'attaches', 1, 5000))
  const spacingMs = intFlag(values['spacing-ms'], 200, 'spacing-ms')
  const concurrency = Math.max(1, intFlag(values.concurrency, 6, 'concurrency'))
  const args = agentArgs(values)
  const loadBefore = loadNote()

  const results: RunResult[] = []
  const staticIp = values['static-ip'] === true
  for (const n of sizes) results.push(await runOne(n, { attaches, spacingMs, concurrency, args, staticIp }))

  const out: string[] = []
  out.push(`\nAttach → FDB entry in every other host's kernel, ${new Date().toISOString()}`)
  out.push(`machine: ${machine()}; ${loadBefore} at start, ${loadavg()[0]!.toFixed(2)} at end`)
  out.push(`command: ${commandLine('attach-convergence.js')}`)
  out.push(`agent args: ${args.join(' ')}; ${attaches} attaches per size, one at a time, rotating over the hosts, ${spacingMs} ms apart; addresses ${staticIp ? 'given with --ip (claimed through the IPAM)' : 'allocated by the attaching host\'s IPAM'}`)
  out.push('convergence of an attach = max over the other hosts of (FDB entry announced by that kernel − start of POST /v1/attach); seen by `bridge -timestamp monitor fdb` in every host (µs stamps); percentiles over attaches (nearest rank)\n')
  const worst = (s: AttachSample): number => max([...s.fdbAt.values()].map(at => at - s.t0))
  const pairs = (r: RunResult): number[] => r.samples.flatMap(s => [...s.fdbAt.values()].map(at => at - s.t0))
  out.push(table(
    ['N', 'attaches', 'p50 ms', 'p99 ms', 'max ms', 'pairs p50 ms', 'pairs p99 ms', 'load during'],
    results.map(r => {
      const v = r.samples.map(worst)
      return [r.n, r.samples.length, fmt(pct(v, 50), 1), fmt(pct(v, 99), 1), fmt(max(v), 1), fmt(pct(pairs(r), 50), 1), fmt(pct(pairs(r), 99), 1), `${r.loadStart.toFixed(2)} → ${r.loadEnd.toFixed(2)}`]
    })))
  out.push('("pairs": over every (attach, other host))\n')
  out.push(table(
    ['N', 'attach call (POST → response) p50 / p99 ms', 'POST → record written p50 / p99 ms', 'gossip: written → applied on the slowest host p50 / p99 ms', 'remote dataplane: applied → FDB in kernel, slowest host p50 / p99 ms'],
    results.map(r => {
      const call = r.samples.map(s => s.t1 - s.t0)
      return [r.n, `${fmt(median(call), 1)} / ${fmt(pct(call, 99), 1)}`, `${fmt(median(r.writtenMs), 1)} / ${fmt(pct(r.writtenMs, 99), 1)}`, `${fmt(median(r.gossipMs), 1)} / ${fmt(pct(r.gossipMs, 99), 1)}`, `${fmt(median(r.kernelMs), 1)} / ${fmt(pct(r.kernelMs, 99), 1)}`]
    })))
  out.push('(the three last columns add up per attach only roughly: each takes the slowest host on its own)\n')
  const n10 = results.find(r => r.n === 10)
  if (n10 !== undefined) {
    const p99 = pct(n10.samples.map(worst), 99)
    out.push(`goal: p99 ≤ 150 ms at N = 10: ${p99 <= 150 ? 'met' : 'MISSED'} (${fmt(p99, 1)} ms)`)
  }
  process.stdout.write(out.join('\n') + '\n')
}

runMain('attach-convergence', main)
