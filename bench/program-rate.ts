/**
 * How fast meshplane's kernel data plane programs remote endpoints, next to iproute2.
 *
 * Per repetition, two fresh namespace hosts on one underlay (test/utils/netns.ts), each
 * with eth0 holding an underlay address and an identical bridge + VXLAN device
 * (mpbr42 / mpvx42: VNI 42, local = underlay address, dstport 4789, learning off, ARP
 * proxy on, MTU 1450, port of the bridge, up). Then N remote endpoints, each one
 *
 *   permanent neighbour  <overlay IP> lladdr <MAC> dev mpvx42
 *   `self` permanent FDB <MAC> dev mpvx42 dst <remote VTEP>   (VTEPs spread over --vteps addresses)
 *
 * are programmed
 *   (a) meshplane: dataplane.applyOps(ops) in a node process started inside host 0
 *       (`nsenter --net=…`, since Node cannot setns); only the applyOps call is timed,
 *       not node's start, the device creation or the dataplane's start();
 *   (b) iproute2: `bridge -n NS -batch fdb.txt` then `ip -n NS -batch neigh.txt` on host 1;
 *       the two processes are timed from spawn to exit (their ~1 ms start included; the
 *       start of an empty batch is measured and printed too).
 * Both kernels are then dumped and checked to hold exactly the N FDB and N neighbour
 * entries. The order of (a) and (b) alternates between repetitions. Medians over reps.
 *
 * From the repository root:
 *
 *   npx tsc -b && node_modules/.bin/node dist/bench/program-rate.js
 */
import { writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { createCluster, type Cluster, type Host } from '../test/utils/netns.js'
import { commandLine, flags, fmt, intFlag, loadNote, log, machine, median, NODE, requireRoot, runMain, table } from './lib.js'

const SELF = fileURLToPath(import.meta.url)
const VNI = 42
const BRIDGE = `mpbr${VNI}`
const VXLAN = `mpvx${VNI}`
const PORT = 4789
const MTU = 1450
const CHILD_FLAG = '--child'

const USAGE = `usage: node dist/bench/program-rate.js [options]
  --entries N        remote endpoints (default 10000): N FDB + N neighbour entries
  --vteps V          remote VTEP addresses they spread over (default 100, at most 150)
  --reps R           repetitions, fresh namespaces each (default 3); medians reported
  --max-in-flight W  meshplane's netlink window (default: the dataplane's, 128)
`

// ---- the entries, the same for both sides ---------------------------------------------

interface Entry { ip: string, mac: string, dst: string }

/** Endpoint i: overlay IP 10.240.x.y (x from 1), MAC 02:00 + the IP's 4 bytes, VTEP <subnet>.(100 + i mod V). */
function makeEntries (n: number, vteps: number, underlayBase: string): Entry[] {
  const entries: Entry[] = []
  for (let i = 0; i < n; i++) {
    const x = 1 + Math.floor(i / 250)
    const y = 2 + (i % 250)
    const ip = `10.240.${x}.${y}`
    const mac = ['02', '00', '0a', 'f0', x.toString(16).padStart(2, '0'), y.toString(16).padStart(2, '0')].join(':')
    entries.push({ ip, mac, dst: `${underlayBase}.${100 + (i % vteps)}` })
  }
  return entries
}

interface ChildConfig { n: number, vteps: number, underlayBase: string, underlayIp: string, maxInFlight?: number }

interface ChildResult {
  setupMs: number
  applyMs: number
  /** user + system CPU of the whole process (every thread) during applyOps; the kernel's work on the entries runs in sendmsg, so it is in system. */
  cpuMs: number
  reportedMs: number
  applied: number
  failed: number
  firstFailure?: string
}

// ---- (a) the child: runs inside host 0 ----------------------------------------------------

async function child (config: ChildConfig): Promise<void> {
  const { pino } = await import('pino')
  const { createDataplane } = await import('@meshplane/agent/dataplane/index.js')
  type KernelOp = import('@meshplane/agent/dataplane/index.js').KernelOp
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2))
  // No update(): no reconcile pass runs, so nothing but applyOps touches the kernel.
  const dataplane = createDataplane({ logger }, { resyncIntervalMs: 3_600_000, ...(config.maxInFlight === undefined ? {} : { maxInFlight: config.maxInFlight }) })
  await dataplane.start()
  try {
    const t0 = performance.now()
    const setup = await dataplane.applyOps([
      { kind: 'link.ensureBridge', name: BRIDGE, mtu: MTU },
      { kind: 'link.ensureVxlan', name: VXLAN, params: { vni: VNI, local: config.underlayIp, port: PORT, learning: false, proxy: true }, mtu: MTU, master: BRIDGE }
    ])
    const setupMs = performance.now() - t0
    if (setup.failed.length > 0) throw new Error(`device setup failed: ${setup.failed.map(f => f.error).join('; ')}`)

    const entries = makeEntries(config.n, config.vteps, config.underlayBase)
    const ops: KernelOp[] = []
    for (const e of entries) ops.push({ kind: 'fdb.add', dev: VXLAN, mac: e.mac, dst: e.dst })
    for (const e of entries) ops.push({ kind: 'neigh.set', dev: VXLAN, ip: e.ip, mac: e.mac })

    const cpu0 = process.cpuUsage()
    const t1 = performance.now()
    const result = await dataplane.applyOps(ops)
    const applyMs = performance.now() - t1
    const cpu = process.cpuUsage(cpu0)
    const out: ChildResult = { setupMs, applyMs, cpuMs: (cpu.user + cpu.system) / 1000, reportedMs: result.durationMs, applied: result.applied, failed: result.failed.length }
    if (result.failed[0] !== undefined) out.firstFailure = result.failed[0].error
    process.stdout.write(JSON.stringify(out) + '\n')
  } finally {
    await dataplane.stop()
  }
}

