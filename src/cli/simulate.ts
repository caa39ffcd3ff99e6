// The simulation behind `rendezvous simulate`: place a deterministic key set before and after a change.
import { optimalMoveFraction, summarize, touchedServers } from '../placement/analysis.js'
import type { Placement } from '../placement/rendezvous.js'
import { idealCounts, Prng, randomKey } from './sample.js'

/** What to simulate. */
export interface SimulationInput {
  /** The placement before the change. */
  readonly before: Placement
  /** The placement after the change, or undefined to measure balance only. */
  readonly after: Placement | undefined
  /** Human-readable description of the change, e.g. `remove s7`. */
  readonly change: string | undefined
  /** Number of keys to place. */
  readonly keys: number
  /** Seed of the key generator (and of the ideal reference assignment). */
  readonly seed: number
  /** Name of the placement strategy, for reports. */
  readonly strategy: string
}

/** Balance of the key set over one placement. */
export interface BalanceReport {
  /** Largest count / expected count (1 is perfect). */
  readonly maxOverMean: number
  /** Smallest count / expected count. */
  readonly minOverMean: number
  /** Standard deviation of the observed shares (count / keys). */
  readonly stddevShare: number
  /** Standard deviation of count / expected count: the relative spread, whatever the weights. */
  readonly stddevRatio: number
  /** The same figures for an ideal random assignment of as many keys, with the same weights. */
  readonly ideal: { readonly maxOverMean: number; readonly minOverMean: number }
  /** One row per server, in the placement's order. */
  readonly servers: readonly ServerShare[]
}

/** One server's share of the keys. */
export interface ServerShare {
  readonly id: string
  readonly weight: number
  readonly zone: string | undefined
  readonly keys: number
  /** keys / total keys */
  readonly share: number
  /** weight / total weight */
  readonly expected: number
  /** share / expected */
  readonly ratio: number
}

/** Keys that moved from one server to another. */
export interface Flow {
  readonly from: string
  readonly to: string
  readonly keys: number
}

/** Key movement caused by the change. */
export interface MovementReport {
  readonly keys: number
  readonly moved: number
  /** moved / keys */
  readonly fraction: number
  /** The least fraction any placement must move for this change (see `optimalMoveFraction`). */
  readonly optimalFraction: number
  /** fraction / optimalFraction: 1 is optimal; NaN when nothing had to move. */
  readonly ratio: number
  /** Ids added, removed or re-weighted. */
  readonly touched: readonly string[]
  /** Keys that moved between two servers neither of which was touched. */
  readonly betweenUntouched: number
  /** Every observed flow, largest first. */
  readonly flows: readonly Flow[]
}

/** Everything `simulate` measured. */
export interface SimulationResult {
  readonly strategy: string
  readonly keys: number
  readonly seed: number
  readonly change: string | undefined
  readonly balance: BalanceReport
  readonly after: BalanceReport | undefined
  readonly movement: MovementReport | undefined
  /** Wall-clock time of the placement pass, in milliseconds. */
  readonly elapsedMs: number
}

/** Called every few thousand keys with the number of keys placed so far. */
export type ProgressFn = (done: number) => void

/**
 * Places `keys` generated keys on the placement before (and after) the change in one pass, counting keys per
 * server and flows between servers. The figures agree with the library's `balance` and `movement` helpers run
 * on the same keys.
 */
export function simulate(input: SimulationInput, onProgress?: ProgressFn): SimulationResult {
  const { before, after, keys, seed } = input
  const beforeIndex = indexOf(before)
  const afterIndex = after === undefined ? undefined : indexOf(after)
  const countsBefore = new Float64Array(before.size)
  const countsAfter = new Float64Array(after?.size ?? 0)
  const stride = (after?.size ?? 0) + 1
  const flowCounts = new Map<number, number>()
  const rng = new Prng(seed)
  const start = performance.now()
  for (let k = 0; k < keys; k++) {
    if ((k & 4095) === 0 && onProgress !== undefined) onProgress(k)
    const key = randomKey(rng)
    const from = beforeIndex.get(before.pick(key))!
    countsBefore[from]!++
    if (after === undefined || afterIndex === undefined) continue
    const to = afterIndex.get(after.pick(key))!
    countsAfter[to]!++
    if (before.servers[from]!.id !== after.servers[to]!.id) {
      const f = from * stride + to
      flowCounts.set(f, (flowCounts.get(f) ?? 0) + 1)
    }
  }
  onProgress?.(keys)
  const elapsedMs = performance.now() - start

  let movement: MovementReport | undefined
  if (after !== undefined) {
    const touched = touchedServers(before, after)
    const flows: Flow[] = []
    let moved = 0
    let betweenUntouched = 0
    for (const [f, count] of flowCounts) {
      const from = before.servers[Math.floor(f / stride)]!.id
      const to = after.servers[f % stride]!.id
      flows.push({ from, to, keys: count })
      moved += count
      if (!touched.has(from) && !touched.has(to)) betweenUntouched += count
    }
    flows.sort((a, b) => b.keys - a.keys || cmp(a.from, b.from) || cmp(a.to, b.to))
    const optimalFraction = optimalMoveFraction(before, after)
    const fraction = keys === 0 ? 0 : moved / keys
    movement = {
      keys,
      moved,
      fraction,
      optimalFraction,
      ratio: optimalFraction === 0 ? Number.NaN : fraction / optimalFraction,
      touched: [...touched],
      betweenUntouched,
      flows,
    }
  }
  return {
    strategy: input.strategy,
    keys,
    seed,
    change: input.change,
    balance: balanceReport(before, countsBefore, keys, seed),
    after: after === undefined ? undefined : balanceReport(after, countsAfter, keys, seed),
    movement,
    elapsedMs,
  }
}

function balanceReport(
  placement: Placement,
  counts: Float64Array,
  keys: number,
  seed: number,
): BalanceReport {
  const byId = new Map(placement.servers.map((s, i) => [s.id, counts[i]!]))
  const summary = summarize(placement, byId, keys)
  const servers: ServerShare[] = placement.servers.map((s, i) => {
    const share = summary.shares.get(s.id)!
    const expected = summary.expected.get(s.id)!
    return {
      id: s.id,
      weight: s.weight,
      zone: s.zone,
      keys: counts[i]!,
      share,
      expected,
      ratio: share / expected,
    }
  })
  const weights = placement.servers.map((s) => s.weight)
  const ideal = idealCounts(weights, keys, seed)
  const idealRatios = weights.map((w, i) => ideal[i]! / ((keys * w) / sum(weights)))
  return {
    maxOverMean: summary.maxOverMean,
    minOverMean: summary.minOverMean,
    stddevShare: stddev(servers.map((s) => s.share)),
    stddevRatio: stddev(servers.map((s) => s.ratio)),
    ideal: {
      maxOverMean: idealRatios.reduce((a, b) => Math.max(a, b), 0),
      minOverMean: idealRatios.reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY),
    },
    servers,
  }
}

function indexOf(p: Placement): Map<string, number> {
  return new Map(p.servers.map((s, i) => [s.id, i]))
}

function sum(xs: readonly number[]): number {
  let s = 0
  for (const x of xs) s += x
  return s
}

function stddev(xs: readonly number[]): number {
  if (xs.length === 0) return 0
  const mean = sum(xs) / xs.length
  let v = 0
  for (const x of xs) v += (x - mean) ** 2
  return Math.sqrt(v / xs.length)
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
