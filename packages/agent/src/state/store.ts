/**
 * The agent's data directory: one LevelDB with a sublevel per concern. Records are kept
 * as the exact envelope bytes that were verified, so a restart re-verifies nothing it
 * did not already trust and forwards byte-identical envelopes.
 */
import { Level } from 'level'
import { mkdir } from 'node:fs/promises'

type Bytes = Uint8Array

export class DataStore {
  readonly db: Level<string, Bytes>
  readonly records
  readonly meta
  readonly local

  constructor (dir: string) {
    this.db = new Level<string, Bytes>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' })
    this.records = this.db.sublevel<string, Bytes>('records', { keyEncoding: 'utf8', valueEncoding: 'view' })
    this.meta = this.db.sublevel<string, unknown>('meta', { keyEncoding: 'utf8', valueEncoding: 'json' })
    // Local-only facts that other hosts do not need (e.g. which netns an endpoint is in).
    this.local = this.db.sublevel<string, unknown>('local', { keyEncoding: 'utf8', valueEncoding: 'json' })
  }

  static async open (dir: string): Promise<DataStore> {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const store = new DataStore(dir)
    await store.db.open()
    return store
  }

  #reopening: Promise<void> | undefined
  #closed = false

  /**
   * After a write LevelDB refused (a full disk), its log is misaligned: records written
   * after it, though reported written, are dropped when the log is next recovered (found
   * by test/netns/full-disk.test.ts: everything after the first refused write was gone
   * after a restart). Reopening starts a new log, and recovering the old one drops only
   * the refused tail. The open may fail too while the disk is full; then every operation
   * fails until a later call succeeds.
   */
  async reopen (): Promise<void> {
    this.#reopening ??= (async () => {
      if (this.db.status === 'open') await this.db.close().catch(() => {})
      await this.db.open()
      // closing the database closed its sublevels, and opening it does not reopen them
      await Promise.all([this.records.open(), this.meta.open(), this.local.open()])
    })().finally(() => { this.#reopening = undefined })
    await this.#reopening
  }

  async getMeta<T> (key: string): Promise<T | undefined> {
    return await this.meta.get(key) as T | undefined
  }

  async putMeta (key: string, value: unknown): Promise<void> {
    await this.write(async () => { await this.meta.put(key, value) })
  }

  /** Local-only facts: written through here, so that a refused write reopens the store. */
  async putLocal (key: string, value: unknown): Promise<void> {
    await this.write(async () => { await this.local.put(key, value) })
  }

  async delLocal (key: string): Promise<void> {
    await this.write(async () => { await this.local.del(key) })
  }

  /** Runs a write; when LevelDB refuses it, reopens the store (see reopen) before the
   * error goes on to the caller. */
  async write<T> (fn: () => Promise<T>): Promise<T> {
    try {
      if (this.db.status !== 'open' && !this.#closed) await this.reopen()
      return await fn()
    } catch (err) {
      if (!this.#closed) await this.reopen().catch(() => {})
      throw err
    }
  }

  async close (): Promise<void> {
    this.#closed = true
    await this.#reopening?.catch(() => {})
    await this.db.close()
  }
}
