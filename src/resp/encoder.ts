// Reply encoder: writes Reply values as RESP2 or RESP3 into one growing buffer, flushed once per read event.
import { copy, latin1Write } from '../buffers.js'
import {
  DoubleReply,
  Latin1Bulk,
  MapReply,
  NULL_ARRAY,
  type Reply,
  ReplyError,
  SetReply,
  Status,
  VerbatimReply,
} from './reply.js'

/**
 * Bulk strings at least this long are passed through by reference instead of being copied; shorter ones are
 * copied when written, so their memory may change as soon as {@link ReplyWriter.write} returns.
 */
export const BY_REFERENCE = 16 * 1024

const CRLF = Buffer.from('\r\n')
const NULL2 = Buffer.from('$-1\r\n')
const NULL_ARRAY2 = Buffer.from('*-1\r\n')
const NULL3 = Buffer.from('_\r\n')
const OK_LINE = Buffer.from('+OK\r\n')

/**
 * Accumulates encoded replies. Small replies are copied into one scratch buffer (one allocation per flush);
 * large bulk strings are kept by reference. {@link take} hands out the result and resets the writer.
 */
export class ReplyWriter {
  readonly #initialSize: number
  #buf: Buffer
  #len = 0
  /** Finished pieces when a large bulk string interrupted the scratch buffer. */
  #parts: Buffer[] = []
  #partsBytes = 0

  /** @param initialSize first size of the scratch buffer, grown as needed. @default 16384 */
  constructor(initialSize = 16 * 1024) {
    this.#initialSize = initialSize
    this.#buf = Buffer.allocUnsafe(initialSize)
  }

  /** Bytes written since the last {@link take}. */
  get length(): number {
    return this.#partsBytes + this.#len
  }

  /**
   * Writes one reply. Throws `TypeError` for values outside the `Reply` type (e.g. a fractional number),
   * before writing anything of that value; use {@link mark} and {@link rewind} to drop partial output.
   */
  write(reply: Reply, resp: 2 | 3): void {
    if (reply instanceof Buffer) {
      this.#bulk(reply)
    } else if (reply instanceof Latin1Bulk) {
      this.#bulkString(reply.text, 36, 'latin1')
    } else if (typeof reply === 'string') {
      this.#bulkString(reply)
    } else if (reply === null) {
      this.#raw(resp === 3 ? NULL3 : NULL2)
    } else if (typeof reply === 'number') {
      if (!Number.isSafeInteger(reply)) throw new TypeError(`integer reply is not a safe integer: ${reply}`)
      this.#line(58, String(reply))
    } else if (typeof reply === 'bigint') {
      this.#line(58, reply.toString())
    } else if (reply instanceof Status) {
      if (reply.text === 'OK') this.#raw(OK_LINE)
      else this.#textLine(43, oneLine(reply.text))
    } else if (reply instanceof ReplyError) {
      this.#textLine(45, oneLine(reply.message))
    } else if (Array.isArray(reply)) {
      this.#line(42, String(reply.length))
      for (const item of reply) this.write(item, resp)
    } else if (reply === NULL_ARRAY) {
      this.#raw(resp === 3 ? NULL3 : NULL_ARRAY2)
    } else if (reply instanceof MapReply) {
      if (resp === 3) this.#line(37, String(reply.entries.length))
      else this.#line(42, String(reply.entries.length * 2))
      for (const [k, v] of reply.entries) {
        this.write(k, resp)
        this.write(v, resp)
      }
    } else if (reply instanceof SetReply) {
      this.#line(resp === 3 ? 126 : 42, String(reply.items.length))
      for (const item of reply.items) this.write(item, resp)
    } else if (reply instanceof DoubleReply) {
      const text = formatDouble(reply.value)
      if (resp === 3) this.#line(44, text)
      else this.#bulkString(text)
    } else if (reply instanceof VerbatimReply) {
      if (resp === 3) {
        if (!/^[a-z]{3}$/.test(reply.format))
          throw new TypeError(`verbatim format must be 3 letters: ${reply.format}`)
        this.#bulkString(`${reply.format}:${reply.text}`, 61)
      } else {
        this.#bulkString(reply.text)
      }
    } else {
      throw new TypeError(`not a reply: ${String(reply)}`)
    }
  }

  /** A position to {@link rewind} to. */
  mark(): number {
    return this.length
  }

