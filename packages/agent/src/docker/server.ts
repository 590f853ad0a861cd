/**
 * Serves the plugin app on its unix socket. The socket is root-only (0600, as Docker's
 * own plugin sockets): whoever can talk to it can put interfaces on the host's bridges.
 * A stale socket from a killed agent is replaced (a dead socket in /run/docker/plugins
 * stalls Docker for ~15 s per lookup, moby/moby#22653), and stop() removes it.
 */
import { chmod, mkdir, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildDockerApp } from './app.js'
import { DEFAULT_DOCKER_SOCKET } from './constants.js'
import { DockerHandlers } from './handlers.js'
import type { DockerPlugin, DockerPluginComponents, DockerPluginInit } from './index.js'
import type { PublishedPort } from '../dataplane/firewall.js'

type RunState = { status: 'stopped' } | { status: 'started', app: FastifyInstance }

export class DockerPluginServer implements DockerPlugin {
  readonly socketPath: string
  readonly #components: DockerPluginComponents
  readonly handlers: DockerHandlers
  #state: RunState = { status: 'stopped' }
  #starting: Promise<void> | undefined

  constructor (components: DockerPluginComponents, init: DockerPluginInit) {
    this.#components = components
    this.socketPath = init.socketPath ?? DEFAULT_DOCKER_SOCKET
    this.handlers = new DockerHandlers(components)
  }

  async load (): Promise<void> {
    await this.handlers.loadMapping()
  }

  publishedPorts (): PublishedPort[] {
    return this.handlers.publishedPorts()
  }

  async start (): Promise<void> {
    if (this.#state.status === 'started') return
    this.#starting ??= this.#start().finally(() => { this.#starting = undefined })
    await this.#starting
  }

  async #start (): Promise<void> {
    await this.handlers.load()
    const app = buildDockerApp(this.handlers, this.#components)
    await mkdir(dirname(this.socketPath), { recursive: true, mode: 0o755 })
    await rm(this.socketPath, { force: true })
    const oldMask = process.umask(0o177)
    try {
      await app.listen({ path: this.socketPath })
    } finally {
      process.umask(oldMask)
    }
    await chmod(this.socketPath, 0o600)
    this.#state = { status: 'started', app }
    this.#components.logger.info({ socket: this.socketPath }, 'docker plugin listening')
  }

  async stop (): Promise<void> {
    if (this.#starting !== undefined) await this.#starting.catch(() => {})
    const state = this.#state
    if (state.status !== 'started') return
    this.#state = { status: 'stopped' }
    this.handlers.close()
    await state.app.close()
    await rm(this.socketPath, { force: true })
  }
}
