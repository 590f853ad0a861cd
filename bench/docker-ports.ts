/**
 * `docker run -p` until the port answers from outside, on a meshplane network against
 * Docker's own bridge driver, in one run (goal: meshplane ≤ 1.2× the bridge driver).
 *
 * Setup: two namespace hosts with a real agent each (host 1 is only a peer, as in a real
 * cluster), an "outside" namespace on the underlay (no agent), and ONE real dockerd on
 * host 0 started with Docker's default networking (docker0, iptables rules through
 * iptables-nft, the userland proxy: `networkFlags: []`) AND the meshplane plugin, with the
 * documented `docker network create -d meshplane … blue`. Both drivers thus run on the same
 * daemon, containerd, image and host namespace — the deployment meshplane's README
 * describes (Docker's rules and meshplane's table side by side); only the network differs:
 *
 *   meshplane  docker run -d -p PORT:80 --network blue …  (the agent's DNAT in `inet meshplane`)
 *   docker0    docker run -d -p PORT:80 …                 (the default bridge: Docker's DNAT
 *                                                          rules + docker-proxy)
 *   pub        docker run -d -p PORT:80 --network pub …   (`docker network create pub`: the
 *              bridge driver on a user-defined network, which, like meshplane's, also gets
 *              Docker's embedded DNS set up in each container: the like-for-like baseline)
 *
 * Each container runs busybox httpd serving a body unique to it. Per container: `run` is
 * the `docker run -d` alone; `answered` is from the start of `docker run` until an HTTP
 * GET from the outside namespace to host 0's underlay address and PORT returns that body
 * (a prober in the outside namespace opens a new connection every 10 ms, each given 300
 * ms, from the start of `docker run`, or from its end with --probe-after-run: a client
 * that waits for it); then `docker rm -f` is timed. Every container gets a host port of
 * its own. One resident container (no ports) per network stays up throughout, so each
 * measured one joins a network that is already in use on the host, the common case:
 * meshplane makes a network's bridge and firewall table on the host's first endpoint in it
 * and removes them with the last, where Docker makes its bridges at `network create`
 * (--no-resident measures that first-container case). The series are interleaved (one
 * container per network per round, the order rotated every round) so that load from
 * elsewhere on the machine hits all alike; one warm-up round is not counted. The goal is
 * judged against both bridge series.
 *
 *   npx tsc -b && node_modules/.bin/node dist/bench/docker-ports.js --containers 20
 */
import { connect, type Socket } from 'node:net'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { createCluster, waitFor, type ProcessHandle } from '../test/utils/netns.js'
import { startAgents, waitForPeers } from '../test/utils/agents.js'
import { BUSYBOX, startDockerd, type TestDockerd } from '../test/utils/dockerd.js'
import { agentArgs, commandLine, flags, fmt, intFlag, loadNote, log, machine, max, median, NODE, pct, requireRoot, runMain, table } from './lib.js'

const USAGE = `usage: node dist/bench/docker-ports.js [options]
  --containers K    containers per driver (default 20), interleaved
  --warmup W        uncounted rounds first (default 1)
  --no-resident     no resident container per network: each measured container is then
                    the host's only one on its network, and meshplane creates and
                    removes the network's bridge and firewall table with it every time
  --probe-after-run start probing when docker run returns (a client that waits for it)
                    instead of from its start
  --log-level L     agent log level (default warn; debug logs every plugin request,
                    MESHPLANE_KEEP_TMP=1 keeps the logs)
`

const GOAL = 1.2
const PROBE_INTERVAL_MS = 10
const PROBE_CONNECT_MS = 300
const ANSWER_TIMEOUT_MS = 30_000

/**
 * The prober, run with `node -e` in the outside namespace: it serves a unix socket (the
 * file system is shared, the network is not) on which each line `ID HOST PORT MARKER
 * TIMEOUT_MS` starts probing HOST:PORT — a new connection every interval, at most 16 in
 * flight, each sending an HTTP GET — and is answered `ID ok ATTEMPTS SILENT REFUSED EMPTY`
 * once a response contains MARKER (`ID timeout …` if none did in time): the connections
 * made, those that got no answer at all within their time, those refused (RST), and
 * those that connected but closed without the marker.
 */
