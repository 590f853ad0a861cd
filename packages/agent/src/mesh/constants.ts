import { MAX_RECORD_BYTES } from '../state/constants.js'

/** Carries RecordBundles (version 1 carried one bare SignedRecord per message). */
export const RECORDS_TOPIC = '/meshplane/records/2'
/** A bundle holds the records of one change (a network and its ranges: 2); a burst of
 * local writes is split into bundles of at most this many. */
export const MAX_BUNDLE_RECORDS = 64
/** What a bundle of MAX_BUNDLE_RECORDS records of the largest size can take (each record
 * field costs a tag and a length: a few bytes); anything bigger is hostile. */
export const MAX_BUNDLE_BYTES = MAX_BUNDLE_RECORDS * (MAX_RECORD_BYTES + 8)
/** Liveness news (suspicions, refutations, leaving): published only when something changes. */
export const LIVENESS_TOPIC = '/meshplane/liveness/1'
export const SYNC_PROTOCOL = '/meshplane/sync/1.0.0'
/** Liveness probes (direct and indirect): one long-lived stream per prober and peer,
 * requests and answers matched by id (1.0.0 was one stream per probe). */
export const PROBE_PROTOCOL = '/meshplane/probe/2.0.0'

/** Anti-entropy with one random peer this often, besides the sync on every new connection
 * (serf's push-pull runs every 30 s; ours is cheap when in sync: one 2 KiB digest). */
export const DEFAULT_SYNC_INTERVAL_MS = 10_000

/** Each agent keeps at least this many connections to other agents it learned from host
 * records, so a cluster that was only given the seed's address does not depend on it and
 * gossip does not funnel through one star centre (docs/design.md, "The mesh"). */
export const DEFAULT_TARGET_PEERS = 4

/** How often the agent checks its connections and redials. Per-address backoff doubles up
 * to MAX_REDIAL_BACKOFF_MS. */
export const REDIAL_TICK_MS = 1_000
export const MIN_REDIAL_BACKOFF_MS = 500
export const MAX_REDIAL_BACKOFF_MS = 30_000

/** A sync exchange carries at most this many bytes per message (a full state of 100,000
 * endpoints is ~20 MB); larger states are still correct, they just take several rounds. */
export const SYNC_MAX_MESSAGE_BYTES = 64 << 20
export const SYNC_TIMEOUT_MS = 15_000
/** Records one sync message may push (checked before they are decoded); more go in later
 * rounds. Each is verified, so this bounds the work one message can ask for. */
export const MAX_SYNC_PUSH_RECORDS = 100_000
/** A LivenessNews or a Probe is a peer id (~52 bytes) and three integers. */
export const MAX_LIVENESS_BYTES = 160
/** A probe answer may carry the answerer's unreachable hosts (for a starting agent): at
 * most this many, ~70 bytes each. */
export const MAX_VIEW_ENTRIES = 4096
export const MAX_PROBE_ACK_BYTES = 512 * 1024
