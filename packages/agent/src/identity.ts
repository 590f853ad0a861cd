/** The agent's libp2p identity, kept in the data directory so a restarted agent keeps its
 * peer id (and with it every record it owns). */
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { readFileSync } from 'node:fs'
import { generateKey } from '@libp2p/pnet'
import type { DataStore } from './state/index.js'
import { MeshplaneError } from './errors.js'

export async function loadOrCreateIdentity (store: DataStore): Promise<PrivateKey> {
  const hex = await store.getMeta<string>('identity')
  if (hex !== undefined) return privateKeyFromProtobuf(Buffer.from(hex, 'hex'))
  const key = await generateKeyPair('Ed25519')
  await store.putMeta('identity', Buffer.from(privateKeyToProtobuf(key)).toString('hex'))
  return key
}

const KEY_HEADER = '/key/swarm/psk/1.0.0/\n/base16/\n'

/** A new cluster key in the go-ipfs swarm.key format @libp2p/pnet reads. */
export function newClusterKey (): string {
  const psk = new Uint8Array(95)
  generateKey(psk)
  return new TextDecoder().decode(psk).trim() + '\n'
}

export function readClusterKey (path: string): Uint8Array {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new MeshplaneError('E_CONFIG', `cannot read cluster key ${path}: ${(err as Error).message} (make one with: meshplane keygen > ${path})`)
  }
  const m = /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n([0-9a-fA-F]{64})\s*$/.exec(text)
  if (m === null) throw new MeshplaneError('E_CONFIG', `cluster key ${path} is not a meshplane key (make one with: meshplane keygen)`)
  return new TextEncoder().encode(KEY_HEADER + m[1]!)
}
