/** Fixed values of the metrics endpoint. */

/** The only path served (Prometheus' default metrics_path). */
export const METRICS_PATH = '/metrics'

/**
 * Record propagation delay buckets, seconds: gossip on a LAN lands in the first few;
 * anti-entropy repairs (sync every 10 s by default) in the 5-30 s ones; records a host
 * missed while it was down or partitioned in the last.
 */
export const PROPAGATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600]

/** Reconcile pass duration buckets, seconds: an idle pass is a few dumps (ms); a first
 * pass over 100,000 entries takes seconds. */
export const RECONCILE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
