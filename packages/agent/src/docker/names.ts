/**
 * Container names and --network-alias aliases, read from dockerd's API: the plugin
 * protocol never carries them. Only ever called after a plugin request has been answered
 * (handlers.ts schedules it), never awaited inside one: dockerd holds its locks while it
 * calls the plugin, so an API call from inside a handler could wait on the very call it
 * is part of.
 *
 * One endpoint → `GET /networks/{docker network id}`: its Containers map (keyed by
 * container id once the endpoint is in a sandbox, "ep-<id>" before) gives the endpoint's
 * name, which libnetwork sets to the container name; `GET /containers/{id}/json` gives the
 * aliases of that endpoint (NetworkSettings.Networks[*] with the same EndpointID), less
 * the short container id Docker adds to every endpoint's aliases.
 */
import { request } from 'node:http'
import { canonicalAliases, canonicalName, dnsLabelProblem, MAX_ALIASES } from '../net/dns-name.js'

export interface ContainerNames {
  name: string
  aliases: string[]
}

/** What the lookup found: names, 'not-yet' (the endpoint is not in a container's
 * sandbox yet, or the daemon did not answer: ask again later), or 'gone'. */
export type NamesLookup = ContainerNames | 'not-yet' | 'gone'

const API_TIMEOUT_MS = 5_000
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024

async function getJson (socketPath: string, path: string): Promise<{ status: number, body: unknown }> {
  return await new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET', headers: { host: 'docker' }, timeout: API_TIMEOUT_MS }, res => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (c: Buffer) => {
        size += c.length
        if (size > MAX_RESPONSE_BYTES) { req.destroy(new Error('response too large')); return }
        chunks.push(c)
      })
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) })
        } catch (err) {
          reject(err as Error)
        }
      })
      res.on('error', reject)
    })
    req.on('timeout', () => { req.destroy(new Error(`docker API ${path}: no answer in ${API_TIMEOUT_MS} ms`)) })
    req.on('error', reject)
    req.end()
  })
}

interface NetworkInspect { Containers?: Record<string, { Name?: string, EndpointID?: string }> }
interface ContainerInspect { Id?: string, NetworkSettings?: { Networks?: Record<string, { EndpointID?: string, Aliases?: string[] | null }> } }

/** Names of one Docker endpoint, checked as endpoint names (a container name that is not
 * one DNS label, e.g. with a dot, is left out rather than refused: the container runs). */
export async function lookupEndpointNames (socketPath: string, dockerNetworkId: string, dockerEndpointId: string): Promise<NamesLookup> {
  let network
  try {
    network = await getJson(socketPath, `/networks/${encodeURIComponent(dockerNetworkId)}`)
  } catch {
    return 'not-yet'
  }
  if (network.status === 404) return 'gone'
  if (network.status !== 200) return 'not-yet'
  const containers = (network.body as NetworkInspect).Containers ?? {}
  const entry = Object.entries(containers).find(([, c]) => c.EndpointID === dockerEndpointId)
  if (entry === undefined) return 'not-yet'
  const [key, info] = entry
  if (key.startsWith('ep-')) return 'not-yet'
  const container = await getJson(socketPath, `/containers/${encodeURIComponent(key)}/json`).catch(() => undefined)
  if (container === undefined || container.status !== 200) return container?.status === 404 ? 'gone' : 'not-yet'
  const networks = (container.body as ContainerInspect).NetworkSettings?.Networks ?? {}
  const mine = Object.values(networks).find(n => n.EndpointID === dockerEndpointId)
  const shortId = key.slice(0, 12)
  const rawName = canonicalName((info.Name ?? '').replace(/^\//, ''))
  const name = dnsLabelProblem(rawName) === undefined ? rawName : ''
  const aliases = canonicalAliases(name, (mine?.Aliases ?? []).filter(a => a !== shortId && a !== key))
    .filter(a => dnsLabelProblem(a) === undefined)
    .slice(0, MAX_ALIASES)
  return { name, aliases }
}
