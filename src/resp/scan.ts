// Finds where each reply ends in a server's byte stream, and reads the few reply shapes the proxy merges.
import { copyBytes, SHORT_COPY, subarray } from '../buffers.js'
import { ProtocolError } from './decoder.js'

const CR = 13
const LF = 10

/** Returned by {@link replyEnd} when the reply is not complete yet. */
export const INCOMPLETE = -1

/**
 * Offset just past the complete RESP2/RESP3 reply starting at `pos` in `b`, or {@link INCOMPLETE}. Nothing is
 * decoded: the proxy passes replies through as bytes. Throws {@link ProtocolError} on a malformed stream.
 */
export function replyEnd(b: Buffer, pos: number): number {
  const end = b.length
  let left = 1
  while (left > 0) {
    if (pos >= end) return INCOMPLETE
    const type = b[pos]!
    const lf = findLf(b, pos + 1, end)
    if (lf === -1) return INCOMPLETE
    left--
    switch (type) {
      case 43: // + simple string
      case 45: // - error
      case 58: // : integer
      case 95: // _ null
      case 35: // # boolean
      case 44: // , double
      case 40: // ( big number
        pos = lf + 1
        break
      case 36: // $ bulk string
      case 61: // = verbatim string
      case 33: {
        // ! bulk error
        const n = lineNumber(b, pos + 1, lf)
        if (n < 0) pos = lf + 1
        else {
          const next = lf + 1 + n + 2
          if (next > end) return INCOMPLETE
          pos = next
        }
        break
      }
      case 42: // * array
      case 126: // ~ set
      case 62: {
        // > push
        const n = lineNumber(b, pos + 1, lf)
        pos = lf + 1
        if (n > 0) left += n
        break
      }
      case 37: // % map
      case 124: {
        // | attribute: its pairs, then the value it annotates
        const n = lineNumber(b, pos + 1, lf)
        pos = lf + 1
        if (n > 0) left += 2 * n
        if (type === 124) left++
        break
      }
      default:
        throw new ProtocolError(`unexpected reply type byte ${type}`)
    }
  }
  return pos
}

/**
 * The first LF at or after `from` and before `end`, or -1. Reply headers are a few bytes long: a loop finds
 * their end faster than a call into the runtime, which takes over for longer lines (simple strings, errors).
 */
function findLf(b: Buffer, from: number, end: number): number {
  const stop = Math.min(end, from + 24)
  for (let i = from; i < stop; i++) if (b[i] === LF) return i
  if (stop === end) return -1
  const lf = b.indexOf(LF, stop)
  return lf < end ? lf : -1
}

/**
 * A complete raw reply that is one bulk string: its bytes (a slice of `raw`), null for a nil (`$-1`, RESP3
 * `_`), or undefined for any other reply (decode that one in full).
 */
export function bulkReply(raw: Buffer): Buffer | null | undefined {
  const t = raw[0]
  if (t === 95) return null
  if (t !== 36) return undefined
  const lf = findLf(raw, 1, raw.length)
  const n = lineNumber(raw, 1, lf)
  return n < 0 ? null : subarray(raw, lf + 1, lf + 1 + n)
}

/**
 * A complete raw reply that is an array of bulk strings and nils (MGET's reply): the elements as slices of
 * `raw`, null for nils; undefined when the reply has any other shape (decode that one in full).
 */
export function bulkArray(raw: Buffer): (Buffer | null)[] | undefined {
  if (raw[0] !== 42) return undefined
  const end = raw.length
  let lf = findLf(raw, 1, end)
  const n = lineNumber(raw, 1, lf)
  if (n < 0) return undefined
  const out = new Array<Buffer | null>(n)
  let pos = lf + 1
  for (let i = 0; i < n; i++) {
    const t = raw[pos]
    if (t === 95) {
      out[i] = null
      pos += 3
      continue
    }
    if (t !== 36) return undefined
    lf = findLf(raw, pos + 1, end)
    const len = lineNumber(raw, pos + 1, lf)
    if (len < 0) {
      out[i] = null
      pos = lf + 1
    } else {
      if (lf + 1 + len + 2 > end) throw new ProtocolError('truncated array reply')
      out[i] = subarray(raw, lf + 1, lf + 1 + len)
      pos = lf + 1 + len + 2
    }
  }
  return out
}

/** The signed decimal between `start` and the CR before `lf`. */
function lineNumber(b: Buffer, start: number, lf: number): number {
  const stop = lf - 1
  if (stop < start || b[stop] !== CR) throw new ProtocolError('expected CRLF')
  let p = start
  let neg = false
  if (b[p] === 45) {
    neg = true
    p++
  }
  if (p === stop) throw new ProtocolError('empty length')
  let n = 0
  for (; p < stop; p++) {
    const c = b[p]!
    if (c < 48 || c > 57) throw new ProtocolError('invalid length')
    n = n * 10 + (c - 48)
  }
  return neg ? -n : n
}

