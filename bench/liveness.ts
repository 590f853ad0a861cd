/**
 * Liveness: (a) how long until every other host marks a kill -9'd agent (or, with
 * `--fault cut`, a host whose underlay link went down) unreachable,
 * (b) what an idle cluster costs per host (CPU, RSS, probes, liveness news, bytes on the
 * wire, false alarms), and what liveness costs at 1,000 hosts, from (b).
 *
 *   npx tsc -b && node_modules/.bin/node dist/bench/liveness.js                # 10-host detection, 30-host idle 60 s
 *   node_modules/.bin/node dist/bench/liveness.js --skip-detect --idle-hosts 10,30 --idle-seconds 300
 *
 * Detection latency of one kill = max over observers of (stateSinceMs of the victim's
 * 'unreachable' state on that observer − wall-clock time of the kill). All agents run on
 * this machine, so they share its clock.
 */
import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Probe, ProbeAck } from '@meshplane/proto'
import { DEFAULT_PROBE_INTERVAL_MS, DEFAULT_DEAD_AFTER_MS } from '@meshplane/agent/liveness/index.js'
import { createCluster, type Cluster } from '../test/utils/netns.js'
import type { TestAgent } from '../test/utils/agents.js'
import {
  agentArgs, commandLine, flags, fmt, idleWindow, intFlag, intList, loadNote, log, machine, max, median, pct, requireRoot, runMain, sleepMs,
  startAgentsBatched, table, waitAllAlive, type IdleWindow, type PeerRow
} from './lib.js'

const USAGE = `usage: node dist/bench/liveness.js [options]
  --detect-hosts N          hosts for the detection runs (default 10)
  --kills K                 kill -9 / restart cycles (default 5)
  --fault kill|cut          kill: SIGKILL the victim's agent (its kernel still answers: a
                            refused dial); cut: take its underlay link down (nothing
                            answers), up again between rounds (default kill)
  --victim I                host index killed (default: the last; host 0 is the seed)
  --idle-hosts LIST         cluster sizes for the idle measurement (default 30)
  --idle-seconds S          idle window (default 60; use 300 for the false-alarm check)
  --settle-seconds S        wait after all are alive before the idle window (default 15)
  --probe-interval-ms MS / --dead-after-ms MS   passed to every agent (defaults 500 / 2500)
  --idle-probe-ms LIST      idle runs at each of these probe intervals (dead-after = 5 x interval),
                            to separate the per-probe cost from the fixed cost at one N (e.g. 500,5000)
  --concurrency C           agents started at once (default 6)
  --log-level LEVEL         agent log level (default info)
  --skip-detect / --skip-idle
`


interface Opts {
  args: string[]
  intervalMs: number
  deadAfterMs: number
  concurrency: number
}

async function bootCluster (n: number, prefix: string, opts: Opts): Promise<{ cluster: Cluster, agents: TestAgent[], startMs: number }> {
  const t0 = Date.now()
  const cluster = await createCluster({ hosts: n, prefix })
  try {
    const { agents } = await startAgentsBatched(cluster, opts.args, opts.concurrency)
    await waitAllAlive(agents, 240_000)
    return { cluster, agents, startMs: Date.now() - t0 }
  } catch (err) {
    await cluster.destroy()
    throw err
  }
}

// ---- (a) detection -----------------------------------------------------------------------

interface Kill { killAtMs: number, perObserver: number[], seenAfterMs: number }

