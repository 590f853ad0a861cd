import test from 'ava'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { createSystemdNotifier, parseNotifyAddress } from '@meshplane/agent/systemd/index.js'
import { NotifyReceiver } from '../utils/notify-socket.js'

const logger = pino({ level: 'silent' })
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

for (const kind of ['path', 'abstract'] as const) {
  test(`READY, STATUS, WATCHDOG and STOPPING reach ${kind === 'path' ? 'a path' : 'an abstract'} socket`, async t => {
    const dir = mkdtempSync(join(tmpdir(), 'mp-notify-'))
    const address = kind === 'path' ? join(dir, 'notify.sock') : `@meshplane-test-${randomBytes(6).toString('hex')}`
    const receiver = new NotifyReceiver(address)
    const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: address, WATCHDOG_USEC: '200000', WATCHDOG_PID: String(process.pid) }
    const notifier = await createSystemdNotifier({ logger }, { env })
    try {
      t.true(notifier.enabled)
      t.is(notifier.watchdogIntervalMs, 100, 'pings at half of WATCHDOG_USEC')
      t.deepEqual(env, {}, 'the variables are gone, so child processes cannot speak for the agent')
      notifier.startWatchdog()
      notifier.ready('2 peers\nalive')
      notifier.status('same')
      notifier.status('same')
      await sleep(450)
      notifier.stopping()
      const ready = await receiver.waitFor('READY', '1', 2000)
      t.is(ready.fields.get('STATUS'), '2 peers alive', 'STATUS is one line')
      t.is(receiver.with('STATUS', 'same').length, 1, 'an unchanged status is sent once')
      t.true(receiver.with('WATCHDOG', '1').length >= 4, `watchdog pings: ${receiver.with('WATCHDOG', '1').length}`)
      await receiver.waitFor('STOPPING', '1', 2000)
    } finally {
      notifier.close()
      receiver.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
}

test('no NOTIFY_SOCKET, a foreign WATCHDOG_PID or an unusable address: every call is a harmless no-op', async t => {
  const off = await createSystemdNotifier({ logger }, { env: {} })
  t.false(off.enabled)
  off.startWatchdog(); off.ready(); off.status('x'); off.stopping(); off.close()

  const dir = mkdtempSync(join(tmpdir(), 'mp-notify-'))
  const address = join(dir, 'n.sock')
  const receiver = new NotifyReceiver(address)
  const foreign = await createSystemdNotifier({ logger }, { env: { NOTIFY_SOCKET: address, WATCHDOG_USEC: '100000', WATCHDOG_PID: String(process.pid + 1) } })
  t.true(foreign.enabled)
  t.is(foreign.watchdogIntervalMs, undefined, 'the watchdog belongs to another process')
  foreign.close()
  receiver.close()

  const gone = await createSystemdNotifier({ logger }, { env: { NOTIFY_SOCKET: join(dir, 'nobody-listens.sock') } })
  t.notThrows(() => { gone.ready() }, 'a manager that is gone does not stop the agent')
  gone.close()
  rmSync(dir, { recursive: true, force: true })

  t.is(typeof parseNotifyAddress('vsock:2:1234'), 'string')
  t.is(typeof parseNotifyAddress('relative.sock'), 'string')
  t.is(typeof parseNotifyAddress('/' + 'x'.repeat(120)), 'string')
  const bad = await createSystemdNotifier({ logger }, { env: { NOTIFY_SOCKET: 'vsock:2:1234' } })
  t.false(bad.enabled)
})
