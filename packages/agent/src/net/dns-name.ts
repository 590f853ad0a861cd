/**
 * Endpoint names and aliases: one DNS label each (RFC 1035 letters, digits, hyphens, plus
 * the underscore Docker allows in container names), lowercase, at most 63 bytes, and at
 * most MAX_ALIASES aliases per endpoint. Checked where a name is written (attach, the
 * Docker plugin) and where a record is received (state/codec.ts), so a hostile or buggy
 * peer cannot make every host hold long lists or names no resolver can answer.
 */

export const MAX_LABEL_LENGTH = 63
export const MAX_ALIASES = 16

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/

/** Why `name` is not a valid endpoint name (already lowercase), or undefined when it is. */
export function dnsLabelProblem (name: string): string | undefined {
  if (name.length === 0) return 'empty'
  if (name.length > MAX_LABEL_LENGTH) return `longer than ${MAX_LABEL_LENGTH} characters`
  if (!LABEL.test(name)) return 'not one DNS label (lowercase letters, digits, "-" and "_"; no "-" at either end; no dots)'
  return undefined
}

/** Why a record's name and aliases are not acceptable, or undefined. `name` may be ''. */
export function endpointNamesProblem (name: string, aliases: readonly string[]): string | undefined {
  if (name !== '') {
    const p = dnsLabelProblem(name)
    if (p !== undefined) return `name ${JSON.stringify(name.slice(0, 80))}: ${p}`
  }
  if (aliases.length > MAX_ALIASES) return `${aliases.length} aliases, at most ${MAX_ALIASES}`
  const seen = new Set<string>()
  for (const alias of aliases) {
    const p = dnsLabelProblem(alias)
    if (p !== undefined) return `alias ${JSON.stringify(alias.slice(0, 80))}: ${p}`
    if (seen.has(alias)) return `alias ${alias} given twice`
    seen.add(alias)
  }
  return undefined
}

/** An operator's or Docker's name as stored: lowercase (DNS is case-insensitive). */
export function canonicalName (name: string): string {
  return name.toLowerCase()
}

/** Aliases as stored: lowercase, without duplicates and without the name itself. */
export function canonicalAliases (name: string, aliases: readonly string[]): string[] {
  const out: string[] = []
  for (const a of aliases.map(canonicalName)) if (a !== name && !out.includes(a)) out.push(a)
  return out
}
