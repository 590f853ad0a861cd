/**
 * What a received record may do given what this replica already holds: the checks that
 * need state (codec.ts checks everything a record says by itself). Pure: the caller hands
 * in its clock and a lookup. A refused record is never merged; the mesh rejects the
 * gossip message that carried it (its forwarder loses gossipsub score).
 *
 * Ownership (docs/security.md): host, endpoint and ranges records carry their owner in
 * the key (codec.ts). A network is its creator's: a live version must be signed by the
 * creator (codec.ts) and a tombstone by the creator, or by a host whose ranges record for
 * that network reclaims the creator (`meshplane rmpeer <creator>` ran there).
 */
import type { OpenedRecord } from './codec.js'
import { MAX_LAMPORT_STEP } from './constants.js'
import { rangesKey } from './types.js'

export interface AdmissionContext {
  /** this replica's Lamport clock */
  clock: bigint
  get: (id: string) => OpenedRecord | undefined
}

/** Why `o` must not be merged, or undefined when it may. */
export function refusal (o: OpenedRecord, ctx: AdmissionContext): string | undefined {
  const r = o.record
  if (r.lamport > ctx.clock + MAX_LAMPORT_STEP) {
    return `${r.id} by ${r.writer}: version ${r.lamport} is more than ${MAX_LAMPORT_STEP} ahead of this replica's clock ${ctx.clock}`
  }
  if (r.kind === 'network' && r.deleted) {
    const owner = o.removed?.creator
    if (owner === undefined) return `network ${r.key}: a tombstone by ${r.writer} names no network`
    if (owner !== r.writer && !reclaimed(ctx, r.key, r.writer, owner)) {
      return `network ${r.key} is owned by ${owner}; ${r.writer} may not remove it`
    }
  }
  return undefined
}

/** Whether `by` took over `peer`'s part of `network` with rmpeer (its signed reclaim). */
export function reclaimed (ctx: Pick<AdmissionContext, 'get'>, network: string, by: string, peer: string): boolean {
  const ranges = ctx.get(`ranges/${rangesKey(network, by)}`)?.record
  return ranges?.kind === 'ranges' && ranges.body !== undefined && ranges.body.reclaims.some(c => c.peer === peer)
}
