/**
 * scripts/install.sh and the shipped unit: install into a temporary prefix, check the
 * installed program runs on its own Node runtime, `systemd-analyze verify` the unit it
 * wrote, install again (same result), uninstall (nothing left).
 */
import test from 'ava'
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, lstatSync, readlinkSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadAgentConfig } from '@meshplane/agent/config.js'
import { REPO } from '../utils/agents.js'

const INSTALL = join(REPO, 'scripts/install.sh')
const SHIPPED_UNIT = join(REPO, 'packaging/meshplane.service')

function run (args: string[], env: NodeJS.ProcessEnv = process.env): { code: number, stdout: string, stderr: string } {
  const r = spawnSync('bash', [INSTALL, ...args], { encoding: 'utf8', env, timeout: 120_000 })
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}

/** Every path under dir with its type, mode, link target and content hash. */
function snapshot (dir: string): string[] {
  const out: string[] = []
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const p = join(rel, name)
      const st = lstatSync(join(dir, p))
      const mode = (st.mode & 0o7777).toString(8)
      if (st.isSymbolicLink()) out.push(`${p} link ${readlinkSync(join(dir, p))}`)
      else if (st.isDirectory()) { out.push(`${p} dir ${mode}`); walk(p) }
      else out.push(`${p} file ${mode} ${createHash('sha256').update(readFileSync(join(dir, p))).digest('hex')}`)
    }
  }
  walk('.')
  return out
}

function verify (unit: string): { code: number, output: string } {
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', unit], { encoding: 'utf8', timeout: 60_000 })
  if (r.error !== undefined) throw new Error(`systemd-analyze is needed (apt-get install systemd): ${r.error.message}`)
  return { code: r.status ?? -1, output: r.stdout + r.stderr }
}

test('install.sh into a temp prefix: runs on its own Node, the unit verifies, twice = same result, --uninstall leaves no trace', t => {
  const tmp = mkdtempSync(join(tmpdir(), 'mp-install-'))
  try {
    const paths = ['--prefix', join(tmp, 'opt/meshplane'), '--etc-dir', join(tmp, 'etc/meshplane'), '--unit-dir', join(tmp, 'systemd')]
    const first = run([...paths, '--join', '10.0.0.1:7946'])
    t.is(first.code, 0, first.stderr)
    t.regex(first.stdout, /systemctl daemon-reload && systemctl enable --now meshplane/)

    // The installed CLI needs no Node on PATH: it runs on the runtime it brought.
    const cli = join(tmp, 'opt/meshplane/bin/meshplane')
    const version = execFileSync(cli, ['--version'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } })
    t.regex(version, /^\d+\.\d+\.\d+/)
    const runtime = execFileSync(join(tmp, 'opt/meshplane/lib/node/bin/node'), ['--version'], { encoding: 'utf8' })
    t.regex(runtime, /^v24\./, 'the pinned Node 24')

    const config = JSON.parse(readFileSync(join(tmp, 'etc/meshplane/config.json'), 'utf8'))
    t.deepEqual(config.join, ['10.0.0.1:7946'])
    t.is(config['cluster-key-file'], join(tmp, 'etc/meshplane/cluster.key'))
    t.is(lstatSync(config['cluster-key-file']).mode & 0o777, 0o600, 'the key is root-only')
    // The config the installer writes is one the agent accepts.
    t.notThrows(() => loadAgentConfig({}, join(tmp, 'etc/meshplane/config.json'), {}))

    const unit = join(tmp, 'systemd/meshplane.service')
    const text = readFileSync(unit, 'utf8')
    t.true(text.includes(`ExecStart=${cli} agent --config ${join(tmp, 'etc/meshplane/config.json')}`))
    for (const line of ['Type=notify', 'Before=docker.service', 'After=network-online.target', 'StateDirectory=meshplane',
      'RuntimeDirectory=meshplane', 'CapabilityBoundingSet=CAP_NET_ADMIN CAP_SYS_ADMIN CAP_NET_BIND_SERVICE', 'ProtectSystem=strict', 'NoNewPrivileges=yes']) {
      t.true(text.split('\n').includes(line), line)
    }
    const v = verify(unit)
    t.is(v.code, 0, `systemd-analyze verify: ${v.output}`)

    const before = snapshot(tmp)
    const second = run([...paths, '--join', '10.0.0.1:7946'])
    t.is(second.code, 0, second.stderr)
    t.deepEqual(snapshot(tmp), before, 'a second install changes nothing')

    const removed = run([...paths, '--uninstall'])
    t.is(removed.code, 0, removed.stderr)
    t.deepEqual(readdirSync(tmp), [], `nothing left: ${removed.stdout}`)
    const again = run([...paths, '--uninstall'])
    t.is(again.code, 0)
    t.regex(again.stdout, /nothing to remove/)
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
})

test('install.sh keeps what is not its own: an edited config survives --uninstall, a foreign prefix is refused', t => {
  const tmp = mkdtempSync(join(tmpdir(), 'mp-install-'))
  try {
    const paths = ['--root', tmp]
    t.is(run(paths).code, 0)
    const config = join(tmp, 'etc/meshplane/config.json')
    writeFileSync(config, readFileSync(config, 'utf8').replace('"info"', '"debug"'))
    const removed = run([...paths, '--uninstall'])
    t.regex(removed.stdout, /kept \/etc\/meshplane\/config\.json: changed/)
    t.deepEqual(snapshot(tmp), ['etc dir 755', 'etc/meshplane dir 755', `etc/meshplane/config.json file 644 ${createHash('sha256').update(readFileSync(config)).digest('hex')}`])

    const foreign = join(tmp, 'usr-local')
    mkdirSync(join(foreign, 'bin'), { recursive: true })
    const r = run(['--prefix', foreign, '--etc-dir', join(tmp, 'e'), '--unit-dir', join(tmp, 'u')])
    t.not(r.code, 0)
    t.regex(r.stderr, /exists and is not a meshplane install/)
    t.deepEqual(readdirSync(foreign), ['bin'], 'nothing written into it')
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
})

test('systemd-analyze verify really checks the shipped unit: without the program in place it fails', t => {
  const v = verify(SHIPPED_UNIT)
  if (v.code === 0) {
    t.pass('/opt/meshplane is installed on this machine; nothing to show')
    return
  }
  t.regex(v.output, /\/opt\/meshplane\/bin\/meshplane is not executable/)
})
