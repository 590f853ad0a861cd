/** The operator commands' side of the control API: HTTP/JSON over the unix socket. */
import { request } from 'node:http'
import { MeshplaneError, type ErrorCode } from '../errors.js'

export const DEFAULT_API_SOCKET = '/run/meshplane/meshplane.sock'

export function resolveApiSocket (flag: string | undefined): string {
  const env = process.env.MESHPLANE_API_SOCKET
  return flag ?? (env === undefined || env === '' ? DEFAULT_API_SOCKET : env)
}

export class ApiClient {
  constructor (readonly socketPath: string, readonly timeoutMs = 30_000) {}

  async call<T = unknown> (method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    return await new Promise<T>((resolve, reject) => {
      const req = request({
        socketPath: this.socketPath,
        path,
        method,
        headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        timeout: this.timeoutMs
      }, res => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let json: unknown
          try { json = text === '' ? undefined : JSON.parse(text) } catch {
            reject(new MeshplaneError('E_INTERNAL', `agent answered ${res.statusCode} with non-JSON: ${text.slice(0, 200)}`))
            return
          }
          if ((res.statusCode ?? 500) >= 400) {
            const e = json as { code?: ErrorCode, message?: string } | undefined
            reject(new MeshplaneError(e?.code ?? 'E_INTERNAL', e?.message ?? `agent answered ${res.statusCode}`))
            return
          }
          resolve(json as T)
        })
      })
      req.on('timeout', () => { req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)) })
      req.on('error', (err: NodeJS.ErrnoException) => { reject(this.#explain(err)) })
      if (payload !== undefined) req.write(payload)
      req.end()
    })
  }

  #explain (err: NodeJS.ErrnoException): MeshplaneError {
    const p = this.socketPath
    switch (err.code) {
      case 'ENOENT':
      case 'ECONNREFUSED':
        return new MeshplaneError('E_UNAVAILABLE', `the agent is not running (nothing listens on ${p}); start it with 'meshplane agent' or 'systemctl start meshplane', or point --api-socket / MESHPLANE_API_SOCKET at it`, { cause: err })
      case 'EACCES':
      case 'EPERM':
        return new MeshplaneError('E_PERMISSION', `permission denied on ${p}: the control socket is root-only, run as root (sudo)`, { cause: err })
      default:
        return new MeshplaneError('E_UNAVAILABLE', `cannot talk to the agent on ${p}: ${err.message}`, { cause: err })
    }
  }
}
