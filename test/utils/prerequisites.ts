/**
 * What the demo and the tests need on this machine, checked before anything is made: a
 * missing tool is one line naming the Debian package to install, not a matrix of FAIL or
 * a stack trace from deep inside a test. Tests fail with that line; they never skip.
 *
 *   requirePrerequisites(['root', 'ip', 'ping'])      // throws PrerequisiteError
 *   const problem = missingPrerequisites([...])       // the line, or undefined
 *
 * Commands are looked up on PATH as the spawned processes will look them up (`ip netns
 * exec` and nsenter run them with the same PATH); those the code runs by absolute path
 * (nft, the docker CLI, busybox) are looked up there.
 */
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import { findNft } from '@meshplane/agent/dataplane/nft.js'

/** Debian's docker.io CLI; the machine may have another `docker` earlier on PATH. */
export const DOCKER_CLI = '/usr/bin/docker'
/** busybox-static's binary, copied into the tests' Docker image. */
export const BUSYBOX_BIN = '/bin/busybox'

export type Prerequisite =
  | 'root' | 'ip' | 'bridge' | 'ping' | 'nsenter'
  | 'dockerd' | 'docker' | 'busybox' | 'nft' | 'socat' | 'tcpdump' | 'dig' | 'dnsmasq'

/** What every namespace cluster needs: root and the commands the harness runs. */
export const NETNS_PREREQUISITES: readonly Prerequisite[] = ['root', 'ip', 'ping', 'nsenter']
/** A real dockerd per namespace host (test/utils/dockerd.ts). */
export const DOCKER_PREREQUISITES: readonly Prerequisite[] = ['dockerd', 'docker', 'busybox']

function executable (path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

const onPath = (command: string) => (): boolean =>
  (process.env.PATH ?? '').split(delimiter).some(dir => dir !== '' && executable(join(dir, command)))

/** Each tool: how to find it, and the Debian package that has it. */
const TOOLS: Record<Exclude<Prerequisite, 'root'>, { name: string, found: () => boolean, debian: string }> = {
  ip: { name: 'ip', found: onPath('ip'), debian: 'iproute2' },
  bridge: { name: 'bridge', found: onPath('bridge'), debian: 'iproute2' },
  ping: { name: 'ping', found: onPath('ping'), debian: 'iputils-ping' },
  nsenter: { name: 'nsenter', found: onPath('nsenter'), debian: 'util-linux' },
  dockerd: { name: 'dockerd', found: onPath('dockerd'), debian: 'docker.io' },
  docker: { name: DOCKER_CLI, found: () => executable(DOCKER_CLI), debian: 'docker.io' },
  busybox: { name: BUSYBOX_BIN, found: () => executable(BUSYBOX_BIN), debian: 'busybox-static' },
  // by path: in npm scripts PATH starts with node_modules/.bin, where ava's @vercel/nft
  // installs a command named nft
  nft: { name: '/usr/sbin/nft', found: () => executable(findNft()), debian: 'nftables' },
  socat: { name: 'socat', found: onPath('socat'), debian: 'socat' },
  tcpdump: { name: 'tcpdump', found: onPath('tcpdump'), debian: 'tcpdump' },
  dig: { name: 'dig', found: onPath('dig'), debian: 'dnsutils' },
  dnsmasq: { name: 'dnsmasq', found: onPath('dnsmasq'), debian: 'dnsmasq-base' }
}

/** One line saying what is missing and what to install, or undefined when nothing is. */
export function missingPrerequisites (needs: readonly Prerequisite[]): string | undefined {
  const problems: string[] = []
  const unique = [...new Set(needs)]
  if (unique.includes('root') && process.getuid?.() !== 0) problems.push('not running as root (network namespaces need it)')
  const missing = unique.filter((p): p is Exclude<Prerequisite, 'root'> => p !== 'root' && !TOOLS[p].found())
  if (missing.length > 0) {
    const packages = [...new Set(missing.map(p => TOOLS[p].debian))]
    problems.push(`${missing.map(p => TOOLS[p].name).join(', ')} not found (Debian: apt-get install ${packages.join(' ')})`)
  }
  return problems.length === 0 ? undefined : `missing prerequisites: ${problems.join('; ')}`
}

export class PrerequisiteError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'PrerequisiteError'
    // one line is the whole story: no stack pointing into the harness
    this.stack = `${this.name}: ${message}`
  }
}

/** Throws a PrerequisiteError with the one line when something is missing. */
export function requirePrerequisites (needs: readonly Prerequisite[]): void {
  const problem = missingPrerequisites(needs)
  if (problem !== undefined) throw new PrerequisiteError(problem)
}
