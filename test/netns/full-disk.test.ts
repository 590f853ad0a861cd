/**
 * A full disk under a real agent: its data directory on a 4 MiB tmpfs, filled to the last
 * byte while the agent runs. What a production agent must do then: keep serving, refuse
 * its own writes with a clear error (nothing announced that is not on disk), keep other
 * hosts' records in effect, and write them once there is room again, so that they are
 * still there after a restart with nobody left to sync from.
 */
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { createCluster, waitFor, sleep } from '../utils/netns.js'
import { startAgents, waitForPeers } from '../utils/agents.js'
import { trackExitHook, untrackExitHook } from '../utils/cleanup.js'

test('a full disk: own writes fail with E_INTERNAL and are not announced, others\' records stay in effect and reach the disk once there is room', async t => {
  const cluster = await createCluster({ prefix: 'mpfd', hosts: 2 })
  const dataDir = join(cluster.dir, `${cluster.hosts[1]!.name}.data`)
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', dataDir])
  // Unmounted (lazily: a running agent may still hold it) before the cluster's directory
  // goes, also when the test process dies.
  const umount = (): void => { try { execFileSync('umount', ['-l', dataDir]) } catch {} }
  trackExitHook(umount)
  try {
    const [a, b] = await startAgents(cluster)
    await waitForPeers([a!, b!], 'alive')

    // Fill the disk: dd stops at ENOSPC.
    const filler = join(dataDir, 'filler')
    execFileSync('sh', ['-c', `dd if=/dev/zero of=${filler} bs=4k 2>/dev/null; true`])
    t.regex(execFileSync('df', ['--output=avail', dataDir], { encoding: 'utf8' }), /\n\s*0\s*$/, 'the disk is full')

    // LevelDB's log still has room in its last page: own creates go on working until it
    // is full, then fail with a clear error, announced to nobody.
    type Failure = { code?: string, message: string }
    const tryCreate = async (name: string, subnet: string): Promise<Failure | undefined> =>
      await b!.createNetwork(name, subnet).then(() => undefined, (e: unknown) => e as Failure)
    let err: Failure | undefined
    let made = 0
    for (; made < 40 && err === undefined; made++) err = await tryCreate(`fill${made}`, `10.${160 + made}.0.0/16`)
    t.truthy(err, 'an own create on the full disk failed')
    t.is(err?.code, 'E_INTERNAL')
    const failed = `fill${made - 1}`
    // A create writes the network record, then the IPAM's ranges record: whichever the
    // disk refused decides what exists, and the error says which.
    const partial = /was created, but its address range could not be stored yet/.test(err?.message ?? '')
    t.regex(err?.message ?? '', /cannot persist|Database is not open/)
    if (partial) {
      await waitFor(async () => (await a!.networks()).includes(failed), { timeoutMs: 10_000, what: 'the network record on disk to be announced' })
    } else {
      t.false((await b!.networks()).includes(failed), 'a failed write is not in effect')
    }

    // Another host's record is in effect here at once, though it cannot be written.
    await a!.createNetwork('from-a', '10.150.0.0/16')
    await waitFor(async () => (await b!.networks()).includes('from-a'), { timeoutMs: 10_000, what: 'the full host to hold from-a' })
    const stillFull = await tryCreate('still-full', '10.151.0.0/16')
    t.is(stillFull?.code, 'E_INTERNAL', 'the disk is still full')
    const unwritten = async (): Promise<number> => (await b!.api.call<{ unwrittenRecords: number }>('GET', '/v1/status')).unwrittenRecords
    t.true(await unwritten() > 0, 'b reports records not on disk')

    // Room again, and no write of b's own to carry them: the retry (1 s, 2 s, …) writes them.
    rmSync(filler)
    await waitFor(async () => await unwritten() === 0, { timeoutMs: 20_000, what: 'the write-behind retry to write what b received' })
    // kill -9: nothing is flushed on the way out; with the other host gone there is no one
    // to sync from, so what b holds after the restart is what reached its disk.
    if (!partial) t.false((await a!.networks()).includes(failed), 'a write that is not on disk was not announced')
    await a!.stop()
    await b!.kill9()
    await b!.start()
    const held = await b!.networks()
    t.true(held.includes('from-a'), 'the record received while the disk was full reached it later')
    t.is(held.includes(failed), partial)
    t.is(held.includes('still-full'), /was created/.test(stillFull?.message ?? ''))

    // Own writes work again, and a partial create's seed was retried too.
    await b!.createNetwork('from-b', '10.151.0.0/16')
    t.true((await b!.networks()).includes('from-b'))
    if (partial) t.true((await b!.api.call<Array<{ id: string }>>('GET', '/v1/records')).some(r => r.id === `ranges/${failed}/${b!.peerId}`), `the seed of ${failed} was written`)
  } finally {
    umount()
    untrackExitHook(umount)
    await cluster.destroy()
  }
})
