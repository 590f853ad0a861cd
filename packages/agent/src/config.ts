/**
 * Agent configuration from three sources, later ones winning:
 *   built-in defaults < config file (--config, JSON) < MESHPLANE_* environment < flags.
 * Keys are the flag names (`data-dir`, `cluster-key-file`, …) in the file and
 * MESHPLANE_DATA_DIR-style names in the environment. Unknown keys and bad values are
 * errors at start, naming the key and the source.
 */
import { readFileSync } from 'node:fs'
import { isIPv4 } from 'node:net'
import { z } from 'zod'
import { MeshplaneError } from './errors.js'
import { parseSeed } from './mesh/address.js'

const hostPort = z.string().regex(/^(\d+\.\d+\.\d+\.\d+):(\d{1,5})$/, 'must be IPv4:PORT')
  .refine(s => isIPv4(s.split(':')[0]!) && Number(s.split(':')[1]) <= 65535, 'must be IPv4:PORT')
const WHOLE_MS = 'must be a positive whole number of milliseconds'
const ms = z.coerce.number({ error: WHOLE_MS }).int({ error: WHOLE_MS }).positive({ error: WHOLE_MS })

export const AgentConfigSchema = z.strictObject({
  'data-dir': z.string().min(1).default('/var/lib/meshplane'),
  'cluster-key-file': z.string().min(1),
  listen: hostPort.default('0.0.0.0:7946'),
  'advertise-addr': z.string().refine(isIPv4, 'must be an IPv4 address').optional(),
  join: z.array(z.string().refine(isSeed, 'must be IPv4:PORT, an IPv4 address or a multiaddr with /tcp/'), { error: 'must be a list of seeds' }).default([]),
  'api-socket': z.string().min(1).default('/run/meshplane/meshplane.sock'),
  'docker-socket': z.string().default('/run/docker/plugins/meshplane.sock'),
  'metrics-addr': hostPort.optional(),
  'log-level': z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], { error: 'must be one of trace, debug, info, warn, error, fatal, silent' }).default('info'),
  'vxlan-port': z.coerce.number({ error: 'must be a UDP port (1-65535)' }).int({ error: 'must be a UDP port (1-65535)' }).min(1, { error: 'must be a UDP port (1-65535)' }).max(65535, { error: 'must be a UDP port (1-65535)' }).default(4789),
  'probe-interval-ms': ms.default(500),
  'dead-after-ms': ms.default(2500),
  // how long a gracefully stopped host's endpoints stay programmed (its containers keep
  // running; an agent restart, which under load can take several seconds, must not cut
  // them off), and how long a starting agent keeps entries of hosts not yet heard from
  'restart-grace-ms': ms.default(15_000),
  'sync-interval-ms': ms.default(10_000),
  'resync-interval-ms': ms.default(5_000),
  'tombstone-ttl-ms': ms.default(24 * 60 * 60 * 1000),
  // rmpeer refuses hosts unreachable for less than this (Weave's lesson: docs/design.md, "Addresses")
  'rmpeer-safety-ms': ms.default(10 * 60 * 1000),
  'target-peers': z.coerce.number().int().min(1).max(64).default(4),
  // the resolver (dns/index.ts): a link-local address, the same on every host; 'off': none
  'dns-address': z.string().refine(s => s === 'off' || (isIPv4(s) && s.startsWith('169.254.')), 'must be a link-local IPv4 address (169.254.x.y) or off').default('169.254.53.53'),
  'dns-resolv-conf': z.string().min(1).default('/etc/resolv.conf'),
  // queries per second one source address may send (bursts of twice as many)
  'dns-source-qps': z.coerce.number({ error: 'must be a positive whole number' }).int({ error: 'must be a positive whole number' }).positive({ error: 'must be a positive whole number' }).default(500),
  // dockerd's API, read for container names and aliases (docker/names.ts)
  'docker-api-socket': z.string().min(1).default('/var/run/docker.sock')
})

export type AgentConfig = z.output<typeof AgentConfigSchema>
export type AgentConfigInput = Partial<Record<keyof AgentConfig, unknown>>

const KEYS = Object.keys(AgentConfigSchema.shape) as Array<keyof AgentConfig>

export function envKey (key: string): string {
  return 'MESHPLANE_' + key.toUpperCase().replaceAll('-', '_')
}

function fromEnv (env: NodeJS.ProcessEnv): AgentConfigInput {
  const out: Record<string, unknown> = {}
  for (const key of KEYS) {
    const v = env[envKey(key)]
    if (v === undefined || v === '') continue
    out[key] = key === 'join' ? v.split(',').map(s => s.trim()).filter(Boolean) : v
  }
  return out
}

function fromFile (path: string): AgentConfigInput {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new MeshplaneError('E_CONFIG', `cannot read config file ${path}: ${(err as Error).message}`)
  }
  try {
    const parsed: unknown = JSON.parse(text)
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object')
    return parsed as AgentConfigInput
  } catch (err) {
    throw new MeshplaneError('E_CONFIG', `config file ${path} is not valid JSON: ${(err as Error).message}`)
  }
}

export function loadAgentConfig (flags: AgentConfigInput, configFile: string | undefined, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const file = configFile ?? env.MESHPLANE_CONFIG
  const layers: Array<[AgentConfigInput, (key: string) => string]> = [
    [file === undefined ? {} : fromFile(file), () => `config file ${file ?? ''}`],
    [fromEnv(env), key => `environment ${envKey(key)}`],
    [dropUndefined(flags), key => `flag --${key}`]
  ]
  const merged: Record<string, unknown> = {}
  const source = new Map<string, string>()
  for (const [values, where] of layers) {
    for (const [key, value] of Object.entries(values)) {
      merged[key] = value
      source.set(key, where(key))
    }
  }
  const result = AgentConfigSchema.safeParse(merged)
  if (!result.success) {
    const issue = result.error.issues[0]!
    const key = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.join('.')
    const top = issue.code === 'unrecognized_keys' ? issue.keys[0]! : String(issue.path[0] ?? '')
    const where = source.get(top)
    const value = issue.path.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown> | undefined)?.[k], merged)
    const got = issue.code === 'unrecognized_keys' || value === undefined ? '' : `, got ${JSON.stringify(value)}`
    const message = issue.code === 'unrecognized_keys' ? `unknown key (the keys are the agent's flag names: ${KEYS.join(', ')})` : issue.message
    throw new MeshplaneError('E_CONFIG', `invalid configuration: ${key}${where === undefined ? '' : ` (${where})`}: ${message}${got}`)
  }
  const cfg = result.data
  // Liveness needs several beats per dead-after period, or every host flaps.
  if (cfg['probe-interval-ms'] * 2 > cfg['dead-after-ms']) {
    throw new MeshplaneError('E_CONFIG', `invalid configuration: dead-after-ms (${cfg['dead-after-ms']}) must be at least twice probe-interval-ms (${cfg['probe-interval-ms']})`)
  }
  return cfg
}

function isSeed (s: string): boolean {
  try {
    parseSeed(s)
    return true
  } catch {
    return false
  }
}

function dropUndefined (o: AgentConfigInput): AgentConfigInput {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0)))
}
