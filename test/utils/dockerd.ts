/**
 * Real Docker daemons on the hosts of a test cluster: one
 * dockerd per namespace host, started with nsenter (not `ip netns exec`, which remounts
 * /sys and breaks dockerd's cgroups) in a private mount namespace whose /etc/docker is a
 * bind mount of a per-host folder holding `plugins/meshplane.spec` → that host's agent
 * plugin socket. Data, exec root, pidfile and API socket live in the cluster's temp dir.
 *
 *   const docker = await startDockerd(cluster, host, agent.dockerSocket)
 *   await docker.importBusybox()
 *   await docker.run(['run', '-d', '--network', 'blue', BUSYBOX, 'sleep', '1000'])
 *   await docker.stop()        // by the pid in its pidfile
 *
 * Cleanup: stop() ends the daemon by its pidfile pid and waits for every process under
 * its exec root (containerd, shims, containers all name it in their command line, and it
 * is unique to this run) to go; destroy() also kills any left and removes its folders.
 * The bind mount lives only in the daemon's own mount namespace and goes with it.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, copyFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { trackDir, trackExitHook, untrackDir, untrackExitHook } from './cleanup.js'
import { run, type ExecResult } from './proc.js'
import { BUSYBOX_BIN, DOCKER_CLI, DOCKER_PREREQUISITES, requirePrerequisites } from './prerequisites.js'
import { sleep, waitFor, type Cluster, type Host, type ProcessHandle } from './netns.js'

export { DOCKER_CLI }
export const BUSYBOX = 'busybox:local'
const BUSYBOX_APPLETS = ['sh', 'ping', 'ip', 'sleep', 'nc', 'cat', 'ls', 'hostname', 'ifconfig', 'route', 'true', 'kill', 'nslookup']

/** The test daemons' networking: no iptables rules and no docker0, so that only
 * meshplane's plugin touches the host's network. */
export const ISOLATED_NETWORKING: readonly string[] = ['--iptables=false', '--ip6tables=false', '--bridge=none']

export interface DockerdOptions {
  /** Replaces ISOLATED_NETWORKING; [] gives Docker's own defaults (docker0, its NAT and
   * DNAT rules through iptables, the userland proxy), e.g. to compare with its bridge driver.
   * The rules live in the host's namespace and go with it; docker-proxy processes are the
   * daemon's children and go with it. */
  networkFlags?: readonly string[]
  /** More dockerd flags (e.g. --dns ADDR). */
  extraArgs?: readonly string[]
}

export class TestDockerd {
  readonly dir: string
  readonly etcDir: string
  readonly apiSocket: string
  readonly pidfile: string
  readonly log: string
  proc: ProcessHandle | undefined
  /** If the test process dies first: containerd and the shims run in sessions of their own,
   * out of reach of the process-group kill, so they are found by folder and killed. */
  readonly #exitHook = (): void => { for (const p of this.ownProcesses()) { try { process.kill(p, 'SIGKILL') } catch {} } }

  readonly networkFlags: readonly string[]
  readonly extraArgs: readonly string[]

