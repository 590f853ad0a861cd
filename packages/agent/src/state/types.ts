/**
 * The replicated cluster state as the rest of the agent sees it: decoded records.
 * The wire form (SignedRecord / Record protobufs) lives in @meshplane/proto; the state
 * module is the only place that converts between the two.
 */
import type { HostBody, NetworkBody, EndpointBody, RangesBody } from '@meshplane/proto'

export type RecordKindName = 'host' | 'network' | 'endpoint' | 'ranges'

/** Version order: higher lamport wins, then higher writer peer id, then higher hash. */
export interface RecordVersion {
  lamport: bigint
  writer: string
}

interface RecordBase extends RecordVersion {
  /** `${kind}/${key}`: unique across the cluster state. */
  id: string
  key: string
  deleted: boolean
  deletedAtMs: bigint
  /** Writer's wall clock at write time (0 when unknown); read by metrics only, never by the merge. */
  writtenAtMs: bigint
}

export interface HostRecord extends RecordBase { kind: 'host', body: HostBody | undefined }
export interface NetworkRecord extends RecordBase { kind: 'network', body: NetworkBody | undefined }
export interface EndpointRecord extends RecordBase { kind: 'endpoint', body: EndpointBody | undefined }
export interface RangesRecord extends RecordBase { kind: 'ranges', body: RangesBody | undefined }

export type StateRecord = HostRecord | NetworkRecord | EndpointRecord | RangesRecord

export type { HostBody, NetworkBody, EndpointBody, RangesBody }

/** Liveness of a host as this agent sees it. */
export type PeerState = 'alive' | 'unreachable' | 'left'

/**
 * Keys of owned records. The owner is part of the key, so a validator can check
 * ownership without any other state:
 *   host      <peerId>
 *   endpoint  <peerId>/<network>/<endpointId>
 *   ranges    <network>/<peerId>
 *   network   <name>            (any member may write)
 */
export function endpointKey (owner: string, network: string, endpointId: string): string {
  return `${owner}/${network}/${endpointId}`
}

export function rangesKey (network: string, owner: string): string {
  return `${network}/${owner}`
}

export function ownerOfKey (kind: RecordKindName, key: string): string | undefined {
  switch (kind) {
    case 'host': return key
    case 'endpoint': return key.split('/')[0]
    case 'ranges': return key.split('/')[1]
    case 'network': return undefined
  }
}
