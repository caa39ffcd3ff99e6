// Incremental decoder of server replies (RESP2 and RESP3) into Reply values, with size and nesting limits.
import { subarray } from '../buffers.js'
import { ProtocolError } from './decoder.js'
import {
  DoubleReply,
  MapReply,
  NULL_ARRAY,
  type Reply,
  ReplyError,
  SetReply,
  Status,
  VerbatimReply,
} from './reply.js'

/** Limits of {@link ReplyDecoder}. */
export interface ReplyDecoderOptions {
  /**
   * Largest bulk string in bytes.
   * @default 536870912 (512 MB)
   */
  maxBulkLength?: number
  /**
   * Deepest nesting of aggregates (arrays, maps, sets); a top-level array is depth 1.
   * @default 64
   */
  maxDepth?: number
  /**
   * Most elements announced by one aggregate header.
   * @default 16777216
   */
  maxElements?: number
}

const MORE: unique symbol = Symbol('incomplete')
type Parsed = Reply | typeof MORE | boolean

/**
 * Turns a byte stream of replies, split anywhere, into `Reply` values: `+` Status, `-` ReplyError, `:` and `(`
 * number (bigint beyond 2^53), `$` Buffer, `_`/`$-1` null, `*-1` NULL_ARRAY, `*`/`>` arrays, `%` MapReply,
 * `~` SetReply, `,` DoubleReply, `=` VerbatimReply, `#` 1 or 0. `|` attributes are skipped.
 * An incomplete reply is parsed again from its start when more bytes come, except that a large bulk string
 * waits until all its bytes are there.
 */
export class ReplyDecoder {
  readonly #maxBulk: number
  readonly #maxDepth: number
  readonly #maxElements: number
  #buf: Buffer = Buffer.alloc(0)
  #pos = 0
  /** Total bytes needed before the next attempt can succeed. */
  #need = 0
  #pending: Buffer[] = []
  #pendingBytes = 0

  constructor(options: ReplyDecoderOptions = {}) {
    this.#maxBulk = options.maxBulkLength ?? 512 * 1024 * 1024
    this.#maxDepth = options.maxDepth ?? 64
    this.#maxElements = options.maxElements ?? 16 * 1024 * 1024
  }

  /** Feeds a chunk; returns the replies it completed, in order. Throws {@link ProtocolError} on bad input. */
  push(chunk: Buffer): Reply[] {
    this.#pending.push(chunk)
    this.#pendingBytes += chunk.length
    if (this.#buf.length + this.#pendingBytes < this.#need) return []
    this.#buf = Buffer.concat([this.#buf, ...this.#pending])
    this.#pending = []
    this.#pendingBytes = 0
    this.#need = 0
    const out: Reply[] = []
    let start = 0
    for (;;) {
      this.#pos = start
      if (start >= this.#buf.length) break
      const r = this.#value(0)
      if (r === MORE) break
      if (typeof r !== 'boolean') out.push(r)
      start = this.#pos
    }
    this.#buf = this.#buf.subarray(start)
    if (this.#need > 0) this.#need -= start
    return out
  }

  /** Reads the line from #pos to CRLF (exclusive); MORE if absent. */
  #line(): string | typeof MORE {
    const cr = this.#buf.indexOf(13, this.#pos)
    if (cr === -1 || cr + 1 >= this.#buf.length) return MORE
    if (this.#buf[cr + 1] !== 10) throw new ProtocolError('expected CRLF')
    const s = this.#buf.toString('latin1', this.#pos, cr)
    this.#pos = cr + 2
    return s
  }

  #int(): number | typeof MORE {
    const s = this.#line()
    if (s === MORE) return MORE
    if (!/^-?\d{1,18}$/.test(s)) throw new ProtocolError(`invalid length '${s}'`)
    return Number(s)
  }

  /** Parses one value; `true` stands for a skipped attribute. */
  #value(depth: number): Parsed {
    const buf = this.#buf
    if (this.#pos >= buf.length) return MORE
    const type = buf[this.#pos++]!
    switch (type) {
      case 43: {
        const s = this.#line()
        return s === MORE ? MORE : new Status(s)
      }
      case 45: {
        const s = this.#line()
        return s === MORE ? MORE : new ReplyError(s)
      }
      case 58:
      case 40: {
        const s = this.#line()
        if (s === MORE) return MORE
        if (!/^-?\d+$/.test(s)) throw new ProtocolError(`invalid integer '${s}'`)
        const n = Number(s)
        return Number.isSafeInteger(n) ? n : BigInt(s)
      }
      case 36:
      case 61: {
        const n = this.#int()
        if (n === MORE) return MORE
        if (n === -1 && type === 36) return null
        if (n < 0 || n > this.#maxBulk) throw new ProtocolError('invalid bulk length')
        if (buf.length - this.#pos < n + 2) {
          this.#need = this.#pos + n + 2
          return MORE
        }
        const body = subarray(buf, this.#pos, this.#pos + n)
        if (buf[this.#pos + n] !== 13 || buf[this.#pos + n + 1] !== 10)
          throw new ProtocolError('expected CRLF')
        this.#pos += n + 2
        if (type === 36) return Buffer.from(body)
        if (n < 4 || body[3] !== 58) throw new ProtocolError('invalid verbatim string')
        return new VerbatimReply(body.toString('latin1', 0, 3), body.toString('utf8', 4))
      }
      case 95: {
        const s = this.#line()
        if (s === MORE) return MORE
        if (s !== '') throw new ProtocolError('invalid null')
        return null
      }
      case 35: {
        const s = this.#line()
        if (s === MORE) return MORE
        if (s !== 't' && s !== 'f') throw new ProtocolError('invalid boolean')
        return s === 't' ? 1 : 0
      }
      case 44: {
        const s = this.#line()
        if (s === MORE) return MORE
        const v = s === 'inf' ? Infinity : s === '-inf' ? -Infinity : s === 'nan' ? Number.NaN : Number(s)
        if (Number.isNaN(v) && s !== 'nan') throw new ProtocolError(`invalid double '${s}'`)
        return new DoubleReply(v)
      }
      case 42:
      case 62:
      case 126:
      case 37:
      case 124: {
        const n = this.#int()
        if (n === MORE) return MORE
        if (n === -1 && type === 42) return NULL_ARRAY
        if (n < 0 || n > this.#maxElements) throw new ProtocolError('invalid aggregate length')
        if (depth + 1 > this.#maxDepth) throw new ProtocolError('nesting too deep')
        const count = type === 37 || type === 124 ? n * 2 : n
        const items: Reply[] = []
        for (let i = 0; i < count; i++) {
          const v = this.#value(depth + 1)
          if (v === MORE) return MORE
          if (typeof v === 'boolean') i--
          else items.push(v)
        }
        if (type === 124) return true
        if (type === 37) {
          const entries: Array<[Reply, Reply]> = []
          for (let i = 0; i < items.length; i += 2) entries.push([items[i]!, items[i + 1]!])
          return new MapReply(entries)
        }
        return type === 126 ? new SetReply(items) : items
      }
      default:
        throw new ProtocolError(`unexpected reply type '${String.fromCharCode(type)}'`)
    }
  }
}
