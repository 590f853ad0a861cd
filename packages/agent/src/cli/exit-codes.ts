/** The one place an error code becomes an exit status (sysexits.h where one fits). */
import type { ErrorCode } from '../errors.js'

export const EXIT_CODE: Record<ErrorCode, number> = {
  E_INVALID_ARGUMENT: 64, // EX_USAGE
  E_CONFIG: 78,           // EX_CONFIG
  E_NOT_FOUND: 3,
  E_CONFLICT: 4,
  E_PEER_ALIVE: 4,
  E_EXHAUSTED: 5,
  E_UNAVAILABLE: 69,      // EX_UNAVAILABLE
  E_PERMISSION: 77,       // EX_NOPERM
  E_KERNEL: 71,           // EX_OSERR
  E_INTERNAL: 70          // EX_SOFTWARE
}
