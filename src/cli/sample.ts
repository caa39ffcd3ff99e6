// Deterministic sample data for simulations and benchmarks: a seeded PRNG, key streams and ideal assignments.

/** Characters of generated keys: 64 of them, so one 6-bit slice of a random word picks one without bias. */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-'
const ALPHABET_CODES = Array.from(ALPHABET, (c) => c.charCodeAt(0))
// One reusable buffer of character codes per key length (8 to 12), each starting with "user:".
const CODES = [8, 9, 10, 11, 12].map((n) => [
  ...Array.from('user:', (c) => c.charCodeAt(0)),
  ...new Array<number>(n).fill(0),
])

/**
 * A small seeded pseudo-random generator (mulberry32): fast, 32-bit state, good enough for sampling.
 * Not for cryptography.
 */
export class Prng {
  #s: number

  /** @param seed any non-negative safe integer; equal seeds give equal streams. */
  constructor(seed: number) {
    this.#s = (seed >>> 0) ^ Math.floor(seed / 4294967296) ^ 0x5eed1234
  }

  /** The next unsigned 32-bit integer. */
  u32(): number {
    this.#s = (this.#s + 0x6d2b79f5) | 0
    let t = this.#s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }

  /** A uniform number in [0, 1). */
  next(): number {
    return this.u32() / 4294967296
  }

  /** A uniform integer in [0, n) for 0 < n ≤ 2^32 (bias below 2^-32 × n, negligible here). */
  below(n: number): number {
    return Math.floor(this.next() * n)
  }
}

/** Draws one key shaped `user:` followed by 8 to 12 characters of [A-Za-z0-9_-]. */
export function randomKey(rng: Prng): string {
  const len = 8 + (rng.u32() % 5)
  const codes = CODES[len - 8]!
  // Five 6-bit characters per 32-bit word.
  let w = 0
  for (let i = 0; i < len; i++) {
    if (i % 5 === 0) w = rng.u32()
    codes[5 + i] = ALPHABET_CODES[w & 63]!
    w >>>= 6
  }
  // fromCharCode over an array builds a flat string (concatenation would build a rope, slower to hash).
  return String.fromCharCode.apply(null, codes)
}

/** `count` deterministic keys (see {@link randomKey}) for a seed, generated lazily. */
export function* sampleKeys(count: number, seed: number): Generator<string> {
  const rng = new Prng(seed)
  for (let i = 0; i < count; i++) yield randomKey(rng)
}

/** The same keys as {@link sampleKeys}, in an array. */
export function sampleKeyArray(count: number, seed: number): string[] {
  const rng = new Prng(seed)
  const out = new Array<string>(count)
  for (let i = 0; i < count; i++) out[i] = randomKey(rng)
  return out
}

/**
 * Per-server key counts of an ideal random assignment: each of `keys` keys goes to a server drawn at random in
 * proportion to `weights`. The reference against which a placement's balance is judged.
 */
export function idealCounts(weights: readonly number[], keys: number, seed: number): Int32Array {
  const n = weights.length
  const counts = new Int32Array(n)
  if (n === 0) return counts
  const rng = new Prng(seed ^ 0x1dea1)
  const w0 = weights[0]!
  if (weights.every((w) => w === w0)) {
    for (let k = 0; k < keys; k++) counts[rng.below(n)]!++
    return counts
  }
  const cum = new Float64Array(n)
  let sum = 0
  for (let i = 0; i < n; i++) cum[i] = sum += weights[i]!
  for (let k = 0; k < keys; k++) {
    const x = rng.next() * sum
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (cum[mid]! > x) hi = mid
      else lo = mid + 1
    }
    counts[lo]!++
  }
  return counts
}

/** max over servers of count / (total × weight share): the max/mean load of a set of counts. */
export function maxOverMean(counts: ArrayLike<number>, weights: readonly number[]): number {
  let total = 0
  let wsum = 0
  for (let i = 0; i < counts.length; i++) {
    total += counts[i]!
    wsum += weights[i]!
  }
  let max = 0
  for (let i = 0; i < counts.length; i++) max = Math.max(max, counts[i]! / ((total * weights[i]!) / wsum))
  return max
}
