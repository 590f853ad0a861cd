/** The resolver's service address: link-local, the same on every host (see index.ts). */
export const DEFAULT_DNS_ADDRESS = '169.254.53.53'
export const DNS_PORT = 53

/** Answers live a few seconds in caches: a removed endpoint's name goes nearly as fast as
 * the endpoint itself, and a busy client asks again only every few seconds. */
export const ANSWER_TTL_S = 5

/** Classic DNS over UDP without EDNS; with EDNS, up to what the client offers, capped at
 * the DNS Flag Day 2020 size (no IP fragmentation). */
export const UDP_PAYLOAD_MIN = 512
export const UDP_PAYLOAD_MAX = 1232

/** Largest query accepted (a query is one question and an OPT record: well under 512). */
export const MAX_QUERY_BYTES = 4096

/** Per source address: sustained queries per second and burst (token bucket). Docker's
 * embedded DNS sends every container's queries from that container's own address. */
export const RATE_PER_SOURCE_QPS = 500
export const RATE_BURST = 1000
/** Sources tracked at once; beyond it the table starts afresh (a spoofing flood costs
 * itself the limit, never memory). */
export const RATE_MAX_SOURCES = 10_000

/** TCP: connections at once (all sources / one source), time to send a whole query. */
export const TCP_MAX_CONNECTIONS = 128
export const TCP_MAX_PER_SOURCE = 8
export const TCP_IDLE_TIMEOUT_MS = 5_000

/** Upstream forwarding: per-server wait, and queries in flight at once. */
export const UPSTREAM_TIMEOUT_MS = 2_000
export const MAX_FORWARDS_IN_FLIGHT = 256
