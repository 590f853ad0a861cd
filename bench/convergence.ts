/**
 * How fast a record written on one host reaches every other host.
 *
 * For each cluster size N: N namespace hosts, one real agent each (every host joins
 * through host 0), wait until all see each other alive, then write `--records` network
 * records on the writer spaced `--spacing-ms` apart, wait until every agent holds every
 * record, and per record take
 *
 *   propagation = max over agents (appliedAtMs on that agent − appliedAtMs on the writer)
 *
 * (appliedAtMs is the wall-clock time the record's version arrived; on the writer it is
 * the write; all agents share this machine's clock). p50 / p99 / max are over records.
 *
 * A warm-up series (--warmup, 5 records from the first writer) runs before the measured
 * ones and is printed on its own line: right after start-up each agent runs the receive
 * path for the first time (V8 compiles it then), and those first records took 2–4× longer.
 *
 * Before the writes, an idle window (--idle-seconds) measures per agent what a quiet
 * cluster costs (CPU, liveness probes and news, suspicions) and counts false alarms, so
 * one run at N = 30 gives both figures (the machine is shared; big runs are few).
 *
 * With --repeat R each size runs R times, each on a fresh cluster, and the records of all
 * series of one size are also pooled (the goal is judged on the pool: one series of 40
 * records has its maximum for p99).
 *
 *   npx tsc -b && node_modules/.bin/node dist/bench/convergence.js 10 30
 *   node_modules/.bin/node dist/bench/convergence.js 30 --records 40 --repeat 5   # the goal
 */
import { createCluster, type Cluster } from '../test/utils/netns.js'
import type { TestAgent } from '../test/utils/agents.js'
import {
  agentArgs, agentPid, agentStatus, commandLine, cpuSeconds, flags, fmt, idleWindow, intFlag, intList, loadNote, log, machine, max, median, MiB, pct,
  records, requireRoot, rssBytes, runMain, sleepMs, startAgentsBatched, sum, table, waitAllAlive, type IdleWindow, type RecordRow
} from './lib.js'

const USAGE = `usage: node dist/bench/convergence.js [N ...] [options]
  N                      cluster sizes (default 10 30)
  --records K            records per writer (default 100, at least 20)
  --spacing-ms MS        gap between writes (default 150)
  --writers LIST         host indexes that write, "last" = N-1 (default 0,last; 0 is the seed,
                         connected to every host; "last" is an ordinary host)
  --concurrency C        agents started at once (default 6)
  --log-level LEVEL      agent log level (default info)
  --agent-arg ARG        extra agent flag, repeatable (e.g. --agent-arg=--target-peers=8)
  --idle-seconds S       idle window before the writes (default 30; 0 skips it)
  --repeat R             run each size R times on fresh clusters and pool the records
                         (default 1)
  --warmup K             records the first writer writes before the measured series, not
                         counted (default 5; 0 skips): the first records after start-up pay
                         each agent's first run of the code paths (printed separately)
`

interface WriterResult {
  writer: number
  records: number
  perRecord: number[]
  perPair: number[]
  viaSync: number
  convergedAfterMs: number
  /** CPU of all agents together during the writes, in cores (the machine has 2) */
  cpuCores: number
  /** CPU per record per agent, from the first write until every agent held every record
   * (what the writes cost, queue drain included), minus the idle rate when it was measured */
  cpuMsPerRecord: number
}

interface RunResult {
  n: number
  clusterMs: number
  apiUpMs: number
  aliveMs: number
  rssMiB: number[]
  /** the load average when the run ended */
  load?: string
  writers: WriterResult[]
  idle: IdleWindow | undefined
  warmup: WriterResult | undefined
}

