// The inner loops of rendezvous hashing over a packed table of server digests and weights.
import {
  digestInto,
  draw53 as draw,
  fmix32i,
  type Key,
  lastA,
  lastB,
  mixLow,
  TWO_M53,
  TWO32,
  weightedScore,
} from './hash.js'
import { compareUtf8, equalWeights, type Server } from './server.js'
import { simd, simdEnabled } from './simd.js'

// Pruning table for the weighted loops: a draw whose top 12 bits are j has u <= (j + 1) / 4096, so
// e = -ln(u) >= -ln((j + 1) / 4096). INV_E[j] is the inverse of that bound (+Infinity for j = 4095, where u may
// be 1) and LN_E[j] its logarithm (-Infinity for j = 4095). They only skip slots that cannot win; they never
// decide a result.
const INV_E = new Float64Array(4096)
const LN_E = new Float64Array(4096)
for (let j = 0; j < 4095; j++) {
  INV_E[j] = 1 / -Math.log((j + 1) / 4096)
  LN_E[j] = Math.log(-Math.log((j + 1) / 4096))
}
INV_E[4095] = Number.POSITIVE_INFINITY
LN_E[4095] = Number.NEGATIVE_INFINITY
// INV_E_LO[j] = INV_E[j - 1]: u > j / 4096 gives e < -ln(j / 4096), a lower bound of the ratio (0 for j = 0).
const INV_E_LO = new Float64Array(4096)
for (let j = 1; j < 4096; j++) INV_E_LO[j] = INV_E[j - 1]!
// BQ[2j], BQ[2j + 1]: log2 of the lower and upper ratio bounds INV_E_LO[j] and INV_E[j] in fixed point (16
// fraction bits), rounded down and up: never above, never below the true bounds. Out-of-range stand-ins where
// the bounds are 0 (j = 0) and +Infinity (j = 4095). Interleaved, so that one slot's pair is one memory read.
const BQ = new Int32Array(2 * 4096)
for (let j = 0; j < 4096; j++) {
  BQ[2 * j] = j === 0 ? -(2 ** 26) : Math.floor(Math.log2(INV_E_LO[j]!) * 65536)
  BQ[2 * j + 1] = j === 4095 ? 2 ** 28 : Math.ceil(Math.log2(INV_E[j]!) * 65536)
}
/** Below any sum of a slot's log2 weight (at least -900 in this fixed point) and a BQ entry. */
const PROXY_FLOOR = -(2 ** 28)
/**
 * Fixed-point units by which a slot's lower bound must clear every other slot's upper bound: log2 weights are
 * rounded to nearest (half a unit each way), and the log2 of the bounds is off by far less than one more.
 */
const PROXY_MARGIN = 2
/** Up to this many slots, the weighted pick first tests the slot with the best lower bound. */
const FEW = 32
/** Relative slack on ratio bounds, far above their rounding errors. */
const BOUND_SLACK = 1e-12

// firstBoundAtLeast(x): a lower bound (never above the true value) of the least j with INV_E[j] >= x, without a
// search or a transcendental call: x's binary exponent and top 4 mantissa bits index J_OF, which holds the answer
// for the smallest x of each bucket. INV_E spans [0.12, 4096) for j < 4095, so exponents -4 to 12 suffice.
const F64 = new Float64Array(1)
const U32 = new Uint32Array(F64.buffer)
const HIGH_WORD = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0 // little-endian: word 1
const J_OF = new Int16Array(17 * 16)
for (let b = 0; b < J_OF.length; b++) {
  const x = 2 ** ((b >> 4) - 4) * (1 + (b & 15) / 16)
  let j = 0
  while (j < 4095 && INV_E[j]! < x) j++
  J_OF[b] = j
}
function firstBoundAtLeast(x: number): number {
  F64[0] = x
  const exp = (U32[HIGH_WORD]! >>> 20) - 1023
  if (exp < -4) return 0
  if (exp > 12) return 4095
  return J_OF[((exp + 4) << 4) | ((U32[HIGH_WORD]! >>> 16) & 15)]!
}