const PROBER = `
const net = require('node:net')
const [sockPath, intervalMs, connectMs] = process.argv.slice(1)
function probe (host, port, marker, timeoutMs) {
  return new Promise(resolve => {
    const deadline = Date.now() + timeoutMs
    const sockets = new Set()
    let done = false, attempts = 0, silent = 0, refused = 0, empty = 0
    const finish = r => {
      if (done) return
      done = true
      clearInterval(timer)
      for (const s of sockets) s.destroy()
      resolve([r, attempts, silent, refused, empty].join(' '))
    }
    const attempt = () => {
      if (done) return
      if (Date.now() > deadline) return finish('timeout')
      if (sockets.size >= 16) return
      attempts++
      const s = net.connect({ host, port })
      sockets.add(s)
      let body = ''
      let connected = false
      s.setTimeout(Number(connectMs), () => { if (!done) silent++; s.destroy() })
      s.on('connect', () => { connected = true; s.write('GET / HTTP/1.0\\r\\n\\r\\n') })
      s.on('data', d => { body += d; if (body.includes(marker)) finish('ok') })
      s.on('error', e => { if (!done && e.code === 'ECONNREFUSED') refused++ })
      s.on('close', () => { sockets.delete(s); if (!done && connected && !body.includes(marker)) empty++ })
    }
    const timer = setInterval(attempt, Number(intervalMs))
    attempt()
  })
}
net.createServer(conn => {
  let buf = ''
  conn.on('error', () => {})
  conn.on('data', d => {
    buf += d
    for (let i = buf.indexOf('\\n'); i >= 0; i = buf.indexOf('\\n')) {
      const [id, host, port, marker, timeoutMs] = buf.slice(0, i).split(' ')
      buf = buf.slice(i + 1)
      probe(host, Number(port), marker, Number(timeoutMs)).then(r => conn.write(id + ' ' + r + '\\n'))
    }
  })
}).listen(sockPath)
`

/** The bench's side of the prober's socket. */
class Prober {
  readonly #waiting = new Map<string, (answer: string) => void>()
  #next = 0
  #buf = ''

  constructor (readonly sock: Socket) {
    sock.setEncoding('utf8')
    sock.on('data', (d: string) => {
      this.#buf += d
      for (let i = this.#buf.indexOf('\n'); i >= 0; i = this.#buf.indexOf('\n')) {
        const [id, ...rest] = this.#buf.slice(0, i).split(' ')
        this.#buf = this.#buf.slice(i + 1)
        this.#waiting.get(id!)?.(rest.join(' '))
        this.#waiting.delete(id!)
      }
    })
  }

  static async open (path: string): Promise<Prober> {
    const sock = await new Promise<Socket>((resolve, reject) => {
      const s = connect(path, () => { resolve(s) })
      s.once('error', reject)
    })
    return new Prober(sock)
  }

