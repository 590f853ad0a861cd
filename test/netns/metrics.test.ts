/**
 * Metrics acceptance: two real agents with --metrics-addr on their own loopback, scraped
 * from inside their namespaces. The scrape must parse as Prometheus text, carry libp2p's
 * and Node's metrics too, and its counters must move when records arrive from the other
 * host and the kernel is programmed for the remote container.
 */
import test from 'ava'
import { createCluster, waitFor, type Cluster } from '../utils/netns.js'
import { startAgents, waitForPeers, type TestAgent } from '../utils/agents.js'
import { Scrape } from '../utils/prometheus.js'

const METRICS_ADDR = '127.0.0.1:9477'

async function scrape (cluster: Cluster, host: number): Promise<Scrape> {
  const script = `fetch('http://${METRICS_ADDR}/metrics').then(async r => { if (r.status !== 200) throw new Error('HTTP ' + r.status); process.stdout.write(await r.text()) })`
  const r = await cluster.exec(host, [process.execPath, '-e', script], { check: true, timeoutMs: 20_000 })
  return new Scrape(r.stdout)
}

test('a scrape parses as Prometheus text, and counters move as records arrive and kernel entries are programmed', async t => {
  const cluster = await createCluster({ prefix: 'mpmt', hosts: 2 })
  try {
    const [a0, a1] = await startAgents(cluster, { args: ['--metrics-addr', METRICS_ADDR] }) as [TestAgent, TestAgent]
    await waitForPeers([a0, a1], 'alive')
    const before = await scrape(cluster, 1)
    for (const name of ['meshplane_peers', 'meshplane_records', 'meshplane_records_applied_total', 'meshplane_record_propagation_delay_seconds',
      'meshplane_sync_rounds_total', 'meshplane_sync_bytes_total', 'meshplane_kernel_entries', 'meshplane_kernel_ops_total',
      'meshplane_netlink_errors_total', 'meshplane_reconcile_duration_seconds', 'meshplane_plugin_requests_total', 'meshplane_info']) {
      t.true(before.has(name), name)
    }
    t.true([...before.families.keys()].some(n => n.startsWith('libp2p_')), 'libp2p\'s own metrics are in the scrape')
    t.true(before.has('nodejs_heap_size_used_bytes') || before.has('process_cpu_user_seconds_total'), 'process metrics too')
    t.is(before.value('meshplane_peers', { state: 'alive' }), 1)
    t.true(before.value('meshplane_sync_rounds_total') >= 1, 'the first connection synced')
    t.true(before.value('meshplane_sync_bytes_total') > 0)
    t.is(before.value('meshplane_kernel_entries', { kind: 'fdb' }), 0)

    // Records written on host 0 arrive on host 1; then host 1 programs the remote container.
    await a0.createNetwork('blue', '10.240.0.0/16')
    await waitFor(async () => (await a1.networks()).includes('blue'), { what: 'the network on host 1' })
    const c0 = await cluster.addContainer(0, 'c0')
    const c1 = await cluster.addContainer(1, 'c1')
    await a1.api.call('POST', '/v1/attach', { network: 'blue', netns: c1.name, ip: '10.240.2.10' })
    await a0.api.call('POST', '/v1/attach', { network: 'blue', netns: c0.name, ip: '10.240.1.10' })
    const after = await waitFor(async () => {
      const s = await scrape(cluster, 1)
      return s.value('meshplane_kernel_entries', { kind: 'fdb' }) >= 2 ? s : undefined
    }, { what: 'host 1 to program the remote container and its host', timeoutMs: 20_000 })

    const remote = (s: Scrape, kind: string): number => s.value('meshplane_records_applied_total', { kind, origin: 'remote' })
    t.is(remote(after, 'network') - remote(before, 'network'), 1, 'the network record arrived once')
    t.true(remote(after, 'endpoint') - remote(before, 'endpoint') >= 1, 'the remote endpoint record arrived')
    t.true(after.value('meshplane_records_applied_total', { kind: 'endpoint', origin: 'local' }) >= 1, 'the local attach was counted as local')
    t.true(after.count('meshplane_record_propagation_delay_seconds', { kind: 'endpoint' }) > before.count('meshplane_record_propagation_delay_seconds', { kind: 'endpoint' }),
      'the endpoint\'s age on arrival was observed')
    t.is(after.value('meshplane_records', { kind: 'network' }), 1)
    const ops = (s: Scrape, kind: string): number => s.value('meshplane_kernel_ops_total', { kind, result: 'applied' })
    t.true(ops(after, 'fdb.add') - ops(before, 'fdb.add') >= 2, 'FDB entries (container MAC and all-zeros flood) were programmed')
    t.true(ops(after, 'neigh.set') - ops(before, 'neigh.set') >= 1, 'the neighbour entry was programmed')
    t.true(after.value('meshplane_kernel_entries', { kind: 'neighbours' }) >= 1)
    t.true(after.count('meshplane_reconcile_duration_seconds') > before.count('meshplane_reconcile_duration_seconds'))
    t.is(after.value('meshplane_netlink_errors_total'), 0)
  } finally {
    await cluster.destroy()
  }
})
