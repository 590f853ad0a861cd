/**
 * IPAM without a central store.
 *
 * How it works
 * ------------
 * Address ranges of each network are owned by hosts. Each host's ranges record
 * (`ranges/<network>/<peerId>`, signed by that host only) lists:
 *   - `ranges`: what it holds, each range with a generation;
 *   - `grants`: ranges it gave away that the recipient has not yet been seen to claim;
 *   - `claims`: ids of grants it consumed, until the grantor forgets them;
 *   - `reclaims`: what `rmpeer` took from dead hosts (an audit trail);
 *   - `lineage`: the network seeding it descends from; `free_hint`: its free space.
 *
 * Seed: the network's creator (network record `creator`) lists the whole subnet at
 * generation 1. Transfer A → B: B asks A over /meshplane/ipam/1.0.0; A moves free
 * addresses from `ranges` to a grant (to B) in ONE write and answers with that record;
 * B claims it: lists the ranges at generation + 1 and remembers the grant id. A address
 * is never in two hosts' `ranges` from a legitimate history: it leaves A's before it can
 * enter B's, and a grant is consumed once. Every replica computes the same owners from
 * whatever records it has (`computeOwnership`, pure): the higher generation wins, so a
 * stale copy of an earlier owner's record never counts, whatever order gossip delivered.
 *
 * Allocation is local: the lowest free address (from a cursor) of the ranges this host
 * holds and wins, never the network/broadcast address, the gateway or options.reserved,
 * never an address an endpoint record shows in use, persisted in the local sublevel
 * (`ipam/<network>/<ip>`) before it is returned. When a host runs dry it asks holders
 * that advertise free space (random, weighted by free space), one at a time, each
 * request bounded; E_EXHAUSTED when every holder has none, E_UNAVAILABLE when the ones
 * that might could not be reached.
 *
 * Conflicts. Two creations of one network on hosts that could not see each other: the
 * network record's LWW winner's creator is the seeder; records of the other lineage own
 * nothing, their hosts void their ranges, and their allocations are reported (log and
 * `status().conflicts`). `rmpeer` on two hosts for the same dead host: equal generations,
 * the lower peer id keeps the ranges and the other drops them, reporting its
 * allocations there. Run `rmpeer` on ONE host (Weave's lesson, docs/design.md "Addresses"); it is
 * refused (E_PEER_ALIVE) until the host has been unreachable for the safety period.
 *
 * Trust: every member holds the cluster key and signs only its own record; a member that
 * lists ranges it was never given is not detected (as in Weave). Losing a host's data
 * directory loses its allocations; with the same identity it would also lose its seed
 * marker, so a data directory must not be restored without its identity changing.
 */
export { Ipam } from './ipam.js'
export type {
  IpamComponents, IpamInit, RequestRange, RequestRangeOptions, Allocation, GrantResult, RmpeerResult,
  IpamStatus, IpamNetworkStatus, IpamHostStatus, IpamConflict
} from './ipam.js'
export { computeOwnership, lineageOf, excludedSpans, subnetSpan, ownerOf } from './ownership.js'
export type { Ownership, OwnershipConflict, ConflictReason, InFlight, RangesInput } from './ownership.js'
export * from './ranges.js'
export { runIpamServer, runIpamClient, type IpamExchangeOptions } from './protocol.js'
export { RangeRequestGuard, type RangeRequestGuardInit } from './guard.js'
export * from './constants.js'
