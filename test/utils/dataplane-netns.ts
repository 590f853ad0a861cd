/**
 * A small two-host lab for the dataplane netns test: an underlay bridge in a namespace of
 * its own, one namespace per host with eth0 on it, one empty namespace per container.
 * Every name starts with a prefix unique to the run; destroy() removes every namespace
 * and ends every process this lab started (by pid), and an exit hook does the same if the
 * test process dies first. Nothing else is touched.
 */
import { execFile, execFileSync, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { NETNS_PREREQUISITES, requirePrerequisites } from './prerequisites.js'

export interface LabHost {
  name: string
  netnsPath: string
  ip: string
}

export interface Lab {
  prefix: string
  /** Third octet of the 10.77.x.0/24 underlay. */
  subnet: number
  hosts: LabHost[]
  containers: string[]
  sh: (args: string[], opts?: { ns?: string, check?: boolean, timeoutMs?: number }) => Promise<{ code: number, stdout: string, stderr: string }>
  /** Starts argv under nsenter --net; `stdin: true` gives it a pipe (a driver taking commands). */
  spawnIn: (ns: string, argv: string[], opts?: { stdin?: boolean }) => ChildProcess
  destroy: () => Promise<void>
}

const live = new Set<Lab>()
let hooked = false

function hookExit (): void {
  if (hooked) return
  hooked = true
  process.on('exit', () => {
    for (const lab of live) destroySync(lab)
  })
}

const children = new WeakMap<Lab, Set<ChildProcess>>()
const namespaces = new WeakMap<Lab, string[]>()

function destroySync (lab: Lab): void {
  for (const child of children.get(lab) ?? []) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try { process.kill(child.pid, 'SIGKILL') } catch {}
    }
  }
  for (const ns of [...(namespaces.get(lab) ?? [])].reverse()) {
    try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }) } catch {}
  }
  live.delete(lab)
}

export async function createLab (opts: { hosts: number, containersPerHost: number }): Promise<Lab> {
  requirePrerequisites(NETNS_PREREQUISITES)
  const prefix = `mpdp-${process.pid}-${Math.floor(Math.random() * 0xffff).toString(16)}`
  const subnet = 1 + (process.pid % 250)
  const made: string[] = []
  const procs = new Set<ChildProcess>()

  const sh: Lab['sh'] = async (args, o = {}) => {
    const argv = o.ns === undefined ? args : ['ip', 'netns', 'exec', o.ns, ...args]
    return await new Promise((resolve, reject) => {
      execFile(argv[0] as string, argv.slice(1), { timeout: o.timeoutMs ?? 20_000 }, (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1
        if (code !== 0 && o.check !== false) reject(new Error(`${argv.join(' ')} → ${code}: ${stderr.trim()}`))
        else resolve({ code, stdout, stderr })
      })
    })
  }
  const addNs = async (name: string): Promise<void> => {
    await sh(['ip', 'netns', 'add', name])
    made.push(name)
    await sh(['ip', '-n', name, 'link', 'set', 'lo', 'up'])
  }

  const lab: Lab = {
    prefix,
    subnet,
    hosts: [],
    containers: [],
    sh,
    spawnIn: (ns, argv, o = {}) => {
      const child = spawn('nsenter', [`--net=/run/netns/${ns}`, ...argv], { stdio: [o.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'] })
      procs.add(child)
      child.on('exit', () => { procs.delete(child) })
      return child
    },
    destroy: async () => {
      for (const child of procs) {
        if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
          try { process.kill(child.pid, 'SIGKILL') } catch {}
        }
      }
      for (const ns of [...made].reverse()) await sh(['ip', 'netns', 'del', ns], { check: false })
      made.length = 0
      live.delete(lab)
    }
  }
  children.set(lab, procs)
  namespaces.set(lab, made)
  live.add(lab)
  hookExit()

  try {
    const underlay = `${prefix}-u`
    await addNs(underlay)
    await sh(['ip', '-n', underlay, 'link', 'add', 'br0', 'type', 'bridge'])
    await sh(['ip', '-n', underlay, 'link', 'set', 'br0', 'up'])
    for (let i = 0; i < opts.hosts; i++) {
      const name = `${prefix}-h${i + 1}`
      await addNs(name)
      const ip = `10.77.${subnet}.${11 + i}`
      await sh(['ip', '-n', name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `p${i + 1}`, 'netns', underlay])
      await sh(['ip', '-n', underlay, 'link', 'set', `p${i + 1}`, 'master', 'br0', 'up'])
      await sh(['ip', '-n', name, 'addr', 'add', `${ip}/24`, 'dev', 'eth0'])
      await sh(['ip', '-n', name, 'link', 'set', 'eth0', 'up'])
      lab.hosts.push({ name, netnsPath: `/run/netns/${name}`, ip })
      for (let c = 0; c < opts.containersPerHost; c++) {
        const container = `${prefix}-c${i + 1}${c === 0 ? '' : `-${c}`}`
        await addNs(container)
        lab.containers.push(container)
      }
    }
  } catch (err) {
    await lab.destroy()
    throw err
  }
  return lab
}
