import test from 'ava'
import fc from 'fast-check'
import type { RangesBody } from '@meshplane/proto'
import {
  normalize, normalizeGen, subtract, intersect, freeSpans, pickForGrant, splitSpan, totalSize, toWire,
  computeOwnership, excludedSpans, lineageOf, type GenSpan, type Span, type RangesInput
} from '@meshplane/agent/ipam/index.js'
import { ipToInt } from '@meshplane/agent/net/addr.js'

const points = (spans: readonly Span[]): Set<number> => {
  const s = new Set<number>()
  for (const r of spans) for (let n = r.start; n <= r.end; n++) s.add(n)
  return s
}

const spanArb = (max = 200): fc.Arbitrary<Span> =>
  fc.tuple(fc.nat(max), fc.nat(20)).map(([start, len]) => ({ start, end: start + len }))

test('normalize merges overlapping and adjacent spans and keeps the same addresses', t => {
  fc.assert(fc.property(fc.array(spanArb()), spans => {
    const n = normalize(spans)
    for (let i = 1; i < n.length; i++) if (n[i]!.start <= n[i - 1]!.end + 1) return false
    return JSON.stringify([...points(n)].sort()) === JSON.stringify([...points(spans)].sort())
  }))
  t.deepEqual(normalize([{ start: 5, end: 6 }, { start: 1, end: 4 }, { start: 10, end: 10 }]), [{ start: 1, end: 6 }, { start: 10, end: 10 }])
})

test('subtract, intersect and freeSpans agree with set arithmetic', t => {
  fc.assert(fc.property(fc.array(spanArb()), fc.array(spanArb()), fc.array(fc.nat(230)), (a, b, taken) => {
    const A = points(normalize(a))
    const B = points(b)
    const diff = points(subtract(normalize(a), b))
    const inter = points(intersect(normalize(a), b))
    const free = points(freeSpans(normalize(a), taken))
    for (const n of A) {
      if (diff.has(n) === B.has(n)) return false
      if (inter.has(n) !== B.has(n)) return false
      if (free.has(n) === taken.includes(n)) return false
    }
    return [...diff, ...inter, ...free].every(n => A.has(n))
  }))
  t.deepEqual(splitSpan({ start: 1, end: 10 }, 5), [{ start: 1, end: 4 }, { start: 5, end: 10 }])
})

test('pickForGrant takes exactly the asked count from free space, largest run first, from its top', t => {
  fc.assert(fc.property(fc.array(spanArb()), fc.nat(300), (spans, count) => {
    const free = normalize(spans)
    const picked = pickForGrant(free, count)
    const F = points(free)
    return totalSize(picked) === Math.min(count, F.size) && [...points(picked)].every(n => F.has(n)) &&
      totalSize(normalize(picked)) === totalSize(picked)
  }))
  t.deepEqual(pickForGrant([{ start: 0, end: 3 }, { start: 10, end: 19 }], 4), [{ start: 16, end: 19 }])
})

test('normalizeGen merges adjacent ranges and keeps the higher generation', t => {
  t.deepEqual(normalizeGen([{ start: 5, end: 9, gen: 3 }, { start: 0, end: 4, gen: 1 }]), [{ start: 0, end: 9, gen: 3 }])
})

test('excluded addresses: network, broadcast, gateway and options.reserved (addresses, ranges, CIDRs)', t => {
  const spans = excludedSpans({ subnet: '10.0.0.0/24', gateway: '10.0.0.1', options: new Map([['reserved', '10.0.0.10, 10.0.0.20-10.0.0.22,10.0.0.128/30, junk']]) })
  const ex = points(spans)
  for (const ip of ['10.0.0.0', '10.0.0.255', '10.0.0.1', '10.0.0.10', '10.0.0.21', '10.0.0.130']) t.true(ex.has(ipToInt(ip)), ip)
  t.false(ex.has(ipToInt('10.0.0.2')))
})

// ---- computeOwnership --------------------------------------------------------------------

const NET = { subnet: '10.0.0.0/24', creator: 'A', createdAtMs: 1n }
const LINEAGE = lineageOf(NET)
const base = ipToInt('10.0.0.0')
const g = (start: number, end: number, gen: number): GenSpan => ({ start: base + start, end: base + end, gen })

function body (held: GenSpan[], extra: Partial<RangesBody> = {}): RangesBody {
  return { network: 'n', ranges: held.map(toWire), lineage: LINEAGE, grants: [], claims: [], reclaims: [], freeHint: 0, ...extra }
}