async function detection (n: number, kills: number, victimIndex: number, opts: Opts, fault: 'kill' | 'cut'): Promise<{ n: number, victim: number, kills: Kill[], startMs: number }> {
  log(`detection: ${n} hosts`)
  const { cluster, agents, startMs } = await bootCluster(n, 'blive', opts)
  try {
    log(`detection: all ${n} alive after ${startMs} ms`)
    await sleepMs(3000)
    const victim = agents[victimIndex]!
    const observers = agents.filter(a => a !== victim)
    const results: Kill[] = []
    for (let k = 0; k < kills; k++) {
      // A random phase against the victim's beat timer.
      await sleepMs(1000 + Math.floor(Math.random() * opts.intervalMs))
      const killAtMs = Date.now()
      if (fault === 'kill') {
        victim.proc!.kill('SIGKILL')
        await victim.proc!.exited
      } else {
        await cluster.exec(cluster.underlay, ['ip', 'link', 'set', victim.host.port, 'down'], { check: true })
      }
      const since = new Map<TestAgent, number>()
      const deadline = Date.now() + 60_000
      while (since.size < observers.length) {
        if (Date.now() > deadline) throw new Error(`kill ${k + 1}: only ${since.size}/${observers.length} observers saw the victim unreachable within 60 s`)
        await Promise.all(observers.filter(o => !since.has(o)).map(async o => {
          const row = (await o.api.call<PeerRow[]>('GET', '/v1/peers')).find(p => p.id === victim.peerId)
          if (row?.state === 'unreachable' && row.stateSinceMs !== null && row.stateSinceMs >= killAtMs) since.set(o, row.stateSinceMs)
        }))
        if (since.size < observers.length) await sleepMs(100)
      }
      const seenAfterMs = Date.now() - killAtMs
      const perObserver = [...since.values()].map(t => t - killAtMs)
      results.push({ killAtMs, perObserver, seenAfterMs })
      log(`detection: kill ${k + 1}/${kills}: all ${observers.length} observers marked it unreachable, slowest after ${max(perObserver)} ms`)
      // Restart it with the same data dir (same identity), or give its link back, and wait
      // until everyone sees it again.
      if (fault === 'kill') await victim.start()
      else await cluster.exec(cluster.underlay, ['ip', 'link', 'set', victim.host.port, 'up'], { check: true })
      await waitAllAlive(agents, 120_000)
    }
    return { n, victim: victimIndex, kills: results, startMs }
  } finally {
    await cluster.destroy()
  }
}

// ---- (b) idle cost -----------------------------------------------------------------------

/** An idle window at one size and probe interval; `falseAlarms` are by /v1/peers. */
interface IdleResult extends IdleWindow {
  n: number
  intervalMs: number
  deadAfterMs: number
  startMs: number
  alarmsByLog: number
}

interface StateChange { time: number, peer: string, from?: string, to: string }

/** 'peer state changed' lines logged between t0 and t1. */
function stateChangesInLog (a: TestAgent, t0: number, t1: number): StateChange[] {
  const out: StateChange[] = []
  for (const line of readFileSync(a.log, 'utf8').split('\n')) {
    if (!line.includes('peer state changed')) continue
    try {
      const e = JSON.parse(line) as StateChange
      if (e.time >= t0 && e.time <= t1) out.push(e)
    } catch { /* not JSON */ }
  }
  return out
}

/** State changes to a non-alive state in the window. */
function alarmsInLog (a: TestAgent, t0: number, t1: number): number {
  return stateChangesInLog(a, t0, t1).filter(e => e.to !== 'alive').length
}

async function idle (n: number, windowS: number, settleS: number, opts: Opts): Promise<IdleResult> {
  log(`idle: ${n} hosts`)
  const { cluster, agents, startMs } = await bootCluster(n, 'bidle', opts)
  try {
    log(`idle: all ${n} alive after ${startMs} ms; settling ${settleS} s`)
    await sleepMs(settleS * 1000)
    log(`idle: window of ${windowS} s starts`)
    const w = await idleWindow(agents, windowS)
    const { t0, t1 } = w
    const alarmsByLog = agents.reduce((c, a) => c + alarmsInLog(a, t0, t1), 0)
    log(`idle: window over; false alarms: ${w.falseAlarms} (peer views), ${alarmsByLog} (logs)`)
    // Every state change in the window, to alive included (a first sight, a return), so
    // that an alarm can be told apart from a host learnt late.
    for (const [i, a] of agents.entries()) {
      for (const e of stateChangesInLog(a, t0, t1)) log(`idle: host ${i} saw ${e.peer} ${e.from ?? '(unknown)'} → ${e.to} at +${((e.time - t0) / 1000).toFixed(1)} s`)
    }
    return { ...w, n, intervalMs: opts.intervalMs, deadAfterMs: opts.deadAfterMs, startMs, alarmsByLog }
  } finally {
    await cluster.destroy()
  }
}

