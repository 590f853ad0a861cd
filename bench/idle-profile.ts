/**
 * Where an idle agent spends its CPU: N agents in namespaces (every host joins through
 * host 0), one of them (default: host N/2, an ordinary host) runs under `node --cpu-prof`
 * (passed through NODE_OPTIONS). After all are alive and a settle time, the profiled
 * agent is stopped with SIGTERM (the profile is written on exit) and the samples taken in
 * the idle window only (after the settle time, before the stop) are summed:
 *   - self time by package (the file's node_modules package, our own code, or a V8 tag
 *     such as (garbage collector));
 *   - inclusive time by activity, from the call stack (signature verification, gossipsub
 *     heartbeat, netlink dumps, liveness, pino, yamux/noise framing, ...).
 *
 *   npx tsc -b && node_modules/.bin/node dist/bench/idle-profile.js [--hosts 10] [--seconds 60]
 */
import { copyFileSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createCluster } from '../test/utils/netns.js'
import {
  agentArgs, agentPid, commandLine, cpuSeconds, flags, fmt, intFlag, loadNote, log, machine, requireRoot, runMain, sleepMs, startAgentsBatched, table,
  waitAllAlive
} from './lib.js'

const USAGE = `usage: node dist/bench/idle-profile.js [options]
  --hosts N            cluster size (default 10)
  --profiled I         index of the profiled host (default N/2; 0 is the seed)
  --settle-seconds S   after all are alive, before the window (default 15)
  --seconds S          idle window (default 60)
  --top K              rows of the self-time table (default 25)
  --agent-arg ARG      extra agent flag, repeatable
  --write-records K    during the window, the last host writes K network records, one
                       every 150 ms (profiles the per-record cost instead of idling)
  --save PATH          keep the .cpuprofile there (open it in Chrome DevTools)
`

interface CallFrame { functionName: string, url: string, lineNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame, children?: number[] }
interface CpuProfile { nodes: ProfileNode[], startTime: number, endTime: number, samples: number[], timeDeltas: number[] }

/** The package a frame belongs to: "@scope/name" or "name" under node_modules, "meshplane"
 * for our dist, "node:<module>" for Node's own JavaScript, else the V8 tag. */
function packageOf (f: CallFrame): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f.url)
  if (m !== null) return m[1]!
  if (f.url.includes('/dist/src/')) return 'meshplane:' + (/\/dist\/src\/([^/]+)/.exec(f.url)?.[1] ?? '?')
  if (f.url.startsWith('node:')) return f.url
  if (f.url === '') return f.functionName === '' ? '(anonymous native)' : f.functionName
  return f.url
}

/** Activities recognised from a stack (innermost first); the first rule that matches wins. */
const ACTIVITIES: Array<[string, (f: CallFrame) => boolean]> = [
  ['ed25519 verify (gossipsub StrictSign, records)', f => /verify/i.test(f.functionName) && /noble|crypto|ed25519/.test(f.url)],
  ['ed25519 sign (own publishes)', f => /sign/i.test(f.functionName) && /noble|crypto|ed25519/.test(f.url)],
  ['netlink (dataplane resync dumps)', f => f.url.includes('/netlink/') || f.url.includes('/dist/src/dataplane/')],
  ['liveness (our module)', f => f.url.includes('/dist/src/liveness/')],
  ['mesh (our module)', f => f.url.includes('/dist/src/mesh/')],
  ['state (our module)', f => f.url.includes('/dist/src/state/')],
  ['api/fastify (bench polling)', f => f.url.includes('/dist/src/api/') || f.url.includes('node_modules/fastify')],
  ['pino (logging)', f => f.url.includes('node_modules/pino') || f.url.includes('sonic-boom')],
  ['gossipsub heartbeat', f => f.url.includes('gossipsub') && /heartbeat/i.test(f.functionName)],
  ['gossipsub (messages, RPC)', f => f.url.includes('gossipsub')],
  ['connection monitor / ping', f => /connection-monitor|protocol-ping|@libp2p\/ping/.test(f.url)],
  ['identify', f => f.url.includes('identify')],
  ['yamux', f => f.url.includes('yamux')],
  ['noise (chacha/poly)', f => f.url.includes('noise') || f.url.includes('chacha') || f.url.includes('@noble/ciphers')],
  ['pnet (xsalsa20)', f => f.url.includes('pnet') || f.url.includes('xsalsa')],
  ['libp2p connection manager / registrar / peer store', f => /libp2p\/dist\/src\/(connection-manager|registrar|upgrader)|peer-store/.test(f.url)],
  ['libp2p other', f => f.url.includes('libp2p')],
  ['level/classic-level', f => f.url.includes('level')],
  ['node net/stream internals', f => f.url.startsWith('node:')],
  ['(garbage collector)', f => f.functionName === '(garbage collector)'],
  ['(program) native/VM', f => f.functionName === '(program)']
]

