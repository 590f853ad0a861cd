import test from 'ava'
import { MemberTable } from '@meshplane/agent/liveness/members.js'
import type { HostBody } from '@meshplane/agent/state/types.js'

const host = (incarnation: bigint, leaving = false): HostBody => ({
  underlayIp: '10.77.0.2', vxlanPort: 4789, agentVersion: 't', startedAtMs: incarnation, incarnation, leaving, multiaddrs: []
})

function table (suspicionMs = 2000): { t: MemberTable, advance: (ms: number) => void } {
  let now = 1000
  return { t: new MemberTable({ selfId: 'me', suspicionMs, now: () => now }), advance: ms => { now += ms } }
}

test('a host known from its record is alive; never heard of is unreachable; self is always alive', t => {
  const { t: tb } = table()
  t.is(tb.liveness('p').state, 'unreachable', 'never heard of')
  tb.host('p', host(1n))
  t.is(tb.liveness('p').state, 'alive')
  t.is(tb.liveness('me').state, 'alive')
  t.false(tb.host('me', host(1n)), 'self is not a member')
})

test('an unrefuted suspicion becomes unreachable after the suspicion time; suspect is shown alive', t => {
  const { t: tb, advance } = table(2000)
  tb.host('p', host(1n))
  t.true(tb.suspect('p', 1n, 0n, 'q'))
  t.is(tb.get('p')?.status, 'suspect')
  t.is(tb.liveness('p').state, 'alive', 'a suspicion is a question, not a verdict')
  advance(1999)
  t.deepEqual(tb.expire(), [])
  advance(1)
  t.deepEqual(tb.expire(), ['p'])
  t.is(tb.liveness('p').state, 'unreachable')
})

test('refutation: only a higher seq of the same life clears a suspicion, also after it became unreachable', t => {
  const { t: tb, advance } = table(2000)
  tb.host('p', host(1n))
  tb.suspect('p', 1n, 0n, 'q')
  t.false(tb.alive('p', 1n, 0n), 'the same seq does not refute')
  t.is(tb.get('p')?.status, 'suspect')
  t.true(tb.alive('p', 1n, 1n), 'a higher seq refutes')
  t.is(tb.get('p')?.status, 'alive')
  t.false(tb.suspect('p', 1n, 0n, 'q'), 'a stale suspicion (older seq) is ignored')
  t.is(tb.get('p')?.status, 'alive')
  tb.suspect('p', 1n, 1n, 'q')
  advance(2000)
  tb.expire()
  t.is(tb.liveness('p').state, 'unreachable')
  t.true(tb.alive('p', 1n, 2n), 'back from a partition: refutes with a higher seq')
  t.is(tb.liveness('p').state, 'alive')
})

test('Lifeguard: a lone accuser gets the longest suspicion; confirmations shorten it to the minimum', t => {
  let now = 0
  const tb = new MemberTable({ selfId: 'me', suspicionMs: 1500, suspicionMaxMs: 6000, now: () => now })
  t.is(tb.suspicionTimeoutMs(1, 2), 6000)
  t.is(tb.suspicionTimeoutMs(2, 2), 3161)
  t.is(tb.suspicionTimeoutMs(3, 2), 1500)
  t.is(tb.suspicionTimeoutMs(1, 0), 1500, 'a small cluster expects no confirmations')
  tb.host('p', host(1n))
  tb.host('q', host(1n))
  tb.suspect('p', 1n, 0n, 'a')
  tb.suspect('q', 1n, 0n, 'a')
  tb.suspect('q', 1n, 0n, 'a')
  t.is(tb.get('q')?.suspecters.size, 1, 'the same accuser twice is one accuser')
  tb.suspect('q', 1n, 0n, 'b')
  tb.suspect('q', 1n, 0n, 'c')
  now += 1500
  t.deepEqual(tb.expire(2), ['q'], 'three accusers: unreachable after the minimum')
  now += 4499
  t.deepEqual(tb.expire(2), [])
  now += 1
  t.deepEqual(tb.expire(2), ['p'], 'one accuser: after the maximum')
  tb.alive('p', 1n, 1n)
  t.is(tb.get('p')?.suspecters.size, 0, 'a refutation clears the accusers')
})

test('a suspicion about an unknown host is ignored (no made-up members)', t => {
  const { t: tb } = table()
  t.false(tb.suspect('ghost', 1n, 0n, 'q'))
  t.is(tb.get('ghost'), undefined)
})

test('leave is final for its life; a new life (restart) is alive again; old-life news is ignored', t => {
  const { t: tb } = table()
  tb.host('p', host(1n))
  t.true(tb.leave('p', 1n))
  t.is(tb.liveness('p').state, 'left')
  t.false(tb.alive('p', 1n, 5n), 'no refutation of a leave')
  t.false(tb.suspect('p', 1n, 5n, 'q'))
  t.is(tb.liveness('p').state, 'left')
  t.true(tb.host('p', host(2n)), 'the restarted host\'s new record')
  t.is(tb.liveness('p').state, 'alive')
  t.false(tb.leave('p', 1n), 'a late leave of the old life')
  t.false(tb.suspect('p', 1n, 9n, 'q'), 'a late suspicion of the old life')
  t.is(tb.liveness('p').state, 'alive')
  t.true(tb.host('p', host(2n, true)), 'the leaving record of the current life')
  t.is(tb.liveness('p').state, 'left')
})

test('a new life learned from a probe answer or news before its host record is alive', t => {
  const { t: tb } = table()
  tb.host('p', host(1n))
  tb.leave('p', 1n)
  t.true(tb.alive('p', 2n, 0n))
  t.is(tb.liveness('p').state, 'alive')
  t.false(tb.host('p', host(1n, true)), 'the old leaving record arriving late changes nothing')
  t.is(tb.liveness('p').state, 'alive')
})

test('first-hand signs of life set lastSeenMs; second-hand answers do not', t => {
  const { t: tb, advance } = table()
  tb.host('p', host(1n))
  t.is(tb.liveness('p').lastSeenMs, undefined)
  advance(10)
  tb.alive('p', 1n, 0n, false)
  t.is(tb.liveness('p').lastSeenMs, undefined)
  tb.seen('p')
  t.is(tb.liveness('p').lastSeenMs, 1010)
})

test('unrefutable suspicion: news about a host changes only what its own word allows (issue 15)', t => {
  const { t: tb, advance } = table(2000)
  tb.host('p', host(5n))
  // a suspicion at a life p never announced: it could never refute it, so nobody adopts it
  t.false(tb.suspect('p', 6n, 0n, 'rogue'))
  t.false(tb.suspect('p', 1n << 62n, 0n, 'rogue'))
  t.like(tb.get('p'), { life: 5n, status: 'alive' })
  // a refutation number far beyond the one p was heard at: not p's either
  t.false(tb.suspect('p', 5n, 1n << 40n, 'rogue'))
  t.like(tb.get('p'), { seq: 0n, status: 'alive' })
  // a relay cannot start a new life for p (it would make the real life's suspicions look stale)
  t.false(tb.alive('p', 9n, 0n, false))
  t.is(tb.get('p')?.life, 5n)
  // what p's own word allows still works: a suspicion at its life, expiring unrefuted
  t.true(tb.suspect('p', 5n, 0n, 'q'))
  advance(2000)
  t.deepEqual(tb.expire(), ['p'])
})
