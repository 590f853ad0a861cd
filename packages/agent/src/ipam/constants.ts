/** The range-request protocol between agents (request/response, one exchange per stream). */
export const IPAM_PROTOCOL = '/meshplane/ipam/1.0.0'

/** A request or a response is a network name, a few numbers and one ranges record (at most
 * MAX_RECORD_BYTES = 16 KiB): 32 KiB bounds a hostile peer's message with room to spare. */
export const IPAM_MAX_MESSAGE_BYTES = 32 * 1024

/** One round trip to a holder; a holder that does not answer in this time is skipped and
 * the next candidate is asked, so allocation never hangs on a dead or partitioned host. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000

/** Upper bound of one `allocate`/`claim` that needs a range from another host: every
 * request, every wait for a grant to land, all candidates together. */
export const DEFAULT_ALLOCATE_TIMEOUT_MS = 30_000

/** Addresses asked for at a time when this host runs dry (more when more callers wait).
 * Large enough that a busy host asks rarely, small enough that 1,000 hosts fit in a /16. */
export const DEFAULT_REQUEST_SIZE = 64

/** A holder gives at most this many addresses per request, and never more than half of
 * what it has free (Weave's rule), so that it keeps room for its own endpoints. */
export const MAX_GRANT_SIZE = 65_536

/** rmpeer refuses a host that has been unreachable for less than this: a host that is only
 * partitioned or rebooting would come back and allocate from ranges that were handed to
 * someone else (Weave's top IPAM failure, docs/design.md "Addresses"). */
export const DEFAULT_RMPEER_SAFETY_MS = 10 * 60_000

/** The free-space hint in this host's ranges record is rewritten when it drifts by more
 * than this fraction of the host's addresses (or reaches / leaves zero), so allocation
 * costs a record write only every few dozen addresses, not every time. */
export const FREE_HINT_DRIFT = 0.125
export const FREE_HINT_MIN_DRIFT = 16

/** Key prefix of allocations in the local sublevel: `ipam/<network>/<ip>`. */
export const ALLOCATION_PREFIX = 'ipam/'

/** When running dry, also ask this many holders that advertise no free space (their hint
 * may be stale), after the ones that do. */
export const PROBE_SILENT_HOLDERS = 3

/** A host that falls below this many free addresses after an allocation asks for the next
 * range in the background, so callers rarely wait for the ~0.2 s round trip of a refill
 * (a quarter of DEFAULT_REQUEST_SIZE: a burst of 16 endpoints fits in the remainder). */
export const PREFETCH_LOW_WATER = 16

/** A network reconcile that failed (a full disk: the ranges record cannot be written) is
 * retried from 1 s, backing off to 30 s; without it a network this host created would
 * stay unseeded (nobody could allocate) until the agent restarts. */
export const RECONCILE_RETRY_MIN_MS = 1_000
export const RECONCILE_RETRY_MAX_MS = 30_000

/** Range requests one member may make of this host: a burst (a host running dry under a
 * wave of attaches asks a few times in a row), then a steady rate (ipam/guard.ts). */
export const RANGE_REQUEST_BURST = 10
export const RANGE_REQUESTS_PER_SECOND = 2
