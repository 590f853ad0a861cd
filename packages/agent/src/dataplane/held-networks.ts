/**
 * A remote change never removes a local container's interface (docs/security.md).
 *
 * A network this host has endpoints in is programmed as it was when its first local
 * endpoint appeared, for as long as one remains: if its record is removed, or changes
 * what the kernel holds for it (VNI, subnet, gateway, MTU), the bridge, the VXLAN device,
 * the gateway address and every local veth stay as they are, and remote endpoints of the
 * network are still programmed on them. Without this, another member's tombstone or a
 * rewrite onto another network's VNI made every host delete the network's devices and
 * every local container's veth. The record's version takes effect once the last local
 * endpoint is detached. Held in memory: an agent restart programs the record as it is.
 * Pure apart from that memory: no I/O, no clock.
 */
import type { NetworkBody } from '../state/types.js'

export interface HeldNetwork {
  name: string
  /** removed: the record is gone; changed: it names another VNI, subnet, gateway or MTU */
  reason: 'removed' | 'changed'
  kept: NetworkBody
}

export class LocalNetworkHold {
  readonly #kept = new Map<string, NetworkBody>()

  /** The networks to program, from the live records and the names of networks with a
   * local endpoint; `held` lists those programmed against their record. */
  resolve (records: NetworkBody[], local: Set<string>): { networks: NetworkBody[], held: HeldNetwork[] } {
    for (const name of this.#kept.keys()) if (!local.has(name)) this.#kept.delete(name)
    const networks: NetworkBody[] = []
    const held: HeldNetwork[] = []
    const seen = new Set<string>()
    for (const record of records) {
      seen.add(record.name)
      if (!local.has(record.name)) { networks.push(record); continue }
      const kept = this.#kept.get(record.name)
      if (kept === undefined) {
        this.#kept.set(record.name, record)
        networks.push(record)
      } else if (sameKernelState(kept, record)) {
        networks.push(record)
      } else {
        networks.push(kept)
        held.push({ name: record.name, reason: 'changed', kept })
      }
    }
    for (const [name, kept] of this.#kept) {
      if (seen.has(name)) continue
      networks.push(kept)
      held.push({ name, reason: 'removed', kept })
    }
    return { networks, held }
  }
}

function sameKernelState (a: NetworkBody, b: NetworkBody): boolean {
  return a.vni === b.vni && a.subnet === b.subnet && a.gateway === b.gateway && a.mtu === b.mtu
}