// ---- the parent ---------------------------------------------------------------------------

interface Verify { fdb: number, neigh: number, ok: boolean, problems: string[] }

/** Dumps the host's FDB and neighbour table for mpvx42 and compares them with the entries. */
async function verify (cluster: Cluster, host: Host, entries: readonly Entry[]): Promise<Verify> {
  const problems: string[] = []
  const fdbOut = await cluster.exec(host, ['bridge', '-j', 'fdb', 'show', 'dev', VXLAN], { check: true, timeoutMs: 60_000 })
  const fdbRows = JSON.parse(fdbOut.stdout) as Array<{ mac: string, dst?: string, flags?: string[], state?: string }>
  const fdb = new Set(fdbRows
    .filter(r => r.dst !== undefined && (r.flags ?? []).includes('self') && r.state === 'permanent')
    .map(r => `${r.mac} ${r.dst}`))
  const neighOut = await cluster.exec(host, ['ip', '-j', 'neigh', 'show', 'dev', VXLAN], { check: true, timeoutMs: 60_000 })
  const neighRows = JSON.parse(neighOut.stdout) as Array<{ dst: string, lladdr?: string, state?: string[] }>
  const neigh = new Set(neighRows.filter(r => (r.state ?? []).includes('PERMANENT')).map(r => `${r.dst} ${r.lladdr ?? ''}`))
  let missingFdb = 0
  let missingNeigh = 0
  for (const e of entries) {
    if (!fdb.has(`${e.mac} ${e.dst}`)) missingFdb++
    if (!neigh.has(`${e.ip} ${e.mac}`)) missingNeigh++
  }
  if (missingFdb > 0) problems.push(`${missingFdb} FDB entries missing`)
  if (missingNeigh > 0) problems.push(`${missingNeigh} neighbour entries missing`)
  if (fdb.size !== entries.length) problems.push(`${fdb.size} self permanent FDB entries with a dst, expected ${entries.length}`)
  if (neigh.size !== entries.length) problems.push(`${neigh.size} permanent neighbours, expected ${entries.length}`)
  return { fdb: fdb.size, neigh: neigh.size, ok: problems.length === 0, problems }
}

