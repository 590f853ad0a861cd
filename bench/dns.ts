/**
 * The resolver against dnsmasq answering the same names from a hosts file, on one host.
 *
 * One namespace host with a real agent, one network, `--names K` named endpoints
 * (attach --name), a client container and a dnsmasq container on the same network
 * (`--no-resolv --no-hosts --addn-hosts=FILE`, the same K names). The client reaches
 * dnsmasq over its veth and the bridge, and the resolver over its veth and the bridge to
 * the host: the same hops. Per target, a load generator inside the client (one node
 * process, one UDP socket, random names among the K):
 *
 *   max qps   closed loop, `--concurrency C` queries outstanding, `--seconds S`
 *   at rate   open loop at `--rate R` queries/s for S seconds: p50 / p99 latency, lost
 *
 * The agent runs with --dns-source-qps high enough not to rate-limit the one client.
 * Goal (the issue): resolver ≥ 0.5× dnsmasq's qps, p99 ≤ 2 ms at 1,000 queries/s.
 *
 *   npx tsc -b && node_modules/.bin/node dist/bench/dns.js --names 100
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startAgents } from '../test/utils/agents.js'
import { createCluster, type Cluster, type Container } from '../test/utils/netns.js'
import { commandLine, flags, fmt, intFlag, loadNote, log, machine, requireRoot, runMain, table } from './lib.js'

const USAGE = `usage: node dist/bench/dns.js [options]
  --names K        named endpoints (default 50)
  --seconds S      per measurement (default 5)
  --concurrency C  closed loop: queries outstanding (default 32)
  --rate R         open loop: queries per second (default 1000)
`

const RESOLVER = '169.254.53.53'

/** The load generator, run with node inside the client namespace; prints one JSON line. */
const LOADGEN = `
const dgram = require('node:dgram')
const [server, namesCsv, mode, seconds, param] = process.argv.slice(1)
const names = namesCsv.split(',')
const query = (id, name) => Buffer.concat([Buffer.from([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, name.length]), Buffer.from(name), Buffer.from([0, 0, 1, 0, 1])])
const s = dgram.createSocket('udp4')
const sentAt = new Map(); const lat = []; let next = 0; let answered = 0; let errors = 0
const send = () => { const id = next++ & 0xffff; sentAt.set(id, process.hrtime.bigint()); s.send(query(id, names[Math.floor(Math.random() * names.length)]), 53, server) }
const until = Date.now() + Number(seconds) * 1000
s.on('message', m => {
  const id = m.readUInt16BE(0); const t = sentAt.get(id); if (t === undefined) return
  sentAt.delete(id); answered++
  if ((m.readUInt16BE(2) & 15) !== 0 || m.readUInt16BE(6) === 0) errors++
  lat.push(Number(process.hrtime.bigint() - t) / 1e6)
  if (mode === 'closed' && Date.now() < until) send()
})
const finish = () => { s.close(); lat.sort((a, b) => a - b); const p = q => lat.length === 0 ? NaN : lat[Math.min(lat.length - 1, Math.floor(q * lat.length))]
  console.log(JSON.stringify({ sent: next, answered, errors, qps: answered / Number(seconds), p50: p(0.5), p99: p(0.99), max: lat.at(-1) ?? NaN })) }
if (mode === 'closed') { for (let i = 0; i < Number(param); i++) send(); setTimeout(finish, Number(seconds) * 1000 + 500) }
else {
  const rate = Number(param); const start = Date.now(); let due = 0
  const tick = () => { const now = Date.now(); if (now >= until) { setTimeout(finish, 500); return } const want = Math.floor((now - start) * rate / 1000); while (due < want) { send(); due++ } setTimeout(tick, 1) }
  tick()
}
`

interface Figures { sent: number, answered: number, errors: number, qps: number, p50: number, p99: number, max: number }

async function loadgen (cluster: Cluster, client: Container, server: string, names: string[], mode: 'closed' | 'open', seconds: number, param: number): Promise<Figures> {
  const r = await cluster.exec(client, [process.execPath, '-e', LOADGEN, server, names.join(','), mode, String(seconds), String(param)], { timeoutMs: (seconds + 30) * 1000, check: true })
  return JSON.parse(r.stdout) as Figures
}