  /** Resolves with performance.now() when host:port answered with marker, and the prober's
   * counts of connections (see PROBER). */
  async answered (host: string, port: number, marker: string): Promise<{ t: number, counts: ProbeCounts }> {
    const id = String(this.#next++)
    const answer = await new Promise<string>(resolve => {
      this.#waiting.set(id, resolve)
      this.sock.write(`${id} ${host} ${port} ${marker} ${ANSWER_TIMEOUT_MS}\n`)
    })
    const t = performance.now()
    if (!answer.startsWith('ok')) throw new Error(`${host}:${port} did not answer with ${marker} within ${ANSWER_TIMEOUT_MS} ms (${answer})`)
    const [attempts, silent, refused, empty] = answer.split(' ').slice(1).map(Number) as [number, number, number, number]
    return { t, counts: { attempts, silent, refused, empty } }
  }

  close (): void { this.sock.destroy() }
}

interface ProbeCounts { attempts: number, silent: number, refused: number, empty: number }

/** Per driver, index = round. */
interface Series { run: number[], answered: number[], afterRun: number[], rm: number[], probes: ProbeCounts[] }

async function main (): Promise<void> {
  const { values } = flags({ containers: { type: 'string' }, warmup: { type: 'string' }, 'log-level': { type: 'string' }, 'no-resident': { type: 'boolean' }, 'probe-after-run': { type: 'boolean' } }, USAGE, { allowPositionals: false })
  requireRoot()
  const k = intFlag(values.containers, 20, 'containers', 1, 500)
  const warmup = intFlag(values.warmup, 1, 'warmup', 0, 20)
  const cluster = await createCluster({ prefix: 'bport', hosts: 2 })
  let dockerd: TestDockerd | undefined
  let prober: Prober | undefined
  let proberProc: ProcessHandle | undefined
  try {
    log('starting agents, dockerd (Docker\'s default networking + the meshplane plugin) and the outside prober')
    const outside = await cluster.addOutside()
    const probeSock = join(cluster.dir, 'prober.sock')
    proberProc = cluster.spawn(outside.name, [NODE, '-e', PROBER, probeSock, String(PROBE_INTERVAL_MS), String(PROBE_CONNECT_MS)], { label: 'prober' })
    const agents = await startAgents(cluster, { args: agentArgs({ 'log-level': 'warn', ...values }) })
    await waitForPeers(agents, 'alive')
    const host = cluster.hosts[0]!
    dockerd = await startDockerd(cluster, host, agents[0]!.dockerSocket, { networkFlags: [] })
    const d = dockerd
    await d.importBusybox()
    await d.run(['network', 'create', '-d', 'meshplane', '--ipam-driver', 'meshplane', '--subnet', '10.240.0.0/16', '-o', 'meshplane.network=blue', 'blue'])
    const pp = proberProc
    await waitFor(() => {
      if (!pp.alive) throw new Error(`the prober exited: ${pp.output()}`)
      return existsSync(probeSock)
    }, { timeoutMs: 10_000, what: 'the prober' })
    prober = await Prober.open(probeSock)
    const p = prober

    await d.run(['network', 'create', '-d', 'bridge', 'pub'])
    const drivers = {
      meshplane: { net: ['--network', 'blue'], basePort: 20000, letter: 'm' },
      bridge: { net: [] as string[], basePort: 30000, letter: 'b' },
      userBridge: { net: ['--network', 'pub'], basePort: 40000, letter: 'u' }
    }
    type Driver = keyof typeof drivers
    const order: Driver[] = ['meshplane', 'bridge', 'userBridge']
    const series = Object.fromEntries(order.map(dr => [dr, { run: [], answered: [], afterRun: [], rm: [], probes: [] }])) as unknown as Record<Driver, Series>

    const one = async (driver: Driver, i: number, counted: boolean): Promise<void> => {
      const name = `${drivers[driver].letter}${i}`
      const marker = `answer-from-${name}`
      const port = drivers[driver].basePort + i
      const t0 = performance.now()
      let answered = afterRun ? undefined : p.answered(host.ip, port, marker)
      answered?.catch(() => {}) // awaited below; a failed docker run must not leave it unhandled
      await d.run(['run', '-d', '--name', name, '-p', `${port}:80`, ...drivers[driver].net, BUSYBOX,
        'sh', '-c', `mkdir /www && echo ${marker} > /www/index.html && exec busybox httpd -f -p 80 -h /www`])
      const t1 = performance.now()
      answered ??= p.answered(host.ip, port, marker)
      const { t: t2, counts } = await answered
      const t3 = performance.now()
      await d.run(['rm', '-f', name])
      const t4 = performance.now()
      if (!counted) return
      series[driver].run.push(t1 - t0)
      series[driver].answered.push(t2 - t0)
      series[driver].afterRun.push(t2 - t1)
      series[driver].rm.push(t4 - t3)
      series[driver].probes.push(counts)
    }

    const resident = values['no-resident'] !== true
    const afterRun = values['probe-after-run'] === true
    if (resident) {
      for (const driver of order) await d.run(['run', '-d', '--name', `resident-${driver}`, ...drivers[driver].net, BUSYBOX, 'sleep', '100000'])
    }
    const loadAtStart = loadNote()
    log(`${warmup} warm-up round(s), then ${k} rounds of one container per network`)
    for (let i = 0; i < warmup + k; i++) {
      // Each network takes each position in the round equally often.
      for (let j = 0; j < order.length; j++) await one(order[(i + j) % order.length]!, i, i >= warmup)
      if (i >= warmup && (i - warmup + 1) % 5 === 0) log(`${i - warmup + 1}/${k} rounds`)
    }

    const { meshplane: m, bridge: b, userBridge: u } = series
    const row = (what: string, v: number[]): Array<string | number> => [what, v.length, fmt(pct(v, 50)), fmt(pct(v, 95)), fmt(max(v))]
    const ratio = (p: number, x: number[], y: number[], goal: boolean): string => {
      const r = pct(x, p) / pct(y, p)
      return `p${p} ${r.toFixed(2)}×` + (goal ? ` (goal ≤ ${GOAL}×: ${r <= GOAL ? 'met' : 'NOT met'})` : '')
    }
    const out: string[] = []
    out.push(`\ndocker run -p until the port answers from outside, meshplane vs Docker's bridge driver, ${new Date().toISOString()}`)
    out.push(`machine: ${machine()}`)
    out.push(`command: ${commandLine('docker-ports.js')}`)
    out.push(`one dockerd on host 0 with Docker's default networking and the meshplane plugin; ${k} containers per network, interleaved, ${warmup} warm-up round(s) not counted; ${resident ? 'one resident container (no ports) per network' : 'no resident containers (--no-resident)'}; prober in the outside namespace\n`)
    out.push(table(['step', 'n', 'p50 ms', 'p95 ms', 'max ms'], [
      row('docker run -d -p, meshplane (--network blue)', m.run),
      row('docker run -d -p, bridge (docker0, default)', b.run),
      row('docker run -d -p, bridge (--network pub)', u.run),
      row('run start → answered from outside, meshplane', m.answered),
      row('run start → answered from outside, docker0', b.answered),
      row('run start → answered from outside, pub', u.answered),
      row('run end → answered, meshplane (< 0: before)', m.afterRun),
      row('run end → answered, docker0', b.afterRun),
      row('run end → answered, pub', u.afterRun),
      row('docker rm -f, meshplane', m.rm),
      row('docker rm -f, docker0', b.rm),
      row('docker rm -f, pub', u.rm)
    ]))
    out.push(`answered, meshplane / docker0: ${ratio(50, m.answered, b.answered, true)}; ${ratio(95, m.answered, b.answered, true)}`)
    out.push(`answered, meshplane / pub:     ${ratio(50, m.answered, u.answered, true)}; ${ratio(95, m.answered, u.answered, true)}`)
    // Same round, same moment of the machine's load: less noisy than the ratio of percentiles.
    const paired = (y: number[]): string => median(m.answered.map((x, i) => x / y[i]!)).toFixed(2)
    out.push(`answered, paired (median over rounds of meshplane / bridge in the same round): docker0 ${paired(b.answered)}×, pub ${paired(u.answered)}×`)
    out.push(`docker run alone, meshplane / docker0: ${ratio(50, m.run, b.run, false)}, ${ratio(95, m.run, b.run, false)}; meshplane / pub: ${ratio(50, m.run, u.run, false)}, ${ratio(95, m.run, u.run, false)}`)
    const probes = (name: string, v: ProbeCounts[]): string => {
      const mean = (f: (c: ProbeCounts) => number): string => (v.reduce((a, c) => a + f(c), 0) / v.length).toFixed(1)
      return `${name} ${mean(c => c.attempts)} (silent ${mean(c => c.silent)}, refused ${mean(c => c.refused)}, closed without the body ${mean(c => c.empty)})`
    }
    out.push(`prober connections per container, mean: ${probes('meshplane', m.probes)}; ${probes('docker0', b.probes)}; ${probes('pub', u.probes)}`)
    out.push(`(answered = an HTTP GET from the outside namespace to ${host.ip}:PORT returned the container's own body; a new connection every ${PROBE_INTERVAL_MS} ms from the ${afterRun ? 'end (--probe-after-run)' : 'start'} of docker run; ${loadAtStart} at the start, ${loadNote()} at the end)`)
    process.stdout.write(out.join('\n') + '\n')
  } finally {
    prober?.close()
    await dockerd?.destroy()
    await cluster.destroy()
  }
}

runMain('docker-ports', main)
