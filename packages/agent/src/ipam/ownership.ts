/**
 * Who owns which addresses of a network, computed from the ranges records alone. Pure.
 *
 * How ownership is recorded (see index.ts for the whole flow):
 *   - every host's record `ranges/<network>/<peer>` lists the ranges it holds, each with
 *     a generation; only that host signs it;
 *   - the seed: the network creator lists the whole subnet at generation 1;
 *   - a transfer A → B: A moves the range from `ranges` to `grants` (to B) in one write;
 *     B, once it sees the grant, lists the range at generation + 1 and remembers the grant
 *     id in `claims` so that it never consumes it twice; A drops the grant once someone
 *     is seen to hold its addresses at a higher generation (B's claim); B forgets the
 *     claim id once A's grant is gone;
 *   - rmpeer: the reclaimer lists the dead host's ranges at generation + 1.
 *
 * So along the history of one address the generation strictly grows, and every listing
 * of it that some replica may still hold from an earlier owner has a lower generation
 * than the current owner's. The rule here: for each address, the listing with the
 * highest generation wins; equal generations (only two reclaims of the same dead host,
 * or a bug) go to the lower peer id. The rule ignores record versions, so a host that
 * rewrites its record for other reasons (a free-space hint) never changes the outcome.
 * Listings that lose while their host still holds them are conflicts; the losing host
 * drops them on its next reconcile and reports the allocations it made there.
 *
 * Records of another lineage (a concurrent creation of the same network that lost the
 * network record's LWW) own nothing: their ranges are reported as conflicts.
 */
import type { NetworkBody, RangesBody } from '@meshplane/proto'
import { ipToInt } from '../net/addr.js'
import { parseCidr } from '../net/addr.js'
import { fromWireAll, intersect, subtract, normalize, type GenSpan, type Span } from './ranges.js'

export interface RangesInput {
  peer: string
  body: RangesBody
}

export type ConflictReason =
  /** two hosts list the same addresses; `winner` keeps them */
  | 'overlap'
  /** the listing descends from a seeding that lost the network record's LWW */
  | 'foreign-lineage'
  /** the listing is outside the network's subnet */
  | 'outside-subnet'

export interface OwnershipConflict {
  start: number
  end: number
  reason: ConflictReason
  /** the host that keeps the addresses ('' when nobody does) */
  winner: string
  winnerGen: number
  /** the host that lists them and loses */
  loser: string
  loserGen: number
}

export interface InFlight extends GenSpan {
  from: string
  to: string
  grantId: string
}

export interface Ownership {
  lineage: string
  subnet: Span
  /** held ranges that win, by host (sorted, generation kept) */
  owners: Map<string, GenSpan[]>
  /** granted and not yet claimed (the generation shown is the one the claim will have) */
  inFlight: InFlight[]
  conflicts: OwnershipConflict[]
}

/** Which seeding of a network a ranges record must descend from: the network record's
 * creator and creation time. A deleted and re-created network is a new lineage, so stale
 * ranges of its predecessor never count. */
export function lineageOf (network: Pick<NetworkBody, 'creator' | 'createdAtMs'>): string {
  return `${network.creator}@${network.createdAtMs}`
}

/** Addresses never handed out: network and broadcast address (subnets up to /30), the
 * gateway, and operator-reserved ones: options.reserved = comma list of addresses,
 * `a-b` ranges or CIDRs. Unparseable items are ignored (the network record was
 * validated when written; a typo must not stop allocation). */
export function excludedSpans (network: Pick<NetworkBody, 'subnet' | 'gateway' | 'options'>): Span[] {
  const cidr = parseCidr(network.subnet)
  if (cidr === undefined) return []
  const out: Span[] = []
  if (cidr.prefixLen < 31) out.push({ start: cidr.base, end: cidr.base }, { start: cidr.base + cidr.size - 1, end: cidr.base + cidr.size - 1 })
  if (network.gateway !== '' && cidr.contains(network.gateway)) {
    const g = ipToInt(network.gateway)
    out.push({ start: g, end: g })
  }
  const reserved = network.options.get('reserved') ?? ''
  for (const item of reserved.split(',').map(s => s.trim()).filter(s => s !== '')) {
    const span = parseReservedItem(item)
    if (span !== undefined) out.push(span)
  }
  return normalize(intersect(out, [{ start: cidr.base, end: cidr.base + cidr.size - 1 }]))
}

function parseReservedItem (item: string): Span | undefined {
  const ip = /^\d{1,3}(\.\d{1,3}){3}$/
  if (ip.test(item)) return { start: ipToInt(item), end: ipToInt(item) }
  const dash = item.split('-')
  if (dash.length === 2 && ip.test(dash[0]!.trim()) && ip.test(dash[1]!.trim())) {
    const start = ipToInt(dash[0]!.trim())
    const end = ipToInt(dash[1]!.trim())
    return start <= end ? { start, end } : undefined
  }
  const cidr = parseCidr(item)
  if (cidr !== undefined) return { start: cidr.base, end: cidr.base + cidr.size - 1 }
  return undefined
}