/** True when the raw reply is an error (`-...` or RESP3 `!...`). */
export function isErrorReply(raw: Buffer): boolean {
  return raw[0] === 45 || raw[0] === 33
}

/** The integer of a raw `:n` reply, or null when the reply is something else. */
export function integerReply(raw: Buffer): number | null {
  if (raw[0] !== 58) return null
  return lineNumber(raw, 1, raw.indexOf(LF, 1))
}

/** Writes `<type><n>\r\n` at `p`; returns the offset after it. */
export function header(out: Buffer, p: number, type: number, n: number): number {
  out[p++] = type
  if (n < 10) out[p++] = 48 + n
  else if (n < 100) {
    out[p++] = 48 + ((n / 10) | 0)
    out[p++] = 48 + (n % 10)
  } else p += out.write(String(n), p, 'latin1')
  out[p++] = 13
  out[p++] = 10
  return p
}

/** The bytes {@link header} writes for `n`. */
export function headerBytes(n: number): number {
  return 3 + (n < 10 ? 1 : n < 100 ? 2 : String(n).length)
}

/** {@link mergeArrays}' table: per element of the result, its part and its bounds in that part (reused). */
let table = new Int32Array(3 * 64)
/** {@link mergeArrays}' parts' memory and offsets (reused; the memory is let go after each call). */
const memory: ArrayBufferLike[] = []
const offsets: number[] = []

function refuse(): null {
  memory.length = 0
  return null
}

/**
 * One array reply of `n` elements made of the elements of the array replies `parts`, in the caller's order:
 * the elements of `parts[g]` go, in turn, to the 1-based positions `order[g]` (MGET split over servers, merged
 * back). Elements are copied once, straight into the result. Returns null when a part is not an array of
 * `order[g].length` elements.
 */
export function mergeArrays(
  parts: readonly Buffer[],
  order: readonly (readonly number[])[],
  n: number,
): Buffer | null {
  // A table kept between calls, not one allocated per call: a typed array over 64 bytes gets its memory from
  // malloc (and zeroed), which cost as much as the rest of a 10-key merge. A huge merge's table is not kept.
  let t = table
  if (t.length < 3 * (n + 1)) {
    t = new Int32Array(3 * (n + 1))
    if (n <= 4096) table = t
  }
  let bytes = 0
  for (let g = 0; g < parts.length; g++) {
    const raw = parts[g]!
    const to = order[g]!
    const end = raw.length
    if (raw[0] !== 42) return refuse()
    memory[g] = raw.buffer
    offsets[g] = raw.byteOffset
    const lf = findLf(raw, 1, end)
    if (lf === -1 || lineNumber(raw, 1, lf) !== to.length) return refuse()
    let pos = lf + 1
    for (let k = 0; k < to.length; k++) {
      const next = elementEnd(raw, pos, end)
      const i = 3 * to[k]!
      t[i] = g
      t[i + 1] = pos
      t[i + 2] = next
      bytes += next - pos
      pos = next
    }
  }
  const out = Buffer.allocUnsafe(headerBytes(n) + bytes)
  let p = header(out, 0, 42, n)
  // Elements that lie next to each other in the same part are copied as one run.
  for (let i = 1; i <= n; ) {
    const g = t[3 * i]!
    const start = t[3 * i + 1]!
    let end = t[3 * i + 2]!
    for (i++; i <= n && t[3 * i] === g && t[3 * i + 1] === end; i++) end = t[3 * i + 2]!
    if (end - start <= SHORT_COPY) p += copyBytes(parts[g]!, out, p, start, end)
    else {
      // Buffer#copy would read the part's `buffer` (a call into the runtime) on every copy: once per part here.
      out.set(new Uint8Array(memory[g]!, offsets[g]! + start, end - start), p)
      p += end - start
    }
  }
  memory.length = 0
  return out
}

/** The end of the element of a complete array reply that starts at `pos`: a bulk string at once, else any reply. */
function elementEnd(raw: Buffer, pos: number, end: number): number {
  if (raw[pos] === 36) {
    // $<len>\r\n<bytes>\r\n, or $-1\r\n
    let p = pos + 1
    let len = 0
    let c = raw[p]!
    if (c !== 45) {
      for (; c >= 48 && c <= 57; c = raw[++p]!) len = len * 10 + (c - 48)
      const next = p + 2 + len + 2
      if (p > pos + 1 && c === CR && raw[p + 1] === LF && next <= end) return next
    }
  }
  const next = replyEnd(raw, pos)
  if (next === INCOMPLETE || next > end) throw new ProtocolError('truncated array reply')
  return next
}

/** The text of an error reply without its type byte and CRLF. */
export function errorText(raw: Buffer): string {
  const lf = raw.indexOf(LF)
  return raw.toString('utf8', 1, lf > 0 ? lf - 1 : raw.length)
}
