/**
 * The kernel's firewall, read and written through Debian's `nft` with JSON in and out
 * (libnftables-json(5)), the way kubernetes-sigs/knftables drives it: one process per
 * read, one per transaction, never one per rule. What to hold is firewall.ts's; when to
 * look is the reconciler's. The agent's network namespace is the host's, so `nft` sees
 * the same kernel as netlink does.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { FIREWALL_FAMILY, FIREWALL_TABLE, type NftCommand, type ObservedChain, type ObservedFirewall } from './firewall.js'
import { NFT_TIMEOUT_MS } from './constants.js'

export class NftError extends Error {
  /** 'ENOENT' when nft is not installed. */
  readonly code: string | undefined
  constructor (message: string, code?: string) {
    super(message)
    this.name = 'NftError'
    this.code = code
  }
}

interface NftOutput { nftables?: Array<Record<string, Record<string, unknown>>> }

export class NftFirewall {
  readonly #log: Logger
  readonly #nft: string

  constructor (components: { logger: Logger }, init: { nftPath?: string } = {}) {
    this.#log = components.logger
    this.#nft = init.nftPath ?? findNft()
  }

  async observe (): Promise<ObservedFirewall> {
    const [table, compat] = await Promise.all([
      this.#list(['list', 'table', FIREWALL_FAMILY, FIREWALL_TABLE]),
      this.#list(['list', 'chain', 'ip', 'filter', 'FORWARD'])
    ])
    return {
      table: table === undefined ? undefined : parseTable(table),
      compat: compat === undefined ? undefined : { rules: parseRules(compat, 'FORWARD').map(r => ({ handle: r.handle, comment: r.comment })) }
    }
  }

  /** One transaction: all of it or nothing (nft's batch). */
  async apply (commands: NftCommand[]): Promise<void> {
    if (commands.length === 0) return
    this.#log.debug({ commands: commands.length }, 'nft transaction')
    // A file, not stdin: nft opens /dev/stdin, which fails (ENXIO) on the socketpair Node
    // gives a child for its stdin.
    const dir = await mkdtemp(join(tmpdir(), 'meshplane-nft-'))
    try {
      const file = join(dir, 'transaction.json')
      await writeFile(file, JSON.stringify({ nftables: commands }), { mode: 0o600 })
      await this.#run(['-j', '-f', file])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }

  /** undefined when the table or chain does not exist. */
  async #list (args: string[]): Promise<NftOutput | undefined> {
    try {
      const out = await this.#run(['-j', ...args])
      try {
        return JSON.parse(out) as NftOutput
      } catch {
        throw new NftError(`nft ${args.join(' ')}: unreadable output ${JSON.stringify(out.slice(0, 80))}`)
      }
    } catch (err) {
      if (err instanceof NftError && err.code === 'ENOENT_OBJECT') return undefined
      throw err
    }
  }

  async #run (args: string[]): Promise<string> {
    return await new Promise((resolve, reject) => {
      const child = spawn(this.#nft, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: NFT_TIMEOUT_MS })
      const out: Buffer[] = []
      const err: Buffer[] = []
      child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
      child.stderr.on('data', (chunk: Buffer) => err.push(chunk))
      child.on('error', e => {
        const code = (e as NodeJS.ErrnoException).code
        reject(new NftError(code === 'ENOENT' ? `${this.#nft} not found: install nftables (egress and published ports need it)` : `${this.#nft}: ${e.message}`, code))
      })
      child.on('close', (status, signal) => {
        const stderr = Buffer.concat(err).toString('utf8').trim()
        if (status === 0) { resolve(Buffer.concat(out).toString('utf8')); return }
        // "No such file or directory" is nft's way of saying the table/chain is absent.
        const absent = /No such file or directory/.test(stderr)
        const line = stderr.split('\n').find(l => l.startsWith('Error:')) ?? stderr.split('\n')[0] ?? ''
        reject(new NftError(`nft ${args.slice(0, 4).join(' ')} failed (${signal ?? `exit ${status}`}): ${line}`, absent ? 'ENOENT_OBJECT' : undefined))
      })
    })
  }
}

/**
 * Debian's nft, by absolute path: PATH is not to be trusted for it (npm puts
 * node_modules/.bin first, and @vercel/nft, a build tool, installs a `nft` there).
 */
export function findNft (): string {
  return NFT_CANDIDATES.find(path => existsSync(path)) ?? NFT_CANDIDATES[0]!
}

const NFT_CANDIDATES = ['/usr/sbin/nft', '/sbin/nft', '/usr/local/sbin/nft', '/usr/bin/nft']

function parseRules (output: NftOutput, chain?: string): Array<{ chain: string, handle: number, comment: string }> {
  const rules: Array<{ chain: string, handle: number, comment: string }> = []
  for (const item of output.nftables ?? []) {
    const r = item.rule as { chain?: string, handle?: number, comment?: string } | undefined
    if (r === undefined || (chain !== undefined && r.chain !== chain)) continue
    rules.push({ chain: r.chain ?? '', handle: r.handle ?? -1, comment: r.comment ?? '' })
  }
  return rules
}

function parseTable (output: NftOutput): ObservedChain[] {
  const chains = new Map<string, ObservedChain>()
  for (const item of output.nftables ?? []) {
    const c = item.chain as { name?: string, type?: string, hook?: string, prio?: number, policy?: string } | undefined
    if (c?.name === undefined) continue
    const chain: ObservedChain = { name: c.name, comments: [] }
    if (c.type !== undefined) chain.type = c.type
    if (c.hook !== undefined) chain.hook = c.hook
    if (c.prio !== undefined) chain.prio = c.prio
    if (c.policy !== undefined) chain.policy = c.policy
    chains.set(c.name, chain)
  }
  for (const r of parseRules(output)) chains.get(r.chain)?.comments.push(r.comment)
  return [...chains.values()]
}
