/**
 * Between wire bytes and StateRecord: decoding with limits, schema checks, signature and
 * ownership verification. Everything that arrives from the network passes through
 * `openRecord` before it can touch state; it throws E_INVALID_ARGUMENT, never anything else.
 */
import { createHash, createPublicKey, verify as verifyEd25519, type KeyObject } from 'node:crypto'
import { isIPv4, isIPv6 } from 'node:net'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import {
  SignedRecord, Record as WireRecord, RecordKind, HostBody, NetworkBody, EndpointBody, RangesBody, RECORD_SCHEMA_VERSION
} from '@meshplane/proto'
import { MeshplaneError } from '../errors.js'
import { ownerOfKey, type RecordKindName, type StateRecord } from './types.js'
import { MAX_RECORD_BYTES, MAX_KEY_LENGTH, MAX_LAMPORT } from './constants.js'
import { parseCidr, ipToInt, cidrsOverlap } from '../net/addr.js'
import { MAX_ALIASES, endpointNamesProblem } from '../net/dns-name.js'

// Signatures are domain-separated so a record signature can never be replayed as some
// other libp2p signature made with the same key (gossipsub, noise, identify).
const SIGNATURE_DOMAIN = new TextEncoder().encode('meshplane-record:')

const KIND_BY_NAME: Record<RecordKindName, RecordKind> = {
  host: RecordKind.KIND_HOST,
  network: RecordKind.KIND_NETWORK,
  endpoint: RecordKind.KIND_ENDPOINT,
  ranges: RecordKind.KIND_RANGES
}

function kindName (kind: RecordKind): RecordKindName | undefined {
  switch (kind) {
    case RecordKind.KIND_HOST: return 'host'
    case RecordKind.KIND_NETWORK: return 'network'
    case RecordKind.KIND_ENDPOINT: return 'endpoint'
    case RecordKind.KIND_RANGES: return 'ranges'
    default: return undefined
  }
}

export interface OpenedRecord {
  record: StateRecord
  /** The exact envelope bytes, stored and forwarded as received. */
  envelope: Uint8Array<ArrayBuffer>
  /** Short hash of the envelope: the last tie-break between equal versions. */
  hash: Uint8Array<ArrayBuffer>
  /** A network tombstone names the network it removes (its creator: whose it was). */
  removed?: NetworkBody
}

const bad = (message: string, cause?: unknown): MeshplaneError =>
  new MeshplaneError('E_INVALID_ARGUMENT', `invalid record: ${message}`, { cause })

export function envelopeHash (envelope: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(createHash('sha256').update(envelope).digest().subarray(0, 8))
}

function signedBytes (recordBytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(SIGNATURE_DOMAIN.length + recordBytes.length)
  out.set(SIGNATURE_DOMAIN, 0)
  out.set(recordBytes, SIGNATURE_DOMAIN.length)
  return out
}

/** Writers' Ed25519 keys, imported once: parsing the peer id and importing the key for
 * every record cost about as much as checking the signature (every host checks every
 * record). Keyed by the writer string, so an entry is only ever that writer's own key;
 * bounded, so records from invented writers cost a cleared cache, not memory. */
const writerKeys = new Map<string, KeyObject>()
const MAX_CACHED_WRITER_KEYS = 4096

async function verifyWriter (writer: string, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
  let key = writerKeys.get(writer)
  if (key === undefined) {
    let publicKey
    try {
      publicKey = peerIdFromString(writer).publicKey
    } catch (err) {
      throw bad('writer is not a peer id', err)
    }
    if (publicKey === undefined) throw bad('writer peer id carries no public key')
    // Other key types (secp256k1, RSA in long peer ids) take libp2p's own path.
    if (publicKey.type !== 'Ed25519') return await publicKey.verify(data, signature)
    key = createPublicKey({ format: 'jwk', key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey.raw).toString('base64url') } })
    if (writerKeys.size >= MAX_CACHED_WRITER_KEYS) writerKeys.clear()
    writerKeys.set(writer, key)
  }
  if (signature.byteLength !== 64) return false
  try {
    return verifyEd25519(null, data, key, signature)
  } catch {
    return false
  }
}

export interface RecordDraft {
  kind: RecordKindName
  key: string
  lamport: bigint
  deleted: boolean
  deletedAtMs: bigint
  /** Empty for a tombstone, except a network's: the body of the network it removes. */
  body: Uint8Array<ArrayBuffer>
  /** Default: now. */
  writtenAtMs?: bigint
}

