/**
 * The agent's root logger (pino, JSON lines on stdout for journald) and a small ring of
 * the most recent warnings and errors from every component, which `meshplane status`
 * shows as "last errors": an operator sees what went wrong without reading the journal.
 * The ring is filled by a pino hook, so components just log as usual.
 */
import { pino, type Logger } from 'pino'

/** Enough to show what is going on now; old news is in the journal. */
export const RECENT_ERRORS = 20

export interface RecentLogError {
  at: string
  level: 'warn' | 'error' | 'fatal'
  component?: string
  message: string
}

export interface AgentLogger {
  logger: Logger
  /** Newest last. */
  recentErrors: () => RecentLogError[]
}

const LEVELS: Record<number, RecentLogError['level']> = { 40: 'warn', 50: 'error', 60: 'fatal' }

export function createAgentLogger (level: string): AgentLogger {
  const ring: RecentLogError[] = []
  const logger = pino({
    level,
    base: { pid: process.pid },
    hooks: {
      logMethod (args, method, levelValue) {
        const name = LEVELS[levelValue]
        if (name !== undefined) {
          try {
            ring.push({ at: new Date().toISOString(), level: name, component: this.bindings().component, message: describe(args) })
            if (ring.length > RECENT_ERRORS) ring.shift()
          } catch {}
        }
        method.apply(this, args)
      }
    }
  })
  return { logger, recentErrors: () => [...ring] }
}

/** "msg: err.message (reason)" from pino's (obj, msg) or (msg) call forms. */
function describe (args: unknown[]): string {
  const [first, second] = args
  if (typeof first === 'string') return first
  const obj = (first ?? {}) as { err?: { message?: string }, reason?: unknown, error?: unknown }
  const parts = [typeof second === 'string' ? second : '']
  if (obj.err?.message !== undefined) parts.push(obj.err.message)
  else if (first instanceof Error) parts.push(first.message)
  if (typeof obj.reason === 'string') parts.push(obj.reason)
  if (typeof obj.error === 'string') parts.push(obj.error)
  return parts.filter(p => p !== '').join(': ')
}
