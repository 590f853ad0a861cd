import test from 'ava'
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadAgentConfig } from '@meshplane/agent/config.js'
import { parseSeed } from '@meshplane/agent/mesh/address.js'

/** A scratch directory that is removed when the test ends, passed or failed. */
function scratchDir (t: { teardown: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mp-cfg-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

test('precedence: defaults < file < environment < flags', t => {
  const dir = scratchDir(t)
  const file = join(dir, 'c.json')
  writeFileSync(file, JSON.stringify({ 'cluster-key-file': '/k', 'log-level': 'warn', listen: '10.0.0.1:7000', 'dead-after-ms': 4000 }))
  const cfg = loadAgentConfig({ 'dead-after-ms': '3000' }, file, { MESHPLANE_LISTEN: '10.0.0.2:7001', MESHPLANE_JOIN: '10.0.0.9:7946, 10.0.0.8' })
  t.is(cfg['log-level'], 'warn')
  t.is(cfg.listen, '10.0.0.2:7001')
  t.is(cfg['dead-after-ms'], 3000)
  t.deepEqual(cfg.join, ['10.0.0.9:7946', '10.0.0.8'])
  t.is(cfg['vxlan-port'], 4789)
})

test('unknown keys and bad values are clear E_CONFIG errors', t => {
  const dir = scratchDir(t)
  const file = join(dir, 'c.json')
  writeFileSync(file, JSON.stringify({ 'cluster-key-file': '/k', 'data-dri': '/x' }))
  const e1 = t.throws(() => loadAgentConfig({}, file, {}))
  t.is((e1 as { code?: string }).code, 'E_CONFIG')
  t.regex(e1.message, /data-dri/)
  const e2 = t.throws(() => loadAgentConfig({ 'cluster-key-file': '/k', listen: 'nowhere' }, undefined, {}))
  t.regex(e2.message, /listen \(flag --listen\): must be IPv4:PORT, got "nowhere"/)
  const e3 = t.throws(() => loadAgentConfig({}, undefined, {}))
  t.regex(e3.message, /cluster-key-file/)
  const e4 = t.throws(() => loadAgentConfig({ 'cluster-key-file': '/k' }, undefined, { MESHPLANE_DEAD_AFTER_MS: 'soon' }))
  t.regex(e4.message, /dead-after-ms \(environment MESHPLANE_DEAD_AFTER_MS\): must be a positive whole number of milliseconds, got "soon"/)
  t.regex(t.throws(() => loadAgentConfig({ 'cluster-key-file': '/k', join: ['10.0.0.1:7946', 'nowhere'] }, undefined, {})).message,
    /join\.1 \(flag --join\): must be IPv4:PORT.*got "nowhere"/)
  t.regex(t.throws(() => loadAgentConfig({ 'cluster-key-file': '/k', 'dead-after-ms': 600, 'probe-interval-ms': 500 }, undefined, {})).message,
    /dead-after-ms \(600\) must be at least twice probe-interval-ms \(500\)/)
  t.regex(e1.message, /data-dri \(config file .*\): unknown key/)
  writeFileSync(file, '{ not json')
  t.regex(t.throws(() => loadAgentConfig({}, file, {})).message, /not valid JSON/)
})

test('seeds: host:port, host alone and multiaddrs; garbage is refused', t => {
  t.is(parseSeed('10.1.2.3:7000').toString(), '/ip4/10.1.2.3/tcp/7000')
  t.is(parseSeed('10.1.2.3').toString(), '/ip4/10.1.2.3/tcp/7946')
  t.is(parseSeed('/ip4/10.1.2.3/tcp/9').toString(), '/ip4/10.1.2.3/tcp/9')
  for (const bad of ['', 'host', '10.1.2.3:99999', '/ip4/1.2.3.4', '/nonsense']) {
    t.is((t.throws(() => parseSeed(bad)) as { code?: string }).code, 'E_INVALID_ARGUMENT', bad)
  }
})
