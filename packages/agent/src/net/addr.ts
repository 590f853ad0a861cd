/** IPv4 and MAC arithmetic shared by state validation, IPAM and the data plane. */
import { isIPv4 } from 'node:net'

export function ipToInt (ip: string): number {
  const p = ip.split('.').map(Number)
  return (((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!) >>> 0
}

export function intToIp (n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

export interface Cidr {
  /** canonical "a.b.c.d/len" with host bits cleared */
  text: string
  base: number
  prefixLen: number
  size: number
  /** first and last usable host addresses (network and broadcast excluded when len < 31) */
  firstHost: number
  lastHost: number
  contains: (ip: string) => boolean
}

export function parseCidr (text: string): Cidr | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(text)
  if (m === null || !isIPv4(m[1]!)) return undefined
  const prefixLen = Number(m[2])
  if (prefixLen > 32) return undefined
  const mask = prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0
  const base = (ipToInt(m[1]!) & mask) >>> 0
  const size = 2 ** (32 - prefixLen)
  const firstHost = prefixLen >= 31 ? base : base + 1
  const lastHost = prefixLen >= 31 ? base + size - 1 : base + size - 2
  return {
    text: `${intToIp(base)}/${prefixLen}`,
    base,
    prefixLen,
    size,
    firstHost,
    lastHost,
    contains: (ip: string) => isIPv4(ip) && ((ipToInt(ip) & mask) >>> 0) === base
  }
}

export function cidrsOverlap (a: Cidr, b: Cidr): boolean {
  return a.base <= b.base + b.size - 1 && b.base <= a.base + a.size - 1
}

/** The gateway a network gets when none is given: its first host address (the Docker IPAM
 * driver hands it out before the network exists, so both must use this one rule). */
export function defaultGateway (cidr: Cidr): string {
  return intToIp(cidr.firstHost)
}

/** A locally administered unicast MAC derived from an IPv4 address (Docker's scheme:
 * 02:42 + the address), so the same address always gets the same MAC. */
export function macFromIp (ip: string): string {
  const n = ipToInt(ip)
  const bytes = [0x02, 0x42, n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]
  return bytes.map(b => b.toString(16).padStart(2, '0')).join(':')
}
