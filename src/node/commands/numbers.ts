// Redis's number rules: strict int64 parsing (string2ll) and INCRBYFLOAT's 80-bit long double arithmetic.

/** Largest int64. */
export const INT64_MAX = 9223372036854775807n
/** Smallest int64. */
export const INT64_MIN = -9223372036854775808n

/** current + incr, or null when the sum leaves int64 (Redis answers `increment or decrement would overflow`). */
export function addInt64(current: bigint, incr: bigint): bigint | null {
  if (
    (incr < 0n && current < 0n && incr < INT64_MIN - current) ||
    (incr > 0n && current > 0n && incr > INT64_MAX - current)
  ) {
    return null
  }
  return current + incr
}

const INT_RE = /^(?:0|-?[1-9][0-9]*)$/

/**
 * Parses an integer as Redis's string2ll does: decimal digits with an optional '-', no '+', no spaces, no
 * leading zeros (and no "-0"), within int64. Returns null when the text is not such an integer.
 */
export function parseInt64(text: string): bigint | null {
  if (text.length === 0 || text.length > 20 || !INT_RE.test(text)) return null
  const v = BigInt(text)
  return v > INT64_MAX || v < INT64_MIN ? null : v
}

/** {@link parseInt64} of bytes (a command argument or a stored value). */
export function parseInt64Bytes(buf: Buffer | string): bigint | null {
  if (buf.length > 20) return null
  return parseInt64(typeof buf === 'string' ? buf : buf.toString('latin1'))
}

/** An integer reply: a number when it is safe, a bigint otherwise. */
export function intReply(v: bigint): number | bigint {
  return v <= 9007199254740991n && v >= -9007199254740991n ? Number(v) : v
}

// --- INCRBYFLOAT -------------------------------------------------------------------------------------------
// Redis parses both operands with strtold, adds them as x87 80-bit long doubles (64-bit significand) and
// prints the sum with "%.17Lf" before trimming trailing zeros. That is why Redis answers 1234.1 + 0.1 with
// "1234.19999999999999996". To give the same bytes, this emulates the format exactly with bigints:
// correctly rounded parsing (round half to even, as glibc), one correctly rounded addition, exact printing.

/** A finite long double: (neg ? -1 : 1) * m * 2^e with m < 2^64 (m = 0 for zero). */
interface LongDouble {
  readonly neg: boolean
  readonly m: bigint
  readonly e: number
}

const MANT_BITS = 64
const MIN_LSB_EXP = -16445 // exponent of the smallest denormal, 2^-16445
const MAX_EXP = 16383 // largest finite values are below 2^16384
const MAX_CHARS = 5 * 1024 // Redis's MAX_LONG_DOUBLE_CHARS

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length
}

function roundDiv(num: bigint, den: bigint): bigint {
  const q = num / den
  const r2 = (num % den) * 2n
  if (r2 > den || (r2 === den && (q & 1n) === 1n)) return q + 1n
  return q
}

/** Rounds the exact value num/den (num >= 0, den > 0) to a long double; 'inf' on overflow. */
function roundToLongDouble(neg: boolean, num: bigint, den: bigint): LongDouble | 'inf' {
  if (num === 0n) return { neg, m: 0n, e: 0 }
  // k = floor(log2(num/den))
  let k = bitLength(num) - bitLength(den)
  if (k >= 0 ? num < den << BigInt(k) : num << BigInt(-k) < den) k--
  let e = Math.max(k - (MANT_BITS - 1), MIN_LSB_EXP)
  let m = e >= 0 ? roundDiv(num, den << BigInt(e)) : roundDiv(num << BigInt(-e), den)
  if (m === 1n << BigInt(MANT_BITS)) {
    m >>= 1n
    e++
  }
  if (e + MANT_BITS - 1 > MAX_EXP) return 'inf'
  return { neg, m, e }
}

type Parsed = LongDouble | 'inf' | '-inf' | null

/**
 * Parses a float as Redis's string2ld does (strtold on the whole text): decimal with optional exponent,
 * hexadecimal ("0x1.8p3"), "inf"/"infinity"; not NaN, no surrounding spaces, no overflow, no underflow to 0.
 * Returns null when Redis would answer "value is not a valid float".
 */