/** Encodes and signs a record written by this agent. */
export async function sealRecord (privateKey: PrivateKey, writer: string, draft: RecordDraft): Promise<OpenedRecord> {
  const recordBytes = WireRecord.encode({
    kind: KIND_BY_NAME[draft.kind],
    key: draft.key,
    writer,
    lamport: draft.lamport,
    deleted: draft.deleted,
    deletedAtMs: draft.deletedAtMs,
    body: draft.body,
    writtenAtMs: draft.writtenAtMs ?? BigInt(Date.now())
  })
  const signature = new Uint8Array(await privateKey.sign(signedBytes(recordBytes)))
  const envelope = SignedRecord.encode({ schema: RECORD_SCHEMA_VERSION, record: recordBytes, signature })
  return openRecord(envelope)
}

/** Decodes, checks and verifies an envelope. Throws E_INVALID_ARGUMENT on anything wrong. */
export async function openRecord (input: Uint8Array): Promise<OpenedRecord> {
  const envelope = new Uint8Array(input)
  if (envelope.byteLength > MAX_RECORD_BYTES) throw bad(`${envelope.byteLength} bytes, limit ${MAX_RECORD_BYTES}`)
  let signed: SignedRecord
  let raw: WireRecord
  try {
    signed = SignedRecord.decode(envelope)
    raw = WireRecord.decode(signed.record)
  } catch (err) {
    throw bad('undecodable', err)
  }
  if (signed.schema !== RECORD_SCHEMA_VERSION) throw bad(`schema version ${signed.schema}, expected ${RECORD_SCHEMA_VERSION}`)
  const kind = kindName(raw.kind)
  if (kind === undefined) throw bad(`unknown kind ${raw.kind}`)
  if (raw.key.length === 0 || raw.key.length > MAX_KEY_LENGTH) throw bad('key empty or too long')

  const owner = ownerOfKey(kind, raw.key)
  if (owner !== undefined && owner !== raw.writer) throw bad(`${kind} ${raw.key} is owned by ${owner}, signed by ${raw.writer}`)
  if (raw.lamport < 1n || raw.lamport > MAX_LAMPORT) throw bad(`version ${raw.lamport} outside 1..${MAX_LAMPORT}`)
  if (!(await verifyWriter(raw.writer, signedBytes(signed.record), signed.signature))) throw bad('bad signature')
  // A network is owned by its creator: only the creator writes it, and a tombstone names
  // the network it removes, so whose it was is known without any other record. (Another
  // host may remove it once it reclaimed the creator with rmpeer: state/admission.ts.)
  let removed: NetworkBody | undefined
  if (raw.deleted && kind === 'network') {
    const r = decodeBody(kind, raw.key, raw.body, { writer: raw.writer, tombstone: true })
    removed = r.kind === 'network' ? r.body : undefined
  } else if (raw.deleted && raw.body.byteLength > 0) throw bad('a tombstone has a body')

  const base = {
    id: `${kind}/${raw.key}`,
    key: raw.key,
    writer: raw.writer,
    lamport: raw.lamport,
    deleted: raw.deleted,
    deletedAtMs: raw.deletedAtMs,
    writtenAtMs: raw.writtenAtMs ?? 0n
  }
  const record = raw.deleted ? { ...base, kind, body: undefined } as StateRecord : decodeBody(kind, raw.key, raw.body, { ...base, tombstone: false })
  return { record, envelope, hash: envelopeHash(envelope), ...(removed === undefined ? {} : { removed }) }
}

