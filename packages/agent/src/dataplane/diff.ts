/**
 * diffKernel: the operations that take the kernel from `observed` to `desired`. Pure.
 *
 * Ownership. Only devices named like meshplane's (mpbr<vni>, mpvx<vni>, mpv<hex8>) and
 * entries on them are ever removed, and of those entries only the kinds meshplane writes:
 * IPv4 addresses, PERMANENT neighbours, and `self` PERMANENT FDB entries on VXLAN devices.
 * Dynamic neighbours (the host's ARP cache on a bridge) and the kernel's own FDB entries
 * (bridge `master` entries, a veth's multicast list) are left alone.
 *
 * Adoption. An entry that already matches produces no op, so an agent that restarts
 * over a kernel it programmed before issues nothing: no delete and re-add, no blip.
 *
 * Order of the returned ops (apply keeps it, phase by phase):
 *  1. links: bridges, then VXLAN devices, then veths (a port needs its master to exist),
 *     then the gateway addresses (they need the bridge);
 *  2. neighbours before FDB: the VXLAN ARP proxy answers from the neighbour table, so by the
 *     time an FDB entry makes a remote MAC reachable its IP already resolves; the other way
 *     round a container's ARP in that window gets no answer and its entry goes FAILED;
 *  3. FDB entries;
 *  4. removal of stale entries, after the additions: an entry that changes (a MAC moving to
 *     another VTEP) is replaced in place, never deleted first, so there is no window
 *     without a path;
 *  5. removal of devices of networks no longer programmed, last: deleting a device drops
 *     every entry on it (so those entries get no ops of their own), and nothing added in
 *     this pass depends on it. Veths go before the VXLAN device before the bridge.
 */
import { ZERO_MAC } from './constants.js'
import { ownedLinkType } from './names.js'
import type { DesiredKernelState, DesiredLink, FdbEntry, KernelOp, ObservedFdb, ObservedKernelState, ObservedLink, VxlanParams } from './types.js'

/**
 * '' when an existing VXLAN device can be adopted for `desired`, else a readable reason
 * ("vni 42 vs 43"). Only what cannot be changed on a live device counts; MTU and master
 * are fixed with link.set instead.
 */
export function vxlanIncompat (desired: VxlanParams, observed: VxlanParams | undefined): string {
  if (observed === undefined) return 'not a vxlan device'
  const reasons: string[] = []
  if (desired.vni !== observed.vni) reasons.push(`vni ${observed.vni} vs ${desired.vni}`)
  if (desired.local !== observed.local) reasons.push(`local ${observed.local || 'none'} vs ${desired.local}`)
  if (desired.port !== observed.port) reasons.push(`port ${observed.port} vs ${desired.port}`)
  if (desired.learning !== observed.learning) reasons.push(`learning ${String(observed.learning)} vs ${String(desired.learning)}`)
  if (desired.proxy !== observed.proxy) reasons.push(`proxy ${String(observed.proxy)} vs ${String(desired.proxy)}`)
  return reasons.join(', ')
}

const LINK_ORDER: Record<DesiredLink['type'], number> = { bridge: 0, vxlan: 1, veth: 2 }
const REMOVE_ORDER = { veth: 0, vxlan: 1, bridge: 2 } as const

const fdbKey = (entry: FdbEntry): string => `${entry.dev}|${entry.mac}|${entry.dst}|${entry.port ?? ''}`