interface VxlanDetails { vni: number, local: string, port: number, learning: boolean, proxy: boolean, mtu: number, master: string, up: boolean }

async function vxlanDetails (cluster: Cluster, host: Host): Promise<VxlanDetails> {
  const r = await cluster.exec(host, ['ip', '-d', '-j', 'link', 'show', 'dev', VXLAN], { check: true })
  const [link] = JSON.parse(r.stdout) as Array<{ mtu: number, master?: string, flags: string[], linkinfo: { info_data: Record<string, unknown> } }>
  const d = link!.linkinfo.info_data
  return {
    vni: Number(d.id),
    local: String(d.local),
    port: Number(d.port),
    learning: d.learning === true,
    proxy: d.proxy === true,
    mtu: link!.mtu,
    master: link!.master ?? '',
    up: link!.flags.includes('UP')
  }
}

interface Rep {
  meshplaneMs: number
  iprouteMs: number
  meshplaneCpuMs: number
  iprouteCpuMs: number
  iprouteStartMs: number
  meshplaneSetupMs: number
  verifyMeshplane: Verify
  verifyIproute: Verify
  order: string
}

async function runRep (rep: number, opts: { n: number, vteps: number, maxInFlight?: number }): Promise<Rep> {
  let cluster: Cluster | undefined
  try {
    cluster = await createCluster({ hosts: 2, prefix: 'bprog' })
    const c = cluster
    const [mp, ipr] = c.hosts as [Host, Host]
    const underlayBase = mp.ip.split('.').slice(0, 3).join('.')
    const entries = makeEntries(opts.n, opts.vteps, underlayBase)

    // iproute2 side: the same device, then the batch files.
    await c.exec(ipr, ['ip', '-batch', '-'], {
      check: true,
      input: [
        `link add ${BRIDGE} mtu ${MTU} type bridge`,
        `link set ${BRIDGE} up`,
        `link add ${VXLAN} mtu ${MTU} type vxlan id ${VNI} local ${ipr.ip} dstport ${PORT} nolearning proxy`,
        `link set ${VXLAN} master ${BRIDGE} up`
      ].join('\n') + '\n'
    })
    const fdbFile = `${c.dir}/fdb.batch`
    const neighFile = `${c.dir}/neigh.batch`
    writeFileSync(fdbFile, entries.map(e => `fdb add ${e.mac} dev ${VXLAN} dst ${e.dst} self permanent\n`).join(''))
    writeFileSync(neighFile, entries.map(e => `neigh add ${e.ip} lladdr ${e.mac} dev ${VXLAN} nud permanent\n`).join(''))
    const emptyFile = `${c.dir}/empty.batch`
    writeFileSync(emptyFile, '')

    const runMeshplane = async (): Promise<ChildResult> => {
      const config: ChildConfig = { n: opts.n, vteps: opts.vteps, underlayBase, underlayIp: mp.ip, ...(opts.maxInFlight === undefined ? {} : { maxInFlight: opts.maxInFlight }) }
      const r = await c.exec(mp, [NODE, SELF, CHILD_FLAG, JSON.stringify(config)], { nsenter: true, timeoutMs: 300_000 })
      if (r.code !== 0) throw new Error(`meshplane child failed (${r.code}): ${r.stderr.trim().slice(-2000)}`)
      const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildResult
      if (res.failed > 0) throw new Error(`meshplane: ${res.failed} ops failed, first: ${res.firstFailure ?? '?'}`)
      return res
    }
    // bash runs the two tools and reports their CPU time (`times`, second line: children's user and system).
    const batches = async (fdb: string, neigh: string): Promise<{ ms: number, cpuMs: number }> => {
      const t = performance.now()
      const r = await c.exec(ipr, ['bash', '-c', 'bridge -batch "$1" && ip -batch "$2" && times', 'batches', fdb, neigh], { check: true, timeoutMs: 300_000 })
      const ms = performance.now() - t
      const m = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/.exec(r.stdout.trim().split('\n').pop()?.trim() ?? '')
      if (m === null) throw new Error(`cannot read the CPU times of bridge/ip from ${JSON.stringify(r.stdout)}`)
      return { ms, cpuMs: (Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])) * 1000 }
    }
    const runIproute = async (): Promise<{ ms: number, cpuMs: number, startMs: number }> => {
      // The same with nothing to do: what process start (bash, bridge, ip) costs, for reference.
      const empty = await batches(emptyFile, emptyFile)
      const full = await batches(fdbFile, neighFile)
      return { ms: full.ms, cpuMs: full.cpuMs, startMs: empty.ms }
    }

    const meshplaneFirst = rep % 2 === 0
    let m: ChildResult
    let i: { ms: number, cpuMs: number, startMs: number }
    if (meshplaneFirst) {
      m = await runMeshplane()
      i = await runIproute()
    } else {
      i = await runIproute()
      m = await runMeshplane()
    }

    const [dm, di] = [await vxlanDetails(c, mp), await vxlanDetails(c, ipr)]
    const same = JSON.stringify({ ...dm, local: '' }) === JSON.stringify({ ...di, local: '' })
    if (!same) throw new Error(`the two VXLAN devices differ: meshplane ${JSON.stringify(dm)} iproute2 ${JSON.stringify(di)}`)
    const verifyMeshplane = await verify(c, mp, entries)
    const verifyIproute = await verify(c, ipr, entries)
    log(`rep ${rep + 1}: meshplane ${fmt(m.applyMs)} ms, iproute2 ${fmt(i.ms)} ms (${meshplaneFirst ? 'meshplane first' : 'iproute2 first'}); ` +
      `kernels hold ${verifyMeshplane.fdb}/${verifyMeshplane.neigh} and ${verifyIproute.fdb}/${verifyIproute.neigh} FDB/neighbour entries`)
    return {
      meshplaneMs: m.applyMs,
      iprouteMs: i.ms,
      meshplaneCpuMs: m.cpuMs,
      iprouteCpuMs: i.cpuMs,
      iprouteStartMs: i.startMs,
      meshplaneSetupMs: m.setupMs,
      verifyMeshplane,
      verifyIproute,
      order: meshplaneFirst ? 'meshplane, iproute2' : 'iproute2, meshplane'
    }
  } finally {
    await cluster?.destroy()
  }
}

