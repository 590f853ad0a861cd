/**
 * Distributed IPAM speed, through the agents' control API (what a caller such as the
 * Docker IPAM driver sees: HTTP on the unix socket, allocation persisted in LevelDB
 * before the answer).
 *
 *  (a) range acquisition: N hosts, one network created on host 0 (which then holds the
 *      whole range). Hosts 1..N-1, one after another, make their first allocation, which
 *      must ask a holder for a range over /meshplane/ipam/1.0.0; then a second, local one.
 *      acquisition ≈ first − second.
 *  (b) local allocations per second: `--count` allocations on host 0 (holds everything:
 *      always local) and on host N-1 (holds one range: refills from others as it runs dry),
 *      `--parallel` requests in flight; then the same number of releases.
 *
 *   npx tsc -b && node_modules/.bin/node dist/bench/ipam.js 10
 */
import { createCluster } from '../test/utils/netns.js'
import type { TestAgent } from '../test/utils/agents.js'
import { commandLine, flags, fmt, intFlag, intList, loadNote, log, machine, max, median, pct, requireRoot, runMain, startAgentsBatched, table, waitAllAlive } from './lib.js'

const USAGE = `usage: node dist/bench/ipam.js [N ...] [options]
  N                 cluster sizes (default 10)
  --count K         allocations per throughput run (default 2000)
  --parallel P      requests in flight in throughput runs (default 16)
  --concurrency C   agents started at once (default 6)
`

async function allocate (a: TestAgent, owner: string): Promise<string> {
  return (await a.api.call<{ ip: string }>('POST', '/v1/ipam/allocate', { network: 'bench', owner })).ip
}

async function timed<T> (fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now()
  const v = await fn()
  return [v, performance.now() - t0]
}

/** `count` operations, `parallel` at a time: ops/s. */
async function rate (count: number, parallel: number, op: (k: number) => Promise<unknown>): Promise<number> {
  let next = 0
  const t0 = performance.now()
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < count) await op(next++)
  }))
  return count / ((performance.now() - t0) / 1000)
}

interface Result {
  n: number
  first: number[]
  local: number[]
  rates: Array<{ host: string, parallel: number, alloc: number, release: number }>
  load: string
}

async function runOne (n: number, count: number, parallel: number, concurrency: number): Promise<Result> {
  const cluster = await createCluster({ prefix: 'bip', hosts: n })
  try {
    log(`N=${n}: starting agents`)
    const { agents } = await startAgentsBatched(cluster, ['--log-level', 'warn'], concurrency)
    await waitAllAlive(agents, 120_000)
    await agents[0]!.api.call('POST', '/v1/networks', { name: 'bench', subnet: '10.60.0.0/16' })
    for (const a of agents) {
      while (!(await a.networks()).includes('bench')) await new Promise(resolve => setTimeout(resolve, 50))
    }
    log(`N=${n}: range acquisition`)
    const first: number[] = []
    const local: number[] = []
    for (const [i, a] of agents.entries()) {
      if (i === 0) continue
      first.push((await timed(async () => await allocate(a, `first-${i}`)))[1])
      local.push((await timed(async () => await allocate(a, `second-${i}`)))[1])
    }
    const rates: Result['rates'] = []
    for (const [label, a] of [['0 (holds all)', agents[0]!], [`${n - 1} (refills)`, agents[n - 1]!]] as const) {
      for (const p of [1, parallel]) {
        log(`N=${n}: ${count} allocations on host ${label}, ${p} in flight`)
        const ips: string[] = []
        const alloc = await rate(count, p, async k => { ips.push(await allocate(a, `r${p}-${k}`)) })
        const release = await rate(ips.length, p, async k => await a.api.call('POST', '/v1/ipam/release', { network: 'bench', ip: ips[k] }))
        rates.push({ host: label, parallel: p, alloc, release })
      }
    }
    return { n, first, local, rates, load: loadNote() }
  } finally {
    await cluster.destroy()
  }
}

async function main (): Promise<void> {
  const { values, positionals } = flags({
    count: { type: 'string' },
    parallel: { type: 'string' },
    concurrency: { type: 'string' }
  }, USAGE)
  requireRoot()
  const sizes = intList(positionals, [10], 'N')
  if (sizes.some(n => n < 2 || n > 100)) throw new Error('N: 2..100')
  const count = intFlag(values.count, 2000, 'count', 1, 60_000)
  const parallel = intFlag(values.parallel, 16, 'parallel', 1, 256)
  const concurrency = intFlag(values.concurrency, 6, 'concurrency', 1)
  const results: Result[] = []
  for (const n of sizes) results.push(await runOne(n, count, parallel, concurrency))

  const out: string[] = []
  out.push(`\nDistributed IPAM, ${new Date().toISOString()}`)
  out.push(`machine: ${machine()}`)
  out.push(`command: ${commandLine('ipam.js')}`)
  out.push('every figure through the control API (HTTP on the unix socket, LevelDB write before the answer)\n')
  out.push(table(['N', 'hosts', 'first allocation p50 ms', 'p99 ms', 'max ms', 'local allocation p50 ms', 'acquisition ≈ p50 ms'],
    results.map(r => [r.n, r.first.length, fmt(pct(r.first, 50), 1), fmt(pct(r.first, 99), 1), fmt(max(r.first), 1), fmt(median(r.local), 1),
      fmt(pct(r.first, 50) - median(r.local), 1)])))
  out.push('(first allocation on a host = one range request to a holder + the local allocation)\n')
  out.push(table(['N', 'host', 'in flight', 'allocations/s', 'releases/s'],
    results.flatMap(r => r.rates.map(x => [r.n, x.host, x.parallel, fmt(x.alloc), fmt(x.release)]))))
  out.push(`(${count} allocations per row; ${results.map(r => `N=${r.n}: ${r.load} at the end`).join('; ')})`)
  process.stdout.write(out.join('\n') + '\n')
}

runMain('ipam', main)
