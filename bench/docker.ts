/**
 * What a Docker user waits for on a meshplane network: two namespace hosts, a real agent
 * and a real dockerd (Debian's docker.io) on each, the documented `docker network create`
 * on both, then K containers started one after another on host 1:
 *
 *   run        `docker run -d` on the meshplane network (RequestAddress, CreateEndpoint,
 *              Join, EndpointOperInfo + the container start), against the same command
 *              with `--network none` (no plugin at all) as the baseline;
 *   reachable  from the end of `docker run` until a container on host 0 gets a ping
 *              answer (the endpoint record crossed the mesh, host 0 programmed it);
 *   rm         `docker rm -f` (Leave, DeleteEndpoint, ReleaseAddress + the stop), and
 *   withdrawn  from its end until host 0 no longer holds the container's FDB entry.
 *
 *   npx tsc -b && node_modules/.bin/node dist/bench/docker.js --containers 20
 */
import { createCluster, waitFor, type Cluster } from '../test/utils/netns.js'
import { startAgents, waitForPeers } from '../test/utils/agents.js'
import { BUSYBOX, startDockerd, type TestDockerd } from '../test/utils/dockerd.js'
import { commandLine, flags, fmt, intFlag, loadNote, log, machine, max, pct, requireRoot, runMain, table } from './lib.js'

const USAGE = `usage: node dist/bench/docker.js [options]
  --containers K    containers per series (default 20)
`

async function timed (fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return performance.now() - t0
}

async function fdbHas (cluster: Cluster, host: number, mac: string): Promise<boolean> {
  const out = (await cluster.exec(cluster.hosts[host]!, ['bridge', 'fdb', 'show'])).stdout
  return out.split('\n').some(l => l.startsWith(mac) && l.includes('self'))
}

async function main (): Promise<void> {
  const { values } = flags({ containers: { type: 'string' } }, USAGE, { allowPositionals: false })
  requireRoot()
  const k = intFlag(values.containers, 20, 'containers', 1, 200)
  const cluster = await createCluster({ prefix: 'bdk', hosts: 2 })
  const dockerds: TestDockerd[] = []
  try {
    log('starting agents and dockerds')
    const agents = await startAgents(cluster, { args: ['--log-level', 'warn'] })
    await waitForPeers(agents, 'alive')
    for (const [i, a] of agents.entries()) dockerds.push(await startDockerd(cluster, cluster.hosts[i]!, a.dockerSocket))
    await Promise.all(dockerds.map(async d => { await d.importBusybox() }))
    const [d0, d1] = dockerds as [TestDockerd, TestDockerd]
    const create = ['network', 'create', '-d', 'meshplane', '--ipam-driver', 'meshplane', '--subnet', '10.240.0.0/16', '-o', 'meshplane.network=blue', 'blue']
    await d0.run(create)
    await d1.run(create)
    await d0.run(['run', '-d', '--init', '--name', 'probe', '--network', 'blue', BUSYBOX, 'sleep', '100000'])

    // Interleaved, so that load from elsewhere on the machine hits both series alike.
    log(`${k} containers on the meshplane network, each after one with --network none (baseline)`)
    const baseline: number[] = []
    const run: number[] = []
    const reachable: number[] = []
    const rm: number[] = []
    const withdrawn: number[] = []
    const started: Array<{ name: string, ip: string, mac: string }> = []
    for (let i = 0; i < k; i++) {
      baseline.push(await timed(async () => await d1.run(['run', '-d', '--init', '--name', `n${i}`, '--network', 'none', BUSYBOX, 'sleep', '100000'])))
      const name = `c${i}`
      run.push(await timed(async () => await d1.run(['run', '-d', '--init', '--name', name, '--network', 'blue', BUSYBOX, 'sleep', '100000'])))
      const t0 = performance.now()
      const [ip, mac] = (await d1.run(['inspect', '-f', '{{.NetworkSettings.Networks.blue.IPAddress}} {{.NetworkSettings.Networks.blue.MacAddress}}', name])).split(' ') as [string, string]
      await waitFor(async () => (await d0.docker(['exec', 'probe', 'ping', '-c', '1', '-W', '1', ip])).code === 0, { timeoutMs: 30_000, intervalMs: 20, what: `${name} reachable` })
      reachable.push(performance.now() - t0)
      started.push({ name, ip, mac })
    }
    const rmBaseline: number[] = []
    for (let i = 0; i < k; i++) rmBaseline.push(await timed(async () => await d1.run(['rm', '-f', `n${i}`])))
    for (const c of started) {
      rm.push(await timed(async () => await d1.run(['rm', '-f', c.name])))
      const t0 = performance.now()
      await waitFor(async () => !await fdbHas(cluster, 0, c.mac), { timeoutMs: 30_000, intervalMs: 20, what: `${c.name} withdrawn` })
      withdrawn.push(performance.now() - t0)
    }
    const row = (what: string, v: number[]): Array<string | number> => [what, v.length, fmt(pct(v, 50)), fmt(pct(v, 90)), fmt(max(v))]
    const out: string[] = []
    out.push(`\nDocker on meshplane, ${new Date().toISOString()}`)
    out.push(`machine: ${machine()}`)
    out.push(`command: ${commandLine('docker.js')}`)
    out.push('2 hosts; containers started and removed one after another on host 1; probe container on host 0\n')
    out.push(table(['step', 'n', 'p50 ms', 'p90 ms', 'max ms'], [
      row('docker run -d, --network none (baseline)', baseline),
      row('docker run -d, --network blue', run),
      row('… then reachable from host 0', reachable),
      row('docker rm -f, --network none (baseline)', rmBaseline),
      row('docker rm -f, --network blue', rm),
      row('… then withdrawn on host 0', withdrawn)
    ]))
    out.push(`(reachable = first answered ping, polled every 20 ms with docker exec (~100 ms each); ${loadNote()} at the end)`)
    process.stdout.write(out.join('\n') + '\n')
  } finally {
    await Promise.all(dockerds.map(async d => { await d.destroy() }))
    await cluster.destroy()
  }
}

runMain('docker', main)
