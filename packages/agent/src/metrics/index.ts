/**
 * Prometheus metrics of one agent, served as text on a local HTTP address
 * (`--metrics-addr HOST:PORT`, off by default): GET /metrics.
 *
 * @example
 * ```ts
 * const metrics = createMetrics({ peerId, version })
 * const dataplane = createDataplane({ logger, metrics })           // reconcile passes
 * const node = await createLibp2p({ ..., metrics: metrics.libp2p() })  // libp2p's own
 * state.on('change', change => { metrics.recordApplied(change) })
 * metrics.observe({ peers, records, mesh, dataplane })              // read at scrape time
 * plugin.onRequest = (method, outcome) => { metrics.pluginRequest(method, outcome) }
 * await metrics.listen('127.0.0.1:9477')
 * ```
 *
 * Series (see README for the full list): meshplane_peers{state}, meshplane_records{kind},
 * meshplane_records_applied_total{kind,origin}, meshplane_record_propagation_delay_seconds,
 * meshplane_sync_{rounds,failures,bytes}_total, meshplane_sync_records_total{direction},
 * meshplane_gossip_messages_total{result}, meshplane_kernel_entries{kind},
 * meshplane_kernel_ops_total{kind,result}, meshplane_netlink_errors_total,
 * meshplane_reconcile_duration_seconds{reason}, meshplane_plugin_requests_total{method,outcome},
 * meshplane_dns_queries_total{transport,result},
 * meshplane_info, libp2p_* and the process/Node.js defaults.
 */
import type { Registry } from 'prom-client'
import type { prometheusMetrics } from '@libp2p/prometheus-metrics'
import type { MeshCounters } from '../mesh/mesh.js'
import type { DataplaneStatus, ReconcileResult } from '../dataplane/index.js'
import type { RecordChange } from '../state/index.js'
import { PrometheusAgentMetrics } from './metrics.js'

export interface AgentMetricsInit {
  peerId: string
  version: string
}

/** What the agent lets the metrics read at scrape time. */
export interface MetricsSource {
  peers: () => Array<{ state: string, self: boolean }>
  records: () => Record<string, number>
  mesh: () => MeshCounters
  dataplane: () => Pick<DataplaneStatus, 'programmed' | 'netlinkErrors' | 'firewall'>
}

export type AppliedRecord = Pick<RecordChange, 'record' | 'local'>
export type ReconcileObservation = Pick<ReconcileResult, 'skipped' | 'reason' | 'durationMs' | 'byKind' | 'failed'>

/** 'ok', or the error code the plugin answered with (E_NOT_FOUND, …). */
export type PluginOutcome = string

export interface AgentMetrics {
  readonly registry: Registry
  observe: (source: MetricsSource) => void
  /** A record version merged into the state (the state's 'change' event). */
  recordApplied: (change: AppliedRecord, nowMs?: number) => void
  /** One reconcile pass (the dataplane's `metrics` component). */
  reconciled: (result: ReconcileObservation) => void
  /** One Docker plugin request: method as Docker names it, outcome 'ok' or an error code. */
  pluginRequest: (method: string, outcome: PluginOutcome) => void
  /** One DNS query the resolver handled, by transport and result (dns/answer.ts QueryResult). */
  dnsQuery: (transport: string, result: string) => void
  /** The `metrics` option of createLibp2p: libp2p's own metrics into this registry. */
  libp2p: () => ReturnType<typeof prometheusMetrics>
  /** The scrape as Prometheus text. */
  text: () => Promise<string>
  /** Serves GET /metrics on HOST:PORT. Throws E_CONFIG when it cannot listen. */
  listen: (address: string) => Promise<void>
  address: () => string | undefined
  stop: () => Promise<void>
}

export function createMetrics (init: AgentMetricsInit): AgentMetrics {
  return new PrometheusAgentMetrics(init)
}

export * as metricsConstants from './constants.js'
