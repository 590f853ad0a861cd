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

export class DataplaneError extends Error {
  static override name = 'DataplaneError'
  override name = 'DataplaneError'
  readonly code: DataplaneErrorCode

  constructor (code: DataplaneErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
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