test('the seed owns everything; a grant in flight belongs to nobody; a claim wins over a stale grantor copy', t => {
  const seed = computeOwnership(NET, [{ peer: 'A', body: body([g(0, 255, 1)]) }])
  t.deepEqual(seed.owners.get('A'), [g(0, 255, 1)])
  const grant = { id: 'x', to: 'B', ranges: [toWire(g(128, 255, 1))] }
  const inFlight = computeOwnership(NET, [{ peer: 'A', body: body([g(0, 127, 1)], { grants: [grant] }) }])
  t.deepEqual(inFlight.owners.get('A'), [g(0, 127, 1)])
  t.is(inFlight.inFlight.length, 1)
  t.is(inFlight.owners.get('B'), undefined)
  // a replica that has B's claim but still A's seed copy: B wins, no conflict reported for B
  const stale = computeOwnership(NET, [
    { peer: 'A', body: body([g(0, 255, 1)]) },
    { peer: 'B', body: body([g(128, 255, 2)], { claims: [{ from: 'A', id: 'x' }] }) }
  ])
  t.deepEqual(stale.owners.get('B'), [g(128, 255, 2)])
  t.deepEqual(stale.owners.get('A'), [g(0, 127, 1)])
})

test('equal generations (two reclaims of one dead host) go to the lower peer id and are reported', t => {
  const o = computeOwnership(NET, [
    { peer: 'C', body: body([g(10, 20, 3)]) },
    { peer: 'B', body: body([g(15, 30, 3)]) }
  ])
  t.deepEqual(o.owners.get('B'), [g(15, 30, 3)])
  t.deepEqual(o.owners.get('C'), [g(10, 14, 3)])
  t.is(o.conflicts.length, 1)
  t.like(o.conflicts[0], { reason: 'overlap', winner: 'B', loser: 'C', start: base + 15, end: base + 20 })
})

test('records of another lineage own nothing and are reported', t => {
  const o = computeOwnership(NET, [
    { peer: 'A', body: body([g(0, 255, 1)]) },
    { peer: 'Z', body: { ...body([g(0, 255, 1)]), lineage: 'Z@2' } }
  ])
  t.deepEqual([...o.owners.keys()], ['A'])
  t.like(o.conflicts[0], { reason: 'foreign-lineage', loser: 'Z' })
})

test('property: whatever records a replica holds, every address has at most one owner, and it is a listing with the highest generation', t => {
  const peers = ['A', 'B', 'C', 'D']
  const listing = fc.record({ start: fc.nat(60), len: fc.nat(15), gen: fc.integer({ min: 1, max: 5 }) })
    .map(({ start, len, gen }) => g(start, start + len, gen))
  const recordArb = fc.record({
    peer: fc.constantFrom(...peers),
    held: fc.array(listing, { maxLength: 4 }),
    grants: fc.array(fc.record({ to: fc.constantFrom(...peers), r: listing }), { maxLength: 2 })
  })
  fc.assert(fc.property(fc.uniqueArray(recordArb, { selector: r => r.peer, maxLength: 4 }), recs => {
    const input: RangesInput[] = recs.map(r => ({
      peer: r.peer,
      body: body(normalizeGen(r.held), { grants: r.grants.map((x, i) => ({ id: `${i}`, to: x.to, ranges: [toWire(x.r)] })) })
    }))
    const o = computeOwnership(NET, input)
    const seen = new Map<number, string>()
    for (const [peer, spans] of o.owners) {
      for (const n of points(spans)) {
        if (seen.has(n)) return false
        seen.set(n, peer)
      }
    }
    for (const f of o.inFlight) for (const n of points([f])) if (seen.has(n)) return false
    // the owner's generation is the maximum over every listing (held or granted) of the address
    for (const [n, peer] of seen) {
      let max = 0
      for (const r of recs) {
        for (const h of normalizeGen(r.held)) if (n >= h.start && n <= h.end) max = Math.max(max, h.gen)
        for (const x of r.grants) if (x.to !== r.peer && n >= x.r.start && n <= x.r.end) max = Math.max(max, x.r.gen + 1)
      }
      const own = o.owners.get(peer)!.find(s => n >= s.start && n <= s.end)!
      if (own.gen !== max) return false
    }
    return true
  }), { numRuns: 500 })
  t.pass()
})
