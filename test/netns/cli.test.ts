/**
 * The meshplane command as scripts use it: --help everywhere, --json on every listing,
 * exit codes from cli/exit-codes.ts, and errors that say what to do. Failure cases run
 * the real CLI against a missing agent, a stale socket, a real agent's root-only socket
 * (as an unprivileged uid through setpriv) and bad configuration.
 */
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Command } from 'commander'
import { buildProgram } from '@meshplane/agent/cli/main.js'
import { EXIT_CODE } from '@meshplane/agent/cli/exit-codes.js'
import { createCluster } from '../utils/netns.js'
import { startAgents, MESHPLANE_JS, type TestAgent } from '../utils/agents.js'

interface Run { code: number, stdout: string, stderr: string }

function cli (args: string[], opts: { asUid?: number, env?: NodeJS.ProcessEnv } = {}): Run {
  const argv = [process.execPath, MESHPLANE_JS, ...args]
  const [file, ...rest] = opts.asUid === undefined ? argv : ['setpriv', `--reuid=${opts.asUid}`, `--regid=${opts.asUid}`, '--clear-groups', ...argv]
  const env = { ...process.env, ...opts.env }
  if (opts.env?.MESHPLANE_API_SOCKET === undefined) delete env.MESHPLANE_API_SOCKET
  const r = spawnSync(file!, rest, { encoding: 'utf8', timeout: 30_000, env })
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}

/** Every command path: ['status'], ['network', 'ls'], … */
function commandPaths (cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap(c => {
    const path = [...prefix, c.name()]
    return c.commands.length > 0 ? [path, ...commandPaths(c, path)] : [path]
  })
}

const LISTINGS = [['status'], ['peers'], ['endpoints'], ['network', 'ls'], ['ipam']]

test('--help on every command exits 0 and shows its usage; every listing has --json', t => {
  const paths = commandPaths(buildProgram())
  t.true(paths.length >= 10, `${paths.length} commands`)
  for (const path of [[], ...paths]) {
    const r = cli([...path, '--help'])
    t.is(r.code, 0, `${path.join(' ')} --help: ${r.stderr}`)
    t.regex(r.stdout, new RegExp(`^Usage: meshplane${path.length > 0 ? ' ' + path.join(' ') : ''}`), path.join(' '))
  }
  for (const path of LISTINGS) t.regex(cli([...path, '--help']).stdout, /--json/, `${path.join(' ')} takes --json`)
  const usage = cli(['no-such-command'])
  t.is(usage.code, EXIT_CODE.E_INVALID_ARGUMENT)
  t.regex(usage.stderr, /unknown command 'no-such-command'/)
})

