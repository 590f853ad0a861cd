/**
 * Range requests over /meshplane/ipam/1.0.0, one exchange per stream:
 *
 *   client → IpamRequest   { network, size } or { network, address }
 *   server → IpamResponse  { ok, grant: the holder's signed ranges record } or { ok: false, code, error }
 *
 * The grant is an ordinary signed record: the requester applies it to its state like any
 * gossiped record (verification included) and claims it from there. If the answer is
 * lost, the same record still arrives by gossip or sync and is claimed then; a grant is
 * never lost, only late.
 */
import { pbStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { IpamRequest, IpamResponse, SignedRecord } from '@meshplane/proto'
import { MeshplaneError, isMeshplaneError, type ErrorCode } from '../errors.js'
import type { Ipam } from './ipam.js'
import type { RangeRequestGuard } from './guard.js'
import { DEFAULT_REQUEST_TIMEOUT_MS, IPAM_MAX_MESSAGE_BYTES } from './constants.js'

const KNOWN_CODES = new Set<ErrorCode>(['E_INVALID_ARGUMENT', 'E_NOT_FOUND', 'E_CONFLICT', 'E_EXHAUSTED', 'E_UNAVAILABLE', 'E_INTERNAL'])

export interface IpamExchangeOptions {
  /** bounds each read and write (default DEFAULT_REQUEST_TIMEOUT_MS) */
  timeoutMs?: number
  signal?: AbortSignal
}

function opts (o: IpamExchangeOptions): { signal: AbortSignal } {
  const timeout = AbortSignal.timeout(o.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS)
  return { signal: o.signal === undefined ? timeout : AbortSignal.any([timeout, o.signal]) }
}

/** Server side: answers one request from `remotePeer` (the authenticated connection's
 * peer id, never a field of the request) and closes the stream. */
export async function runIpamServer (ipam: Pick<Ipam, 'handleRangeRequest'>, stream: Stream, remotePeer: string, options: IpamExchangeOptions & { guard?: Pick<RangeRequestGuard, 'admit'> } = {}): Promise<void> {
  const pb = pbStream(stream, { maxDataLength: IPAM_MAX_MESSAGE_BYTES, maxBufferSize: IPAM_MAX_MESSAGE_BYTES })
  const req = await pb.read(IpamRequest, opts(options))
  let res: IpamResponse
  try {
    options.guard?.admit(remotePeer)
    const { envelope } = await ipam.handleRangeRequest(remotePeer, req.network, req.size, { address: req.address === '' ? undefined : req.address })
    res = { ok: true, error: '', code: '', grant: SignedRecord.decode(envelope) }
  } catch (err) {
    const code = isMeshplaneError(err) ? err.code : 'E_INTERNAL'
    res = { ok: false, error: (err as Error).message, code }
  }
  await pb.write(res, IpamResponse, opts(options))
  await stream.close()
}

/** Client side: sends one request, returns the grant envelope (to apply to the state),
 * or throws the holder's error as a MeshplaneError with its code. */
export async function runIpamClient (stream: Stream, req: { network: string, size: number, address?: string }, options: IpamExchangeOptions = {}): Promise<Uint8Array> {
  const pb = pbStream(stream, { maxDataLength: IPAM_MAX_MESSAGE_BYTES, maxBufferSize: IPAM_MAX_MESSAGE_BYTES })
  await pb.write({ network: req.network, size: req.size, address: req.address ?? '' }, IpamRequest, opts(options))
  const res = await pb.read(IpamResponse, opts(options))
  await stream.close()
  if (!res.ok) {
    const code = KNOWN_CODES.has(res.code as ErrorCode) ? res.code as ErrorCode : 'E_UNAVAILABLE'
    throw new MeshplaneError(code, `range request refused: ${res.error}`)
  }
  if (res.grant === undefined) throw new MeshplaneError('E_UNAVAILABLE', 'range request answered without a grant')
  return SignedRecord.encode(res.grant)
}
