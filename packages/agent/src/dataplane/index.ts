/**
 * The kernel data plane: programs this host's VXLAN overlay (bridge, VXLAN device, veths,
 * FDB and neighbour entries, gateway address) over netlink, and keeps it equal to the
 * cluster state. See reconciler.ts for how it works.
 *
 * @example
 * ```ts
 * const dataplane = createDataplane({ logger }, { resyncIntervalMs: 5000 })
 * await dataplane.start()
 * dataplane.update({ self, networks, endpoints, hosts })   // on every state change
 * await dataplane.reconcileNow()                           // e.g. before READY=1
 * await dataplane.attach({ network, endpointId, netnsPath, ifname: 'eth0', ipv4, prefixLen, mac, gateway, mtu })
 * await dataplane.createEndpointVeth({ network, endpointId, ipv4, mac, mtu })  // Docker: peer stays on the host
 * await dataplane.detach({ network, endpointId })                             // either kind
 * await dataplane.stop()                                   // the kernel keeps its state
 * ```
 */
import { DataplaneReconciler } from './reconciler.js'
import type { Dataplane, DataplaneComponents, DataplaneInit } from './reconciler.js'

export function createDataplane (components: DataplaneComponents, init: DataplaneInit = {}): Dataplane {
  return new DataplaneReconciler(components, init)
}

export type {
  Dataplane,
  DataplaneComponents,
  DataplaneInit,
  DataplaneMetrics,
  DataplaneStatus,
  ReconcileResult,
  AttachOptions,
  AttachResult,
  EndpointVethOptions,
  EndpointVethResult,
  EndpointVethState,
  DetachOptions,
  DetachResult
} from './reconciler.js'
export type * from './types.js'
export { computeDesired, computeOverlayMtu } from './desired.js'
export { computeFirewall, diffFirewall } from './firewall.js'
export type { PublishedPort, PortProtocol, DesiredFirewall, FirewallNetwork } from './firewall.js'
export { diffKernel, vxlanIncompat, countOps } from './diff.js'
export { KernelQueue, createRequestWindow } from './queue.js'
export type { KernelQueueInit, RequestWindow, QueueTask } from './queue.js'
export { NetlinkKernel, raiseNeighbourLimits, readUnderlay } from './netlink.js'
export type { Observation, UnderlayDevice, ApplyContext, NeighbourLimitsResult, NetlinkKernelComponents } from './netlink.js'
export { DataplaneError, NetlinkError } from './errors.js'
export type { DataplaneErrorCode } from './errors.js'
export { bridgeName, vxlanName, vethName, isOwnedLink, ownedLinkType } from './names.js'
export * as dataplaneConstants from './constants.js'
