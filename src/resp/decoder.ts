// Incremental decoder of client requests (RESP multibulk arrays and inline commands) with hard limits.
import { viewOf } from '../buffers.js'
import { RendezvousError } from '../errors.js'

/** Limits of {@link RequestDecoder}; a request over any of them is a protocol error. */
export interface RequestDecoderOptions {
  /**
   * Largest bulk string (one argument) in bytes, like Redis's `proto-max-bulk-len`.
   * @default 536870912 (512 MB)
   */
  maxBulkLength?: number
  /**
   * Most arguments in one request, the command name included.
   * @default 1048576
   */
  maxArgs?: number
  /**
   * Longest inline command line in bytes (like Redis's `PROTO_INLINE_MAX_SIZE`).
   * @default 65536
   */
  maxInlineLength?: number
  /**
   * Most bytes buffered for one connection while a request is incomplete, like Redis's
   * `client-query-buffer-limit`.
   * @default 1073741824 (1 GB)
   */
  maxQueryBuffer?: number
}

/** Defaults of {@link RequestDecoderOptions}. */
export const DEFAULT_DECODER_LIMITS: Readonly<Required<RequestDecoderOptions>> = Object.freeze({
  maxBulkLength: 512 * 1024 * 1024,
  maxArgs: 1024 * 1024,
  maxInlineLength: 64 * 1024,
  maxQueryBuffer: 1024 * 1024 * 1024,
})

/** A violation of the protocol or of a limit. `message` is what follows `-ERR ` in Redis's reply. */
export class ProtocolError extends RendezvousError {
  constructor(detail: string) {
    super('ERR_PROTOCOL', `Protocol error: ${detail}`)
    this.name = 'ProtocolError'
  }
}

/**
 * Called with each complete request, in order. `args` are views into the input chunks (no copies).
 * Return `false` to stop decoding: the rest of the input, now and later, is discarded (QUIT, shutdown).
 */
export type OnRequest = (args: Buffer[]) => boolean | undefined

const CR = 13
const LF = 10
const STAR = 42
const DOLLAR = 36

/**
 * Decodes a byte stream of requests, split anywhere, into argument vectors. Call {@link push} with each chunk
 * read; it calls `onRequest` synchronously for each request completed, so a handler that changes limits
 * (e.g. after AUTH) takes effect for the next request. After a {@link ProtocolError} the decoder is done:
 * every later `push` throws the same error.
 */
export class RequestDecoder {
  readonly #onRequest: OnRequest
  readonly #maxBulk: number
  readonly #maxArgs: number
  readonly #maxInline: number
  readonly #maxQuery: number

  /** Unparsed input: chunks not yet joined. Usually empty, or one partial request. */
  #parts: Buffer[] = []
  #size = 0
  /** Bytes needed in #parts before parsing can progress (0 = any), or -1 while waiting for a line end. */
  #need = 0
  /** What to say if the line being waited for grows over the inline limit. */
  #lineError = ''
  /** Arguments still expected by the request in progress (0 = between requests). */
  #left = 0
  /** Length of the bulk whose header was read, -1 if the next thing is a `$` header. */
  #bulkLen = -1
  #args: Buffer[] = []
  /** Arguments of the request in progress read so far. */
  #argc = 0
  #argBytes = 0
  #failed: ProtocolError | null = null
  #stopped = false
  #unauthenticated = false