export function subnetSpan (network: Pick<NetworkBody, 'subnet'>): Span | undefined {
  const cidr = parseCidr(network.subnet)
  return cidr === undefined ? undefined : { start: cidr.base, end: cidr.base + cidr.size - 1 }
}

interface Entry extends GenSpan {
  peer: string
  held: boolean
  from?: string
  grantId?: string
}

/** Higher generation first; at equal generation a held listing before a pending grant
 * (the same transfer seen on both sides), then the lower peer id. */
function better (a: Entry, b: Entry): boolean {
  if (a.gen !== b.gen) return a.gen > b.gen
  if (a.held !== b.held) return a.held
  return a.peer < b.peer
}

export function computeOwnership (network: Pick<NetworkBody, 'subnet' | 'creator' | 'createdAtMs'>, records: readonly RangesInput[]): Ownership {
  const lineage = lineageOf(network)
  const subnet = subnetSpan(network) ?? { start: 0, end: -1 }
  const conflicts: OwnershipConflict[] = []
  const entries: Entry[] = []
  // rmpeer leaves the removed host's record listing what was taken from it: expected,
  // not a conflict (the removed host, if it ever comes back, drops them itself).
  const reclaimed = new Set<string>()
  for (const { peer, body } of records) for (const r of body.reclaims) reclaimed.add(`${peer} ${r.peer}`)

  for (const { peer, body } of records) {
    const held = fromWireAll(body.ranges)
    if (body.lineage !== lineage) {
      for (const s of normalize(held)) {
        conflicts.push({ start: s.start, end: s.end, reason: 'foreign-lineage', winner: '', winnerGen: 0, loser: peer, loserGen: 0 })
      }
      continue
    }
    for (const s of subtract(held, [subnet])) {
      conflicts.push({ start: s.start, end: s.end, reason: 'outside-subnet', winner: '', winnerGen: 0, loser: peer, loserGen: s.gen })
    }
    for (const s of intersect(held, [subnet])) entries.push({ ...s, peer, held: true })
    for (const grant of body.grants) {
      if (grant.to === peer) continue
      for (const s of intersect(fromWireAll(grant.ranges), [subnet])) {
        entries.push({ start: s.start, end: s.end, gen: s.gen + 1, peer: grant.to, held: false, from: peer, grantId: grant.id })
      }
    }
  }

  // Sweep the elementary intervals between all range boundaries, keeping the listings
  // that cover the current one. Overlaps are rare, so the active set stays tiny.
  entries.sort((a, b) => a.start - b.start)
  const cuts = new Set<number>()
  for (const e of entries) { cuts.add(e.start); cuts.add(e.end + 1) }
  const boundaries = [...cuts].sort((a, b) => a - b)
  const owners = new Map<string, GenSpan[]>()
  const inFlight: InFlight[] = []
  let active: Entry[] = []
  let next = 0
  for (let i = 0; i + 1 < boundaries.length; i++) {
    const start = boundaries[i]!
    const end = boundaries[i + 1]! - 1
    active = active.filter(e => e.end >= start)
    while (next < entries.length && entries[next]!.start <= start) active.push(entries[next++]!)
    if (active.length === 0) continue
    let win = active[0]!
    for (const e of active) if (better(e, win)) win = e
    if (win.held) {
      appendSpan(owners, win.peer, { start, end, gen: win.gen })
    } else {
      const last = inFlight[inFlight.length - 1]
      if (last !== undefined && last.end + 1 === start && last.grantId === win.grantId && last.from === win.from && last.gen === win.gen) last.end = end
      else inFlight.push({ start, end, gen: win.gen, from: win.from!, to: win.peer, grantId: win.grantId! })
    }
    for (const e of active) {
      if (e === win || !e.held || e.peer === win.peer || reclaimed.has(`${win.peer} ${e.peer}`)) continue
      const last = conflicts[conflicts.length - 1]
      if (last !== undefined && last.reason === 'overlap' && last.end + 1 === start && last.loser === e.peer &&
        last.winner === win.peer && last.winnerGen === win.gen && last.loserGen === e.gen) {
        last.end = end
      } else {
        conflicts.push({ start, end, reason: 'overlap', winner: win.peer, winnerGen: win.gen, loser: e.peer, loserGen: e.gen })
      }
    }
  }
  return { lineage, subnet, owners, inFlight, conflicts }
}

function appendSpan (owners: Map<string, GenSpan[]>, peer: string, s: GenSpan): void {
  let list = owners.get(peer)
  if (list === undefined) owners.set(peer, list = [])
  const last = list[list.length - 1]
  if (last !== undefined && last.end + 1 === s.start && last.gen === s.gen) last.end = s.end
  else list.push(s)
}

/** Address → owning host, for one address. */
export function ownerOf (ownership: Ownership, address: number): { peer: string, gen: number } | undefined {
  for (const [peer, spans] of ownership.owners) {
    for (const s of spans) if (address >= s.start && address <= s.end) return { peer, gen: s.gen }
  }
  return undefined
}
