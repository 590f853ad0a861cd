/**
 * Opens a value (a netlink socket) inside another network namespace, in this process.
 *
 * Why: Node has no setns(2), so configuring a container's side of a veth used to start a
 * node child under nsenter: 50-130 ms and as much CPU per attach on this 2-core machine,
 * most of an attach (docs/performance.md, attach → FDB). A socket belongs to the namespace
 * it was created in for its whole life, so it is enough to move the calling thread into the
 * container's namespace, create the socket, and move straight back: the same thing Go's
 * netns packages do with LockOSThread. setns(CLONE_NEWNET) changes only the calling thread
 * (allowed in a multi-threaded process); libuv's threads stay where they are.
 *
 * Safety: between the two setns calls only the synchronous `open` callback runs (no await,
 * so no other JavaScript can run in the wrong namespace). If moving back fails, the main
 * thread would be left in the container's namespace, and every later socket with it: the
 * process aborts rather than carry on there.
 *
 * libc comes through koffi (already a dependency for sd_notify, prebuilt, N-API). Where it
 * or setns is unavailable (no koffi binary, EPERM), enterNetns returns undefined and the
 * caller falls back to the nsenter child.
 */
import { closeSync, openSync } from 'node:fs'

/** CLONE_NEWNET (include/uapi/linux/sched.h). */
const CLONE_NEWNET = 0x40000000

interface Libc {
  setns: (fd: number, nstype: number) => number
  errno: () => number
}

let libc: Promise<Libc | undefined> | undefined

async function loadLibc (): Promise<Libc | undefined> {
  try {
    const { default: koffi } = await import('koffi')
    const lib = koffi.load('libc.so.6')
    const setns = lib.func('int setns(int, int)') as (fd: number, nstype: number) => number
    return { setns, errno: () => koffi.errno() }
  } catch {
    return undefined
  }
}

/** Why the last enterNetns returned undefined, for the caller's log. */
export let unavailableReason = ''

/**
 * Runs open() with the main thread inside the network namespace at netnsPath and returns
 * its result, or undefined if this process cannot enter namespaces (then nothing ran).
 * open must be synchronous.
 */
export async function enterNetns<T> (netnsPath: string, open: () => T): Promise<T | undefined> {
  libc ??= loadLibc()
  const c = await libc
  if (c === undefined) {
    unavailableReason = 'koffi could not load libc'
    return undefined
  }
  const target = openSync(netnsPath, 'r')
  let home: number | undefined
  try {
    home = openSync('/proc/thread-self/ns/net', 'r')
    if (c.setns(target, CLONE_NEWNET) !== 0) {
      unavailableReason = `setns(${netnsPath}) failed with errno ${c.errno()}`
      return undefined
    }
    try {
      return open()
    } finally {
      if (c.setns(home, CLONE_NEWNET) !== 0) {
        process.stderr.write(`meshplane: could not return to the agent's network namespace after entering ${netnsPath} (errno ${c.errno()}); aborting\n`)
        process.abort()
      }
    }
  } finally {
    closeSync(target)
    if (home !== undefined) closeSync(home)
  }
}
