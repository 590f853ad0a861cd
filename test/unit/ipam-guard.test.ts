/**
 * Range requests from a hostile member (issue 15): only members with a host record are
 * served, each at a bounded rate, and a refused request costs the holder nothing.
 */
import test from 'ava'
import { streamPair } from '@libp2p/utils'
import { RangeRequestGuard, runIpamServer, runIpamClient } from '@meshplane/agent/ipam/index.js'
import { MeshplaneError } from '@meshplane/agent/errors.js'

/** A holder that would grant anything: counts what reached it. */
function holder (): { calls: number, handleRangeRequest: () => Promise<never> } {
  const h = {
    calls: 0,
    handleRangeRequest: async (): Promise<never> => { h.calls++; throw new MeshplaneError('E_EXHAUSTED', 'stub') }
  }
  return h
}

async function ask (ipam: ReturnType<typeof holder>, guard: RangeRequestGuard, peer: string): Promise<string> {
  const [client, server] = await streamPair()
  const served = runIpamServer(ipam, server, peer, { guard })
  const err = await runIpamClient(client, { network: 'blue', size: 32768 }).then(() => undefined, (e: MeshplaneError) => e)
  await served
  return err?.message ?? 'granted'
}

test('range requests: refused without a host record; a member gets a burst, then a steady rate', async t => {
  let now = 0
  const members = new Set(['member'])
  const guard = new RangeRequestGuard({ isMember: p => members.has(p), burst: 10, perSecond: 2, now: () => now })
  const ipam = holder()
  t.regex(await ask(ipam, guard, 'stranger'), /has no host record/)
  t.is(ipam.calls, 0, 'a stranger\'s request never reaches the IPAM')

  for (let i = 0; i < 10; i++) t.regex(await ask(ipam, guard, 'member'), /stub/)
  t.is(ipam.calls, 10)
  t.regex(await ask(ipam, guard, 'member'), /too many range requests/)
  t.is(ipam.calls, 10, 'the 11th in a burst is refused before any work')
  now += 499
  t.regex(await ask(ipam, guard, 'member'), /too many/)
  now += 1
  t.regex(await ask(ipam, guard, 'member'), /stub/, 'one more after half a second')
  t.is(ipam.calls, 11)
})
