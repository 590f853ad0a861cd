/** One record is small (a host, a network, an endpoint, a range list); 16 KiB leaves room
 * for a ranges record with thousands of fragments while keeping a hostile peer from making
 * us store or forward megabytes per message. */
export const MAX_RECORD_BYTES = 16 * 1024

export const MAX_KEY_LENGTH = 256

/** Buckets of the sync digest: 256 × 8-byte hashes = 2 KiB per periodic sync when in sync. */
export const SYNC_BUCKETS = 256

/** Tombstones live long enough that every host that was down or partitioned for less than
 * this has seen them (serf keeps left members 24 h, NetworkDB reaps after 30 min). */
export const DEFAULT_TOMBSTONE_TTL_MS = 24 * 60 * 60 * 1000

/** A disk that refuses writes (full, read-only) is retried from 1 s, backing off to 30 s;
 * the records stay in effect in memory meanwhile. */
export const WRITE_RETRY_MIN_MS = 1_000
export const WRITE_RETRY_MAX_MS = 30_000

/** Lamport versions stay below 2^63 (the wire carries uint64): a local write that would
 * pass it is refused rather than wrapped, and a received record above it is refused. */
export const MAX_LAMPORT = (1n << 63n) - 1n

/** A received record may be at most this far ahead of this replica's clock. Honest clocks
 * move by one per write, so a gap this large is a member trying to push every clock
 * toward the top (after which every write would wrap and lose every merge). */
export const MAX_LAMPORT_STEP = 1n << 32n
