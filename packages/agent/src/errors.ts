/**
 * Every error the agent reports to a caller carries a stable code. Two tables map codes
 * to the outside world: cli/exit-codes.ts (exit status) and api/http-errors.ts (HTTP
 * status). Code branches on `code`, never on the message.
 */
export type ErrorCode =
  | 'E_INVALID_ARGUMENT'   // a bad flag, body field, address or name
  | 'E_CONFIG'             // the agent's configuration is invalid
  | 'E_NOT_FOUND'          // no such network / endpoint / peer
  | 'E_CONFLICT'           // already exists, or in use
  | 'E_EXHAUSTED'          // no free address in the network
  | 'E_PEER_ALIVE'         // rmpeer refused: the host is alive
  | 'E_UNAVAILABLE'        // the agent (or a peer it needs) cannot be reached
  | 'E_PERMISSION'         // the control socket refused us
  | 'E_KERNEL'             // netlink refused a change
  | 'E_INTERNAL'           // a bug

export class MeshplaneError extends Error {
  readonly code: ErrorCode

  constructor (code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = 'MeshplaneError'
  }
}

export function isMeshplaneError (err: unknown): err is MeshplaneError {
  return err instanceof MeshplaneError
}

export const invalid = (message: string): MeshplaneError => new MeshplaneError('E_INVALID_ARGUMENT', message)
export const notFound = (message: string): MeshplaneError => new MeshplaneError('E_NOT_FOUND', message)
export const conflict = (message: string): MeshplaneError => new MeshplaneError('E_CONFLICT', message)
