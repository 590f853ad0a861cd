import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { isIPv4 } from 'node:net'
import { invalid } from '../errors.js'

export const DEFAULT_MESH_PORT = 7946

/** A seed is "host:port", "host" (default port) or a multiaddr ("/ip4/…/tcp/…[/p2p/…]"). */
export function parseSeed (seed: string): Multiaddr {
  const text = seed.trim()
  if (text.startsWith('/')) {
    try {
      const ma = multiaddr(text)
      const names = ma.getComponents().map(c => c.name)
      if (!names.includes('tcp')) throw new Error('no /tcp/ part')
      return ma
    } catch (err) {
      throw invalid(`seed ${JSON.stringify(seed)} is not a usable multiaddr: ${(err as Error).message}`)
    }
  }
  const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(text)
  if (m === null || !isIPv4(m[1]!)) throw invalid(`seed ${JSON.stringify(seed)} must be IPv4:PORT or a multiaddr`)
  const port = m[2] === undefined ? DEFAULT_MESH_PORT : Number(m[2])
  if (port < 1 || port > 65535) throw invalid(`seed ${JSON.stringify(seed)} has a bad port`)
  return multiaddr(`/ip4/${m[1]}/tcp/${port}`)
}

export function peerIdOfAddr (ma: Multiaddr): string | undefined {
  return ma.getComponents().findLast(c => c.name === 'p2p')?.value
}

/** The address part without /p2p/, as a dial target key. */
export function transportPart (ma: Multiaddr): string {
  return ma.getComponents().filter(c => c.name !== 'p2p').map(c => `/${c.name}/${c.value ?? ''}`).join('')
}
