/**
 * Type=notify acceptance: a real agent with NOTIFY_SOCKET pointing at a datagram socket
 * this test binds (the manager's side, test/utils/notify-socket.ts).
 *
 * READY=1 must mean "serving and reconciled": the moment it arrives the agent is frozen
 * (SIGSTOP), and while it cannot do anything more the test checks that its API socket
 * accepts connections and that the kernel already holds what the restart had to repair
 * (the VXLAN device deleted by hand while the agent was down, and the FDB entry of the
 * remote container that went with it).
 */
import test from 'ava'
import { connect } from 'node:net'
import { join } from 'node:path'
import { createCluster, waitFor, sleep } from '../utils/netns.js'
import { startAgents, waitForPeers, TestAgent } from '../utils/agents.js'
import { NotifyReceiver } from '../utils/notify-socket.js'

const WATCHDOG_USEC = 1_000_000

async function socketAccepts (path: string): Promise<boolean> {
  return await new Promise(resolve => {
    const s = connect(path)
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => { resolve(false) })
  })
}

test('READY=1 only after the API serves and the kernel is reconciled; watchdog at half WATCHDOG_USEC; STOPPING=1 on SIGTERM, exit 0', async t => {
  const cluster = await createCluster({ prefix: 'mpsd', hosts: 2 })
  let receiver: NotifyReceiver | undefined
  try {
    const [a0, a1] = await startAgents(cluster) as [TestAgent, TestAgent]
    await waitForPeers([a0, a1], 'alive')
    const net = await a0.api.call<{ vni: number }>('POST', '/v1/networks', { name: 'blue', subnet: '10.240.0.0/16' })
    await waitFor(async () => (await a1.networks()).includes('blue'), { what: 'the network on host 1' })
    const c0 = await cluster.addContainer(0, 'c0')
    const c1 = await cluster.addContainer(1, 'c1')
    const e0 = await a0.api.call<{ mac: string }>('POST', '/v1/attach', { network: 'blue', netns: c0.name, ip: '10.240.1.10' })
    await a1.api.call('POST', '/v1/attach', { network: 'blue', netns: c1.name, ip: '10.240.2.10' })
    const vxlan = `mpvx${net.vni}`
    const kernelRepaired = async (): Promise<boolean> => {
      const link = await cluster.exec(1, ['ip', 'link', 'show', vxlan])
      const fdb = await cluster.exec(1, ['bridge', 'fdb', 'show', 'dev', vxlan])
      return link.code === 0 && fdb.stdout.split('\n').some(l => l.startsWith(e0.mac) && l.includes(`dst ${cluster.hosts[0]!.ip}`))
    }
    await waitFor(kernelRepaired, { what: 'host 1 to program the remote container' })

    // Down, then damage the kernel: the restarted agent must repair it before READY=1.
    await a1.stop()
    await cluster.exec(1, ['ip', 'link', 'del', vxlan], { check: true })
    t.false(await kernelRepaired())

    receiver = new NotifyReceiver(join(cluster.dir, 'notify.sock'))
    const notified = new TestAgent(cluster, cluster.hosts[1]!, {
      keyFile: a1.opts.keyFile,
      join: [a0.seed],
      env: { NOTIFY_SOCKET: receiver.address, WATCHDOG_USEC: String(WATCHDOG_USEC) }
    })
    const readyP = receiver.waitFor('READY', '1', 60_000)
    const startP = notified.start()
    const ready = await readyP
    notified.proc!.kill('SIGSTOP')
    let accepts: boolean
    let repaired: boolean
    try {
      accepts = await socketAccepts(notified.socket)
      repaired = await kernelRepaired()
    } finally {
      notified.proc!.kill('SIGCONT')
    }
    const resumedAt = Date.now()
    t.true(accepts, 'the API socket was listening when READY=1 was sent')
    t.true(repaired, 'the kernel was reconciled when READY=1 was sent')
    await startP
    t.regex(ready.fields.get('STATUS') ?? '', /peers alive.*networks.*endpoints/, 'READY carries a STATUS line')
    t.true(receiver.with('WATCHDOG', '1').some(m => m.at <= ready.at), 'watchdog pings start before READY (a slow start is not a hang)')

    // Watchdog: over 4 s, at least two pings per WATCHDOG_USEC and never a gap of a whole WATCHDOG_USEC.
    await sleep(4000)
    const pings = receiver.with('WATCHDOG', '1').map(m => m.at).filter(at => at >= resumedAt)
    const gaps = pings.slice(1).map((at, i) => at - pings[i]!)
    t.true(pings.length >= 7, `${pings.length} pings in 4 s with WATCHDOG_USEC=1 s`)
    t.true(Math.max(...gaps) < WATCHDOG_USEC / 1000, `largest gap ${Math.max(...gaps)} ms`)

    // SIGTERM: STOPPING=1 first, then a clean exit.
    notified.proc!.kill('SIGTERM')
    const stoppingP = receiver.waitFor('STOPPING', '1', 15_000)
    const exit = await notified.proc!.exited
    const exitedAt = Date.now()
    const stopping = await stoppingP
    t.true(stopping.at <= exitedAt, 'STOPPING=1 arrived before the process ended')
    t.deepEqual(exit, { code: 0, signal: null }, 'exit 0 after SIGTERM')
  } finally {
    receiver?.close()
    await cluster.destroy()
  }
})