// The fast weighted loop compares ratios r = (w / wmax) / e, which order slots exactly as the spec's scores
// ln(w) - ln(e) do, up to rounding: the two differ by far less than RATIO_EPS (relative), so ratios further apart
// than that decide; closer ones are settled by computing the spec's scores. Ratios stay normal numbers (no
// overflow, no underflow) while wmax / w <= 2^900; placements with weights further apart use the log loop.
const RATIO_EPS = 1e-10
const MAX_RATIO_SPREAD = 2 ** 900
/** Absolute slack for pruning in the log domain (scores are below 800 in magnitude; rounding is far smaller). */
const LOG_SLACK = 1e-9
/** Most slots the branch-free uniform pick handles: a slot's offset takes the low 10 bits of a packed int. */
const PACKED_MAX = 1024
/** From this many slots on, picks run on the SIMD loops of pick.wat where available (fewer: JavaScript is faster). */
const SIMD_MIN = 4
/** Widest weight spread for the SIMD weighted pick, whose factors wmax / w are f32. */
const SIMD_SPREAD = 2 ** 100
/**
 * Whole tables with at most this many distinct weights pick with each weight's servers in lanes of their own
 * (the largest draw wins within a lane, as with equal weights), faster than bounding every slot's ratio.
 */
const MAX_CLASSES = 4
/**
 * From this many slots on, the SIMD weighted pick bounds e by v alone, not v + v^2/2 + v^3/3: faster, and the few
 * more keys it leaves to JavaScript cost less than that (with weights 1 to 4: 1.2% of keys at 100 slots, 0.2% at
 * 1000; 11% at 10).
 */
const LOOSE_FROM = 32
/**
 * Over this many slots, a key the loose bound leaves undecided goes to {@link Simd.close} at once: there the
 * tight bound would settle almost none (1 in 92 keys at 10,000 slots, against 32 in 44 at 1000).
 */
const TIGHT_MAX = 1024
/** The SIMD weighted pick's factors are rounded down by this much, so that its lower bounds stay lower bounds. */
const SIMD_IW_SHRINK = 1 - 2 ** -20
// What ScoreTable.pickSimd runs for a whole table.
const WHOLE_NONE = 0
const WHOLE_UNIFORM = 1
const WHOLE_LANES = 2
const WHOLE_WEIGHTED = 3

/** Most slots {@link ScoreTable.top} keeps by insertion; more are cut from the whole ranking. */
const TOP_MAX = 32
/** From this many slots on, the uniform pick keeps two running maxima. */
const TWO_CHAINS = 16

/**
 * Server digests, normalised weights and id ranks packed in typed arrays, one slot per entry. A flat placement
 * has one slot per server; a hierarchical one lays its groups out one after another, so a group is a range.
 */
export class ScoreTable {
  readonly sa: Int32Array
  readonly sb: Int32Array
  /** ln(weight) of each slot: the spec's score is ln(w) - ln(-ln(u)). */
  readonly lw: Float64Array
  /** weight / largest weight of each slot, for the ratio loop. */
  readonly wn: Float64Array
  /** log2(wn) of each slot in fixed point (16 fraction bits), for the small weighted pick. */
  readonly #wq: Int32Array
  /** Rank of the slot's server id in UTF-8 order: the last tie-break. */
  readonly idRank: Int32Array
  /** True when every weight is equal: rank by draw alone, no logarithm. */
  readonly uniform: boolean
  /** True when weights are within MAX_RATIO_SPREAD of each other: the ratio loop is exact. */
  readonly #ratios: boolean
  /** Byte offsets in the SIMD memory of the slots' digests (lane A) and of their factors wmax / w; -1: none. */
  readonly #simdSa: number = -1
  readonly #simdIw: number = -1
  /** Byte offset in the SIMD memory of the weighted pick's steps (see {@link precheckSteps}). */
  readonly #simdKt: number = -1
  /** The lanes layout for few distinct weights (see {@link lanesOf}) in the SIMD memory; -1: none. */
  readonly #lanesSa: number = -1
  readonly #lanesIx: number = -1
  readonly #lanesIw: number = -1
  readonly #rows: number = 0
  readonly #full: number = 0
  /** Which SIMD pick covers the whole table, for {@link pickSimd}: WHOLE_NONE, _UNIFORM, _LANES or _WEIGHTED. */
  readonly #whole: number = WHOLE_NONE
  // Scratch for rankings (draws and scores by slot), reused across calls.
  #d: Float64Array | null = null
  /** Scratch for {@link top}: the slots kept so far with their draws and scores. */
  #top: { slot: Int32Array; draw: Float64Array; score: Float64Array } | null = null
  // Scratch for the weighted pick's candidates, allocated on first use.
  #cand: Int32Array | null = null
  #candUb: Float64Array | null = null
  #s: Float64Array | null = null