async function main (): Promise<void> {
  if (process.argv[2] === CHILD_FLAG) {
    await child(JSON.parse(process.argv[3] ?? '{}') as ChildConfig)
    return
  }
  const { values } = flags({ entries: { type: 'string' }, vteps: { type: 'string' }, reps: { type: 'string' }, 'max-in-flight': { type: 'string' } }, USAGE, { allowPositionals: false })
  requireRoot()
  const n = intFlag(values.entries, 10_000, 'entries', 1, 62_500)
  const vteps = intFlag(values.vteps, 100, 'vteps', 1, 150)
  const reps = intFlag(values.reps, 3, 'reps', 1, 50)
  const maxInFlight = values['max-in-flight'] === undefined ? undefined : intFlag(values['max-in-flight'], 128, 'max-in-flight', 1, 100_000)
  const loadBefore = loadNote()

  const results: Rep[] = []
  for (let rep = 0; rep < reps; rep++) {
    log(`rep ${rep + 1}/${reps}: two fresh namespace hosts, ${n} endpoints over ${vteps} VTEPs`)
    results.push(await runRep(rep, { n, vteps, ...(maxInFlight === undefined ? {} : { maxInFlight }) }))
  }

  const rate = (ms: number): number => n / (ms / 1000)
  const mRates = results.map(r => rate(r.meshplaneMs))
  const iRates = results.map(r => rate(r.iprouteMs))
  const ratios = results.map(r => r.iprouteMs / r.meshplaneMs)
  const medM = median(mRates)
  const medI = median(iRates)
  const ratio = medM / medI
  const mCpu = median(results.map(r => r.meshplaneCpuMs))
  const iCpu = median(results.map(r => r.iprouteCpuMs))
  const cpuRatio = iCpu / mCpu
  const allOk = results.every(r => r.verifyMeshplane.ok && r.verifyIproute.ok)
  const goal = (x: number): string => x >= 0.8 ? 'met' : `MISSED (${fmt(x, 2)} < 0.80; meshplane would need to be ${fmt(0.8 / x, 1)}× faster)`

  const out: string[] = []
  out.push(`\nKernel programming rate: ${n} remote endpoints (1 permanent neighbour + 1 self permanent FDB entry each) on one VXLAN device, ${vteps} remote VTEPs`)
  out.push(`date: ${new Date().toISOString()}`)
  out.push(`machine: ${machine()}; ${loadBefore} at start, ${loadavg()[0]!.toFixed(2)} at end`)
  out.push(`command: ${commandLine('program-rate.js')}`)
  out.push(`meshplane: dataplane.applyOps(${2 * n} ops) in a node process inside the host namespace, window ${maxInFlight ?? 'default (128)'}; iproute2: bridge -batch (${n} fdb add) + ip -batch (${n} neigh add), spawn to exit`)
  out.push('rate = endpoints per second (each endpoint is 2 kernel entries); CPU = user + system time of the programming process(es), kernel work included (netlink requests are handled in sendmsg)\n')
  out.push(table(
    ['rep', 'order', 'meshplane ms', 'meshplane endpoints/s', 'meshplane CPU ms', 'iproute2 ms', 'iproute2 endpoints/s', 'iproute2 CPU ms', 'ratio mp/ip', 'iproute2 empty-batch ms', 'kernel holds, mp (fdb/neigh)', 'kernel holds, ip (fdb/neigh)'],
    results.map((r, k) => [
      k + 1, r.order, fmt(r.meshplaneMs), fmt(mRates[k]!), fmt(r.meshplaneCpuMs), fmt(r.iprouteMs), fmt(iRates[k]!), fmt(r.iprouteCpuMs), fmt(ratios[k]!, 2), fmt(r.iprouteStartMs, 1),
      `${r.verifyMeshplane.fdb}/${r.verifyMeshplane.neigh}${r.verifyMeshplane.ok ? ' ok' : ' BAD: ' + r.verifyMeshplane.problems.join(', ')}`,
      `${r.verifyIproute.fdb}/${r.verifyIproute.neigh}${r.verifyIproute.ok ? ' ok' : ' BAD: ' + r.verifyIproute.problems.join(', ')}`
    ])))
  out.push(table(
    [`median of ${reps}`, 'meshplane', 'iproute2', 'ratio meshplane/iproute2', 'goal ≥ 0.80'],
    [
      ['endpoints/s (wall clock)', fmt(medM), fmt(medI), fmt(ratio, 2), goal(ratio)],
      ['endpoints per CPU-second', fmt(n / (mCpu / 1000)), fmt(n / (iCpu / 1000)), fmt(cpuRatio, 2), '(load-independent companion)']
    ]))
  out.push(`(median of the per-rep ratios: ${fmt(median(ratios), 2)}; kernel entries/s are twice the endpoint rates: meshplane ${fmt(2 * medM)}, iproute2 ${fmt(2 * medI)}; meshplane's device setup, not timed, took ${fmt(median(results.map(r => r.meshplaneSetupMs)), 1)} ms)`)
  out.push(`kernel check: ${allOk ? `every run left exactly ${n} FDB + ${n} neighbour entries (with the expected MAC, IP and VTEP) on both hosts` : 'FAILED (see table)'}`)
  out.push(`reproduce: ${commandLine('program-rate.js')}`)
  process.stdout.write(out.join('\n') + '\n')
  if (!allOk) process.exitCode = 1
}

runMain('program-rate', main)

