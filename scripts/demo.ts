/**
 * npm run demo: three namespace hosts on one underlay, a meshplane agent on each joined
 * through a seed, one network, two "containers" (namespaces) per host attached with the
 * real CLI (addresses from the distributed IPAM), every container pinging every other one, then the status tables. Everything
 * it made is removed at the end, also on failure or Ctrl-C.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { createCluster, waitFor } from '../test/utils/netns.js'
import { startAgents, waitForPeers, MESHPLANE_JS, type TestAgent } from '../test/utils/agents.js'
import { macFromIp } from '@meshplane/agent/net/addr.js'
import { NETNS_PREREQUISITES, missingPrerequisites } from '../test/utils/prerequisites.js'

const run = promisify(execFile)
const HOSTS = 3
const PER_HOST = 2
const SUBNET = '10.240.0.0/16'

async function cli (agent: TestAgent, args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [MESHPLANE_JS, '--api-socket', agent.socket, ...args])
  return stdout.trimEnd()
}

function say (s: string): void { process.stdout.write(s + '\n') }

// Before anything is made: without ping every cell of the matrix would say FAIL.
const missing = missingPrerequisites([...NETNS_PREREQUISITES, 'bridge'])
if (missing !== undefined) {
  process.stderr.write(`npm run demo: ${missing}\n`)
  process.exit(1)
}

const t0 = Date.now()
const cluster = await createCluster({ prefix: 'demo', hosts: HOSTS })
try {
  say(`» ${HOSTS} hosts on underlay ${cluster.subnet}: ${cluster.hosts.map(h => `${h.name} ${h.ip}`).join(', ')}`)
  const agents = await startAgents(cluster)
  await waitForPeers(agents, 'alive')
  const joinedMs = Date.now() - t0
  say(`» agents up and joined through ${agents[0]!.seed} (${joinedMs} ms)`)

  say(`$ meshplane network create blue --subnet ${SUBNET}`)
  say(await cli(agents[0]!, ['network', 'create', 'blue', '--subnet', SUBNET]))
  await waitFor(async () => (await Promise.all(agents.map(async a => await a.networks()))).every(n => n.includes('blue')), { what: 'the network everywhere' })

  const containers: Array<{ ns: string, ip: string, host: number }> = []
  for (const [h, agent] of agents.entries()) {
    for (let c = 0; c < PER_HOST; c++) {
      const ctr = await cluster.addContainer(cluster.hosts[h]!, `c${c}`)
      // addresses from the distributed IPAM: the first attach on a host fetches a range
      say(`$ meshplane attach blue --netns ${ctr.name}     # on ${cluster.hosts[h]!.name}`)
      const e = JSON.parse(await cli(agent, ['attach', 'blue', '--netns', ctr.name, '--json'])) as { ip: string, mac: string }
      say(`attached ${ctr.name} to blue: ${e.ip} (${e.mac})`)
      containers.push({ ns: ctr.name, ip: e.ip, host: h })
    }
  }
  const attachedAt = Date.now()

  // Convergence: every host's kernel holds an FDB entry for every remote container.
  await waitFor(async () => {
    for (const [h] of agents.entries()) {
      const r = await cluster.exec(cluster.hosts[h]!, ['bridge', 'fdb', 'show'])
      for (const c of containers) if (c.host !== h && !r.stdout.includes(macFromIp(c.ip))) return false
    }
    return true
  }, { timeoutMs: 20_000, intervalMs: 20, what: 'every remote endpoint in every kernel' })
  const convergeMs = Date.now() - attachedAt

  say('\n» ping matrix (every container to every other, 1 packet each)')
  let ok = 0
  let total = 0
  const rows: string[] = []
  const label = (ip: string): string => ip.split('.').slice(2).join('.')
  const width = Math.max(4, ...containers.map(c => label(c.ip).length))
  const first = Math.max(9, ...containers.map(c => c.ip.length))
  for (const from of containers) {
    const cells: string[] = []
    for (const to of containers) {
      if (to === from) { cells.push('-'.padEnd(width)); continue }
      total++
      const pass = await cluster.ping(from.ns, to.ip, { count: 1, timeoutS: 2 })
      if (pass) ok++
      cells.push((pass ? 'ok' : 'FAIL').padEnd(width))
    }
    rows.push(`${from.ip.padEnd(first)}  ${cells.join(' ')}`)
  }
  say(`${'from \\ to'.padEnd(first)}  ${containers.map(c => label(c.ip).padEnd(width)).join(' ')}`)
  for (const r of rows) say(r)

  say('\n$ meshplane peers')
  say(await cli(agents[1]!, ['peers']))
  say('\n$ meshplane endpoints')
  say(await cli(agents[1]!, ['endpoints']))
  say('\n$ meshplane ipam')
  say(await cli(agents[1]!, ['ipam']))
  say('\n$ meshplane status')
  say(await cli(agents[1]!, ['status']))
  say(`\n» ${ok}/${total} pings answered; kernels converged ${convergeMs} ms after the last attach; total ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  if (ok !== total) process.exitCode = 1
} finally {
  await cluster.destroy()
  say('» cleaned up: agents stopped, namespaces removed')
}