  constructor(onRequest: OnRequest, options: RequestDecoderOptions = {}) {
    this.#onRequest = onRequest
    this.#maxBulk = limit(options.maxBulkLength, DEFAULT_DECODER_LIMITS.maxBulkLength, 'maxBulkLength')
    this.#maxArgs = limit(options.maxArgs, DEFAULT_DECODER_LIMITS.maxArgs, 'maxArgs')
    this.#maxInline = limit(
      options.maxInlineLength,
      DEFAULT_DECODER_LIMITS.maxInlineLength,
      'maxInlineLength',
    )
    this.#maxQuery = limit(options.maxQueryBuffer, DEFAULT_DECODER_LIMITS.maxQueryBuffer, 'maxQueryBuffer')
  }

  /** Bytes held for an incomplete request (unparsed input plus the arguments already read). */
  get buffered(): number {
    return this.#size + this.#argBytes
  }

  /**
   * While true, requests are held to Redis's limits for clients that have not authenticated yet (at most
   * 10 arguments of at most 16 KB each), so that a stranger cannot make the server buffer large requests.
   * @default false
   */
  get unauthenticated(): boolean {
    return this.#unauthenticated
  }

  set unauthenticated(value: boolean) {
    this.#unauthenticated = value
  }

  /** True once `onRequest` returned `false`. */
  get stopped(): boolean {
    return this.#stopped
  }

  /** Feeds one chunk. Throws {@link ProtocolError} on a violation (then the connection must be closed). */
  push(chunk: Buffer): void {
    if (this.#failed !== null) throw this.#failed
    if (this.#stopped || chunk.length === 0) return
    let buf: Buffer
    if (this.#parts.length === 0) {
      buf = chunk
    } else {
      this.#parts.push(chunk)
      this.#size += chunk.length
      // Waiting for more bytes than we have, or for a line end this chunk lacks: keep the chunk unjoined, so
      // a request trickling in byte by byte costs linear, not quadratic, copying.
      if (this.#need === -1 ? chunk.indexOf(LF) === -1 : this.#size < this.#need) {
        if (this.#need === -1 && this.#size > this.#maxInline + 1) this.#fail(this.#lineError)
        if (this.buffered > this.#maxQuery) this.#fail('query buffer limit exceeded')
        return
      }
      buf = this.#parts.length === 2 ? Buffer.concat(this.#parts, this.#size) : Buffer.concat(this.#parts)
    }
    this.#parts = []
    this.#size = 0
    this.#need = 0
    const pos = this.#parse(buf)
    if (pos < buf.length && !this.#stopped) {
      this.#parts.push(pos === 0 ? buf : buf.subarray(pos))
      this.#size = buf.length - pos
      if (this.buffered > this.#maxQuery) this.#fail('query buffer limit exceeded')
    }
  }

  #fail(detail: string): never {
    this.#failed = new ProtocolError(detail)
    this.#parts = []
    this.#args = []
    throw this.#failed
  }

  /** Parses as much of `b` as is complete; returns the offset of the first unconsumed byte. */
  #parse(b: Buffer): number {
    const end = b.length
    // Read once: every argument is a view of the same memory.
    const memory = b.buffer
    const base = b.byteOffset
    let pos = 0
    while (pos < end) {
      if (this.#left === 0) {
        if (b[pos] !== STAR) {
          const next = this.#inline(b, pos)
          if (next === -1) return pos
          pos = next
          continue
        }
        // `*<count>\r\n`
        const n = readNumber(b, pos + 1, end)
        if (n === INCOMPLETE) {
          this.#waitLine('too big mbulk count string')
          return pos
        }
        if (n === INVALID || n > this.#maxArgs) this.#fail('invalid multibulk length')
        if (this.#unauthenticated && n > 10) this.#fail('unauthenticated multibulk length')
        pos = numberEnd + 2
        if (n <= 0) continue // `*0` and `*-1` are empty requests, ignored as Redis does
        this.#left = n
        this.#bulkLen = -1
        // Sized up front, as Redis sizes argv: an array grown by push() starts with room for 16 elements, most of
        // a short request's allocation. A huge announced count grows as arguments arrive instead.
        this.#args = n <= PRESIZE_MAX ? new Array<Buffer>(n) : []
        this.#argc = 0
        this.#argBytes = 0
      }
      // The arguments of a multibulk request: `$<len>\r\n<bytes>\r\n`, #left times.
      while (this.#left > 0) {
        let len = this.#bulkLen
        if (len === -1) {
          if (pos >= end) return pos
          const c = b[pos]!
          if (c !== DOLLAR) this.#fail(`expected '$', got '${printable(c)}'`)
          len = readNumber(b, pos + 1, end)
          if (len === INCOMPLETE) {
            this.#waitLine('too big bulk count string')
            return pos
          }
          if (len === INVALID || len < 0 || len > this.#maxBulk) this.#fail('invalid bulk length')
          if (this.#unauthenticated && len > 16384) this.#fail('unauthenticated bulk length')
          pos = numberEnd + 2
          this.#bulkLen = len
        }
        if (end - pos < len + 2) {
          // The rest of `b` (from pos) is kept; push() waits until the whole bulk and its CRLF are held.
          this.#need = len + 2
          if (this.#argBytes + len > this.#maxQuery) this.#fail('query buffer limit exceeded')
          return pos
        }
        this.#args[this.#argc++] = viewOf(memory, base + pos, len)
        this.#argBytes += len
        pos += len + 2
        this.#bulkLen = -1
        this.#left--
      }
      const args = this.#args
      this.#args = []
      this.#argBytes = 0
      if (this.#onRequest(args) === false) {
        this.#stopped = true
        return end
      }
    }
    return pos
  }

  #waitLine(error: string): void {
    this.#need = -1
    this.#lineError = error
  }

  /** Parses one inline command at `pos`; returns the offset after its line, or -1 if the line is incomplete. */
  #inline(b: Buffer, pos: number): number {
    const lf = b.indexOf(LF, pos)
    if (lf === -1) {
      // +1: room for the CR of a line of exactly maxInline bytes.
      if (b.length - pos > this.#maxInline + 1) this.#fail('too big inline request')
      this.#waitLine('too big inline request')
      return -1
    }
    const lineEnd = lf > pos && b[lf - 1] === CR ? lf - 1 : lf
    if (lineEnd - pos > this.#maxInline) this.#fail('too big inline request')
    const args = splitInline(b, pos, lineEnd)
    if (args === null) this.#fail('unbalanced quotes in request')
    if (args.length > this.#maxArgs) this.#fail('invalid multibulk length')
    if (args.length > 0 && this.#onRequest(args) === false) {
      this.#stopped = true
      return b.length
    }
    return lf + 1
  }
}

/**
 * Looks ahead in a chunk of requests without decoding it: finds the second argument (the key, for most
 * commands) of each complete multibulk request at the start of `chunk`, and writes their byte ranges to `out`
 * as (start, end) pairs, for at most `out.length / 2` requests. Returns how many it found. It stops, without
 * throwing, at an incomplete or malformed request, an inline one, or one with fewer than two arguments:
 * the {@link RequestDecoder} still decides what every byte means. A server uses it to load what a pipeline's
 * lookups will read before running them.
 */
export function requestKeys(chunk: Buffer, out: Int32Array): number {
  const end = chunk.length
  const max = out.length >> 1
  let pos = 0
  let found = 0
  while (found < max && pos < end && chunk[pos] === STAR) {
    const n = readNumber(chunk, pos + 1, end)
    if (n < 2) break
    pos = numberEnd + 2
    for (let i = 0; i < n; i++) {
      if (pos >= end || chunk[pos] !== DOLLAR) return found
      const len = readNumber(chunk, pos + 1, end)
      if (len < 0) return found
      pos = numberEnd + 2
      if (pos + len + 2 > end) return found
      if (i === 1) {
        out[2 * found] = pos
        out[2 * found + 1] = pos + len
      }
      pos += len + 2
    }
    found++
  }
  return found
}

function limit(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new TypeError(`${name}: expected a positive integer, got ${String(value)}`)
  }
  return value
}

/** Largest announced argument count whose array is allocated whole before the arguments arrive. */
const PRESIZE_MAX = 1024

const INCOMPLETE = -0.5
const INVALID = -0.25
/** Offset of the `\r` ending the last number {@link readNumber} read (a second return value). */
let numberEnd = 0

/**
 * Reads a decimal integer from `start` up to `\r\n`, strictly (optional '-', digits, no '+', spaces or
 * leading zeros, at most 18 digits). Returns INCOMPLETE if `b` ends first, INVALID if malformed.
 */
function readNumber(b: Buffer, start: number, end: number): number {
  let p = start
  let neg = false
  if (p < end && b[p] === 45) {
    neg = true
    p++
  }
  const first = p
  let n = 0
  while (p < end) {
    const c = b[p]!
    if (c === CR) {
      if (p + 1 >= end) return INCOMPLETE
      const digits = p - first
      if (b[p + 1] !== LF || digits === 0 || (digits > 1 && b[first] === 48)) return INVALID
      numberEnd = p
      return neg ? -n : n
    }
    if (c < 48 || c > 57 || p - first >= 18) return INVALID
    n = n * 10 + (c - 48)
    p++
  }
  return INCOMPLETE
}

function printable(c: number): string {
  return c === CR || c === LF ? ' ' : String.fromCharCode(c)
}

function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13)
}

function hexValue(c: number | undefined): number {
  if (c === undefined) return -1
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 97 && c <= 102) return c - 87
  if (c >= 65 && c <= 70) return c - 55
  return -1
}

const ESCAPES: Record<number, number> = { 110: 10, 114: 13, 116: 9, 98: 8, 97: 7 }

/**
 * Splits an inline command line the way Redis's `sdssplitargs` does: whitespace-separated words, "double
 * quotes" with \n \r \t \b \a \xHH escapes, 'single quotes' with \' only; a closing quote must be followed by
 * whitespace. Returns null on unbalanced quotes. A NUL byte ends the line, as in C.
 */
export function splitInline(b: Buffer, start: number, end: number): Buffer[] | null {
  const nul = b.indexOf(0, start)
  if (nul !== -1 && nul < end) end = nul
  const out: Buffer[] = []
  let p = start
  for (;;) {
    while (p < end && isSpace(b[p]!)) p++
    if (p >= end) return out
    const word: number[] = []
    const plainStart = p
    let inDouble = false
    let inSingle = false
    let plain = true
    for (;;) {
      const c = p < end ? b[p]! : 0
      if (inDouble) {
        if (c === 0 && p >= end) return null
        if (
          c === 92 &&
          b[p + 1] === 120 &&
          p + 3 < end &&
          hexValue(b[p + 2]) >= 0 &&
          hexValue(b[p + 3]) >= 0
        ) {
          word.push(hexValue(b[p + 2]) * 16 + hexValue(b[p + 3]))
          p += 4
        } else if (c === 92 && p + 1 < end) {
          const e = b[p + 1]!
          word.push(ESCAPES[e] ?? e)
          p += 2
        } else if (c === 34) {
          if (p + 1 < end && !isSpace(b[p + 1]!)) return null
          p++
          break
        } else {
          word.push(c)
          p++
        }
      } else if (inSingle) {
        if (c === 0 && p >= end) return null
        if (c === 92 && p + 1 < end && b[p + 1] === 39) {
          word.push(39)
          p += 2
        } else if (c === 39) {
          if (p + 1 < end && !isSpace(b[p + 1]!)) return null
          p++
          break
        } else {
          word.push(c)
          p++
        }
      } else if (p >= end || c === 32 || c === 10 || c === 13 || c === 9) {
        break
      } else if (c === 34 || c === 39) {
        if (plain) {
          for (let i = plainStart; i < p; i++) word.push(b[i]!)
          plain = false
        }
        if (c === 34) inDouble = true
        else inSingle = true
        p++
      } else {
        if (!plain) word.push(c)
        p++
      }
    }
    // An unquoted word is a view into the input; a quoted one had to be rebuilt.
    out.push(plain ? b.subarray(plainStart, p) : Buffer.from(word))
  }
}