// ---- probe size --------------------------------------------------------------------------

/** Bytes of one probe exchange: the Probe and the ProbeAck frames, plus the per-frame
 * overheads of the stack (length prefix, yamux, noise, TCP/IP, Ethernet; pnet adds none).
 * Exchanges travel on the prober's long-lived probe stream to that peer (one per pair,
 * opened once); what they cost on the wire is counted by the bench, not here. */
async function probeSize (): Promise<{ probe: number, ack: number, frame: number }> {
  const key = await generateKeyPair('Ed25519')
  const probe = Probe.encode({ incarnation: BigInt(Date.now()), seq: 3n, suspect: false, relayTo: '' }).byteLength
  const relayed = Probe.encode({ incarnation: BigInt(Date.now()), seq: 3n, suspect: true, relayTo: peerIdFromPrivateKey(key).toString() }).byteLength
  const ack = ProbeAck.encode({ ok: true, incarnation: BigInt(Date.now()), seq: 3n }).byteLength
  const frame = 1 + 12 + 18 + 20 + 32 + 14
  return { probe: Math.max(probe, relayed), ack, frame }
}

/** The agents alone used > 75 % of the machine: the run measures contention, not the agent. */
function saturated (r: IdleResult): boolean {
  return r.cpuPct.reduce((a, b) => a + b, 0) > 75 * cpus().length
}

/** Least squares y = a + b·x (b = y/x through the origin when there is one point). */
function fit (xs: number[], ys: number[]): { a: number, b: number } {
  if (xs.length < 2) return { a: 0, b: ys[0]! / xs[0]! }
  const mx = xs.reduce((p, c) => p + c, 0) / xs.length
  const my = ys.reduce((p, c) => p + c, 0) / ys.length
  let sxy = 0; let sxx = 0
  xs.forEach((x, i) => { sxy += (x - mx) * (ys[i]! - my); sxx += (x - mx) ** 2 })
  const b = sxx === 0 ? my / mx : sxy / sxx
  return { a: my - b * mx, b }
}

// ---- main --------------------------------------------------------------------------------

