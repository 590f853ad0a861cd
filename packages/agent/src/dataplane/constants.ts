/**
 * Fixed values of the dataplane, each with the reason it has that value.
 */

/**
 * Outer headers VXLAN adds over IPv4: outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8 = 50.
 * The overlay MTU is the underlay MTU minus this (RFC 7348 section 4.3), so a full-size
 * overlay frame never needs fragmenting on the underlay.
 */
export const VXLAN_IPV4_OVERHEAD = 50

/** IANA-assigned VXLAN port (RFC 7348 section 5); used when a host record carries 0. */
export const DEFAULT_VXLAN_PORT = 4789

/** Periodic full resync: repairs drift that no netlink event reported (design: "periodic resync"). */
export const DEFAULT_RESYNC_INTERVAL_MS = 5_000

/**
 * Netlink requests in flight at once, and messages per bulk datagram (batch.ts): 128
 * neighbour/FDB requests per sendmsg program 10,000 endpoints in ~0.1-0.2 s (as fast as
 * iproute2's batch mode or faster, docs/performance.md); their replies fit a stock receive
 * buffer even when every one is an error. Unbounded, replies overflow the socket and the
 * `netlink` package's native poll handler aborts the process.
 */
export const DEFAULT_MAX_IN_FLIGHT = 128

/**
 * Bulk neighbour/FDB requests (batch.ts): at most this many netlink messages per datagram,
 * whatever the window. 1,024 requests of at most 56 bytes stay far below the socket's send
 * buffer (netlink refuses a datagram larger than SO_SNDBUF, 208 KiB by default).
 */
export const BATCH_MAX_MESSAGES = 1024

/**
 * Receive buffer asked for on the bulk socket. The kernel caps it at net.core.rmem_max
 * (208 KiB on a stock system, doubled for its bookkeeping); chunks shrink to what the
 * granted buffer holds (BATCH_REPLY_BYTES per reply).
 */
export const BATCH_RECV_BUFFER_BYTES = 1 << 20

/**
 * Receive-buffer accounting of one error reply, rounded up: the skb of a 36-byte
 * nlmsgerr quoting a 48-byte request is ~700 bytes of truesize.
 */
export const BATCH_REPLY_BYTES = 1024

/**
 * Writes of more neighbour/FDB entries than this are made with the event socket out of the
 * neighbour group (netlink.ts, #quietNeighbourEvents), followed by one more pass. Fewer
 * come back as events that fit any receive buffer, and are cheap to skip.
 */
export const QUIET_EVENTS_ABOVE = 256

/** A chunk's final ACK comes back inside sendmsg; waiting longer means it was lost. */
export const BATCH_ACK_TIMEOUT_MS = 10_000

/**
 * Bursts of netlink events (a flushed table emits one per entry) are folded into one
 * reconcile after this quiet time.
 */
export const EVENT_DEBOUNCE_MS = 50

/** After a pass with failed ops, retry after this, doubling up to the resync interval. */
export const RETRY_BASE_MS = 250

/** The netns-configure child gets this long before it is killed. */
export const NETNS_CONFIGURE_TIMEOUT_MS = 15_000

/**
 * Neighbour-table limits, the values Docker raises them to (docs/design.md, "The kernel"):
 * permanent entries count against gc_thresh3, so a big network would otherwise hit
 * "neighbour table overflow" at the kernel default of 1024.
 */
export const GC_THRESH = { gc_thresh1: 8192, gc_thresh2: 49152, gc_thresh3: 65536 } as const

/**
 * Device names. The kernel limits names to 15 characters (IFNAMSIZ 16 with NUL):
 * 'mpvx' + a VNI of at most 8 digits (2^24 - 1 = 16777215) is 12.
 * The prefixes mark what meshplane owns: only devices matching these patterns, and
 * entries on them, are ever removed. `mpv` + 8 hex digits never matches `mpvx<digits>`
 * because 'x' is not a hex digit.
 */
export const BRIDGE_PREFIX = 'mpbr'
export const VXLAN_PREFIX = 'mpvx'
export const VETH_PREFIX = 'mpv'
/** Temporary name of a veth peer inside the container namespace, until it is renamed. */
export const VETH_PEER_PREFIX = 'mpc'

export const BRIDGE_NAME_RE = /^mpbr\d{1,8}$/
export const VXLAN_NAME_RE = /^mpvx\d{1,8}$/
export const VETH_NAME_RE = /^mpv[0-9a-f]{8}$/

/** The all-zeros MAC: the VXLAN default destination list (head-end replication of BUM). */
export const ZERO_MAC = '00:00:00:00:00:00'

/** Bounded history of errors kept for status(). */
export const MAX_LAST_ERRORS = 20

/** One `nft` run (a listing or a transaction): it normally takes ~10 ms; a hung one must
 * not hold the kernel queue (every other change waits behind it). */
export const NFT_TIMEOUT_MS = 10_000

/** Passes that look at the firewall in the kernel even when the desired rules are what
 * the last pass applied: a flush by hand (`nft flush ruleset`, `iptables -F`) sends no
 * netlink event we listen to, so the periodic resync is what repairs it. */
export const FIREWALL_OBSERVE_REASONS = ['start', 'resync', 'reconcileNow', 'retry'] as const