runMain('dns', async () => {
  requireRoot()
  const { values } = flags({
    names: { type: 'string' }, seconds: { type: 'string' }, concurrency: { type: 'string' }, rate: { type: 'string' }
  }, USAGE, { allowPositionals: false })
  const k = intFlag(values.names, 50, '--names', 1, 1000)
  const seconds = intFlag(values.seconds, 5, '--seconds', 1, 600)
  const concurrency = intFlag(values.concurrency, 32, '--concurrency', 1, 10_000)
  const rate = intFlag(values.rate, 1000, '--rate', 1, 1_000_000)
  const cluster = await createCluster({ prefix: 'mpbd', hosts: 1 })
  try {
    const [agent] = await startAgents(cluster, { args: ['--dns-source-qps', '1000000', '--log-level', 'warn'] })
    await agent!.api.call('POST', '/v1/networks', { name: 'bench', subnet: '10.240.0.0/16' })
    const names: string[] = []
    const hosts: string[] = []
    log(`attaching ${k} named endpoints`)
    for (let i = 0; i < k; i++) {
      const c = await cluster.addContainer(cluster.hosts[0]!, `n${i}`)
      const name = `svc${i}`
      const r = await agent!.api.call<{ ip: string }>('POST', '/v1/attach', { network: 'bench', netns: c.name, name })
      names.push(name)
      hosts.push(`${r.ip} ${name}`)
    }
    const client = await cluster.addContainer(cluster.hosts[0]!, 'client')
    await agent!.api.call('POST', '/v1/attach', { network: 'bench', netns: client.name })
    const dnsmasqNs = await cluster.addContainer(cluster.hosts[0]!, 'dnsmasq')
    const dnsmasqIp = (await agent!.api.call<{ ip: string }>('POST', '/v1/attach', { network: 'bench', netns: dnsmasqNs.name })).ip
    const hostsFile = join(cluster.dir, 'bench-hosts')
    writeFileSync(hostsFile, hosts.join('\n') + '\n')
    cluster.spawn(dnsmasqNs, ['dnsmasq', '--no-daemon', '--no-resolv', '--no-hosts', `--addn-hosts=${hostsFile}`, `--listen-address=${dnsmasqIp}`,
      '--bind-interfaces', '--user=root', '--pid-file', '--local-ttl=5', '--dns-forward-max=10000'], { label: 'dnsmasq' })
    await new Promise(resolve => setTimeout(resolve, 1000))

    const rows: Array<Array<string | number>> = []
    const results = new Map<string, { closed: Figures, open: Figures }>()
    for (const [target, server] of [['dnsmasq', dnsmasqIp], ['meshplane', RESOLVER]] as const) {
      await loadgen(cluster, client, server, names, 'closed', 1, concurrency) // warm-up
      log(`${target}: closed loop, ${concurrency} outstanding, ${seconds} s`)
      const closed = await loadgen(cluster, client, server, names, 'closed', seconds, concurrency)
      log(`${target}: ${rate} queries/s, ${seconds} s`)
      const open = await loadgen(cluster, client, server, names, 'open', seconds, rate)
      results.set(target, { closed, open })
      rows.push([target, fmt(closed.qps), fmt(closed.p99, 2), fmt(open.p50, 3), fmt(open.p99, 3), fmt(open.max, 2), `${open.sent - open.answered}`, `${closed.errors + open.errors}`])
    }
    const m = results.get('meshplane')!
    const d = results.get('dnsmasq')!
    process.stdout.write(`\nDNS: resolver vs dnsmasq, ${k} names, one client, ${machine()}, ${loadNote()}\n\n`)
    process.stdout.write(table(['target', 'max qps', 'p99 ms (closed)', `p50 ms @${rate}/s`, `p99 ms @${rate}/s`, 'max ms', 'lost', 'errors'], rows) + '\n')
    process.stdout.write(`\nqps ratio ${fmt(m.closed.qps / d.closed.qps, 2)} (goal ≥ 0.5); p99 at ${rate}/s ${fmt(m.open.p99, 3)} ms (goal ≤ 2 ms)\n`)
    process.stdout.write(`${commandLine('dns.js')}\n`)
  } finally {
    await cluster.destroy()
  }
})
