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

  async getMeta<T> (key: string): Promise<T | undefined> {
    return await this.meta.get(key) as T | undefined
  }

  async putMeta (key: string, value: unknown): Promise<void> {
    await this.meta.put(key, value)
  }

  async close (): Promise<void> {
    await this.db.close()
  }
}
