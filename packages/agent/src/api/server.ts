/** Listens on the control socket: root-only (mode 0600 in a 0700-or-stricter directory). */
import { mkdir, rm, chmod } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { FastifyInstance } from 'fastify'

export async function listenOnSocket (app: FastifyInstance, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 })
  // A stale socket from a killed agent would make listen fail with EADDRINUSE.
  await rm(path, { force: true })
  const oldMask = process.umask(0o177)
  try {
    await app.listen({ path })
  } finally {
    process.umask(oldMask)
  }
  await chmod(path, 0o600)
}
