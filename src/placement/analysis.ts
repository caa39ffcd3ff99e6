// Analysis helpers: how evenly a placement spreads keys, and how many keys move between two placements.
import type { Key } from './hash.js'
import type { Placement } from './rendezvous.js'

/** The balance of a key set over a placement. */
export interface Balance {
  /** Number of keys counted. */
  readonly keys: number
  /** Keys per server id, in the placement's server order. */
  readonly counts: ReadonlyMap<string, number>
  /** Observed share of each server (count / keys). */
  readonly shares: ReadonlyMap<string, number>
  /** Expected share of each server: weight / sum of weights. */
  readonly expected: ReadonlyMap<string, number>
  /** Largest of count / (keys × expected share): 1 is perfect. */
  readonly maxOverMean: number
  /** Smallest of count / (keys × expected share). */
  readonly minOverMean: number
}

/** Counts where each key lands and compares it with each server's weight share. */
export function balance(placement: Placement, keys: Iterable<Key>): Balance {
  const counts = new Map<string, number>()
  for (const s of placement.servers) counts.set(s.id, 0)
  let total = 0
  for (const key of keys) {
    const id = placement.pick(key)
    counts.set(id, counts.get(id)! + 1)
    total++
  }
  return summarize(placement, counts, total)
}

/** Builds a {@link Balance} from per-server counts (for callers that counted keys themselves). */
export function summarize(placement: Placement, counts: ReadonlyMap<string, number>, total: number): Balance {
  const expected = expectedShares(placement)
  const shares = new Map<string, number>()
  let max = 0
  let min = Number.POSITIVE_INFINITY
  for (const s of placement.servers) {
    const c = counts.get(s.id) ?? 0
    shares.set(s.id, total === 0 ? 0 : c / total)
    const ratio = total === 0 ? 1 : c / (total * expected.get(s.id)!)
    max = Math.max(max, ratio)
    min = Math.min(min, ratio)
  }
  if (placement.size === 0) min = 0
  return { keys: total, counts, shares, expected, maxOverMean: max, minOverMean: min }
}

/** Each server's expected share of keys: its weight over the sum of weights. */
export function expectedShares(placement: Placement): Map<string, number> {
  let sum = 0
  for (const s of placement.servers) sum += s.weight
  return new Map(placement.servers.map((s) => [s.id, s.weight / sum]))
}

/** Keys that moved between two placements of the same key set. */
export interface Movement {
  /** Number of keys compared. */
  readonly keys: number
  /** Keys whose owner changed. */
  readonly moved: number
  /** moved / keys. */
  readonly fraction: number
  /**
   * The least fraction any placement must move to go from the old weight shares to the new ones: half the
   * L1 distance between the two share vectors (a server's loss must go somewhere).
   */
  readonly optimalFraction: number
  /** fraction / optimalFraction (1 is optimal; NaN when nothing had to move). */
  readonly ratio: number
  /** Keys moved from one server to another, as `from -> to -> count`. */
  readonly flows: ReadonlyMap<string, ReadonlyMap<string, number>>
  /** Servers added, removed or re-weighted between the two placements. */
  readonly touched: ReadonlySet<string>
  /** Keys that moved between two servers neither of which was touched (rendezvous hashing: always 0). */
  readonly betweenUntouched: number
}

/** Compares where each key lands before and after a membership or weight change. */
export function movement(before: Placement, after: Placement, keys: Iterable<Key>): Movement {
  const flows = new Map<string, Map<string, number>>()
  const touched = touchedServers(before, after)
  let total = 0
  let moved = 0
  let betweenUntouched = 0
  for (const key of keys) {
    total++
    const from = before.pick(key)
    const to = after.pick(key)
    if (from === to) continue
    moved++
    if (!touched.has(from) && !touched.has(to)) betweenUntouched++
    const row = flows.get(from) ?? new Map<string, number>()
    flows.set(from, row)
    row.set(to, (row.get(to) ?? 0) + 1)
  }
  const optimalFraction = optimalMoveFraction(before, after)
  const fraction = total === 0 ? 0 : moved / total
  return {
    keys: total,
    moved,
    fraction,
    optimalFraction,
    ratio: optimalFraction === 0 ? Number.NaN : fraction / optimalFraction,
    flows,
    touched,
    betweenUntouched,
  }
}

/** Half the L1 distance between the expected share vectors of two placements. */
export function optimalMoveFraction(before: Placement, after: Placement): number {
  const a = expectedShares(before)
  const b = expectedShares(after)
  let sum = 0
  for (const [id, share] of a) sum += Math.abs(share - (b.get(id) ?? 0))
  for (const [id, share] of b) if (!a.has(id)) sum += share
  return sum / 2
}

/** Ids added, removed or re-weighted between two placements. */
export function touchedServers(before: Placement, after: Placement): Set<string> {
  const out = new Set<string>()
  for (const s of before.servers) {
    const t = after.get(s.id)
    if (t === undefined || t.weight !== s.weight) out.add(s.id)
  }
  for (const s of after.servers) if (before.get(s.id) === undefined) out.add(s.id)
  return out
}