export function parseLongDouble(text: string): Parsed {
  if (text.length === 0 || text.length >= MAX_CHARS) return null
  let i = 0
  let neg = false
  const c0 = text[0]
  if (c0 === '+' || c0 === '-') {
    neg = c0 === '-'
    i = 1
  }
  const rest = text.slice(i).toLowerCase()
  if (rest === 'inf' || rest === 'infinity') return neg ? '-inf' : 'inf'
  const hex = /^0x([0-9a-f]*)(?:\.([0-9a-f]*))?(?:p([+-]?[0-9]+))?$/.exec(rest)
  if (hex !== null) {
    const int = hex[1] ?? ''
    const frac = hex[2] ?? ''
    if (int.length + frac.length === 0) return null
    const digits = BigInt(`0x${int}${frac}`)
    const p = Number(hex[3] ?? '0')
    if (digits === 0n) return { neg, m: 0n, e: 0 }
    const e2 = p - 4 * frac.length
    const mag = e2 + bitLength(digits)
    if (mag > MAX_EXP + 2) return null
    if (mag < MIN_LSB_EXP - 2) return null
    const r =
      e2 >= 0
        ? roundToLongDouble(neg, digits << BigInt(e2), 1n)
        : roundToLongDouble(neg, digits, 1n << BigInt(-e2))
    return r === 'inf' || r.m === 0n ? null : r
  }
  const dec = /^([0-9]*)(?:\.([0-9]*))?(?:e([+-]?[0-9]+))?$/.exec(rest)
  if (dec === null) return null
  const int = dec[1] ?? ''
  const frac = dec[2] ?? ''
  if (int.length + frac.length === 0) return null
  const all = `${int}${frac}`.replace(/^0+/, '')
  if (all.length === 0) return { neg, m: 0n, e: 0 }
  const e10 = Number(dec[3] ?? '0') - frac.length
  // Decimal magnitude of the value: 10^(mag-1) <= |v| < 10^mag. Long doubles span about 1e-4951 to 1.19e4932.
  const mag = e10 + all.length
  if (mag > 4934) return null
  if (mag < -4952) return null
  const digits = BigInt(all)
  const r =
    e10 >= 0
      ? roundToLongDouble(neg, digits * 10n ** BigInt(e10), 1n)
      : roundToLongDouble(neg, digits, 10n ** BigInt(-e10))
  return r === 'inf' || r.m === 0n ? null : r
}

/** The correctly rounded long double sum; 'inf' when it overflows. */
function addLongDouble(a: LongDouble, b: LongDouble): LongDouble | 'inf' {
  const e = Math.min(a.e, b.e)
  const ta = (a.neg ? -a.m : a.m) << BigInt(a.e - e)
  const tb = (b.neg ? -b.m : b.m) << BigInt(b.e - e)
  const sum = ta + tb
  const neg = sum < 0n
  const abs = neg ? -sum : sum
  if (abs === 0n) return { neg: false, m: 0n, e: 0 }
  return e >= 0 ? roundToLongDouble(neg, abs << BigInt(e), 1n) : roundToLongDouble(neg, abs, 1n << BigInt(-e))
}

/** Redis's ld2string(..., LD_STR_HUMAN): "%.17Lf" with trailing zeros (and a bare '.') removed, "-0" as "0". */
function formatHuman(v: LongDouble): string {
  const scale = 10n ** 17n
  const n = v.e >= 0 ? (v.m << BigInt(v.e)) * scale : roundDiv(v.m * scale, 1n << BigInt(-v.e))
  let s = n.toString().padStart(18, '0')
  const int = s.slice(0, -17)
  const frac = s.slice(-17).replace(/0+$/, '')
  s = frac.length > 0 ? `${int}.${frac}` : int
  return v.neg && s !== '0' ? `-${s}` : s
}

/** Result of {@link incrByFloat}. */
export type FloatResult =
  | { readonly ok: true; readonly text: string }
  | {
      readonly ok: false
      readonly error: 'ERR value is not a valid float' | 'ERR increment would produce NaN or Infinity'
    }

/** INCRBYFLOAT's arithmetic on texts: the new value formatted as Redis formats it, or Redis's error. */
export function incrByFloat(current: string, increment: string): FloatResult {
  const a = parseLongDouble(current)
  const b = parseLongDouble(increment)
  if (a === null || b === null) return { ok: false, error: 'ERR value is not a valid float' }
  if (typeof a === 'string' || typeof b === 'string') {
    return { ok: false, error: 'ERR increment would produce NaN or Infinity' }
  }
  const sum = addLongDouble(a, b)
  if (sum === 'inf') return { ok: false, error: 'ERR increment would produce NaN or Infinity' }
  return { ok: true, text: formatHuman(sum) }
}
