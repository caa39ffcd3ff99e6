// The inner loops of rendezvous hashing over a packed table of server digests and weights.
import { fmix32i, mixLow, TWO32, weightedScore } from './hash.js'
import { compareUtf8, type Server } from './server.js'

// Pruning table for the weighted loop: a draw whose top 12 bits are j has u <= (j + 1) / 4096, so its score
// ln(w) - ln(-ln(u)) is at most ln(w) - LN_E[j] with LN_E[j] = ln(-ln((j + 1) / 4096)) (-Infinity for j = 4095,
// where u may be 1). It only skips servers that cannot win; it never decides a result. PRUNE_SLACK absorbs
// rounding (scores are below 800 in magnitude, so their rounding errors are far below it).
const LN_E = new Float64Array(4096)
for (let j = 0; j < 4095; j++) LN_E[j] = Math.log(-Math.log((j + 1) / 4096))
LN_E[4095] = Number.NEGATIVE_INFINITY
const PRUNE_SLACK = 1e-9

/**
 * Server digests, normalised weights and id ranks packed in typed arrays, one slot per entry. A flat placement
 * has one slot per server; a hierarchical one lays its groups out one after another, so a group is a range.
 */
export class ScoreTable {
  readonly sa: Int32Array
  readonly sb: Int32Array
  /** ln(weight) of each slot. */
  readonly lw: Float64Array
  /** Rank of the slot's server id in UTF-8 order: the last tie-break. */
  readonly idRank: Int32Array
  /** True when every weight is equal: rank by draw alone, no logarithm. */
  readonly uniform: boolean
  // Scratch for rankings (draws and scores by slot), reused across calls.
  readonly #d: Float64Array
  readonly #s: Float64Array

  /**
   * @param servers all servers of the placement (weights normalise against the largest of them)
   * @param digests each server's digest as [sa, sb], same order as `servers`
   * @param slots which server fills each slot (indices into `servers`)
   */
  constructor(servers: readonly Server[], digests: Int32Array, slots: ArrayLike<number>) {
    this.uniform = servers.every((s) => s.weight === servers[0]!.weight)
    const byId = [...servers.keys()].sort((a, b) => compareUtf8(servers[a]!.id, servers[b]!.id))
    const rankOf = new Int32Array(servers.length)
    byId.forEach((serverIndex, rank) => {
      rankOf[serverIndex] = rank
    })
    const n = slots.length
    this.sa = new Int32Array(n)
    this.sb = new Int32Array(n)
    this.lw = new Float64Array(n)
    this.idRank = new Int32Array(n)
    this.#d = new Float64Array(n)
    this.#s = new Float64Array(n)
    for (let k = 0; k < n; k++) {
      const i = slots[k]!
      this.sa[k] = digests[2 * i]!
      this.sb[k] = digests[2 * i + 1]!
      this.lw[k] = Math.log(servers[i]!.weight)
      this.idRank[k] = rankOf[i]!
    }
  }

  /** The winning slot in [start, end) for a key digest; the range must not be empty. */
  pick(ka: number, kb: number, start: number, end: number): number {
    return this.uniform ? this.#pickUniform(ka, kb, start, end) : this.#pickWeighted(ka, kb, start, end)
  }

  // Equal weights: the winner has the largest 53-bit draw. Its top 21 bits come from the high word alone, so
  // the low word is computed only when two slots tie on them (about once in two million comparisons).
  #pickUniform(ka: number, kb: number, start: number, end: number): number {
    const sa = this.sa
    let best = start
    let bestHi = fmix32i(ka ^ sa[start]!)
    let bestTop = bestHi >>> 11
    let bestLo = -1
    for (let k = start + 1; k < end; k++) {
      const hi = fmix32i(ka ^ sa[k]!)
      const top = hi >>> 11
      if (top > bestTop) {
        best = k
        bestHi = hi
        bestTop = top
        bestLo = -1
      } else if (top === bestTop) {
        if (bestLo < 0) bestLo = mixLow(kb, this.sb[best]!, bestHi)
        const lo = mixLow(kb, this.sb[k]!, hi)
        if (lo > bestLo || (lo === bestLo && this.idRank[k]! < this.idRank[best]!)) {
          best = k
          bestHi = hi
          bestLo = lo
        }
      }
    }
    return best
  }

  // Unequal weights: exact scores, but a slot whose score bound (from its draw's top 12 bits) cannot reach the
  // best so far is skipped without computing its logarithm.
  #pickWeighted(ka: number, kb: number, start: number, end: number): number {
    const sa = this.sa
    const sb = this.sb
    const lw = this.lw
    let best = -1
    let bestScore = Number.NEGATIVE_INFINITY
    let bestD = -1
    for (let k = start; k < end; k++) {
      const hi = fmix32i(ka ^ sa[k]!)
      const w = lw[k]!
      if (w - LN_E[hi >>> 20]! + PRUNE_SLACK < bestScore) continue
      const d = (hi >>> 11) * TWO32 + mixLow(kb, sb[k]!, hi)
      const s = weightedScore(w, d)
      if (
        s > bestScore ||
        (s === bestScore && (d > bestD || (d === bestD && this.idRank[k]! < this.idRank[best]!)))
      ) {
        best = k
        bestScore = s
        bestD = d
      }
    }
    return best
  }

  /** Every slot in [start, end) sorted best first by (score, draw, id). */
  rank(ka: number, kb: number, start: number, end: number): number[] {
    const d = this.#d
    const s = this.#s
    const order: number[] = []
    for (let k = start; k < end; k++) {
      const hi = fmix32i(ka ^ this.sa[k]!)
      d[k] = (hi >>> 11) * TWO32 + mixLow(kb, this.sb[k]!, hi)
      s[k] = this.uniform ? d[k]! : weightedScore(this.lw[k]!, d[k]!)
      order.push(k)
    }
    const idRank = this.idRank
    // NaN from Infinity - Infinity is falsy, so equal infinite scores fall through to the draw.
    order.sort((a, b) => s[b]! - s[a]! || d[b]! - d[a]! || idRank[a]! - idRank[b]!)
    return order
  }

  /** The draw of a slot from the last `rank` call. */
  lastDraw(k: number): number {
    return this.#d[k]!
  }
}
