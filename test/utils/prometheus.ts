/** Reading a Prometheus text scrape in tests: parsed by parse-prometheus-text-format
 * (which throws on malformed text), then looked up by family and labels. */
import parse, { type PromFamily } from 'parse-prometheus-text-format'

export class Scrape {
  readonly families: Map<string, PromFamily>

  constructor (readonly text: string) {
    this.families = new Map(parse(text).map(f => [f.name, f]))
  }

  has (name: string): boolean { return this.families.has(name) }

  /** Sum of the samples of a counter/gauge family whose labels include `labels`. */
  value (name: string, labels: Record<string, string> = {}): number {
    const f = this.families.get(name)
    if (f === undefined) throw new Error(`no metric ${name} in the scrape`)
    return f.metrics
      .filter(m => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
      .reduce((sum, m) => sum + Number(m.value ?? m.count ?? 0), 0)
  }

  /**
   * Observation count of a histogram (summed over matching label sets), from its
   * `<name>_count{...}` lines: the parser folds labelled histograms into one sample and
   * loses their labels, so these lines are read directly (the parse still validated them).
   */
  count (name: string, labels: Record<string, string> = {}): number {
    if (this.families.get(name)?.type !== 'HISTOGRAM') throw new Error(`no histogram ${name} in the scrape`)
    let sum = 0
    for (const line of this.text.split('\n')) {
      const m = new RegExp(`^${name}_count(?:\\{(.*)\\})? (\\S+)$`).exec(line)
      if (m === null) continue
      const have = Object.fromEntries([...(m[1] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(x => [x[1], x[2]]))
      if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[2])
    }
    return sum
  }
}
