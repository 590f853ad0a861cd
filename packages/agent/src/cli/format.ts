/** Plain-text tables for humans; scripts use --json. */
export function table (headers: string[], rows: Array<Array<string | number | null | undefined>>): string {
  const cells = rows.map(r => r.map(c => c === null || c === undefined ? '-' : String(c)))
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map(r => r[i]!.length)))
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
  return [line(headers), ...cells.map(line)].join('\n')
}

export function shortId (id: string): string {
  return id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id
}

export function ago (ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return 'never'
  if (ms < 1000) return `${ms}ms ago`
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)}s ago`
  return `${Math.round(ms / 60_000)}m ago`
}