export function diffKernel (desired: DesiredKernelState, observed: ObservedKernelState): KernelOp[] {
  const observedLinks = new Map<string, ObservedLink>(observed.links.map(link => [link.name, link]))
  const desiredLinks = new Set(desired.links.map(link => link.name))

  // Devices created or re-created by this pass: whatever was observed on them is gone
  // (or never was), so every desired entry on them is added.
  const fresh = new Set<string>()
  const linkOps: KernelOp[] = []
  // First: writing ip_forward resets every device's forwarding, so the per-bridge settings
  // below must come after it.
  if (desired.ipForward && observed.ipForward !== true) linkOps.push({ kind: 'sysctl.ipForward' })

  const links = [...desired.links].sort((a, b) => LINK_ORDER[a.type] - LINK_ORDER[b.type])
  for (const link of links) {
    const seen = observedLinks.get(link.name)
    switch (link.type) {
      case 'bridge': {
        if (seen === undefined) {
          linkOps.push({ kind: 'link.ensureBridge', name: link.name, mtu: link.mtu })
          fresh.add(link.name)
        } else if (seen.kind !== 'bridge') {
          linkOps.push({ kind: 'link.ensureBridge', name: link.name, mtu: link.mtu, recreate: `${link.name} is a ${seen.kind ?? 'plain'} device, not a bridge` })
          fresh.add(link.name)
        } else {
          pushLinkSet(linkOps, link.name, seen, link.mtu, undefined, false)
        }
        // Before any port joins it: a new bridge starts with the host's ip_forward, and a
        // change of ip_forward resets every device's.
        // (observed only on bridges: a new or re-created one has it undefined)
        if (link.forwarding) {
          if (seen?.forwarding !== true) linkOps.push({ kind: 'link.forwardingOn', name: link.name })
        } else if (seen?.forwarding !== false) {
          linkOps.push({ kind: 'link.forwardingOff', name: link.name })
        }
        break
      }
      case 'vxlan': {
        const params: VxlanParams = { vni: link.vni, local: link.local, port: link.port, learning: link.learning, proxy: link.proxy }
        if (seen === undefined) {
          linkOps.push({ kind: 'link.ensureVxlan', name: link.name, params, mtu: link.mtu, master: link.master })
          fresh.add(link.name)
          break
        }
        const reason = seen.kind === 'vxlan' ? vxlanIncompat(params, seen.vxlan) : `${link.name} is a ${seen.kind ?? 'plain'} device, not vxlan`
        if (reason !== '') {
          linkOps.push({ kind: 'link.ensureVxlan', name: link.name, params, mtu: link.mtu, master: link.master, recreate: reason })
          fresh.add(link.name)
        } else {
          pushLinkSet(linkOps, link.name, seen, link.mtu, link.master, fresh.has(link.master))
        }
        break
      }
      case 'veth': {
        // The pair is made by attach(), which needs the container's namespace; a missing
        // veth is not something a reconcile pass can create. A non-veth under our name is
        // left alone rather than guessed at.
        if (seen?.kind === 'veth') pushLinkSet(linkOps, link.name, seen, link.mtu, link.master, fresh.has(link.master))
        break
      }
    }
  }

  // Devices to delete: owned, observed, not desired.
  const removed = observed.links
    .filter(link => !desiredLinks.has(link.name) && ownedLinkType(link.name) !== undefined)
    .sort((a, b) => REMOVE_ORDER[ownedLinkType(a.name) ?? 'bridge'] - REMOVE_ORDER[ownedLinkType(b.name) ?? 'bridge'] || (a.name < b.name ? -1 : 1))
  const removedNames = new Set(removed.map(link => link.name))

  /** Observed entries that count: on an owned device that stays as it is. */
  const counts = (dev: string): boolean => ownedLinkType(dev) !== undefined && !fresh.has(dev) && !removedNames.has(dev) && observedLinks.has(dev)
  const isVxlanDev = (dev: string): boolean => ownedLinkType(dev) === 'vxlan'

  // ---- addresses
  const addressKey = (a: { dev: string, ip: string, prefixLen: number }): string => `${a.dev}|${a.ip}/${a.prefixLen}`
  // (an address on a device meshplane does not own, the resolver's on loopback, is added
  // when missing and never removed: the device and its other addresses are not ours)
  const observedAddresses = new Set(observed.addresses.filter(a => counts(a.dev) || ownedLinkType(a.dev) === undefined).map(addressKey))
  const desiredAddresses = new Set(desired.addresses.map(addressKey))
  const addressOps: KernelOp[] = []
  for (const address of desired.addresses) {
    if (!observedAddresses.has(addressKey(address))) addressOps.push({ kind: 'addr.add', dev: address.dev, ip: address.ip, prefixLen: address.prefixLen })
  }

  // ---- neighbours
  const neighbourKey = (n: { dev: string, ip: string }): string => `${n.dev}|${n.ip}`
  const observedNeighbours = new Map(observed.neighbours.filter(n => n.permanent && counts(n.dev)).map(n => [neighbourKey(n), n]))
  const desiredNeighbours = new Set(desired.neighbours.map(neighbourKey))
  const neighbourOps: KernelOp[] = []
  for (const neighbour of desired.neighbours) {
    const seen = observedNeighbours.get(neighbourKey(neighbour))
    if (seen === undefined || seen.mac !== neighbour.mac) neighbourOps.push({ kind: 'neigh.set', dev: neighbour.dev, ip: neighbour.ip, mac: neighbour.mac })
  }

  // ---- FDB
  const ownedFdb = observed.fdb.filter(f => f.self && f.permanent && isVxlanDev(f.dev) && counts(f.dev))
  const observedFdb = new Set(ownedFdb.map(fdbKey))
  const desiredFdb = new Set(desired.fdb.map(fdbKey))
  const fdbOps: KernelOp[] = []
  for (const entry of desired.fdb) {
    if (!observedFdb.has(fdbKey(entry))) fdbOps.push({ kind: 'fdb.add', ...entry })
  }

  // ---- stale entries
  const staleOps: KernelOp[] = []
  for (const address of observed.addresses) {
    if (counts(address.dev) && !desiredAddresses.has(addressKey(address))) staleOps.push({ kind: 'addr.del', dev: address.dev, ip: address.ip, prefixLen: address.prefixLen })
  }
  for (const neighbour of observedNeighbours.values()) {
    if (!desiredNeighbours.has(neighbourKey(neighbour))) staleOps.push({ kind: 'neigh.del', dev: neighbour.dev, ip: neighbour.ip })
  }
  // A unicast MAC's fdb.add is a replace: it rewrites the entry's single destination in
  // place, so the old destination needs no delete (and deleting it would race the replace).
  const desiredUnicast = new Set(desired.fdb.filter(f => f.mac !== ZERO_MAC).map(f => `${f.dev}|${f.mac}`))
  const remotesPerMac = new Map<string, number>()
  for (const entry of ownedFdb) remotesPerMac.set(`${entry.dev}|${entry.mac}`, (remotesPerMac.get(`${entry.dev}|${entry.mac}`) ?? 0) + 1)
  for (const entry of ownedFdb) {
    if (desiredFdb.has(fdbKey(entry))) continue
    const macKey = `${entry.dev}|${entry.mac}`
    if (entry.mac !== ZERO_MAC && desiredUnicast.has(macKey) && remotesPerMac.get(macKey) === 1) continue
    staleOps.push(fdbDel(entry))
  }

  const removeOps: KernelOp[] = removed.map(link => ({ kind: 'link.del', name: link.name }))

  return [...linkOps, ...addressOps, ...neighbourOps, ...fdbOps, ...staleOps, ...removeOps]
}

function fdbDel (entry: ObservedFdb): KernelOp {
  const op: KernelOp = { kind: 'fdb.del', dev: entry.dev, mac: entry.mac, dst: entry.dst }
  return entry.port === undefined ? op : { ...op, port: entry.port }
}

function pushLinkSet (ops: KernelOp[], name: string, seen: ObservedLink, mtu: number | undefined, master: string | undefined, masterRecreated: boolean): void {
  const op: { kind: 'link.set', name: string, mtu?: number, master?: string, up?: true } = { kind: 'link.set', name }
  if (mtu !== undefined && seen.mtu !== mtu) op.mtu = mtu
  if (master !== undefined && (seen.master !== master || masterRecreated)) op.master = master
  if (!seen.up) op.up = true
  if (op.mtu !== undefined || op.master !== undefined || op.up === true) ops.push(op)
}

/** Counts by kind, for logs and status. */
export function countOps (ops: KernelOp[]): Partial<Record<KernelOp['kind'], number>> {
  const counts: Partial<Record<KernelOp['kind'], number>> = {}
  for (const op of ops) counts[op.kind] = (counts[op.kind] ?? 0) + 1
  return counts
}
