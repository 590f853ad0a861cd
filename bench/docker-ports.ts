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
 *   meshplane  docker run -d -p PORT:80 --network blue …   (the agent's DNAT in `inet meshplane`)
 *   bridge     docker run -d -p PORT:80 …                  (docker0: Docker's DNAT + docker-proxy)
 *
 * Each container runs busybox httpd serving a body unique to it. Per container: `run` is
 * the `docker run -d` alone; `answered` is from the start of `docker run` until an HTTP GET
 * from the outside namespace to host 0's underlay address and PORT returns that body (a
 * prober in the outside namespace opens a new connection every 10 ms, each given 300 ms, from
 * the start of `docker run`); then `docker rm -f` is timed. Every container gets a host port
 * of its own. The series are interleaved (one meshplane and one bridge container per round,
 * the order swapped every round) so that load from elsewhere on the machine hits both alike;
 * one warm-up round per driver is not counted. The ratios compare meshplane to the bridge.
 *
 *   npx tsc -b && node_modules/.bin/node dist/bench/docker-ports.js --containers 20
 */
import { connect, type Socket } from 'node:net'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { createCluster, waitFor, type ProcessHandle } from '../test/utils/netns.js'
import { startAgents, waitForPeers } from '../test/utils/agents.js'
import { BUSYBOX, startDockerd, type TestDockerd } from '../test/utils/dockerd.js'
import { commandLine, flags, fmt, intFlag, loadNote, log, machine, max, NODE, pct, requireRoot, runMain, table } from './lib.js'

const USAGE = `usage: node dist/bench/docker-ports.js [options]
  --containers K    containers per driver (default 20), interleaved
  --warmup W        uncounted rounds first (default 1)
`

const GOAL = 1.2
const PROBE_INTERVAL_MS = 10
const PROBE_CONNECT_MS = 300
const ANSWER_TIMEOUT_MS = 30_000

/**
 * The prober, run with `node -e` in the outside namespace: it serves a unix socket (the
 * file system is shared, the network is not) on which each line `ID HOST PORT MARKER
 * TIMEOUT_MS` starts probing HOST:PORT — a new connection every interval, at most 16 in
 * flight, each sending an HTTP GET — and is answered `ID ok ATTEMPTS` once a response
 * contains MARKER, or `ID timeout ATTEMPTS`.
 */
const PROBER = `
const net = require('node:net')
const [sockPath, intervalMs, connectMs] = process.argv.slice(1)
function probe (host, port, marker, timeoutMs) {
  return new Promise(resolve => {
    const deadline = Date.now() + timeoutMs
    const sockets = new Set()
    let done = false, attempts = 0
    const finish = r => {
      if (done) return
      done = true
      clearInterval(timer)
      for (const s of sockets) s.destroy()
      resolve(r + ' ' + attempts)
    }
    const attempt = () => {
      if (done) return
      if (Date.now() > deadline) return finish('timeout')
      if (sockets.size >= 16) return
      attempts++
      const s = net.connect({ host, port })
      sockets.add(s)
      let body = ''
      s.setTimeout(Number(connectMs), () => s.destroy())
      s.on('connect', () => s.write('GET / HTTP/1.0\\r\\n\\r\\n'))
      s.on('data', d => { body += d; if (body.includes(marker)) finish('ok') })
      s.on('error', () => {})
      s.on('close', () => sockets.delete(s))
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

  /** Resolves with performance.now() when host:port answered with marker. */
  async answered (host: string, port: number, marker: string): Promise<number> {
    const id = String(this.#next++)
    const answer = await new Promise<string>(resolve => {
      this.#waiting.set(id, resolve)
      this.sock.write(`${id} ${host} ${port} ${marker} ${ANSWER_TIMEOUT_MS}\n`)
    })
    const t = performance.now()
    if (!answer.startsWith('ok')) throw new Error(`${host}:${port} did not answer with ${marker} within ${ANSWER_TIMEOUT_MS} ms (${answer})`)
    return t
  }

  close (): void { this.sock.destroy() }
}

interface Series { run: number[], answered: number[], rm: number[] }

async function main (): Promise<void> {
  const { values } = flags({ containers: { type: 'string' }, warmup: { type: 'string' } }, USAGE, { allowPositionals: false })
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
    const agents = await startAgents(cluster, { args: ['--log-level', 'warn'] })
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

    const drivers = {
      meshplane: { net: ['--network', 'blue'], basePort: 20000 },
      bridge: { net: [] as string[], basePort: 30000 }
    }
    type Driver = keyof typeof drivers
    const series: Record<Driver, Series> = { meshplane: { run: [], answered: [], rm: [] }, bridge: { run: [], answered: [], rm: [] } }

    const one = async (driver: Driver, i: number, counted: boolean): Promise<void> => {
      const name = `${driver === 'meshplane' ? 'm' : 'b'}${i}`
      const marker = `answer-from-${name}`
      const port = drivers[driver].basePort + i
      const t0 = performance.now()
      const answered = p.answered(host.ip, port, marker)
      answered.catch(() => {}) // awaited below; a failed docker run must not leave it unhandled
      await d.run(['run', '-d', '--name', name, '-p', `${port}:80`, ...drivers[driver].net, BUSYBOX,
        'sh', '-c', `mkdir /www && echo ${marker} > /www/index.html && exec busybox httpd -f -p 80 -h /www`])
      const t1 = performance.now()
      const t2 = await answered
      const t3 = performance.now()
      await d.run(['rm', '-f', name])
      const t4 = performance.now()
      if (!counted) return
      series[driver].run.push(t1 - t0)
      series[driver].answered.push(t2 - t0)
      series[driver].rm.push(t4 - t3)
    }

    log(`${warmup} warm-up round(s), then ${k} rounds of one meshplane and one bridge container`)
    for (let i = 0; i < warmup + k; i++) {
      const order: Driver[] = i % 2 === 0 ? ['meshplane', 'bridge'] : ['bridge', 'meshplane']
      for (const driver of order) await one(driver, i, i >= warmup)
      if (i >= warmup && (i - warmup + 1) % 5 === 0) log(`${i - warmup + 1}/${k} rounds`)
    }

    const { meshplane: m, bridge: b } = series
    const row = (what: string, v: number[]): Array<string | number> => [what, v.length, fmt(pct(v, 50)), fmt(pct(v, 95)), fmt(max(v))]
    const ratio = (what: string, f: (v: number[]) => number): string => {
      const r = f(m.answered) / f(b.answered)
      return `${what}: ${r.toFixed(2)}× (goal ≤ ${GOAL}×: ${r <= GOAL ? 'met' : 'NOT met'})`
    }
    const out: string[] = []
    out.push(`\ndocker run -p until the port answers from outside, meshplane vs Docker's bridge driver, ${new Date().toISOString()}`)
    out.push(`machine: ${machine()}`)
    out.push(`command: ${commandLine('docker-ports.js')}`)
    out.push(`one dockerd on host 0 with Docker's default networking and the meshplane plugin; ${k} containers per driver, interleaved, ${warmup} warm-up round(s) not counted; prober in the outside namespace\n`)
    out.push(table(['step', 'n', 'p50 ms', 'p95 ms', 'max ms'], [
      row('docker run -d -p, meshplane (--network blue)', m.run),
      row('docker run -d -p, bridge (docker0)', b.run),
      row('run start → answered from outside, meshplane', m.answered),
      row('run start → answered from outside, bridge', b.answered),
      row('docker rm -f, meshplane', m.rm),
      row('docker rm -f, bridge', b.rm)
    ]))
    out.push(`answered, meshplane / bridge: ${ratio('p50', v => pct(v, 50))}; ${ratio('p95', v => pct(v, 95))}`)
    out.push(`docker run alone, meshplane / bridge: p50 ${(pct(m.run, 50) / pct(b.run, 50)).toFixed(2)}×, p95 ${(pct(m.run, 95) / pct(b.run, 95)).toFixed(2)}×`)
    out.push(`(answered = an HTTP GET from the outside namespace to ${host.ip}:PORT returned the container's own body; a new connection every ${PROBE_INTERVAL_MS} ms from the start of docker run; ${loadNote()} at the end)`)
    process.stdout.write(out.join('\n') + '\n')
  } finally {
    prober?.close()
    await dockerd?.destroy()
    await cluster.destroy()
  }
}

runMain('docker-ports', main)