async function main (): Promise<void> {
  const { values } = flags({
    'detect-hosts': { type: 'string' },
    kills: { type: 'string' },
    fault: { type: 'string' },
    victim: { type: 'string' },
    'idle-hosts': { type: 'string' },
    'idle-seconds': { type: 'string' },
    'settle-seconds': { type: 'string' },
    'probe-interval-ms': { type: 'string' },
    'dead-after-ms': { type: 'string' },
    'idle-probe-ms': { type: 'string' },
    concurrency: { type: 'string' },
    'log-level': { type: 'string' },
    'skip-detect': { type: 'boolean' },
    'skip-idle': { type: 'boolean' }
  }, USAGE)
  requireRoot()
  const detectHosts = intFlag(values['detect-hosts'], 10, 'detect-hosts')
  const kills = intFlag(values.kills, 5, 'kills')
  const victim = intFlag(values.victim, detectHosts - 1, 'victim')
  if (detectHosts < 2 || victim >= detectHosts) throw new Error('--detect-hosts must be ≥ 2 and --victim one of its hosts')
  const idleHosts = intList(values['idle-hosts'] as string | undefined, [30], 'idle-hosts')
  const idleSeconds = intFlag(values['idle-seconds'], 60, 'idle-seconds')
  const settleSeconds = intFlag(values['settle-seconds'], 15, 'settle-seconds')
  const intervalMs = intFlag(values['probe-interval-ms'], DEFAULT_PROBE_INTERVAL_MS, 'probe-interval-ms')
  const deadAfterMs = intFlag(values['dead-after-ms'], DEFAULT_DEAD_AFTER_MS, 'dead-after-ms')
  const args = agentArgs(values)
  if (values['probe-interval-ms'] !== undefined) args.push('--probe-interval-ms', String(intervalMs))
  if (values['dead-after-ms'] !== undefined) args.push('--dead-after-ms', String(deadAfterMs))
  const opts: Opts = { args, intervalMs, deadAfterMs, concurrency: Math.max(1, intFlag(values.concurrency, 6, 'concurrency')) }

  const loadBefore = loadNote()
  const fault = values.fault === undefined ? 'kill' : String(values.fault)
  if (fault !== 'kill' && fault !== 'cut') throw new Error(`--fault must be kill or cut, got ${fault}`)
  const det = values['skip-detect'] === true || kills === 0 ? undefined : await detection(detectHosts, kills, victim, opts, fault)
  const idles: IdleResult[] = []
  const idleIntervals = values['idle-probe-ms'] === undefined ? [] : intList(values['idle-probe-ms'] as string, [], 'idle-probe-ms')
  if (values['skip-idle'] !== true) {
    for (const n of idleHosts) {
      if (idleIntervals.length === 0) idles.push(await idle(n, idleSeconds, settleSeconds, opts))
      for (const iv of idleIntervals) {
        const runArgs = [...args.filter((_, i, a) => !/^--(probe-interval|dead-after)-ms$/.test(a[i] ?? '') && !/^--(probe-interval|dead-after)-ms$/.test(a[i - 1] ?? '')),
          '--probe-interval-ms', String(iv), '--dead-after-ms', String(5 * iv)]
        idles.push(await idle(n, idleSeconds, settleSeconds, { ...opts, args: runArgs, intervalMs: iv, deadAfterMs: 5 * iv }))
      }
    }
  }
  const ps = await probeSize()

  const out: string[] = []
  out.push(`\nLiveness (meshplane agent core), ${new Date().toISOString()}`)
  out.push(`machine: ${machine()}; ${loadBefore} at start, ${loadNote()} at end`)
  out.push(`command: ${commandLine('liveness.js')}`)
  out.push(`agent args: ${args.join(' ')} (one probe every ${intervalMs} ms, an unrefuted suspicion is unreachable after ${deadAfterMs - 2 * intervalMs} ms, dead-after ${deadAfterMs} ms)\n`)

  if (det !== undefined) {
    const worst = det.kills.map(k => max(k.perObserver))
    const all = det.kills.flatMap(k => k.perObserver)
    out.push(fault === 'kill'
      ? `(a) Failure detection: ${det.n} hosts, host ${det.victim} killed with SIGKILL ${det.kills.length} times (restarted in between)`
      : `(a) Failure detection: ${det.n} hosts, host ${det.victim}'s underlay link taken down ${det.kills.length} times (up again in between)`)
    out.push('detection = max over the other hosts of (stateSinceMs of its "unreachable" − kill time)\n')
    out.push(table(['kill', 'slowest observer ms', 'fastest observer ms', 'median observer ms'],
      det.kills.map((k, i) => [i + 1, max(k.perObserver), Math.min(...k.perObserver), median(k.perObserver)])))
    out.push(table(['kills', 'p50 ms', 'max ms', 'all observers p50 ms', 'all observers max ms', 'goal'],
      [[det.kills.length, pct(worst, 50), max(worst), pct(all, 50), max(all), `≤ 3000 ms: ${max(worst) <= 3000 ? 'met' : 'MISSED'}`]]))
    if (fault === 'cut') out.push(`(expected from the settings: nothing answers; the first failed probe comes within about one interval (${intervalMs} ms), then the indirect probes (${intervalMs} ms) and the suspicion (${deadAfterMs - 2 * intervalMs} ms): ≈ dead-after (${deadAfterMs} ms) + up to one interval)\n`)
    else out.push(`(expected from the settings: the killed agent's sockets close, its neighbours probe it at once and fail (connection refused), publish a suspicion, and everyone marks it unreachable a suspicion time later: ≈ ${deadAfterMs - 2 * intervalMs} ms + probe + gossip + one 100 ms check)\n`)
  }

  for (const r of idles) {
    const others = (v: number[]): number[] => v.slice(1)
    out.push(`(b) Idle cost: ${r.n} hosts, probe ${r.intervalMs} ms / dead-after ${r.deadAfterMs} ms, ${fmt(r.seconds, 0)} s window after ${settleSeconds} s of settling (cluster start took ${fmt(r.startMs / 1000, 1)} s)`)
    out.push(`per host; "others" = hosts 1..${r.n - 1}; host 0 is the seed every host joined through (${r.connections[0]} connections, the others median ${median(others(r.connections))})\n`)
    out.push(table(['metric', 'others median', 'others max', 'host 0 (seed)'], [
      ['CPU, % of one core', fmt(median(others(r.cpuPct)), 2), fmt(max(others(r.cpuPct)), 2), fmt(r.cpuPct[0]!, 2)],
      ['RSS peak, MiB', fmt(median(others(r.rssPeakMiB))), fmt(max(others(r.rssPeakMiB))), fmt(r.rssPeakMiB[0]!)],
      [`probes sent /s, direct + indirect (expected ${fmt(1000 / r.intervalMs, 1)})`, fmt(median(others(r.probesOutPerS)), 2), fmt(max(others(r.probesOutPerS)), 2), fmt(r.probesOutPerS[0]!, 2)],
      ['probes answered /s', fmt(median(others(r.probesInPerS)), 2), fmt(max(others(r.probesInPerS)), 2), fmt(r.probesInPerS[0]!, 2)],
      ['liveness news in /s (gossip)', fmt(median(others(r.newsInPerS)), 3), fmt(max(others(r.newsInPerS)), 3), fmt(r.newsInPerS[0]!, 3)],
      ['liveness news out /s', fmt(median(others(r.newsOutPerS)), 3), fmt(max(others(r.newsOutPerS)), 3), fmt(r.newsOutPerS[0]!, 3)],
      ['underlay rx, KiB/s', fmt(median(others(r.rxBps)) / 1024, 1), fmt(max(others(r.rxBps)) / 1024, 1), fmt(r.rxBps[0]! / 1024, 1)],
      ['underlay tx, KiB/s', fmt(median(others(r.txBps)) / 1024, 1), fmt(max(others(r.txBps)) / 1024, 1), fmt(r.txBps[0]! / 1024, 1)],
      ['underlay rx, packets/s', fmt(median(others(r.rxPps))), fmt(max(others(r.rxPps))), fmt(r.rxPps[0]!)],
      ['underlay tx, packets/s', fmt(median(others(r.txPps))), fmt(max(others(r.txPps))), fmt(r.txPps[0]!)]
    ]))
    out.push(`CPU summed over all ${r.n} agents: ${fmt(r.cpuPct.reduce((a, b) => a + b, 0), 0)} % of one core (this machine has ${cpus().length} cores)${saturated(r) ? ' -- SATURATED: the agents alone use most of the machine, not used for the per-probe figures' : ''}`)
    out.push(`false alarms in the window (a peer seen non-alive or changing state): ${r.falseAlarms} by /v1/peers, ${r.alarmsByLog} by agent logs; suspicions raised ${r.suspicions}, refuted ${r.refutations} (a refuted suspicion is not an alarm)\n`)
  }

  // ---- what liveness costs at 1,000 hosts ----
  out.push(`Probe size: Probe ${ps.probe} B (with relay_to, the largest), ProbeAck ${ps.ack} B, each in a frame with ~${ps.frame} B of length prefix, yamux, noise and TCP/IP/Ethernet headers; probes travel on one long-lived stream per (prober, peer), opened once, not a stream per probe.\n`)
  const usable = idles.filter(r => !saturated(r))
  if (usable.length > 0) {
    // Per-probe cost: the fit of per-host CPU and bytes against probe exchanges per second
    // (sent + answered) over the runs (several --idle-probe-ms at one N separate it from the fixed part).
    const xs = usable.map(r => median(r.probesOutPerS.slice(1)) + median(r.probesInPerS.slice(1)))
    const rx = fit(xs, usable.map(r => median(r.rxBps.slice(1))))
    const tx = fit(xs, usable.map(r => median(r.txBps.slice(1))))
    const cpu = fit(xs, usable.map(r => median(r.cpuPct.slice(1))))
    const fixedSeparated = new Set(xs.map(x => x.toFixed(1))).size > 1
    out.push(fixedSeparated
      ? `Per probe exchange (sent or answered) a host spends rx ${fmt(rx.b)} B, tx ${fmt(tx.b)} B, CPU ${fmt(cpu.b * 10, 3)} ms (slope over ${usable.length} runs); fixed part: rx ${fmt(rx.a / 1024, 2)} KiB/s, CPU ${fmt(cpu.a, 2)} % of a core.` +
        (rx.b < 0 || tx.b < 0 || cpu.b < 0 ? ' A negative slope means the per-probe cost is below the noise between the runs: read the fixed part as the whole cost.' : '')
      : `Per probe exchange, everything counted as probe cost (an upper bound; run --idle-probe-ms 500,5000 to separate the fixed part): rx ${fmt(rx.b)} B, tx ${fmt(tx.b)} B, CPU ${fmt(cpu.b * 10, 3)} ms.`)
    const rows: Array<Array<string | number>> = []
    for (const [iv, dead] of [[500, 2500], [1000, 5000]] as Array<[number, number]>) {
      const ex = 2 * 1000 / iv
      rows.push([`${iv} / ${dead}`, fmt(ex, 1), fmt((rx.a + rx.b * ex) / 1024, 2), fmt((tx.a + tx.b * ex) / 1024, 2), fmt(cpu.a + cpu.b * ex, 2), `≈ ${fmt((dead - 2 * iv) / 1000, 1)} s (kill -9), ≈ ${fmt(dead / 1000, 1)}–${fmt((dead + iv) / 1000, 1)} s (silent host)`])
    }
    out.push('At 1,000 hosts, per host: the probe load does not depend on N (one probe out per interval, on average one in; no periodic gossip), so the per-host cost is the same as measured here:\n')
    out.push(table(['probe / dead-after ms', 'probe exchanges /s', 'rx KiB/s', 'tx KiB/s', 'CPU % of a core', 'detection'], rows))
    // False suspicions at the configured (default) interval only: a stress run at a short
    // interval on a busy machine suspects far more often and says nothing about the default.
    const atDefault = usable.filter(r => r.intervalMs === intervalMs)
    const suspRate = atDefault.length === 0 ? NaN : atDefault.reduce((c, r) => c + r.suspicions / r.seconds / r.n, 0) / atDefault.length
    out.push(`What does grow with N is news: every suspicion (and its refutation) and every death or leave reaches every host once. Measured false-suspicion rate at ${intervalMs} ms: ${fmt(suspRate, 5)} per host per s; at 1,000 hosts each host would receive ≈ ${fmt(suspRate * 1000 * 2, 2)} news/s from false suspicions (suspicion + refutation), plus 1–2 per real failure or restart anywhere in the cluster.`)
  }
  process.stdout.write(out.join('\n') + '\n')
}

runMain('liveness', main)