async function writeSeries (agents: TestAgent[], writer: number, count: number, spacingMs: number, subnetA: number, idleCores: number | undefined): Promise<WriterResult> {
  const w = agents[writer]!
  const before = await Promise.all(agents.map(async a => (await agentStatus(a)).mesh.syncRecordsIn))
  const baseline = new Set((await records(w)).map(r => r.id))
  const names: string[] = []
  const pids = agents.map(agentPid)
  const cpu0 = pids.map(p => cpuSeconds(p))
  const sys0 = pids.map(p => cpuSeconds(p, { system: true }))
  const t0 = Date.now()
  for (let i = 0; i < count; i++) {
    const started = Date.now()
    const name = `bench-${subnetA}-w${writer}-${i}`
    await w.createNetwork(name, `10.${subnetA}.${i}.0/24`)
    names.push(name)
    const rest = spacingMs - (Date.now() - started)
    if (rest > 0) await sleepMs(rest)
  }
  // Only the network records themselves: creating a network may write other records too
  // (the IPAM's ranges record), which propagate the same way but are not counted.
  const wanted = new Set(names.map(n => `network/${n}`))
  // CPU of all agents while the writes ran (before the bench starts polling them).
  const writeS = (Date.now() - t0) / 1000
  const cpuCores = sum(pids.map((p, i) => cpuSeconds(p) - cpu0[i]!)) / writeS
  const sysCores = sum(pids.map((p, i) => cpuSeconds(p, { system: true }) - sys0[i]!)) / writeS
  const perAgentCpu = pids.map((p, i) => (cpuSeconds(p) - cpu0[i]!) / writeS)
  log(`writer ${writer}: agents' CPU during the writes ${fmt(cpuCores, 2)} cores, of it in the kernel (system time) ${fmt(sysCores, 2)}; ` +
    `the writer ${fmt(perAgentCpu[writer]! * 100, 1)} % of a core, the others median ${fmt(median(perAgentCpu.filter((_, i) => i !== writer)) * 100, 1)} %`)
  const mine = (await records(w)).filter(r => !baseline.has(r.id) && r.writer === w.peerId && wanted.has(r.id))
  if (mine.length !== count) throw new Error(`writer ${writer}: expected ${count} new records, found ${mine.length}`)
  const want = new Map(mine.map(r => [r.id, r]))

  // Wait until every agent holds every record at the writer's version.
  let views: RecordRow[][] = []
  const deadline = Date.now() + 120_000
  for (;;) {
    views = await Promise.all(agents.map(records))
    const missing = views.reduce((n, v) => {
      const have = new Map(v.map(r => [r.id, r]))
      for (const [id, r] of want) if (have.get(id)?.lamport !== r.lamport || have.get(id)?.appliedAtMs == null) n++
      return n
    }, 0)
    if (missing === 0) break
    if (Date.now() > deadline) throw new Error(`writer ${writer}: ${missing} (agent, record) pairs still missing after 120 s`)
    // Every agent's /v1/records is a JSON dump of its whole state: polled often, it would
    // be a load of its own on the agents still draining (appliedAtMs does not depend on it).
    await sleepMs(1000)
  }
  const convergedAfterMs = Date.now() - t0
  const allCpuS = sum(pids.map((p, i) => cpuSeconds(p) - cpu0[i]!)) - (idleCores ?? 0) * convergedAfterMs / 1000
  const cpuMsPerRecord = allCpuS * 1000 / count / agents.length
  log(`writer ${writer}: CPU per record per agent ${fmt(cpuMsPerRecord, 2)} ms (first write until all held, ${fmt(convergedAfterMs / 1000, 1)} s${idleCores === undefined ? ', idle not subtracted: no idle window' : `, minus the idle ${fmt(idleCores, 2)} cores`})`)
  const after = await Promise.all(agents.map(async a => (await agentStatus(a)).mesh.syncRecordsIn))

  const perRecord: number[] = []
  const perPair: number[] = []
  const worstById = new Map<string, number>()
  for (const [id, r] of want) {
    const t = r.appliedAtMs!
    let worst = 0
    views.forEach((v, i) => {
      if (i === writer) return
      const d = v.find(x => x.id === id)!.appliedAtMs! - t
      perPair.push(d)
      worst = Math.max(worst, d)
    })
    perRecord.push(worst)
    worstById.set(id, worst)
  }
  // Who was late: per receiving agent, its median and worst delay, its connections and
  // records-topic mesh size (a host outside every mesh gets records only by IHAVE/IWANT
  // gossip on the heartbeat, or by sync).
  const perAgent = await Promise.all(agents.map(async (a, i) => {
    const s = await agentStatus(a)
    const d = [...want.keys()].map(id => views[i]!.find(x => x.id === id)!.appliedAtMs! - want.get(id)!.appliedAtMs!)
    return { i, median: median(d), max: max(d), connections: s.connections, mesh: s.mesh.recordsMeshPeers ?? -1 }
  }))
  const late = perAgent.filter(x => x.i !== writer).sort((a, b) => b.max - a.max).slice(0, 5)
  log(`writer ${writer}: slowest receivers ${late.map(x => `#${x.i} (median ${fmt(x.median)} / max ${fmt(x.max)} ms, ${x.connections} conns, mesh ${x.mesh})`).join(', ')}`)
  log(`writer ${writer}: per record in write order (ms): ${names.map(n => fmt(worstById.get(`network/${n}`) ?? NaN)).join(' ')}`)
  log(`writer ${writer}: mesh sizes ${perAgent.map(x => x.mesh).join(' ')}; connections ${perAgent.map(x => x.connections).join(' ')}`)
  return { writer, records: count, perRecord, perPair, viaSync: sum(after) - sum(before), convergedAfterMs, cpuCores, cpuMsPerRecord }
}

async function runOne (n: number, opts: { records: number, spacingMs: number, writers: string[], concurrency: number, args: string[], idleSeconds: number, warmup: number }): Promise<RunResult> {
  log(`N=${n}: creating ${n} namespace hosts`)
  const t0 = Date.now()
  let cluster: Cluster | undefined
  try {
    cluster = await createCluster({ hosts: n, prefix: 'bconv' })
    const clusterMs = Date.now() - t0
    log(`N=${n}: starting agents (${opts.concurrency} at a time)`)
    const { agents, apiUpMs } = await startAgentsBatched(cluster, opts.args, opts.concurrency)
    log(`N=${n}: APIs up after ${apiUpMs} ms; waiting until all see each other alive`)
    const t1 = Date.now()
    await waitAllAlive(agents, 180_000)
    const aliveMs = Date.now() - t1
    log(`N=${n}: all alive after another ${aliveMs} ms; letting the mesh settle 5 s`)
    await sleepMs(5000)
    let idle: IdleWindow | undefined
    if (opts.idleSeconds > 0) {
      log(`N=${n}: idle window of ${opts.idleSeconds} s`)
      idle = await idleWindow(agents, opts.idleSeconds)
      log(`N=${n}: idle: CPU/agent median ${fmt(median(idle.cpuPct), 2)} %, false alarms ${idle.falseAlarms}, suspicions ${idle.suspicions}`)
    }

    const writerOf = (spec: string): number => {
      const writer = spec === 'last' ? n - 1 : Number(spec)
      if (!Number.isInteger(writer) || writer < 0 || writer >= n) throw new Error(`--writers: ${spec} is not a host of a ${n}-host cluster`)
      return writer
    }
    let warmup: WriterResult | undefined
    if (opts.warmup > 0) {
      const writer = writerOf(opts.writers[0]!)
      log(`N=${n}: warm-up: host ${writer} writes ${opts.warmup} records, not counted`)
      warmup = await writeSeries(agents, writer, opts.warmup, opts.spacingMs, 109, undefined)
      await sleepMs(1000)
    }
    const writers: WriterResult[] = []
    for (const [k, spec] of opts.writers.entries()) {
      const writer = writerOf(spec)
      log(`N=${n}: host ${writer} writes ${opts.records} records, one every ${opts.spacingMs} ms`)
      // Distinct /24s per run and writer: 10.<100 + 10·run + k>.<i>.0/24.
      writers.push(await writeSeries(agents, writer, opts.records, opts.spacingMs, 100 + k, idle === undefined ? undefined : sum(idle.cpuPct) / 100))
      await sleepMs(1000)
    }
    const rssMiB = agents.map(a => rssBytes(agentPid(a)) / MiB)
    return { n, clusterMs, apiUpMs, aliveMs, rssMiB, writers, idle, warmup }
  } finally {
    log(`N=${n}: tearing down`)
    await cluster?.destroy()
  }
}

async function main (): Promise<void> {
  const { values, positionals } = flags({
    records: { type: 'string' },
    'spacing-ms': { type: 'string' },
    writers: { type: 'string' },
    concurrency: { type: 'string' },
    'log-level': { type: 'string' },
    'agent-arg': { type: 'string', multiple: true },
    'idle-seconds': { type: 'string' },
    warmup: { type: 'string' },
    repeat: { type: 'string' }
  }, USAGE)
  requireRoot()
  const sizes = intList(positionals, [10, 30], 'N')
  if (sizes.some(n => n < 2 || n > 200)) throw new Error('N: 2..200')
  const recordsPer = Math.max(20, intFlag(values.records, 100, 'records'))
  const spacingMs = intFlag(values['spacing-ms'], 150, 'spacing-ms')
  const writerSpecs = String(values.writers ?? '0,last').split(',').filter(Boolean)
  const concurrency = Math.max(1, intFlag(values.concurrency, 6, 'concurrency'))
  const args = agentArgs(values)

  const idleSeconds = intFlag(values['idle-seconds'], 30, 'idle-seconds')
  const warmup = intFlag(values.warmup, 5, 'warmup')
  const repeat = Math.max(1, intFlag(values.repeat, 1, 'repeat'))
  const loadBefore = loadNote()
  const results: RunResult[] = []
  for (let rep = 0; rep < repeat; rep++) {
    for (const n of sizes) {
      results.push(await runOne(n, { records: recordsPer, spacingMs, writers: writerSpecs, concurrency, args, idleSeconds, warmup }))
      results.at(-1)!.load = loadNote()
    }
  }

  const out: string[] = []
  out.push(`\nRecord propagation (meshplane agent core), ${new Date().toISOString()}`)
  out.push(`machine: ${machine()}; ${loadBefore} at start, ${loadNote()} at end`)
  out.push(`command: ${commandLine('convergence.js')}`)
  out.push(`agent args: ${args.join(' ')}; ${recordsPer} network records per writer, one every ${spacingMs} ms`)
  out.push('propagation of a record = max over agents of (appliedAtMs there − appliedAtMs on the writer); percentiles over records (nearest rank)\n')
  out.push(table(
    ['N', 'run', 'writer', 'records', 'p50 ms', 'p99 ms', 'max ms', 'pairs p50 ms', 'pairs p99 ms', 'by sync', 'all held after s', 'agents CPU during writes (cores)', 'CPU per record per agent ms'],
    results.flatMap((r, idx) => r.writers.map(w => [
      r.n, Math.floor(idx / sizes.length) + 1, w.writer === 0 ? '0 (seed)' : String(w.writer), w.records,
      fmt(pct(w.perRecord, 50)), fmt(pct(w.perRecord, 99)), fmt(max(w.perRecord)),
      fmt(pct(w.perPair, 50)), fmt(pct(w.perPair, 99)), w.viaSync, fmt(w.convergedAfterMs / 1000, 1), fmt(w.cpuCores, 2), fmt(w.cpuMsPerRecord, 2)
    ]))))
  out.push('("pairs": over every (record, receiving agent); "by sync": records that arrived by anti-entropy instead of gossip, summed over agents)')
  for (const r of results) {
    if (r.warmup !== undefined) out.push(`warm-up at N=${r.n} (not in the table): ${r.warmup.records} records from host ${r.warmup.writer}, per record ${r.warmup.perRecord.map(x => fmt(x)).join(' ')} ms`)
  }
  out.push('')
  out.push(table(
    ['N', 'namespaces s', 'agents up s', 'then all alive s', 'start total s', 'RSS/agent median MiB', 'RSS/agent max MiB', 'RSS total MiB'],
    results.map(r => [
      r.n, fmt(r.clusterMs / 1000, 1), fmt(r.apiUpMs / 1000, 1), fmt(r.aliveMs / 1000, 1),
      fmt((r.clusterMs + r.apiUpMs + r.aliveMs) / 1000, 1),
      fmt(median(r.rssMiB)), fmt(max(r.rssMiB)), fmt(sum(r.rssMiB))
    ])))
  out.push(`(agents started ${concurrency} at a time; RSS sampled after the writes)\n`)
  const idles = results.filter(r => r.idle !== undefined)
  if (idles.length > 0) {
    out.push(table(
      ['N', 'idle window s', 'CPU/agent median %', 'CPU/agent max %', 'CPU all agents %', 'probes sent/s per agent', 'liveness news in/s per agent', 'suspicions', 'refuted', 'false alarms', 'connections median'],
      idles.map(r => {
        const w = r.idle!
        return [r.n, fmt(w.seconds, 0), fmt(median(w.cpuPct), 2), fmt(max(w.cpuPct), 2), fmt(sum(w.cpuPct), 0), fmt(median(w.probesOutPerS), 2), fmt(median(w.newsInPerS), 3),
          w.suspicions, w.refutations, w.falseAlarms, fmt(median(w.connections))]
      })))
    out.push('(idle window before the writes; false alarms = (agent, peer) pairs seen non-alive or changing state in the window, nobody being stopped)\n')
  }
  if (repeat > 1) {
    out.push(`runs ended at: ${results.map(r => `N=${r.n} ${r.load ?? ''}`).join('; ')}\n`)
    out.push(table(
      ['N', 'series', 'records', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'records over 100 ms', 'series with p99 ≤ 100 ms'],
      sizes.map(n => {
        const series = results.filter(r => r.n === n).flatMap(r => r.writers)
        const all = series.flatMap(w => w.perRecord)
        return [n, series.length, all.length, fmt(pct(all, 50)), fmt(pct(all, 95)), fmt(pct(all, 99)), fmt(max(all)),
          all.filter(x => x > 100).length, series.filter(w => pct(w.perRecord, 99) <= 100).length]
      })))
    out.push(`(all series of each size pooled: ${repeat} runs on fresh clusters)\n`)
  }
  const pool30 = results.filter(r => r.n === 30).flatMap(r => r.writers.flatMap(w => w.perRecord))
  if (pool30.length > 0) {
    const p99 = pct(pool30, 99)
    out.push(`goal: p99 ≤ 100 ms at N=30 (every writer${repeat > 1 ? ', every run' : ''}, ${pool30.length} records): ${p99 <= 100 ? 'met' : 'MISSED'} (${fmt(p99)} ms)`)
  }
  process.stdout.write(out.join('\n') + '\n')
}

runMain('convergence', main)