  constructor (readonly cluster: Cluster, readonly host: Host, readonly pluginSocket: string, opts: DockerdOptions = {}) {
    this.networkFlags = opts.networkFlags ?? ISOLATED_NETWORKING
    this.extraArgs = opts.extraArgs ?? []
    // Short: containerd's socket path below the exec root must fit in 108 bytes.
    this.dir = join(cluster.dir, `d${host.index}`)
    this.etcDir = join(this.dir, 'etc')
    this.apiSocket = join(this.dir, 'docker.sock')
    this.pidfile = join(this.dir, 'docker.pid')
    this.log = join(cluster.dir, `${host.name}.dockerd.log`)
    mkdirSync(join(this.etcDir, 'plugins'), { recursive: true })
    writeFileSync(join(this.etcDir, 'plugins', 'meshplane.spec'), `unix://${pluginSocket}\n`)
    trackDir(this.dir)
    trackExitHook(this.#exitHook)
  }

  async start (): Promise<this> {
    if (!existsSync('/etc/docker')) throw new Error('/etc/docker is missing: install docker.io (apt-get install docker.io)')
    const d = this.dir
    const dockerd = [
      'dockerd', '--data-root', join(d, 'data'), '--exec-root', join(d, 'exec'), '--pidfile', this.pidfile,
      '-H', `unix://${this.apiSocket}`, '--storage-driver', 'vfs', ...this.networkFlags,
      // Containers get 2 s to stop when the daemon shuts down (the test's restart).
      '--shutdown-timeout', '2',
      ...this.extraArgs
    ].join(' ')
    this.proc = this.cluster.spawn(this.host, ['unshare', '-m', '--propagation', 'private', 'sh', '-c',
      `mount --bind ${this.etcDir} /etc/docker && exec ${dockerd}`], { nsenter: true, stdout: this.log, label: `dockerd-${this.host.name}` })
    await waitFor(async () => {
      if (this.proc?.alive !== true) throw new Error(`dockerd on ${this.host.name} exited: see ${this.log}`)
      return (await this.docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 5000 })).code === 0
    }, { timeoutMs: 60_000, intervalMs: 250, what: `dockerd on ${this.host.name} to answer` })
    return this
  }

  /** Runs the docker CLI against this daemon; never throws unless check. */
  async docker (args: string[], opts: { check?: boolean, timeoutMs?: number } = {}): Promise<ExecResult> {
    return await run([DOCKER_CLI, '-H', `unix://${this.apiSocket}`, ...args], { timeoutMs: opts.timeoutMs ?? 60_000, check: opts.check ?? false })
  }

  /** docker CLI, checked, stdout trimmed. */
  async run (args: string[], timeoutMs = 60_000): Promise<string> {
    return (await this.docker(args, { check: true, timeoutMs })).stdout.trim()
  }

  /** Imports busybox-static as BUSYBOX (no registry here). */
  async importBusybox (): Promise<void> {
    const root = join(this.dir, 'busybox-root')
    mkdirSync(join(root, 'bin'), { recursive: true })
    requirePrerequisites(['busybox'])
    copyFileSync(BUSYBOX_BIN, join(root, 'bin', 'busybox'))
    for (const applet of BUSYBOX_APPLETS) if (!existsSync(join(root, 'bin', applet))) symlinkSync('busybox', join(root, 'bin', applet))
    await run(['sh', '-c', `tar -C '${root}' -c . | ${DOCKER_CLI} -H 'unix://${this.apiSocket}' import --change 'CMD ["sh"]' - ${BUSYBOX}`], { check: true })
  }

  /** Pids of processes started for this daemon: its command lines all name its folder. */
  ownProcesses (): number[] {
    const pids: number[] = []
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue
      try {
        if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(this.dir + '/')) pids.push(Number(entry))
      } catch {}
    }
    return pids
  }

  /** SIGTERM to the pid in the pidfile; waits until it and its containerd and shims are gone (SIGKILL after graceMs). */
  async stop (graceMs = 20_000): Promise<void> {
    let pid: number | undefined
    try {
      pid = Number(readFileSync(this.pidfile, 'utf8').trim())
    } catch {}
    if (pid !== undefined && pid > 0) {
      try { process.kill(pid, 'SIGTERM') } catch {}
    }
    const deadline = Date.now() + graceMs
    while (this.ownProcesses().length > 0 && Date.now() < deadline) await sleep(100)
    for (const p of this.ownProcesses()) {
      try { process.kill(p, 'SIGKILL') } catch {}
    }
    await this.proc?.stop(2000)
    this.proc = undefined
  }

  async destroy (): Promise<void> {
    await this.stop(5000).catch(() => {})
    // Processes started from inside containers (no folder in their command line) die with
    // their container's shim; give the kernel a moment before removing the folders.
    rmSync(this.dir, { recursive: true, force: true })
    untrackDir(this.dir)
    untrackExitHook(this.#exitHook)
  }
}

/** The API socket startDockerd(cluster, host) will serve (an agent started first can be told it). */
export function dockerApiSocket (cluster: Cluster, host: Host): string {
  return join(cluster.dir, `d${host.index}`, 'docker.sock')
}

export async function startDockerd (cluster: Cluster, host: Host, pluginSocket: string, opts: DockerdOptions = {}): Promise<TestDockerd> {
  requirePrerequisites(DOCKER_PREREQUISITES)
  const d = new TestDockerd(cluster, host, pluginSocket, opts)
  try {
    await d.start()
  } catch (err) {
    await d.destroy().catch(() => {})
    throw err
  }
  return d
}
