// Hash spec v1 primitives: a 64-bit digest (two MurmurHash3 x86_32 lanes) and the per-pair score mix.
// docs/hash-spec.md is the normative text; this file must agree with it bit for bit.

/** Seed of digest lane A (ASCII "RDV1"). */
export const SEED_A = 0x52445631
/** Seed of digest lane B (the 32-bit golden ratio). */
export const SEED_B = 0x9e3779b9

const C1 = 0xcc9e2d51
const C2 = 0x1b873593

/** A key that can be placed: a string (hashed as its UTF-8 bytes) or raw bytes. */
export type Key = string | Uint8Array

/** MurmurHash3's 32-bit finalizer (fmix32). Returns an unsigned 32-bit integer. */
export function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * `String#charCodeAt`, to call as `charCodeAt.call(s, i)` on hot paths. A method load `s.charCodeAt` turns
 * polymorphic once strings of several representations (literals, concatenations, slices, decoded bytes) have
 * passed through, and then costs a runtime lookup per character. Each module that reads characters on a hot path
 * declares this constant itself, unexported: V8 folds a module's own constant into optimised code and then
 * inlines the character read, but reads an exported or imported one from a cell and calls it through the generic
 * call builtin (measured 4x slower when hashing keys).
 */
const charCodeAt = String.prototype.charCodeAt

// Scratch outputs of digest(), so the hot path allocates nothing.
let outA = 0
let outB = 0

/** Lane B's multiplier (odd, the 32-bit golden ratio). */
const CB = 0x9e3779b1

// One 4-byte block: lane A is MurmurHash3 x86_32's body step; lane B is a cheaper multiply-rotate chain.
// Callers inline the two steps below by hand where speed matters; these are the reference forms.
/** MurmurHash3 x86_32's step for one 4-byte block `k` (little-endian) on state `h`. */
export function stepA(h: number, k: number): number {
  k = Math.imul(k, C1)
  k = (k << 15) | (k >>> 17)
  k = Math.imul(k, C2)
  h ^= k
  h = (h << 13) | (h >>> 19)
  return (Math.imul(h, 5) + 0xe6546b64) | 0
}

function stepB(h: number, k: number): number {
  h = Math.imul(h ^ k, CB)
  return (h << 15) | (h >>> 17)
}

/** MurmurHash3 x86_32's step for the last 1 to 3 bytes `k` (little-endian) on state `h`. */
export function tailA(h: number, k: number): number {
  k = Math.imul(k, C1)
  k = (k << 15) | (k >>> 17)
  k = Math.imul(k, C2)
  return h ^ k
}

function finish(ha: number, hb: number, len: number): void {
  outA = fmix32(ha ^ len)
  outB = fmix32(((hb ^ len) + outA) | 0)
}

function digestBytes(b: Uint8Array): void {
  let ha = SEED_A | 0
  let hb = SEED_B | 0
  const len = b.length
  const end = len & ~3
  let i = 0
  for (; i < end; i += 4) {
    const k = b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)
    ha = stepA(ha, k)
    hb = stepB(hb, k)
  }
  if ((len & 3) !== 0) {
    const k = tailBytes(b, i, len)
    ha = tailA(ha, k)
    hb = Math.imul(hb ^ k, CB)
  }
  finish(ha, hb, len)
}

/** The last `len & 3` bytes of `b`, from `i`, as a little-endian integer (the tail block of the spec). */
function tailBytes(b: Uint8Array, i: number, len: number): number {
  const rest = len & 3
  let k = b[i]!
  if (rest > 1) k |= b[i + 1]! << 8
  if (rest > 2) k |= b[i + 2]! << 16
  return k
}

// Hashes the UTF-8 encoding of a string without materialising it. ASCII runs go four characters at a time;
// anything else takes the general path below, which packs bytes into blocks as they are produced.
function digestString(s: string): void {
  let ha = SEED_A | 0
  let hb = SEED_B | 0
  const n = s.length
  let i = 0
  for (; i + 4 <= n; i += 4) {
    const c0 = charCodeAt.call(s, i)
    const c1 = charCodeAt.call(s, i + 1)
    const c2 = charCodeAt.call(s, i + 2)
    const c3 = charCodeAt.call(s, i + 3)
    if ((c0 | c1 | c2 | c3) >= 0x80) break
    const k = c0 | (c1 << 8) | (c2 << 16) | (c3 << 24)
    ha = stepA(ha, k)
    hb = stepB(hb, k)
  }
  let k = 0
  let shift = 0
  let len = i
  for (; i < n; i++) {
    const c = charCodeAt.call(s, i)
    if (c >= 0x80) break
    k |= c << shift
    shift += 8
    len++
  }
  if (i === n) {
    if (shift !== 0) {
      ha = tailA(ha, k)
      hb = Math.imul(hb ^ k, CB)
    }
    finish(ha, hb, len)
    return
  }
  digestStringSlow(s, i, ha, hb, k, shift, len)
}