  /**
   * @param servers all servers of the placement (weights normalise against the largest of them)
   * @param digests each server's digest as [sa, sb], same order as `servers`
   * @param slots which server fills each slot (indices into `servers`)
   * @param noCopy whether the table makes no SIMD copy: the caller keeps its own for equal weights (see
   *   {@link simdGroups}), or picks from this table are rare (a fallback) and not worth the memory
   */
  constructor(servers: readonly Server[], digests: Int32Array, slots: ArrayLike<number>, noCopy = false) {
    this.uniform = equalWeights(servers)
    let wmax = 0
    let wmin = Number.POSITIVE_INFINITY
    for (const s of servers) {
      wmax = Math.max(wmax, s.weight)
      wmin = Math.min(wmin, s.weight)
    }
    this.#ratios = wmax / wmin <= MAX_RATIO_SPREAD
    const useSimd = simdEnabled() && !noCopy && slots.length >= SIMD_MIN
    const byId = [...servers.keys()].sort((a, b) => compareUtf8(servers[a]!.id, servers[b]!.id))
    const rankOf = new Int32Array(servers.length)
    byId.forEach((serverIndex, rank) => {
      rankOf[serverIndex] = rank
    })
    const n = slots.length
    this.sa = new Int32Array(n)
    this.sb = new Int32Array(n)
    // Weights are stored only when they differ: equal-weight tables never read them (memory per server counts).
    this.lw = new Float64Array(this.uniform ? 0 : n)
    this.wn = new Float64Array(this.uniform ? 0 : n)
    this.#wq = new Int32Array(this.uniform ? 0 : n)
    this.idRank = new Int32Array(n)
    for (let k = 0; k < n; k++) {
      const i = slots[k]!
      this.sa[k] = digests[2 * i]!
      this.sb[k] = digests[2 * i + 1]!
      if (!this.uniform) {
        this.lw[k] = Math.log(servers[i]!.weight)
        this.wn[k] = servers[i]!.weight / wmax
        this.#wq[k] = Math.round(Math.max(-1000, Math.log2(this.wn[k]!)) * 65536)
      }
      this.idRank[k] = rankOf[i]!
    }
    if (useSimd) {
      // Unequal weights: both copies run on to whole vectors with servers that cannot win (digest 0, factor
      // +Infinity, so a lower bound of infinity), and a whole-table weighted pick needs no masked last vector.
      const whole = this.uniform ? n : (n + 3) & ~3
      let sa = this.sa
      if (whole > n) {
        sa = new Int32Array(whole)
        sa.set(this.sa)
      }
      this.#simdSa = simd!.store(this, sa)
      if (this.#simdSa >= 0 && !this.uniform && wmax / wmin <= SIMD_SPREAD) {
        const iw = new Float32Array(whole).fill(Number.POSITIVE_INFINITY)
        let iwMax = 0
        for (let k = 0; k < n; k++) {
          iw[k] = Math.fround((SIMD_IW_SHRINK * wmax) / servers[slots[k]!]!.weight)
          iwMax = Math.max(iwMax, iw[k]!)
        }
        this.#simdKt = simd!.store(this, precheckSteps(iwMax))
        if (this.#simdKt >= 0) this.#simdIw = simd!.store(this, iw)
        const lanes = this.#simdIw >= 0 ? lanesOf(servers, slots, this.sa, iw) : null
        if (lanes !== null) {
          this.#lanesSa = simd!.store(this, lanes.sa)
          this.#lanesIx = simd!.store(this, lanes.ix)
          this.#lanesIw = simd!.store(this, lanes.iw)
          this.#rows = lanes.sa.length / 4
          this.#full = lanes.full
        }
      }
      if (this.#simdSa >= 0) {
        if (this.uniform) this.#whole = WHOLE_UNIFORM
        else if (this.#lanesIw >= 0) this.#whole = WHOLE_LANES
        else if (this.#simdIw >= 0) this.#whole = WHOLE_WEIGHTED
      }
    }
  }

  /**
   * The whole table's pick by SIMD alone: the winning slot, or -1 when no SIMD pick covers this table or it
   * cannot decide (then {@link pickExact} does). Small enough for V8 to inline into its caller, where the
   * JavaScript loops are too large to be (two calls fewer a lookup: 1.06x to 1.14x the lookups at 10 servers).
   */
  pickSimd(ka: number): number {
    const kind = this.#whole
    if (kind === WHOLE_UNIFORM) return simd!.uniform(ka, this.#simdSa, this.sa.length)
    if (kind === WHOLE_NONE) return -1
    if (kind === WHOLE_LANES)
      return simd!.lanes(
        ka,
        this.#lanesSa,
        this.#lanesIx,
        this.#lanesIw,
        this.#simdKt,
        this.#full,
        this.#rows,
      )
    // Over the padded copies (see the constructor): whole vectors only.
    const n = this.sa.length
    return weightedSimd(ka, this.#simdSa, this.#simdIw, this.#simdKt, n, (n + 3) & ~3)
  }

  /** {@link pickSimd} over the range [start, end) of the table (a hierarchical group): an offset in it, or -1. */
  #pickSimdRange(ka: number, start: number, end: number): number {
    const n = end - start
    if (this.#simdSa < 0 || n < SIMD_MIN) return -1
    if (this.uniform) return simd!.uniform(ka, this.#simdSa + 4 * start, n)
    if (this.#simdIw < 0) return -1
    return weightedSimd(ka, this.#simdSa + 4 * start, this.#simdIw + 4 * start, this.#simdKt, n, n)
  }

  /**
   * Equal weights only: the winning slot in [start, end) (not empty) given lane A of the key's digest. The winner
   * has the largest 53-bit draw, whose top 21 bits come from lane A alone; lane B (from `key`) is computed only
   * when two slots tie on them, about once in two million comparisons.
   */
  #pickUniform(ka: number, key: Key, start: number, end: number): number {
    if (end - start > PACKED_MAX) return this.#pickUniformExact(ka, key, start, end)
    // Each slot's top 21 bits and its offset packed in one int, (top << 10) | offset (never negative), and the
    // largest kept without a branch (a data-dependent branch here mispredicts about ln(n) times per key). Two
    // slots with the same top bits must be told apart by lane B: when the winner's top bits were seen twice, the
    // exact loop decides. From TWO_CHAINS slots on, two running maxima over alternate slots halve the chain of
    // dependent steps (measured 3% faster at 100 slots, 6-8% at 1000 and in hierarchical groups, but 8% slower
    // at 10), and a tie counts within one chain or as both chains' maxima.
    const sa = this.sa
    if (end - start < TWO_CHAINS) {
      let m = ((fmix32i(ka ^ sa[start]!) >>> 11) << 10) | 0
      let tie = -1
      for (let k = start + 1; k < end; k++) {
        const p = ((fmix32i(ka ^ sa[k]!) >>> 11) << 10) | (k - start)
        if ((p ^ m) >>> 10 === 0) tie = p >>> 10
        const d = p - m
        m += d & ~(d >> 31)
      }
      if (tie === m >>> 10) return this.#pickUniformExact(ka, key, start, end)
      return start + (m & (PACKED_MAX - 1))
    }
    let m = ((fmix32i(ka ^ sa[start]!) >>> 11) << 10) | 0
    let m2 = -1
    let tie = -1
    let tie2 = -1
    let k = start + 1
    for (; k + 1 < end; k += 2) {
      const p = ((fmix32i(ka ^ sa[k]!) >>> 11) << 10) | (k - start)
      const q = ((fmix32i(ka ^ sa[k + 1]!) >>> 11) << 10) | (k + 1 - start)
      if ((p ^ m) >>> 10 === 0) tie = p >>> 10
      if ((q ^ m2) >>> 10 === 0) tie2 = q >>> 10
      const d = p - m
      m += d & ~(d >> 31)
      const d2 = q - m2
      m2 += d2 & ~(d2 >> 31)
    }
    if (k < end) {
      const p = ((fmix32i(ka ^ sa[k]!) >>> 11) << 10) | (k - start)
      if ((p ^ m) >>> 10 === 0) tie = p >>> 10
      const d = p - m
      m += d & ~(d >> 31)
    }
    const top = Math.max(m, m2) >>> 10
    if (tie === top || tie2 === top || (m ^ m2) >>> 10 === 0)
      return this.#pickUniformExact(ka, key, start, end)
    return start + (Math.max(m, m2) & (PACKED_MAX - 1))
  }

  #pickUniformExact(ka: number, key: Key, start: number, end: number): number {
    const sa = this.sa
    let best = start
    let bestTop = -1
    for (let k = start; k < end; k++) {
      const top = fmix32i(ka ^ sa[k]!) >>> 11
      if (top >= bestTop) {
        if (top > bestTop) {
          best = k
          bestTop = top
        } else {
          digestInto(key)
          best = this.#breakTie(ka, lastB(), best, k)
        }
      }
    }
    return best
  }

  /**
   * The winning slot in [start, end) (not empty), given lane A of the key's digest ({@link laneAInto}); lane B
   * is computed from `key` only where needed.
   */
  pick(ka: number, key: Key, start: number, end: number): number {
    const r = start === 0 && end === this.sa.length ? this.pickSimd(ka) : this.#pickSimdRange(ka, start, end)
    return r >= 0 ? start + r : this.pickExact(ka, key, start, end)
  }

  /** {@link pick} in JavaScript alone: for where the SIMD pick cannot decide (or is not available). */
  pickExact(ka: number, key: Key, start: number, end: number): number {
    if (this.uniform) return this.#pickUniform(ka, key, start, end)
    if (!this.#ratios) return this.#pickLog(key, start, end)
    return end - start <= FEW ? this.#pickRatioFew(ka, key, start, end) : this.#pickRatio(ka, key, start, end)
  }

  /** Of two slots with equal scores, the one with the larger draw, then the smaller id. */
  #breakTie(ka: number, kb: number, a: number, b: number): number {
    const da = draw(ka, kb, this.sa[a]!, this.sb[a]!)
    const db = draw(ka, kb, this.sa[b]!, this.sb[b]!)
    if (da !== db) return db > da ? b : a
    return this.idRank[b]! < this.idRank[a]! ? b : a
  }

  /** Whether slot b ranks before slot a by the spec's scores (draws given). */
  #beats(b: number, db: number, a: number, da: number): boolean {
    const sa = weightedScore(this.lw[a]!, da)
    const sb = weightedScore(this.lw[b]!, db)
    if (sb !== sa) return sb > sa
    if (db !== da) return db > da
    return this.idRank[b]! < this.idRank[a]!
  }

  // Unequal weights: one logarithm per slot that passes the bound from its draw's top 12 bits, comparing
  // ratios (w / wmax) / e; ratios within RATIO_EPS of the best are settled by the spec's scores.
  // Two passes. The first computes no logarithm: a slot's top 12 bits j bound its ratio between
  // wn * INV_E_LO[j] and wn * INV_E[j]; slots whose upper bound is below the best lower bound so far cannot win
  // (most fail the integer test j < jmin first), the others are remembered. When one remembered slot is still
  // within reach of the best lower bound, it wins; otherwise the second pass computes the ratios of those
  // within reach, with one logarithm each.
  #pickRatio(ka: number, key: Key, start: number, end: number): number {
    if (this.#simdIw >= 0) {
      // The SIMD pick could not decide: its bounds name the few servers that may win (two SIMD passes, where
      // the first pass below would cost several).
      const near = simd!.close(
        ka,
        this.#simdSa + 4 * start,
        this.#simdIw + 4 * start,
        this.#simdKt,
        end - start,
      )
      if (near !== null)
        return near.length === 1 ? start + near[0]! : this.#bestRatio(ka, key, near, near.length, start)
    }
    const sa = this.sa
    const wn = this.wn
    this.#cand ??= new Int32Array(sa.length)
    this.#candUb ??= new Float64Array(sa.length)
    const cand = this.#cand
    const candUb = this.#candUb
    let nc = 0
    let bestLb = 0
    let jmin = 0
    for (let k = start; k < end; k++) {
      const j = fmix32i(ka ^ sa[k]!) >>> 20
      if (j < jmin) continue
      const w = wn[k]!
      const ub = w * INV_E[j]! * (1 + BOUND_SLACK)
      if (ub < bestLb) continue
      cand[nc] = k
      candUb[nc++] = ub
      const lb = w * INV_E_LO[j]! * (1 - BOUND_SLACK)
      if (lb > bestLb) {
        bestLb = lb
        jmin = firstBoundAtLeast(lb)
      }
    }
    // One slot within reach is the winner: the slot that set bestLb is always within reach, and a tie would
    // leave two. Most lookups end here, with no logarithm at all.
    let within = 0
    for (let c = 0; c < nc; c++) if (candUb[c]! >= bestLb) cand[within++] = cand[c]!
    return within === 1 ? cand[0]! : this.#bestRatio(ka, key, cand, within, 0)
  }

  /** Of the slots base + slots[0 .. count), the winner by the ratios, close ones settled by the spec's scores. */
  #bestRatio(ka: number, key: Key, slots: Int32Array, count: number, base: number): number {
    digestInto(key)
    const kb = lastB()
    const sa = this.sa
    const sb = this.sb
    const wn = this.wn
    let best = -1
    let bestR = -1
    let bestD = -1
    for (let c = 0; c < count; c++) {
      const k = base + slots[c]!
      const hi = fmix32i(ka ^ sa[k]!)
      const d = (hi >>> 11) * TWO32 + mixLow(kb, sb[k]!, hi)
      const e = -Math.log((d + 1) * TWO_M53)
      const r = e === 0 ? Number.POSITIVE_INFINITY : wn[k]! / e
      if (r > bestR * (1 + RATIO_EPS) || (r >= bestR * (1 - RATIO_EPS) && this.#beats(k, d, best, bestD))) {
        best = k
        bestR = r
        bestD = d
      }
    }
    return best
  }

  // Few slots, one pass without a data-dependent branch: each slot's ratio lies between fixed-point log2 bounds
  // lo = log2 w + BQ[2j] and hi = log2 w + BQ[2j + 1]. The pass keeps the best lo and its slot w, and the two
  // largest hi with the slot of the largest. When no other slot's hi comes within PROXY_MARGIN of w's lo, w has
  // the largest ratio and wins (99.7% of keys at N = 10 with weights 1 to 4); otherwise (ties, close calls) the
  // general loop decides.
  #pickRatioFew(ka: number, key: Key, start: number, end: number): number {
    const sa = this.sa
    const wq = this.#wq
    let m = PROXY_FLOOR
    let w = start
    let h1 = PROXY_FLOOR
    let h2 = PROXY_FLOOR
    let i1 = start
    for (let k = start; k < end; k++) {
      const j2 = (fmix32i(ka ^ sa[k]!) >>> 20) << 1
      const q = wq[k]!
      const lo = q + BQ[j2]!
      const hi = q + BQ[j2 + 1]!
      const d = lo - m
      const keep = d >> 31 // -1 when the best so far stays, 0 when slot k takes over
      m += d & ~keep
      w = (w & keep) | (k & ~keep)
      // Two largest hi: a new largest pushes the old one to second place; else hi competes for second.
      const d1 = hi - h1
      const top = ~(d1 >> 31) // -1 when hi >= h1
      const d2 = hi - h2
      const second = h2 + (d2 & ~(d2 >> 31))
      h2 = (h1 & top) | (second & ~top)
      h1 += d1 & top
      i1 = (k & top) | (i1 & ~top)
    }
    const other = i1 === w ? h2 : h1
    if (m - other > PROXY_MARGIN) return w
    return this.#pickRatio(ka, key, start, end)
  }

  // Weights too far apart for ratios: compare the spec's scores ln(w) - ln(e) directly.
  #pickLog(key: Key, start: number, end: number): number {
    digestInto(key)
    const ka = lastA()
    const kb = lastB()
    const sa = this.sa
    const sb = this.sb
    const lw = this.lw
    let best = -1
    let bestScore = Number.NEGATIVE_INFINITY
    let bestD = -1
    for (let k = start; k < end; k++) {
      const hi = fmix32i(ka ^ sa[k]!)
      if (lw[k]! - LN_E[hi >>> 20]! + LOG_SLACK < bestScore) continue
      const d = (hi >>> 11) * TWO32 + mixLow(kb, sb[k]!, hi)
      const s = weightedScore(lw[k]!, d)
      if (best < 0 || s > bestScore || (s === bestScore && this.#beats(k, d, best, bestD))) {
        best = k
        bestScore = s
        bestD = d
      }
    }
    return best
  }

  /**
   * The first `count` slots of {@link rank} (best first by score, draw, id). Up to TOP_MAX of them without
   * sorting the others: each slot is compared with the last one kept and inserted only when it beats it, so that
   * a few servers of many cost one pass; a slot that cannot beat it is passed over on its draw's top bits (with
   * unequal weights, its score's bound from LN_E, as in the log loop), before its low bits and logarithm. More
   * than TOP_MAX: the whole ranking, cut (inserting into a long list would cost more than sorting).
   */
  top(ka: number, kb: number, start: number, end: number, count: number): number[] {
    const want = Math.min(count, end - start)
    if (want <= 0) return []
    if (want > TOP_MAX) return this.rank(ka, kb, start, end).slice(0, want)
    this.#top ??= {
      slot: new Int32Array(TOP_MAX),
      draw: new Float64Array(TOP_MAX),
      score: new Float64Array(TOP_MAX),
    }
    const { slot, draw, score } = this.#top
    const sa = this.sa
    const sb = this.sb
    const idRank = this.idRank
    const uniform = this.uniform
    let kept = 0
    for (let k = start; k < end; k++) {
      const hi = fmix32i(ka ^ sa[k]!)
      if (kept === want) {
        // Full: only a slot that could beat the last kept one goes on (the bounds' slack covers rounding).
        if (uniform) {
          if ((hi >>> 11) * TWO32 < draw[want - 1]! - TWO32) continue
        } else if (this.lw[k]! - LN_E[hi >>> 20]! + LOG_SLACK < score[want - 1]!) continue
      }
      const d = (hi >>> 11) * TWO32 + mixLow(kb, sb[k]!, hi)
      const s = uniform ? d : weightedScore(this.lw[k]!, d)
      const r = idRank[k]!
      let i = kept
      while (i > 0 && ranksBefore(s, d, r, score[i - 1]!, draw[i - 1]!, idRank[slot[i - 1]!]!)) i--
      if (i === want) continue
      if (kept < want) kept++
      for (let j = kept - 1; j > i; j--) {
        slot[j] = slot[j - 1]!
        draw[j] = draw[j - 1]!
        score[j] = score[j - 1]!
      }
      slot[i] = k
      draw[i] = d
      score[i] = s
    }
    const out = new Array<number>(kept)
    for (let i = 0; i < kept; i++) out[i] = slot[i]!
    return out
  }

  /** Every slot in [start, end) sorted best first by (score, draw, id). */
  rank(ka: number, kb: number, start: number, end: number): number[] {
    // Scratch space, allocated on the first ranking (pick-only users never pay for it).
    this.#d ??= new Float64Array(this.sa.length)
    this.#s ??= new Float64Array(this.sa.length)
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
    return this.#d![k]!
  }
}

/** Whether a slot of score s, draw d and id rank r comes before one of score s2, draw d2 and id rank r2. */
function ranksBefore(s: number, d: number, r: number, s2: number, d2: number, r2: number): boolean {
  return s > s2 || (s === s2 && (d > d2 || (d === d2 && r < r2)))
}

/**
 * The SIMD weighted pick of n slots whose digests and factors are at `sa` and `iw` (`vectorN`: n, or n rounded up
 * to whole vectors where the copies are padded): the looser bound first where it pays; what it leaves, the
 * tighter one settles but for a few keys. An offset, or -1.
 */
function weightedSimd(ka: number, sa: number, iw: number, kt: number, n: number, vectorN: number): number {
  const r = n < LOOSE_FROM ? -1 : simd!.weighted(ka, sa, iw, vectorN, 0, kt)
  return r >= 0 || n > TIGHT_MAX ? r : simd!.weighted(ka, sa, iw, vectorN, 1, kt)
}

/**
 * The steps of the SIMD weighted pick's quick decision, for a table whose largest factor wmax / w (as stored) is
 * `iwMax`: for each eighth of a binary order of the winner's packed lower bound A, from 1 to 2^21 (168 of them,
 * indexed by A's exponent and top 3 mantissa bits; the loose bound's, then the tight bound's), the least k such
 * that a second lower bound B whose f32 bits are more than k above A's is above the winner's upper bound, whatever
 * the winner; 2^31 - 1 (never) where no k is of use. With A in [lo, hi), c = A's largest relative error (the
 * packing drops 10 bits, f32 rounding), s = iwMax / lo and v the largest draw distance D / 2^21 such an A allows,
 * pick.wat's upper bound (`$upper`) 1.000004 iw D (1 + v/2 + v^2/3 + q) with q = v^3 / (4(1 - v)) is at most A
 * times 1.000004 (c + s)(1 + v/2 + v^2/3 + q) for the loose bound (A = iw (D - 1)) and 1.000004 (c + s (1 + v +
 * v^2) + (c + s) q) for the tight one (A = iw h(D - 1), h(x) = x + x^2 / 2^22 + x^3 / (3 * 2^42)). B's bits k
 * above A's make B >= A (1 + k / 2^24).
 */
export function precheckSteps(iwMax: number): Int32Array {
  const count = 21 * 8
  const steps = new Int32Array(2 * count)
  const c = (1 + 2 ** -13) * (1 + 2 ** -21)
  const step = (ratio: number) => Math.min(2 ** 31 - 1, Math.ceil((ratio * (1 + 2 ** -20) - 1) * 2 ** 24))
  for (let i = 0; i < count; i++) {
    const lo = 2 ** (i >> 3) * (1 + (i & 7) / 8)
    const hi = 2 ** (i >> 3) * (1 + ((i & 7) + 1) / 8)
    const v = (hi * c * (1 + 2 ** -19) + 1) / 2 ** 21
    const s = iwMax / lo
    const q = v ** 3 / (4 * (1 - v))
    const never = v >= 0.9
    steps[i] = never ? 2 ** 31 - 1 : step(1.000004 * (c + s) * (1 + v / 2 + (v * v) / 3 + q))
    steps[count + i] = never ? 2 ** 31 - 1 : step(1.000004 * (c + s * (1 + v + v * v) + (c + s) * q))
  }
  return steps
}

/**
 * The lanes layout of a table with at most MAX_CLASSES distinct weights, or null when it does not fit: each weight
 * (class) gets at least one of four lanes and the largest classes the rest, and row r holds in each lane the next
 * server of its class, as digest (`sa`) and slot index (`ix`). Lanes run out at different rows: rows below `full`
 * are whole, and `iw` holds each lane's factor wmax / w (f32 bits, taken from the slots' factors `slotIw`) then
 * each lane's count of rows. Null also when all four lanes cannot be filled or when the rows would be more than
 * half padding.
 */
function lanesOf(
  servers: readonly Server[],
  slots: ArrayLike<number>,
  sa: Int32Array,
  slotIw: Float32Array,
): { sa: Int32Array; ix: Int32Array; iw: Int32Array; full: number } | null {
  const byWeight = new Map<number, number[]>()
  for (let k = 0; k < slots.length; k++) {
    const w = servers[slots[k]!]!.weight
    const list = byWeight.get(w)
    if (list === undefined) byWeight.set(w, [k])
    else list.push(k)
  }
  if (byWeight.size > MAX_CLASSES || slots.length < 4) return null
  const classes = [...byWeight]
  const lanes = classes.map(() => 1)
  for (let extra = 4 - classes.length; extra > 0; extra--) {
    // One more lane to the class with the most servers per lane that can still fill it.
    let best = -1
    classes.forEach(([, c], i) => {
      const per = Math.ceil(c.length / lanes[i]!)
      if (c.length > lanes[i]! && (best < 0 || per > Math.ceil(classes[best]![1].length / lanes[best]!)))
        best = i
    })
    if (best < 0) return null
    lanes[best]!++
  }
  const rows = Math.max(...classes.map(([, c], i) => Math.ceil(c.length / lanes[i]!)))
  if (4 * rows > 2 * slots.length) return null
  const out = {
    sa: new Int32Array(4 * rows),
    ix: new Int32Array(4 * rows).fill(-1),
    iw: new Int32Array(8),
    full: rows,
  }
  const factors = new Float32Array(out.iw.buffer, 0, 4)
  let lane = 0
  classes.forEach(([, c], i) => {
    for (let j = 0; j < lanes[i]!; j++, lane++) {
      factors[lane] = slotIw[c[0]!]!
      let r = 0
      for (let m = j; m < c.length; m += lanes[i]!, r++) {
        out.sa[4 * r + lane] = sa[c[m]!]!
        out.ix[4 * r + lane] = c[m]!
      }
      out.iw[4 + lane] = r
      out.full = Math.min(out.full, r)
    }
  })
  return out
}

/**
 * The SIMD copy of an equal-weights hierarchical table for `simd.group`: each group's digests, then its server
 * indices, each run padded to a multiple of four. Returns each group's byte offset in the SIMD memory (-1 for a
 * group the SIMD pick does not take: fewer than SIMD_MIN or more than PACKED_MAX members), or null where the
 * SIMD picks are off. Freed with `owner`.
 */
export function simdGroups(
  owner: object,
  sa: Int32Array,
  start: Int32Array,
  server: Int32Array,
): Int32Array | null {
  const groups = start.length - 1
  if (!simdEnabled() || groups < 1) return null
  const at = new Int32Array(groups).fill(-1)
  let ints = 0
  for (let g = 0; g < groups; g++) {
    const n = start[g + 1]! - start[g]!
    if (n < SIMD_MIN || n > PACKED_MAX) continue
    at[g] = ints
    ints += 2 * ((n + 3) & ~3)
  }
  const layout = new Int32Array(ints)
  for (let g = 0; g < groups; g++) {
    if (at[g]! < 0) continue
    const n = start[g + 1]! - start[g]!
    layout.set(sa.subarray(start[g]!, start[g + 1]!), at[g]!)
    layout.set(server.subarray(start[g]!, start[g + 1]!), at[g]! + ((n + 3) & ~3))
  }
  const base = simd!.store(owner, layout)
  if (base < 0) return null
  for (let g = 0; g < groups; g++) if (at[g]! >= 0) at[g] = base + 4 * at[g]!
  return at
}