test('no agent: a missing or stale socket exits 69 and says how to start it; bad addresses exit 64 before any call', t => {
  const dir = mkdtempSync(join(tmpdir(), 'mp-cli-'))
  try {
    const missing = join(dir, 'missing.sock')
    for (const args of [['status'], ['peers', '--json'], ['network', 'ls']]) {
      const r = cli([...args, '--api-socket', missing])
      t.is(r.code, EXIT_CODE.E_UNAVAILABLE, args.join(' '))
      t.regex(r.stderr, /^meshplane: the agent is not running \(nothing listens on .*missing\.sock\); start it with 'meshplane agent' or 'systemctl start meshplane'/)
      t.is(r.stderr.trim().split('\n').length, 1, 'one line')
      t.is(r.stdout, '')
    }
    const stale = join(dir, 'stale.sock')
    writeFileSync(stale, '') // what a crashed agent's leftover looks like to connect(): ECONNREFUSED
    const viaEnv = cli(['status'], { env: { MESHPLANE_API_SOCKET: stale } })
    t.is(viaEnv.code, EXIT_CODE.E_UNAVAILABLE)
    t.regex(viaEnv.stderr, /stale\.sock.*start it with/, 'MESHPLANE_API_SOCKET is used')

    const badSeed = cli(['join', 'nowhere:7946', '--api-socket', missing])
    t.is(badSeed.code, EXIT_CODE.E_INVALID_ARGUMENT)
    t.regex(badSeed.stderr, /seed "nowhere:7946" must be IPv4:PORT or a multiaddr/)
    const badIp = cli(['attach', 'blue', '--netns', 'c1', '--ip', '10.0.0.300', '--api-socket', missing])
    t.is(badIp.code, EXIT_CODE.E_INVALID_ARGUMENT)
    t.regex(badIp.stderr, /--ip "10\.0\.0\.300" is not an IPv4 address/)
    const badNumber = cli(['network', 'create', 'blue', '--subnet', '10.1.0.0/16', '--vni', 'ten', '--api-socket', missing])
    t.is(badNumber.code, EXIT_CODE.E_INVALID_ARGUMENT)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('bad agent configuration: each a one-line E_CONFIG error naming the key and its source, exit 78, nothing started', t => {
  const dir = mkdtempSync(join(tmpdir(), 'mp-cli-'))
  try {
    const key = join(dir, 'cluster.key')
    writeFileSync(key, cli(['keygen']).stdout, { mode: 0o600 })
    const base = ['agent', '--cluster-key-file', key, '--data-dir', join(dir, 'data'), '--api-socket', join(dir, 'api.sock')]
    const config = join(dir, 'config.json')
    writeFileSync(config, JSON.stringify({ 'cluster-key-file': key, 'dead-after': 3000 }))
    const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
      [[...base, '--dead-after-ms', 'soon'], {}, /dead-after-ms \(flag --dead-after-ms\): must be a positive whole number of milliseconds, got "soon"/],
      [[...base, '--listen', 'localhost:7946'], {}, /listen \(flag --listen\): must be IPv4:PORT/],
      [[...base, '--metrics-addr', '127.0.0.1:99999'], {}, /metrics-addr \(flag --metrics-addr\): must be IPv4:PORT/],
      [base, { MESHPLANE_LOG_LEVEL: 'loud' }, /log-level \(environment MESHPLANE_LOG_LEVEL\): must be one of/],
      [['agent', '--config', config], {}, /dead-after \(config file .*config\.json\): unknown key/],
      [['agent', '--config', join(dir, 'nope.json')], {}, /cannot read config file .*nope\.json/],
      [['agent', '--cluster-key-file', join(dir, 'no.key'), '--data-dir', join(dir, 'data'), '--api-socket', join(dir, 'api.sock')], {}, /cannot read cluster key .*no\.key.*meshplane keygen/]
    ]
    for (const [args, env, message] of cases) {
      const r = cli(args, { env })
      t.is(r.code, EXIT_CODE.E_CONFIG, `${args.join(' ')}: ${r.stderr}`)
      t.regex(r.stderr, message)
      t.is(r.stderr.trim().split('\n').length, 1, 'one line')
    }
    t.throws(() => statSync(join(dir, 'api.sock')), undefined, 'no agent got as far as its socket')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a real agent: status shows the whole host, listings give JSON, a non-root user is told to run as root (exit 77), not found exits 3', async t => {
  const cluster = await createCluster({ prefix: 'mpcli', hosts: 2 })
  try {
    const [a0, a1] = await startAgents(cluster) as [TestAgent, TestAgent]
    await a0.createNetwork('blue', '10.240.0.0/16')
    const c0 = await cluster.addContainer(0, 'c0')
    await a0.api.call('POST', '/v1/attach', { network: 'blue', netns: c0.name, ip: '10.240.1.10' })
    const sock = ['--api-socket', a0.socket]

    const human = cli(['status', ...sock])
    t.is(human.code, 0, human.stderr)
    for (const part of [a0.peerId, `on ${cluster.hosts[0]!.ip}`, /peers: \d alive, \d unreachable, \d left/, /networks: 1\n {2}NAME +SUBNET/, 'blue', '10.240.1.10',
      /endpoints: 1 local/, /kernel: (healthy|not reconciled yet)/, /ipam: no conflicts/, /last errors: /]) {
      if (typeof part === 'string') t.true(human.stdout.includes(part), part)
      else t.regex(human.stdout, part)
    }
    const status = JSON.parse(cli(['status', '--json', ...sock]).stdout)
    t.is(status.id, a0.peerId)
    t.true(Array.isArray(status.addresses) && status.addresses.length > 0)
    t.true(Array.isArray(status.lastErrors))
    const peers = JSON.parse(cli(['peers', '--json', ...sock]).stdout) as Array<{ id: string, address: string, state: string }>
    t.deepEqual(peers.map(p => p.id).sort(), [a0.peerId, a1.peerId].sort())
    t.true(peers.every(p => typeof p.address === 'string' && ['alive', 'unreachable', 'left'].includes(p.state)))
    const endpoints = JSON.parse(cli(['endpoints', '--json', ...sock]).stdout) as Array<Record<string, string>>
    t.like(endpoints[0], { network: 'blue', ip: '10.240.1.10', host: a0.peerId })
    t.like(JSON.parse(cli(['network', 'ls', '--json', ...sock]).stdout)[0], { name: 'blue', subnet: '10.240.0.0/16' })

    const missing = cli(['network', 'inspect', 'red', ...sock])
    t.is(missing.code, EXIT_CODE.E_NOT_FOUND)
    t.regex(missing.stderr, /red/)

    // The control socket is root-only (0600): another user is refused by the kernel.
    t.is(statSync(a0.socket).mode & 0o777, 0o600)
    const dirMode = statSync(cluster.dir).mode & 0o777
    chmodSync(cluster.dir, 0o711) // let the user reach the socket, so only its own mode decides
    try {
      const denied = cli(['status', ...sock], { asUid: 65534 })
      t.is(denied.code, EXIT_CODE.E_PERMISSION, denied.stderr)
      t.regex(denied.stderr, /^meshplane: permission denied on .*\.sock: the control socket is root-only, run as root \(sudo\)\n$/)
    } finally {
      chmodSync(cluster.dir, dirMode)
    }
  } finally {
    await cluster.destroy()
  }
})