function analyse (p: CpuProfile, fromUs: number, toUs: number): { totalMs: number, idleMs: number, selfByPkg: Map<string, number>, byActivity: Map<string, number> } {
  const byId = new Map(p.nodes.map(n => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const selfByPkg = new Map<string, number>()
  const byActivity = new Map<string, number>()
  let t = p.startTime
  let totalMs = 0
  let idleMs = 0
  const add = (m: Map<string, number>, k: string, v: number): void => { m.set(k, (m.get(k) ?? 0) + v) }
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0
    t += dt
    if (t < fromUs || t > toUs) continue
    const ms = dt / 1000
    const leaf = byId.get(p.samples[i]!)!
    if (leaf.callFrame.functionName === '(idle)') { idleMs += ms; continue }
    totalMs += ms
    add(selfByPkg, packageOf(leaf.callFrame), ms)
    const stack: CallFrame[] = []
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) stack.push(byId.get(id)!.callFrame)
    let activity = 'other'
    for (const [name, match] of ACTIVITIES) if (stack.some(match)) { activity = name; break }
    add(byActivity, activity, ms)
  }
  return { totalMs, idleMs, selfByPkg, byActivity }
}

async function main (): Promise<void> {
  const { values } = flags({
    hosts: { type: 'string' },
    profiled: { type: 'string' },
    'settle-seconds': { type: 'string' },
    seconds: { type: 'string' },
    top: { type: 'string' },
    'agent-arg': { type: 'string', multiple: true },
    'write-records': { type: 'string' },
    save: { type: 'string' }
  }, USAGE)
  requireRoot()
  const n = intFlag(values.hosts, 10, 'hosts', 2, 200)
  const profiled = intFlag(values.profiled, Math.floor(n / 2), 'profiled', 0, n - 1)
  const settleS = intFlag(values['settle-seconds'], 15, 'settle-seconds')
  const windowS = intFlag(values.seconds, 60, 'seconds', 1)
  const top = intFlag(values.top, 25, 'top', 1)
  const writes = intFlag(values['write-records'], 0, 'write-records')
  const args = agentArgs(values)
  const loadBefore = loadNote()

  const cluster = await createCluster({ hosts: n, prefix: 'bprof' })
  try {
    const profDir = join(cluster.dir, 'cpuprof')
    log(`starting ${n} agents; host ${profiled} is profiled`)
    const { agents } = await startAgentsBatched(cluster, args, 5, {
      env: i => i === profiled ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profDir} --cpu-prof-interval=500` } : undefined
    })
    await waitAllAlive(agents, 180_000)
    log(`all alive; settling ${settleS} s`)
    await sleepMs(settleS * 1000)
    const victim = agents[profiled]!
    const pid = agentPid(victim)
    const cpu0 = cpuSeconds(pid)
    const fromMs = Date.now()
    log(`${writes > 0 ? `window of ${windowS} s with ${writes} writes on host ${n - 1}` : `idle window of ${windowS} s`}`)
    const writer = agents[n - 1]!
    for (let i = 0; i < writes && Date.now() - fromMs < windowS * 1000; i++) {
      await writer.createNetwork(`prof${i}`, `10.${200 + Math.floor(i / 250)}.${i % 250}.0/24`)
      await sleepMs(150)
    }
    await sleepMs(Math.max(0, fromMs + windowS * 1000 - Date.now()))
    const cpu1 = cpuSeconds(pid)
    const toMs = Date.now()
    await victim.stop()
    const exitedMs = Date.now()
    const file = readdirSync(profDir).find(f => f.endsWith('.cpuprofile'))
    if (file === undefined) throw new Error(`no profile written in ${profDir}`)
    if (typeof values.save === 'string') copyFileSync(join(profDir, file), values.save)
    const prof = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as CpuProfile
    // startTime is in µs of a monotonic clock; align it with the wall clock by the end of
    // the profile, which is the moment the agent exited (just after toMs).
    const wallOffsetUs = prof.endTime - exitedMs * 1000
    const r = analyse(prof, fromMs * 1000 + wallOffsetUs, toMs * 1000 + wallOffsetUs)
    const s = (toMs - fromMs) / 1000
    const pctOfCore = (ms: number): string => fmt(ms / s / 10, 2)

    const out: string[] = []
    out.push(`\n${writes > 0 ? `CPU profile under ${writes} record writes (on host ${n - 1})` : 'Idle CPU profile'} of one agent (host ${profiled} of ${n}), ${new Date().toISOString()}`)
    out.push(`machine: ${machine()}; ${loadBefore} at start, ${loadNote()} at end`)
    out.push(`command: ${commandLine('idle-profile.js')}`)
    out.push(`window ${fmt(s, 1)} s; /proc CPU ${fmt((cpu1 - cpu0) / s * 100, 2)} % of a core; profiled JS+VM (non-idle samples) ${pctOfCore(r.totalMs)} % (the rest is kernel time in syscalls, GC threads, libuv)\n`)
    out.push(table(['activity (from the call stack)', 'ms in window', '% of a core', 'share'],
      [...r.byActivity].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, fmt(v), pctOfCore(v), `${fmt(v / r.totalMs * 100, 1)} %`])))
    out.push(table(['self time by package', 'ms', '% of a core', 'share'],
      [...r.selfByPkg].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => [k, fmt(v), pctOfCore(v), `${fmt(v / r.totalMs * 100, 1)} %`])))
    process.stdout.write(out.join('\n') + '\n')
  } finally {
    await cluster.destroy()
  }
}

runMain('idle-profile', main)
