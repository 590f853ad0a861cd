import { MeshplaneError, type ErrorCode } from '../errors.js'
/**
 * Errors of the dataplane, with stable codes to branch on (never on the message).
 */
export type DataplaneErrorCode =
  | 'E_DATAPLANE_STOPPED'
  | 'E_DATAPLANE_CONFIG'
  | 'E_DATAPLANE_NO_INPUT'
  | 'E_DATAPLANE_INVALID_ARGUMENT'
  | 'E_NETLINK'
  | 'E_NETNS_CONFIGURE'

/** The agent-wide code each dataplane code is reported as (api/http-errors.ts and
 * cli/exit-codes.ts map only agent-wide codes). */
const AGENT_CODE: Record<DataplaneErrorCode, ErrorCode> = {
  E_DATAPLANE_STOPPED: 'E_UNAVAILABLE',
  E_DATAPLANE_CONFIG: 'E_CONFIG',
  E_DATAPLANE_NO_INPUT: 'E_UNAVAILABLE',
  E_DATAPLANE_INVALID_ARGUMENT: 'E_INVALID_ARGUMENT',
  E_NETLINK: 'E_KERNEL',
  E_NETNS_CONFIGURE: 'E_KERNEL'
}

export class DataplaneError extends MeshplaneError {
  static override name = 'DataplaneError'
  override name = 'DataplaneError'
  readonly dataplaneCode: DataplaneErrorCode

  constructor (code: DataplaneErrorCode, message: string, options?: ErrorOptions) {
    super(AGENT_CODE[code], message, options)
    this.dataplaneCode = code
  }
}

/**
 * A request the kernel refused. `errno` is the symbolic name (EEXIST, ENOENT…) so callers
 * can treat EEXIST on create and ENOENT on delete as the successes they are.
 */
export class NetlinkError extends DataplaneError {
  static override name = 'NetlinkError'
  override name = 'NetlinkError'
  readonly errno: string | undefined

  constructor (message: string, errno: string | undefined, options?: ErrorOptions) {
    super('E_NETLINK', message, options)
    this.errno = errno
  }
}
