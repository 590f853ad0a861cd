/**
 * The plugin's HTTP app, built apart from listening so tests can inject requests.
 * Every method is `POST /<Subsystem>.<Method>`; handlers.ts holds them by name.
 *
 * Body parsing is ours, not fastify's: Docker 20.10 sends no Content-Type (the docs say
 * `application/vnd.docker.plugins.v1+json`, newer engines `…v1.2+json`) and an empty body
 * for argument-less calls, so every content type, or none, is read as text and parsed as
 * JSON here; malformed JSON is an E_INVALID_ARGUMENT reply in the subsystem's error shape.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { invalid, type ErrorCode } from '../errors.js'
import { BODY_LIMIT_BYTES } from './constants.js'
import { subsystemOf, toDockerError, unknownMethod } from './errors.js'
import type { DockerHandlers } from './handlers.js'
import type { DockerPluginComponents } from './index.js'

export function buildDockerApp (handlers: DockerHandlers, components: Pick<DockerPluginComponents, 'logger' | 'onRequest'>): FastifyInstance {
  const log = components.logger.child({ component: 'docker-plugin' })
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES
  })

  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, text, done) => {
    const s = typeof text === 'string' ? text : text.toString('utf8')
    if (s.trim() === '') {
      done(null, undefined)
      return
    }
    try {
      done(null, JSON.parse(s))
    } catch (err) {
      done(invalid(`request body is not JSON: ${(err as Error).message}`), undefined)
    }
  })

  // The code of each refused request, for onRequest.
  const refused = new WeakMap<object, ErrorCode>()
  app.setErrorHandler((err, req, reply) => {
    const r = toDockerError(subsystemOf(req.url), err)
    refused.set(req, r.code)
    if (r.code === 'E_INTERNAL') log.error({ err, method: req.url }, 'plugin handler failed')
    else log.warn({ method: req.url, code: r.code, err: r.body.Err }, 'plugin request refused')
    void reply.status(r.status).send(r.body)
  })
  app.setNotFoundHandler((req, reply) => {
    const r = unknownMethod(req.url)
    refused.set(req, r.code)
    log.debug({ method: req.method, url: req.url }, 'unknown plugin method')
    void reply.status(r.status).send(r.body)
  })
  app.addHook('onResponse', async (req, reply) => {
    const method = req.url.replace(/^\//, '')
    components.onRequest?.(handlers.methods.has(method) ? method : 'unknown', reply.statusCode === 200 ? 'ok' : refused.get(req) ?? 'E_INTERNAL')
  })

  for (const [method, handler] of handlers.methods) {
    app.post(`/${method}`, async req => {
      log.debug({ method }, 'plugin request')
      return await handler(req.body)
    })
  }
  return app
}
