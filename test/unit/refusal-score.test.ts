import test from 'ava'
import { RefusalScore } from '@meshplane/agent/mesh/refusals.js'

test('a signer whose messages are refused scores lower with each, and recovers as the count halves (issue 15)', t => {
  const s = new RefusalScore()
  t.is(s.score('honest'), -0)
  for (let i = 0; i < 8; i++) s.note('rogue')
  t.is(s.score('rogue'), -8, 'with weight 10: -80, gossipsub\'s graylist threshold')
  s.decay()
  t.is(s.score('rogue'), -4)
  s.decay(); s.decay(); s.decay()
  t.is(s.score('rogue'), -0.5)
  s.decay()
  t.is(s.score('rogue'), -0, 'forgotten')
  // bounded: invented identities push out the oldest entries, not memory
  for (let i = 0; i < 5000; i++) s.note(`id${i}`)
  t.is(s.score('id0'), -0)
  t.is(s.score('id4999'), -1)
})