  /** Drops everything written after `mark` (used when encoding a reply failed half-way). */
  rewind(mark: number): void {
    if (mark < this.#partsBytes) {
      // Rare: the mark lies before a large bulk string. Join everything, then cut.
      const all = Buffer.concat([...this.#parts, this.#buf.subarray(0, this.#len)])
      this.#parts = []
      this.#partsBytes = 0
      this.#len = 0
      this.#ensure(mark)
      all.copy(this.#buf, 0, 0, mark)
    }
    this.#len = mark - this.#partsBytes
  }

  /** Returns what was written as buffers ready for `socket.write` (usually one), and resets the writer. */
  take(): Buffer[] {
    const out = this.#parts
    if (this.#len > 0) out.push(this.#copyOut())
    this.#parts = []
    this.#partsBytes = 0
    // One huge reply (KEYS *) must not pin a huge scratch buffer for the life of the server.
    if (this.#buf.length > 4 * this.#initialSize) this.#buf = Buffer.allocUnsafe(this.#initialSize)
    return out
  }

  /** Copies the scratch content into its own buffer: the socket may keep it after write() returns. */
  #copyOut(): Buffer {
    const out = Buffer.allocUnsafe(this.#len)
    copy.call(this.#buf, out, 0, 0, this.#len)
    this.#len = 0
    return out
  }

  #ensure(n: number): void {
    if (this.#len + n <= this.#buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + n))
    copy.call(this.#buf, next, 0, 0, this.#len)
    this.#buf = next
  }

  #raw(b: Buffer): void {
    this.#ensure(b.length)
    copy.call(b, this.#buf, this.#len)
    this.#len += b.length
  }

  /** `<type><text>\r\n`, text being ASCII. */
  #line(type: number, text: string): void {
    const n = text.length
    this.#ensure(n + 3)
    const buf = this.#buf
    let p = this.#len
    buf[p++] = type
    p += buf.write(text, p, n, 'latin1')
    buf[p++] = 13
    buf[p++] = 10
    this.#len = p
  }

  /** `<type><text>\r\n`, text being any Unicode. */
  #textLine(type: number, text: string): void {
    const n = Buffer.byteLength(text)
    this.#ensure(n + 3)
    const buf = this.#buf
    let p = this.#len
    buf[p++] = type
    p += buf.write(text, p, n, 'utf8')
    buf[p++] = 13
    buf[p++] = 10
    this.#len = p
  }

  #header(type: number, len: number): void {
    this.#ensure(24)
    const buf = this.#buf
    let p = this.#len
    buf[p++] = type
    if (len < 10) {
      buf[p++] = 48 + len
    } else if (len < 100) {
      buf[p++] = 48 + ((len / 10) | 0)
      buf[p++] = 48 + (len % 10)
    } else {
      p += buf.write(String(len), p, 'latin1')
    }
    buf[p++] = 13
    buf[p++] = 10
    this.#len = p
  }

  #bulk(value: Buffer): void {
    const n = value.length
    this.#header(36, n)
    if (n >= BY_REFERENCE) {
      this.#parts.push(this.#copyOut(), value, CRLF)
      this.#partsBytes += this.#parts[this.#parts.length - 3]!.length + n + 2
      return
    }
    this.#ensure(n + 2)
    const buf = this.#buf
    copy.call(value, buf, this.#len)
    let p = this.#len + n
    buf[p++] = 13
    buf[p++] = 10
    this.#len = p
  }

  #bulkString(s: string, type = 36, encoding: 'utf8' | 'latin1' = 'utf8'): void {
    const n = encoding === 'latin1' ? s.length : Buffer.byteLength(s)
    this.#header(type, n)
    this.#ensure(n + 2)
    const buf = this.#buf
    let p = this.#len
    p += encoding === 'latin1' ? latin1Write(buf, s, p, n) : buf.write(s, p, n, 'utf8')
    buf[p++] = 13
    buf[p++] = 10
    this.#len = p
  }
}

/** Encodes one reply into a fresh buffer (tests, tools; the server uses a {@link ReplyWriter}). */
export function encodeReply(reply: Reply, resp: 2 | 3 = 2): Buffer {
  const w = new ReplyWriter(256)
  w.write(reply, resp)
  const parts = w.take()
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts)
}

/** Encodes a request as a RESP array of bulk strings, as clients send it. */
export function encodeCommand(args: ReadonlyArray<Buffer | string>): Buffer {
  const w = new ReplyWriter(256)
  w.write(args as Reply[], 2)
  const parts = w.take()
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts)
}

/** Redis's text for a double: shortest round-trip form, `inf`, `-inf`, `nan`. */
export function formatDouble(x: number): string {
  if (Number.isNaN(x)) return 'nan'
  if (x === Number.POSITIVE_INFINITY) return 'inf'
  if (x === Number.NEGATIVE_INFINITY) return '-inf'
  return String(x)
}

/** Simple strings and errors cannot hold CR or LF: Redis replaces them with spaces. */
function oneLine(s: string): string {
  return /[\r\n]/.test(s) ? s.replace(/[\r\n]/g, ' ') : s
}
