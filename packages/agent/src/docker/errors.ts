/**
 * The one place an error becomes a Docker plugin reply.
 *
 * - NetworkDriver (and Plugin) errors: body `{"Err": msg}`. Docker reads `Err` from any
 *   non-200 reply and reports "NetworkDriver.Join: msg" (moby pkg/plugins/client.go).
 * - IpamDriver errors: the IPAM's field is `Error` (libnetwork ipams/remote/api), but on a
 *   non-200 reply Docker's client looks only for `Err` and otherwise shows the raw body.
 *   So IPAM errors carry both: `Error` for the protocol, `Err` for that client path.
 * - The status comes from the error code, by the control API's table (api/http-errors.ts). Docker fails the call on any non-200; it treats
 *   404 as "not implemented", which only Program/RevokeExternalConnectivity tolerate, and
 *   those never fail here.
 * - Unknown methods: 404, same body shape.
 */
import { isMeshplaneError, type ErrorCode } from '../errors.js'
import { HTTP_STATUS } from '../api/http-errors.js'

export type Subsystem = 'Plugin' | 'NetworkDriver' | 'IpamDriver'

export interface DockerErrorReply {
  status: number
  code: ErrorCode
  body: { Err: string, Error?: string }
}

/** The subsystem a request path belongs to ("/IpamDriver.RequestPool" → IpamDriver). */
export function subsystemOf (url: string): Subsystem {
  const name = url.replace(/^\//, '').split('.')[0]
  return name === 'IpamDriver' ? 'IpamDriver' : name === 'Plugin' ? 'Plugin' : 'NetworkDriver'
}

export function errorBody (subsystem: Subsystem, message: string): DockerErrorReply['body'] {
  return subsystem === 'IpamDriver' ? { Error: message, Err: message } : { Err: message }
}

/** Any thrown value → status and body. Non-meshplane errors are E_INTERNAL (a bug), except
 * fastify's own 4xx (body too large…), which are the client's fault. */
export function toDockerError (subsystem: Subsystem, err: unknown): DockerErrorReply {
  let code: ErrorCode = 'E_INTERNAL'
  if (isMeshplaneError(err)) {
    code = err.code
  } else {
    const status = (err as { statusCode?: number } | undefined)?.statusCode
    if (status !== undefined && status >= 400 && status < 500) code = 'E_INVALID_ARGUMENT'
  }
  const message = err instanceof Error ? err.message : String(err)
  return { status: HTTP_STATUS[code], code, body: errorBody(subsystem, message) }
}

export function unknownMethod (url: string): DockerErrorReply {
  const method = url.replace(/^\//, '').split('?')[0] ?? url
  return { status: 404, code: 'E_NOT_FOUND', body: errorBody(subsystemOf(url), `meshplane does not implement ${method}`) }
}
