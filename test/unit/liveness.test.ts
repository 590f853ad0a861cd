import test from 'ava'
import { LivenessTracker } from '@meshplane/agent/liveness/tracker.js'
import type { HostBody } from '@meshplane/agent/state/types.js'

const host = (incarnation: bigint, leaving = false): HostBody => ({
  underlayIp: '10.77.0.2', vxlanPort: 4789, agentVersion: 't', startedAtMs: incarnation, incarnation, leaving, multiaddrs: []
})

test('alive while beats arrive, unreachable after dead-after of silence, alive again on a beat', t => {
  let now = 1000
  const tr = new LivenessTracker({ selfId: 'me', deadAfterMs: 2500, now: () => now })
  t.is(tr.liveness('p', host(1n)).state, 'unreachable', 'never heard of')
  tr.heard('p', { incarnation: 1n, counter: 1n, leaving: false })
  t.is(tr.liveness('p', host(1n)).state, 'alive')
  now += 2499
  t.is(tr.liveness('p', host(1n)).state, 'alive')
  now += 2
  t.is(tr.liveness('p', host(1n)).state, 'unreachable')
  tr.heard('p', { incarnation: 1n, counter: 2n, leaving: false })
  t.is(tr.liveness('p', host(1n)).state, 'alive')
  t.is(tr.liveness('me', undefined).state, 'alive', 'self is always alive')
})

test('a leaving beat or record means left at once; a new incarnation is alive again', t => {
  let now = 0
  const tr = new LivenessTracker({ selfId: 'me', deadAfterMs: 2500, now: () => now })
  tr.heard('p', { incarnation: 1n, counter: 1n, leaving: false })
  tr.heard('p', { incarnation: 1n, counter: 2n, leaving: true })
  t.is(tr.liveness('p', host(1n)).state, 'left')
  t.is(tr.liveness('q', host(1n, true)).state, 'left', 'a leaving record alone')
  now += 100
  tr.heard('p', { incarnation: 2n, counter: 1n, leaving: false })
  t.is(tr.liveness('p', host(1n, true)).state, 'alive', 'restarted before its new record arrived')
  t.is(tr.liveness('p', host(2n)).state, 'alive')
  tr.heard('p', { incarnation: 1n, counter: 3n, leaving: true })
  t.is(tr.liveness('p', host(2n)).state, 'alive', 'a late beat from the old life is ignored')
})
