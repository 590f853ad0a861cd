/**
 * The control API (HTTP/JSON on a root-only unix socket), built apart from listening so
 * tests can inject requests. Handlers only read state or forward an intent; each error
 * becomes `{ code, message }` with the status from http-errors.ts.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyBaseLogger } from 'fastify'
import type { Logger } from 'pino'
import { z } from 'zod'
import { isMeshplaneError, invalid, type ErrorCode } from '../errors.js'
import { HTTP_STATUS } from './http-errors.js'
import type { AgentView } from './view.js'

const createNetworkBody = z.strictObject({
  name: z.string(),
  subnet: z.string(),
  vni: z.number().int().min(1).max(0xffffff).optional(),
  mtu: z.number().int().min(576).max(9000).optional(),
  gateway: z.string().optional(),
  internal: z.boolean().optional(),
  options: z.record(z.string(), z.string()).optional()
})
const joinBody = z.strictObject({ seed: z.string().min(1) })
const attachBody = z.strictObject({
  network: z.string().min(1),
  netns: z.string().min(1),
  ip: z.string().optional(),
  ifname: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/).optional(),
  // checked as DNS labels by the agent (net/dns-name.ts); bounded here against huge bodies
  name: z.string().max(255).optional(),
  aliases: z.array(z.string().max(255)).max(64).optional()
})
const allocateBody = z.strictObject({
  network: z.string().min(1),
  /** who the address is for (an endpoint id, a Docker endpoint): kept with the allocation */
  owner: z.string().min(1).max(128),
  ip: z.string().optional()
})
const releaseBody = z.strictObject({ network: z.string().min(1), ip: z.string().min(1) })
const rmpeerBody = z.strictObject({ peer: z.string().min(1) })
const detachBody = z.strictObject({ network: z.string().min(1), netns: z.string().min(1) })

function parse<T> (schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body ?? {})
  if (!r.success) {
    const issue = r.error.issues[0]!
    throw invalid(`${issue.path.join('.') || 'body'}: ${issue.message}`)
  }
  return r.data
}

export function buildApiApp (view: AgentView, logger: Logger): FastifyInstance {
  const app = Fastify({ loggerInstance: logger.child({ component: 'api' }) as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }), bodyLimit: 1 << 20 })

  app.setErrorHandler((err, _req, reply) => {
    if (isMeshplaneError(err)) {
      void reply.status(HTTP_STATUS[err.code]).send({ code: err.code, message: err.message })
      return
    }
    const status = (err as { statusCode?: number }).statusCode
    if (status !== undefined && status >= 400 && status < 500) {
      void reply.status(400).send({ code: 'E_INVALID_ARGUMENT' satisfies ErrorCode, message: (err as Error).message })
      return
    }
    logger.error({ err }, 'API handler failed')
    void reply.status(500).send({ code: 'E_INTERNAL' satisfies ErrorCode, message: (err as Error).message })
  })
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ code: 'E_NOT_FOUND' satisfies ErrorCode, message: `no route ${req.method} ${req.url}` })
  })

  app.get('/v1/status', async () => view.status())
  app.get('/v1/peers', async () => view.peers())
  app.post('/v1/join', async req => await view.join(parse(joinBody, req.body).seed))

  app.get('/v1/networks', async () => view.networks.list())
  app.post('/v1/networks', async (req, reply) => {
    const created = await view.networks.create(parse(createNetworkBody, req.body))
    return await reply.status(201).send(created)
  })
  app.get<{ Params: { name: string } }>('/v1/networks/:name', async req => view.networks.inspect(req.params.name))
  app.delete<{ Params: { name: string } }>('/v1/networks/:name', async req => {
    await view.networks.remove(req.params.name)
    return { removed: req.params.name }
  })

  app.get<{ Querystring: { network?: string } }>('/v1/endpoints', async req => view.endpoints(req.query.network))
  app.post('/v1/attach', async (req, reply) => await reply.status(201).send(await view.attach(parse(attachBody, req.body))))
  app.post('/v1/detach', async req => await view.detach(parse(detachBody, req.body)))
  app.get<{ Querystring: { network?: string } }>('/v1/ipam', async req => view.ipam.status(req.query.network))
  app.get<{ Querystring: { network?: string } }>('/v1/ipam/allocations', async req => {
    if (req.query.network === undefined) throw invalid('network: required')
    return view.ipam.allocations(req.query.network)
  })
  app.post('/v1/ipam/allocate', async (req, reply) => {
    const b = parse(allocateBody, req.body)
    return await reply.status(201).send(await view.ipam.allocate(b.network, b.owner, b.ip))
  })
  app.post('/v1/ipam/release', async req => {
    const b = parse(releaseBody, req.body)
    return await view.ipam.release(b.network, b.ip)
  })
  app.post('/v1/rmpeer', async req => await view.ipam.rmpeer(parse(rmpeerBody, req.body).peer))
  app.get('/v1/records', async () => view.records())
  app.get('/v1/dns', async () => view.dns())
  return app
}
