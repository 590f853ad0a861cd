/**
 * Request bodies of every method, as zod schemas. Docker decodes replies with Go's
 * encoding/json and builds requests from Go structs, so: unknown fields are ignored (loose
 * objects), a Go nil map arrives as `null` (nullish, read as empty), and absent strings
 * mean "". Field names are exactly libnetwork's (drivers/remote/api, ipams/remote/api).
 */
import { z } from 'zod'
import { invalid } from '../errors.js'

/** Docker ids are 64 hex digits; anything id-like is accepted, nothing that could escape a key. */
const id = z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'must be a Docker id')
const options = z.record(z.string(), z.unknown()).nullish().transform(o => o ?? {})
const stringOptions = z.record(z.string(), z.string()).nullish().transform(o => o ?? {})

const ipamData = z.looseObject({
  AddressSpace: z.string().optional().default(''),
  Pool: z.string(),
  Gateway: z.string().optional().default(''),
  AuxAddresses: z.record(z.string(), z.string()).nullish()
})

export const CreateNetworkRequest = z.looseObject({
  NetworkID: id,
  Options: options,
  IPv4Data: z.array(ipamData).nullish().transform(d => d ?? []),
  IPv6Data: z.array(ipamData).nullish().transform(d => d ?? [])
})

export const NetworkRequest = z.looseObject({ NetworkID: id })

export const AllocateNetworkRequest = z.looseObject({ NetworkID: id, Options: stringOptions })

export const EndpointRequest = z.looseObject({ NetworkID: id, EndpointID: id })

export const CreateEndpointRequest = z.looseObject({
  NetworkID: id,
  EndpointID: id,
  Interface: z.looseObject({
    Address: z.string().optional().default(''),
    AddressIPv6: z.string().optional().default(''),
    MacAddress: z.string().optional().default('')
  }).nullish(),
  Options: options
})

export const JoinRequest = z.looseObject({
  NetworkID: id,
  EndpointID: id,
  SandboxKey: z.string().optional().default(''),
  Options: options
})

export const ProgramExternalConnectivityRequest = z.looseObject({ NetworkID: id, EndpointID: id, Options: options })

export const DiscoveryRequest = z.looseObject({ DiscoveryType: z.number().int(), DiscoveryData: z.unknown() })

export const RequestPoolRequest = z.looseObject({
  AddressSpace: z.string().optional().default(''),
  Pool: z.string().optional().default(''),
  SubPool: z.string().optional().default(''),
  Options: stringOptions,
  V6: z.boolean().optional().default(false)
})

export const PoolRequest = z.looseObject({ PoolID: z.string().min(1) })

export const RequestAddressRequest = z.looseObject({
  PoolID: z.string().min(1),
  Address: z.string().optional().default(''),
  Options: stringOptions
})

export const ReleaseAddressRequest = z.looseObject({ PoolID: z.string().min(1), Address: z.string().min(1) })

/** Parses a body or throws E_INVALID_ARGUMENT naming the first bad field. */
export function parseBody<S extends z.ZodType> (schema: S, body: unknown): z.output<S> {
  const r = schema.safeParse(body ?? {})
  if (!r.success) {
    const issue = r.error.issues[0]!
    throw invalid(`${issue.path.join('.') || 'body'}: ${issue.message}`)
  }
  return r.data
}