function decodeBody (kind: RecordKindName, key: string, body: Uint8Array, base: Omit<StateRecord, 'kind' | 'body'> | { writer: string, tombstone: boolean }): StateRecord {
  const { tombstone, ...fields } = { tombstone: false, ...base }
  try {
    switch (kind) {
      case 'host': {
        const b = HostBody.decode(body, { limits: { multiaddrs: 16 } })
        checkVtep(b.underlayIp)
        if (b.vxlanPort === 0 || b.vxlanPort > 65535) throw bad(`vxlan port ${b.vxlanPort}`)
        return { ...fields as StateRecord, kind, body: b }
      }
      case 'network': {
        const b = NetworkBody.decode(body, { limits: { options: 32 } })
        if (b.name !== key) throw bad(`network name ${b.name} does not match key ${key}`)
        if (!tombstone && b.creator !== fields.writer) throw bad(`network ${key} ${tombstone ? 'removed' : 'written'} by ${fields.writer} names ${JSON.stringify(b.creator)} as its creator`)
        checkNetwork(b)
        return { ...fields as StateRecord, kind, body: b }
      }
      case 'endpoint': {
        // (one more alias than allowed decodes, so the check below names the limit)
        const b = EndpointBody.decode(body, { limits: { labels: 32, aliases: MAX_ALIASES + 1 } })
        const [, network, id] = key.split('/')
        if (b.network !== network || b.id !== id) throw bad(`endpoint body does not match key ${key}`)
        checkUnicastMac(b.mac)
        if (b.ipv4 !== '' && !isIPv4(b.ipv4)) throw bad(`endpoint IPv4 ${JSON.stringify(b.ipv4)}`)
        if (b.ipv6 !== '' && !isIPv6(b.ipv6)) throw bad(`endpoint IPv6 ${JSON.stringify(b.ipv6)}`)
        const names = endpointNamesProblem(b.name, b.aliases)
        if (names !== undefined) throw bad(`endpoint ${names}`)
        return { ...fields as StateRecord, kind, body: b }
      }
      case 'ranges': {
        const b = RangesBody.decode(body, { limits: { ranges: 4096 } })
        if (b.network !== key.split('/')[0]) throw bad(`ranges body does not match key ${key}`)
        for (const r of b.ranges) {
          if (!isIPv4(r.start) || !isIPv4(r.end)) throw bad('range bounds must be IPv4')
          if (ipToInt(r.start) > ipToInt(r.end)) throw bad(`range ${r.start}-${r.end} ends before it starts`)
        }
        return { ...fields as StateRecord, kind, body: b }
      }
    }
  } catch (err) {
    if (err instanceof MeshplaneError) throw err
    throw bad(`${kind} body undecodable`, err)
  }
}

/** A VTEP other hosts send VXLAN to: a unicast IPv4. Whether it lies inside the underlay
 * cannot be known by a receiver; the address a host's peers dial is checked by dialling. */
export function checkVtep (ip: string): void {
  if (!isIPv4(ip)) throw bad(`host underlay address ${JSON.stringify(ip)}`)
  const first = ipToInt(ip) >>> 24
  if (first === 0 || first === 127 || first >= 224) throw bad(`host underlay address ${ip} is not a unicast address`)
}

/** An endpoint MAC: six lower-case hex pairs, unicast (I/G bit clear), not all zeros. */
export function checkUnicastMac (mac: string): void {
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(mac)) throw bad(`endpoint MAC ${JSON.stringify(mac)}`)
  if ((parseInt(mac.slice(0, 2), 16) & 1) === 1) throw bad(`endpoint MAC ${mac} is a multicast address`)
  if (mac === '00:00:00:00:00:00') throw bad('endpoint MAC is all zeros')
}

/** Subnets no overlay may take: they would shadow this host's own, link-local or
 * multicast routes once the gateway is on a bridge. */
const FORBIDDEN_SUBNETS = ['0.0.0.0/8', '127.0.0.0/8', '169.254.0.0/16', '224.0.0.0/3'].map(c => parseCidr(c)!)

/** The checks of `meshplane network create`, applied to every network record received. */
export function checkNetwork (b: NetworkBody): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(b.name)) throw bad(`network name ${JSON.stringify(b.name)}`)
  if (b.vni < 1 || b.vni > 0xffffff) throw bad(`VNI ${b.vni} outside 1..16777215`)
  const cidr = parseCidr(b.subnet)
  if (cidr === undefined || cidr.text !== b.subnet) throw bad(`subnet ${JSON.stringify(b.subnet)}`)
  if (cidr.prefixLen > 30) throw bad(`subnet ${b.subnet} is too small: /30 or larger`)
  const reserved = FORBIDDEN_SUBNETS.find(f => cidrsOverlap(cidr, f))
  if (reserved !== undefined) throw bad(`subnet ${b.subnet} overlaps ${reserved.text}`)
  if (b.gateway !== '' && (!cidr.contains(b.gateway) || ipToInt(b.gateway) < cidr.firstHost || ipToInt(b.gateway) > cidr.lastHost)) throw bad(`gateway ${b.gateway} is not a host address of ${b.subnet}`)
  if (b.mtu !== 0 && (b.mtu < 576 || b.mtu > 9000)) throw bad(`MTU ${b.mtu} outside 576..9000`)
}

export function encodeBody (record: { kind: RecordKindName, body: unknown }): Uint8Array<ArrayBuffer> {
  switch (record.kind) {
    case 'host': return HostBody.encode(record.body as HostBody)
    case 'network': return NetworkBody.encode(record.body as NetworkBody)
    case 'endpoint': return EndpointBody.encode(record.body as EndpointBody)
    case 'ranges': return RangesBody.encode(record.body as RangesBody)
  }
}
