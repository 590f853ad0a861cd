/** The one place an error code becomes an HTTP status on the control API. */
import type { ErrorCode } from '../errors.js'

export const HTTP_STATUS: Record<ErrorCode, number> = {
  E_INVALID_ARGUMENT: 400,
  E_CONFIG: 400,
  E_NOT_FOUND: 404,
  E_CONFLICT: 409,
  E_EXHAUSTED: 507,
  E_PEER_ALIVE: 409,
  E_UNAVAILABLE: 503,
  E_PERMISSION: 403,
  E_KERNEL: 502,
  E_INTERNAL: 500
}

/** Body of every error reply: `{ code, message }`. */
export interface ApiErrorBody { code: ErrorCode, message: string }
