/**
 * The agent's Prometheus metrics (prom-client), on their own registry so tests and
 * several agents in one process never share counters.
 *
 * Two kinds of sources:
 *  - pushed, where each event matters: records applied (and their age), reconcile
 *    passes (duration, ops by kind), Docker plugin requests;
 *  - pulled at scrape time from what the parts already count (peers by liveness,
 *    records by kind, sync and gossip counters, kernel entries, netlink errors), so the
 *    parts keep no second set of counters. A pulled counter is set to the part's own
 *    monotonic count on every scrape (reset + inc), which is what a Prometheus counter is.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { MeshplaneError } from '../errors.js'
import { METRICS_PATH, PROPAGATION_BUCKETS, RECONCILE_BUCKETS } from './constants.js'
import type { AgentMetrics, AgentMetricsInit, MetricsSource, PluginOutcome, ReconcileObservation, AppliedRecord } from './index.js'

const PEER_STATES = ['alive', 'unreachable', 'left'] as const
const ENTRY_KINDS = ['networks', 'links', 'addresses', 'neighbours', 'fdb'] as const

export class PrometheusAgentMetrics implements AgentMetrics {
  readonly registry = new Registry()
  #source: MetricsSource | undefined
  #server: FastifyInstance | undefined
  #libp2pFactory: ReturnType<typeof prometheusMetrics> | undefined

  readonly #recordsApplied: Counter<'kind' | 'origin'>
  readonly #propagation: Histogram<'kind'>
  readonly #reconcile: Histogram<'reason'>
  readonly #kernelOps: Counter<'kind' | 'result'>
  readonly #pluginRequests: Counter<'method' | 'outcome'>
  readonly #dnsQueries: Counter<'transport' | 'result'>

  constructor (init: AgentMetricsInit) {
    const registry = this.registry
    const source = (): MetricsSource | undefined => this.#source

    new Gauge({ name: 'meshplane_info', help: 'This agent: version and peer id (value 1).', labelNames: ['version', 'peer_id'], registers: [registry] })
      .labels(init.version, init.peerId).set(1)

    new Gauge({
      name: 'meshplane_peers',
      help: 'Other hosts of the cluster by liveness as this agent sees them.',
      labelNames: ['state'],
      registers: [registry],
      collect () {
        const s = source()
        if (s === undefined) return
        const counts = Object.fromEntries(PEER_STATES.map(state => [state, 0])) as Record<string, number>
        for (const p of s.peers()) if (!p.self) counts[p.state] = (counts[p.state] ?? 0) + 1
        for (const [state, n] of Object.entries(counts)) this.labels(state).set(n)
      }
    })
    new Gauge({
      name: 'meshplane_records',
      help: 'Records in the replicated state by kind (tombstone: deletions still remembered).',
      labelNames: ['kind'],
      registers: [registry],
      collect () {
        const s = source()
        if (s === undefined) return
        for (const [kind, n] of Object.entries(s.records())) this.labels(kind).set(n)
      }
    })
    this.#recordsApplied = new Counter({
      name: 'meshplane_records_applied_total',
      help: 'Record versions merged into the state (origin local: written here; remote: by gossip or sync).',
      labelNames: ['kind', 'origin'],
      registers: [registry]
    })
    this.#propagation = new Histogram({
      name: 'meshplane_record_propagation_delay_seconds',
      help: 'Age of a remote record when applied here: now minus the writer\'s clock at write time (includes clock skew between hosts).',
      labelNames: ['kind'],
      buckets: PROPAGATION_BUCKETS,
      registers: [registry]
    })

    const pulledCounter = (name: string, help: string, read: (s: MetricsSource) => number): void => {
      new Counter({
        name,
        help,
        registers: [registry],
        collect () {
          const s = source()
          if (s === undefined) return
          this.reset()
          this.inc(read(s))
        }
      })
    }
    pulledCounter('meshplane_sync_rounds_total', 'Anti-entropy sync exchanges completed (both directions).', s => s.mesh().syncRounds)
    pulledCounter('meshplane_sync_failures_total', 'Anti-entropy sync exchanges that failed.', s => s.mesh().syncFailures)
    pulledCounter('meshplane_sync_bytes_total', 'Bytes moved by anti-entropy sync, sent and received.', s => s.mesh().syncBytes)
    /** A counter read from the agent at scrape time, one series per label value. */
    const pulledByLabel = (name: string, help: string, labelName: string, read: (s: MetricsSource) => Record<string, number>): void => {
      new Counter({
        name,
        help,
        labelNames: [labelName],
        registers: [registry],
        collect () {
          const s = source()
          if (s === undefined) return
          this.reset()
          for (const [value, n] of Object.entries(read(s))) this.labels(value).inc(n)
        }
      })
    }
    pulledByLabel('meshplane_sync_records_total', 'Records carried by anti-entropy sync, by direction.', 'direction',
      s => ({ in: s.mesh().syncRecordsIn, out: s.mesh().syncRecordsOut }))
    pulledByLabel('meshplane_gossip_messages_total', 'Gossiped records by validation result.', 'result',
      s => ({ accepted: s.mesh().gossipAccepted, rejected: s.mesh().gossipRejected, ignored: s.mesh().gossipIgnored }))

    new Gauge({
      name: 'meshplane_kernel_entries',
      help: 'What the last reconcile pass left programmed in the kernel, by kind.',
      labelNames: ['kind'],
      registers: [registry],
      collect () {
        const s = source()
        if (s === undefined) return
        const programmed = s.dataplane().programmed
        for (const kind of ENTRY_KINDS) this.labels(kind).set(programmed[kind])
      }
    })
    pulledByLabel('meshplane_firewall_transactions_total', 'nftables transactions of the firewall (egress NAT, isolation, published ports), by result: applied, or failed (refused by the kernel or nft; egress and ports are then off).', 'result',
      s => ({ applied: s.dataplane().firewall.transactions, failed: s.dataplane().firewall.failures }))
    new Gauge({
      name: 'meshplane_published_ports',
      help: 'Published ports (docker run -p) of this host by state: programmed, or refused (a clash, an internal network, no firewall).',
      labelNames: ['state'],
      registers: [registry],
      collect () {
        const s = source()
        if (s === undefined) return
        const ports = s.dataplane().firewall.ports
        const programmed = s.dataplane().firewall.ok ? ports.filter(p => p.programmed).length : 0
        this.labels('programmed').set(programmed)
        this.labels('refused').set(ports.length - programmed)
      }
    })
    new Gauge({
      name: 'meshplane_firewall_ok',
      help: '1 when the firewall this host needs is in the kernel (egress and published ports work), else 0.',
      registers: [registry],
      collect () {
        const s = source()
        if (s !== undefined) this.set(s.dataplane().firewall.ok ? 1 : 0)
      }
    })
    pulledCounter('meshplane_netlink_errors_total', 'Netlink requests the kernel refused (EEXIST on create and ENOENT on delete are not refusals).', s => s.dataplane().netlinkErrors)
    this.#kernelOps = new Counter({
      name: 'meshplane_kernel_ops_total',
      help: 'Kernel changes made by reconcile passes, by op kind and result.',
      labelNames: ['kind', 'result'],
      registers: [registry]
    })
    this.#reconcile = new Histogram({
      name: 'meshplane_reconcile_duration_seconds',
      help: 'Duration of kernel reconcile passes (dump, diff, apply), by what started them.',
      labelNames: ['reason'],
      buckets: RECONCILE_BUCKETS,
      registers: [registry]
    })
    this.#pluginRequests = new Counter({
      name: 'meshplane_plugin_requests_total',
      help: 'Docker plugin requests by method (e.g. NetworkDriver.Join) and outcome.',
      labelNames: ['method', 'outcome'],
      registers: [registry]
    })
    this.#dnsQueries = new Counter({
      name: 'meshplane_dns_queries_total',
      help: 'DNS queries the resolver handled, by transport (udp, tcp) and result: answer, empty (NOERROR, no records), nxdomain, forwarded, servfail (no upstream answered), refused, formerr, notimp, dropped, rate_limited.',
      labelNames: ['transport', 'result'],
      registers: [registry]
    })
  }

  observe (source: MetricsSource): void {
    this.#source = source
  }

  recordApplied (change: AppliedRecord, nowMs = Date.now()): void {
    const { record, local } = change
    this.#recordsApplied.labels(record.kind, local ? 'local' : 'remote').inc()
    // Unknown write time (an older writer) or local writes: no delay to report.
    if (local || record.writtenAtMs <= 0n) return
    this.#propagation.labels(record.kind).observe(Math.max(0, nowMs - Number(record.writtenAtMs)) / 1000)
  }

  reconciled (result: ReconcileObservation): void {
    if (result.skipped !== undefined) return
    this.#reconcile.labels(result.reason.split(':')[0]!.trim()).observe(result.durationMs / 1000)
    const failedByKind = new Map<string, number>()
    for (const f of result.failed) failedByKind.set(f.op.kind, (failedByKind.get(f.op.kind) ?? 0) + 1)
    for (const [kind, n] of Object.entries(result.byKind)) {
      const failed = failedByKind.get(kind) ?? 0
      if (n - failed > 0) this.#kernelOps.labels(kind, 'applied').inc(n - failed)
      if (failed > 0) this.#kernelOps.labels(kind, 'failed').inc(failed)
    }
  }

  pluginRequest (method: string, outcome: PluginOutcome): void {
    this.#pluginRequests.labels(method, outcome).inc()
  }

  dnsQuery (transport: string, result: string): void {
    this.#dnsQueries.labels(transport, result).inc()
  }

  libp2p (): ReturnType<typeof prometheusMetrics> {
    // preserveExistingMetrics: the library otherwise clears the registry it is given.
    // Its default collectors (process and Node.js runtime metrics) come along.
    this.#libp2pFactory ??= prometheusMetrics({ registry: this.registry, preserveExistingMetrics: true })
    return this.#libp2pFactory
  }

  async text (): Promise<string> {
    return await this.registry.metrics()
  }

  async listen (address: string): Promise<void> {
    if (this.#server !== undefined) return
    const app = Fastify({ logger: false })
    app.get(METRICS_PATH, async (_req, reply) => {
      void reply.header('content-type', this.registry.contentType)
      return await this.registry.metrics()
    })
    const [host, port] = splitHostPort(address)
    try {
      await app.listen({ host, port })
    } catch (err) {
      await app.close().catch(() => {})
      throw new MeshplaneError('E_CONFIG', `metrics-addr ${address}: cannot listen: ${(err as Error).message}`, { cause: err })
    }
    this.#server = app
  }

  /** Where the server listens (host:port), once listening. */
  address (): string | undefined {
    const a = this.#server?.server.address()
    return a !== null && typeof a === 'object' ? `${a.address}:${a.port}` : undefined
  }

  async stop (): Promise<void> {
    const server = this.#server
    this.#server = undefined
    await server?.close()
  }
}

function splitHostPort (address: string): [string, number] {
  const i = address.lastIndexOf(':')
  return [address.slice(0, i), Number(address.slice(i + 1))]
}