// General UTF-8 path, resumed at s[i] with a partly filled block. Lone surrogates encode as U+FFFD
// (EF BF BD), as TextEncoder does.
function digestStringSlow(
  s: string,
  i: number,
  ha: number,
  hb: number,
  block: number,
  shift: number,
  len: number,
): void {
  const n = s.length
  for (; i < n; i++) {
    let c = charCodeAt.call(s, i)
    let bytes: number
    let count: number
    if (c < 0x80) {
      bytes = c
      count = 1
    } else if (c < 0x800) {
      bytes = 0xc0 | (c >> 6) | ((0x80 | (c & 0x3f)) << 8)
      count = 2
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < n ? charCodeAt.call(s, i + 1) : 0
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00)
          i++
        } else {
          c = 0xfffd
        }
      }
      if (c < 0x10000) {
        bytes = 0xe0 | (c >> 12) | ((0x80 | ((c >> 6) & 0x3f)) << 8) | ((0x80 | (c & 0x3f)) << 16)
        count = 3
      } else {
        bytes =
          0xf0 |
          (c >> 18) |
          ((0x80 | ((c >> 12) & 0x3f)) << 8) |
          ((0x80 | ((c >> 6) & 0x3f)) << 16) |
          ((0x80 | (c & 0x3f)) << 24)
        count = 4
      }
    }
    for (let j = 0; j < count; j++) {
      block |= ((bytes >>> (8 * j)) & 0xff) << shift
      shift += 8
      len++
      if (shift === 32) {
        ha = stepA(ha, block)
        hb = stepB(hb, block)
        block = 0
        shift = 0
      }
    }
  }
  if (shift !== 0) {
    ha = tailA(ha, block)
    hb = Math.imul(hb ^ block, CB)
  }
  finish(ha, hb, len)
}

/**
 * Computes the 64-bit digest of a key as two unsigned 32-bit lanes and stores them in the scratch
 * registers read by {@link lastA} and {@link lastB}. Throws `TypeError` for anything but a string or bytes.
 */
export function digestInto(key: Key): void {
  if (typeof key === 'string') digestString(key)
  else if (key instanceof Uint8Array) digestBytes(key)
  else throw new TypeError(`key must be a string or a Uint8Array, got ${describe(key)}`)
}

/**
 * Computes lane A of a key's digest (read it with {@link lastA}); lane B is left stale. Equal-weight picks need
 * lane B only to break ties on the top 21 bits of a draw, so they call this and the full {@link digestInto}
 * only on a tie. Bytes and ASCII strings skip lane B's work; other strings compute the whole digest.
 */
export function laneAInto(key: Key): void {
  if (typeof key !== 'string') {
    if (key instanceof Uint8Array) laneABytes(key)
    else digestInto(key)
    return
  }
  let h = SEED_A | 0
  const n = key.length
  let i = 0
  for (; i + 4 <= n; i += 4) {
    const c0 = charCodeAt.call(key, i)
    const c1 = charCodeAt.call(key, i + 1)
    const c2 = charCodeAt.call(key, i + 2)
    const c3 = charCodeAt.call(key, i + 3)
    if ((c0 | c1 | c2 | c3) >= 0x80) break
    h = stepA(h, c0 | (c1 << 8) | (c2 << 16) | (c3 << 24))
  }
  let k = 0
  for (let shift = 0; i < n; i++, shift += 8) {
    const c = charCodeAt.call(key, i)
    if (c >= 0x80) {
      digestString(key)
      return
    }
    k |= c << shift
  }
  if ((n & 3) !== 0) h = tailA(h, k)
  outA = fmix32(h ^ n)
}

/** {@link laneAInto} for bytes: {@link digestBytes} without lane B. */
function laneABytes(b: Uint8Array): void {
  let h = SEED_A | 0
  const len = b.length
  const end = len & ~3
  let i = 0
  for (; i < end; i += 4) h = stepA(h, b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24))
  if ((len & 3) !== 0) h = tailA(h, tailBytes(b, i, len))
  outA = fmix32(h ^ len)
}

/** Lane A of the last digest computed by {@link digestInto}. */
export function lastA(): number {
  return outA
}
/** Lane B of the last digest computed by {@link digestInto}. */
export function lastB(): number {
  return outB
}

/** The 64-bit digest of a key as `[laneA, laneB]`, each an unsigned 32-bit integer. */
export function digest(key: Key): [number, number] {
  digestInto(key)
  return [outA, outB]
}

/** fmix32 returning a signed 32-bit integer (same bits), cheaper in hot loops. */
export function fmix32i(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return h ^ (h >>> 16)
}

/** High word of the pair mix (signed 32-bit form): `hi >>> 11` is the top 21 bits of the 53-bit draw. */
export function mixHigh(ka: number, sa: number): number {
  return fmix32i(ka ^ sa)
}

/** Low word of the pair mix, chained on the high word. */
export function mixLow(kb: number, sb: number, high: number): number {
  return fmix32(((kb ^ sb) + high) | 0)
}

/** 2^32 */
export const TWO32 = 4294967296
/** 2^-53 */
export const TWO_M53 = 1 / 9007199254740992

/** The 53-bit draw for a (key digest, server digest) pair, as an exact integer-valued double. */
export function draw53(ka: number, kb: number, sa: number, sb: number): number {
  const hi = mixHigh(ka, sa)
  return (hi >>> 11) * TWO32 + mixLow(kb, sb, hi)
}

/** u in (0, 1] from a 53-bit draw: (draw + 1) / 2^53, exact in binary64. */
export function uniform(d53: number): number {
  return (d53 + 1) * TWO_M53
}

/**
 * The score of a draw for a server of weight `w`, given as `lw = ln(w)`: ln(w) - ln(-ln(u)), the logarithm of
 * the classic w / -ln(u). Computed in the log domain it neither overflows nor underflows for any positive finite
 * weights. +Infinity when u = 1 (where -ln(u) is zero).
 */
export function weightedScore(lw: number, d53: number): number {
  const e = -Math.log(uniform(d53))
  return e === 0 ? Number.POSITIVE_INFINITY : lw - Math.log(e)
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  return typeof v === 'object'
    ? `an object (${Object.prototype.toString.call(v)})`
    : `${typeof v} ${String(v)}`
}
