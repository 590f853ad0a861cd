import test from 'ava'
import { createMetrics } from '@meshplane/agent/metrics/index.js'
import { Scrape } from '../utils/prometheus.js'

const mesh = { gossipAccepted: 3, gossipRejected: 1, gossipIgnored: 0, syncRounds: 2, syncFailures: 0, syncRecordsIn: 5, syncRecordsOut: 4, syncBytes: 2048, published: 7, bundlesPublished: 5, livenessNewsOut: 0, connectionsOpen: 0, peersWithSeveralConnections: 0, gossipPeersWithoutStream: 0, recordsMeshPeers: 0 }

test('the scrape is Prometheus text; pulled counters follow their source; pushed ones count events', async t => {
  const metrics = createMetrics({ peerId: '12D3KooWtest', version: '0.1.0' })
  const counters = { ...mesh }
  metrics.observe({
    peers: () => [{ state: 'alive', self: true }, { state: 'alive', self: false }, { state: 'left', self: false }],
    records: () => ({ host: 3, network: 1, endpoint: 4, ranges: 0, tombstone: 2 }),
    mesh: () => counters,
    dataplane: () => ({
      programmed: { networks: 1, links: 2, addresses: 1, neighbours: 4, fdb: 5 },
      netlinkErrors: 1,
      firewall: {
        ok: true, table: 'inet meshplane', rules: 18, transactions: 3, failures: 1,
        ports: [
          { network: 'blue', endpointId: 'e1', protocol: 'tcp', hostIp: '', hostPort: 8080, containerIp: '10.240.0.2', containerPort: 80, programmed: true },
          { network: 'blue', endpointId: 'e2', protocol: 'tcp', hostIp: '', hostPort: 8080, containerIp: '10.240.0.3', containerPort: 80, programmed: false, reason: 'already published' }
        ]
      }
    })
  })
  const record = { kind: 'endpoint' as const, writtenAtMs: 1_000n }
  metrics.recordApplied({ record: record as never, local: false }, 1_250)
  metrics.recordApplied({ record: record as never, local: true }, 1_250)
  metrics.recordApplied({ record: { ...record, writtenAtMs: 0n } as never, local: false }, 1_250)
  metrics.reconciled({ reason: 'event: link deleted', durationMs: 12, byKind: { 'fdb.add': 3, 'neigh.set': 2 }, failed: [{ op: { kind: 'fdb.add' } as never, error: 'EINVAL' }] })
  metrics.reconciled({ skipped: 'no-input', reason: 'update', durationMs: 0, byKind: {}, failed: [] })
  metrics.pluginRequest('NetworkDriver.Join', 'ok')
  metrics.pluginRequest('NetworkDriver.Join', 'E_NOT_FOUND')

  let s = new Scrape(await metrics.text())
  t.is(s.value('meshplane_peers', { state: 'alive' }), 1, 'self is not a peer')
  t.is(s.value('meshplane_peers', { state: 'left' }), 1)
  t.is(s.value('meshplane_peers', { state: 'unreachable' }), 0)
  t.is(s.value('meshplane_records', { kind: 'endpoint' }), 4)
  t.is(s.value('meshplane_records_applied_total', { kind: 'endpoint', origin: 'remote' }), 2)
  t.is(s.value('meshplane_records_applied_total', { origin: 'local' }), 1)
  t.is(s.count('meshplane_record_propagation_delay_seconds', { kind: 'endpoint' }), 1, 'records without a write time are not timed')
  t.regex(s.text, /meshplane_record_propagation_delay_seconds_bucket\{le="0\.25",kind="endpoint"\} 1/)
  t.is(s.value('meshplane_kernel_ops_total', { kind: 'fdb.add', result: 'applied' }), 2)
  t.is(s.value('meshplane_kernel_ops_total', { kind: 'fdb.add', result: 'failed' }), 1)
  t.is(s.count('meshplane_reconcile_duration_seconds', { reason: 'event' }), 1, 'skipped passes are not timed; reasons are one word')
  t.is(s.value('meshplane_kernel_entries', { kind: 'fdb' }), 5)
  t.is(s.value('meshplane_netlink_errors_total'), 1)
  t.is(s.value('meshplane_firewall_transactions_total', { result: 'applied' }), 3)
  t.is(s.value('meshplane_firewall_transactions_total', { result: 'failed' }), 1)
  t.is(s.value('meshplane_published_ports', { state: 'programmed' }), 1)
  t.is(s.value('meshplane_published_ports', { state: 'refused' }), 1)
  t.is(s.value('meshplane_firewall_ok'), 1)
  t.is(s.value('meshplane_sync_bytes_total'), 2048)
  t.is(s.value('meshplane_gossip_messages_total', { result: 'rejected' }), 1)
  t.is(s.value('meshplane_plugin_requests_total', { method: 'NetworkDriver.Join' }), 2)
  t.is(s.value('meshplane_info', { peer_id: '12D3KooWtest' }), 1)

  counters.syncRounds = 9
  s = new Scrape(await metrics.text())
  t.is(s.value('meshplane_sync_rounds_total'), 9, 'a pulled counter reads its source at every scrape')
})

test('listen: GET /metrics on the address; a busy address is a clear E_CONFIG error', async t => {
  const a = createMetrics({ peerId: 'a', version: '0' })
  await a.listen('127.0.0.1:0')
  try {
    const address = a.address()!
    const res = await fetch(`http://${address}/metrics`)
    t.is(res.status, 200)
    t.regex(res.headers.get('content-type') ?? '', /text\/plain/)
    t.true(new Scrape(await res.text()).has('meshplane_info'))
    t.is((await fetch(`http://${address}/other`)).status, 404)
    const b = createMetrics({ peerId: 'b', version: '0' })
    const err = await t.throwsAsync(b.listen(address))
    t.is((err as { code?: string }).code, 'E_CONFIG')
    t.regex(err.message, new RegExp(`metrics-addr ${address.replaceAll('.', '\\.')}: cannot listen`))
  } finally {
    await a.stop()
  }
})
