// A Backend on one pipelined connection per server, built on our codec, that can also pass raw replies through.
import type { Socket } from 'node:net'
import { copyBytes, subarray } from '../buffers.js'
import { ReplyError as ErrorReply, NULL_ARRAY, type Reply, Status } from '../resp/reply.js'
import { ReplyDecoder } from '../resp/reply-decoder.js'
import { bulkArray, bulkReply, header, INCOMPLETE, replyEnd } from '../resp/scan.js'
import { connectReading } from '../sockets.js'
import { type Backend, type Entry, ReplyError, type SetOptions } from './backend.js'
import { Scripts } from './scripts.js'

// Unexported on purpose, so that V8 inlines the character read (see placement/hash.ts).
const charCodeAt = String.prototype.charCodeAt

/**
 * Receives the outcome of one raw command: exactly one of its methods is called, once. They run inside the
 * connection's input handling and must not throw.
 */
export interface RawCallback {
  /** The bytes of the reply, error replies included (a refused command is an answer, not a failure). */
  reply(raw: Buffer): void
  /** The command failed (the connection dropped or could not be opened). */
  fail(err: Error): void
}

/** A {@link Backend} that can also send any command and hand back its reply as raw bytes. */
export interface RawBackend extends Backend {
  /**
   * Sends one command (arguments as given; strings are written as UTF-8) and resolves with the bytes of its
   * reply, error replies included (a refused command is an answer, not a failure). Rejects when the
   * connection fails.
   */
  send(args: ReadonlyArray<Buffer | string>): Promise<Buffer>
  /**
   * {@link send} with a callback instead of a promise (a proxy's hot path: no promise per command). `urgent`:
   * the command goes out at the end of this event-loop turn at the latest, and takes the commands waiting with
   * it (for a part of a request that waits for several servers, whose latency is the slowest part's).
   */
  call(args: ReadonlyArray<Buffer | string>, callback: RawCallback, urgent?: boolean): void
}

/** True when `backend` is a {@link RawBackend}. */
export function isRawBackend(backend: Backend): backend is RawBackend {
  const b = backend as Partial<RawBackend>
  return typeof b.send === 'function' && typeof b.call === 'function'
}

/** Options of {@link PipelinedBackend}. */
export interface PipelinedBackendOptions {
  /** Server id (placement identity). */
  readonly id: string
  /** @default '127.0.0.1' */
  readonly host?: string
  readonly port: number
  /** Password sent with AUTH as the first command of every connection; null for none. @default null */
  readonly password?: string | null
  /**
   * How long establishing the TCP connection may take, in ms (the cluster's `timeoutMs` bounds each call).
   * @default 1000
   */
  readonly connectTimeoutMs?: number
  /**
   * When commands are written. `'idle'`: a command on a connection with no reply outstanding is written at
   * once (least latency for a lone call); others wait for the end of the event-loop turn and share one write.
   * `'batch'`: every command waits for the end of the turn, so the commands of many callers share one write
   * even when the connection was idle; and while commands keep coming, they wait on: two or more commands
   * that were joined by another during the turn wait for the end of the next one, until a turn adds none,
   * {@link BATCH_BYTES} are waiting, they have waited {@link BATCH_TURNS} turns or an urgent command (see
   * {@link RawBackend.call}) joins them. Under load each write then carries more commands: fewer system calls
   * for a proxy that relays many clients, and fewer for the server.
   * @default 'idle'
   */
  readonly flush?: 'idle' | 'batch'
}

const CRLF_LEN = 2

/**
 * In `flush: 'batch'`, commands stop waiting for more once this many bytes of them are waiting: a write of
 * this size already spreads its system calls over many commands.
 */
export const BATCH_BYTES = 4096

/** In `flush: 'batch'`, the most event-loop turns commands wait for more to join them. */
export const BATCH_TURNS = 8

/**
 * One TCP connection to a RESP server, shared by every caller. A command on an idle connection is written at
 * once (unless `flush: 'batch'`); while replies are awaited, the commands issued in one event-loop turn are
 * written together (one `write` per turn, flushed from `setImmediate`; with `flush: 'batch'`, commands that
 * keep coming may wait a few turns more). Replies are matched to callers in order, and raw replies are handed
 * back without being decoded. The connection opens on first use; when it drops, every waiting call rejects and
 * the next call reconnects (no offline queue, no retries: the cluster decides what to do with failures).
 */
export class PipelinedBackend implements RawBackend {
  readonly id: string
  readonly #host: string
  readonly #port: number
  readonly #password: string | null
  readonly #connectTimeoutMs: number
  readonly #writeWhenIdle: boolean
  readonly #batch: boolean
  #socket: Socket | null = null
  #connected = false
  #closed = false
  /** Encoded commands not yet written. */
  #out: Buffer = Buffer.allocUnsafe(16 * 1024)
  #outLen = 0
  #flushScheduled = false
  /** Commands in #out. */
  #queued = 0
  /** 'batch' mode: #queued at the end of the last turn the commands in #out waited through, and how many. */
  #queuedBefore = 0
  #turns = 0
  /** 'batch' mode: an urgent command waits in #out, so it is written at the end of this turn. */
  #urgent = false
  /** Writes made (system calls, not commands). */
  #writes = 0
  /** Callers waiting for replies, in the order their commands were written. */
  #waiting: (RawCallback | undefined)[] = []
  #head = 0
  /** Unparsed input: the start of an incomplete reply, and chunks received after it. */
  #rest: Buffer | null = null
  #more: Buffer[] = []
  #moreBytes = 0
  /** Bytes the incomplete reply needs in total before it can complete (0 = unknown). */
  #need = 0
  readonly #decoder = new ReplyDecoder()
  readonly #flush = () => this.#write()

  constructor(options: PipelinedBackendOptions) {
    const { id, host = '127.0.0.1', port, password = null, connectTimeoutMs = 1000, flush = 'idle' } = options
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new TypeError(`PipelinedBackend: option port must be an integer from 1 to 65535, got ${port}`)
    }
    this.id = id
    this.#host = host
    this.#port = port
    this.#password = password
    this.#connectTimeoutMs = connectTimeoutMs
    if (flush !== 'idle' && flush !== 'batch') {
      throw new TypeError(`PipelinedBackend: option flush must be 'idle' or 'batch', got ${String(flush)}`)
    }
    this.#writeWhenIdle = flush === 'idle'
    this.#batch = flush === 'batch'
  }

  /** Callers waiting for a reply (for stats and tests). */
  get pending(): number {
    return this.#waiting.length - this.#head
  }

  /** Writes made to the connection (each carries one or more commands), for stats and tests. */
  get writes(): number {
    return this.#writes
  }

  /** True while a TCP connection is open (or being opened). */
  get connected(): boolean {
    return this.#socket !== null
  }

  send(args: ReadonlyArray<Buffer | string>): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => this.call(args, { reply: resolve, fail: reject }))
  }

  call(args: ReadonlyArray<Buffer | string>, callback: RawCallback, urgent = false): void {
    if (this.#closed) {
      callback.fail(new Error(`backend "${this.id}" is closed`))
      return
    }
    if (this.#socket === null) this.#open()
    // An idle connection writes at once (a lone call pays no wait); with calls in flight, commands issued
    // in this turn are gathered and written together when it ends.
    const idle =
      this.#writeWhenIdle && this.#connected && this.#head === this.#waiting.length && this.#outLen === 0
    this.#encode(args)
    this.#queued++
    this.#waiting.push(callback)
    if (urgent) this.#urgent = true
    if (idle) this.#write()
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true
      setImmediate(this.#flush)
    }
  }

  #open(): void {
    const socket: Socket = connectReading({ host: this.#host, port: this.#port, noDelay: true }, (chunk) => {
      if (this.#socket === socket) this.#onData(chunk)
    })
    this.#socket = socket
    this.#connected = false
    socket.setTimeout(this.#connectTimeoutMs)
    socket.on('timeout', () => {
      socket.destroy(
        new Error(`connecting to ${this.#host}:${this.#port} took over ${this.#connectTimeoutMs} ms`),
      )
    })
    socket.on('connect', () => {
      if (this.#socket !== socket) return
      socket.setTimeout(0)
      this.#connected = true
      // Commands issued while connecting go now, unless a flush this turn will take them.
      if (!this.#flushScheduled) this.#write()
    })
    socket.on('error', () => {}) // reported through 'close' below
    socket.on('close', () => {
      if (this.#socket !== socket) return
      this.#drop(new Error(`connection to server "${this.id}" (${this.#host}:${this.#port}) was lost`))
    })
    if (this.#password !== null) {
      // AUTH goes first on the connection; a refusal closes it, failing every call queued behind it.
      this.#encode(['AUTH', this.#password])
      this.#queued++
      this.#waiting.push({
        reply: (raw) => {
          if (raw[0] !== 45) return
          socket.destroy()
          this.#drop(new Error(`server "${this.id}" refused the password: ${raw.toString('utf8').trim()}`))
        },
        fail: () => {},
      })
    }
  }

  /** Forgets the connection and fails every waiting caller with `err`. */
  #drop(err: Error): void {
    const socket = this.#socket
    this.#socket = null
    this.#connected = false
    socket?.destroy()
    this.#outLen = 0
    this.#queued = 0
    this.#queuedBefore = 0
    this.#turns = 0
    this.#urgent = false
    this.#rest = null
    this.#more = []
    this.#moreBytes = 0
    this.#need = 0
    const waiting = this.#waiting
    const head = this.#head
    this.#waiting = []
    this.#head = 0
    for (let i = head; i < waiting.length; i++) waiting[i]!.fail(err)
  }

  #write(): void {
    this.#flushScheduled = false
    if (!this.#connected || this.#outLen === 0) return
    if (this.#batch) {
      if (!this.#urgent && this.#waitAnotherTurn()) {
        this.#flushScheduled = true
        setImmediate(this.#flush)
        return
      }
      this.#urgent = false
      this.#queuedBefore = 0
      this.#turns = 0
    }
    this.#queued = 0
    this.#writes++
    const out = Buffer.allocUnsafe(this.#outLen)
    this.#out.copy(out, 0, 0, this.#outLen)
    this.#outLen = 0
    this.#socket!.write(out)
  }

  #onData(chunk: Buffer): void {
    let buf: Buffer
    if (this.#rest === null) {
      buf = chunk
    } else {
      this.#more.push(chunk)
      this.#moreBytes += chunk.length
      // A large reply arriving in pieces: wait until all of it is here before joining (linear, not quadratic).
      if (this.#need > 0 && this.#rest.length + this.#moreBytes < this.#need) return
      buf = Buffer.concat([this.#rest, ...this.#more])
      this.#rest = null
      this.#more = []
      this.#moreBytes = 0
    }
    let pos = 0
    try {
      const socket = this.#socket
      while (pos < buf.length && this.#socket === socket) {
        const end = replyEnd(buf, pos)
        if (end === INCOMPLETE) break
        this.#deliver(subarray(buf, pos, end))
        pos = end
      }
    } catch (err) {
      this.#drop(new Error(`server "${this.id}" sent a malformed reply: ${(err as Error).message}`))
      return
    }
    if (pos < buf.length) {
      this.#rest = subarray(buf, pos, buf.length)
      this.#need = bulkNeed(this.#rest)
    } else {
      this.#need = 0
    }
  }

  #deliver(raw: Buffer): void {
    const i = this.#head
    const waiting = this.#waiting
    const callback = waiting[i]
    if (callback === undefined) throw new Error('reply without a request')
    waiting[i] = undefined
    this.#head = i + 1
    if (this.#head === waiting.length) {
      waiting.length = 0
      this.#head = 0
    } else if (this.#head >= 1024 && this.#head * 2 >= waiting.length) {
      this.#waiting = waiting.slice(this.#head)
      this.#head = 0
    }
    callback.reply(raw)
  }

  /**
   * 'batch' mode, at the end of a turn: true when the commands waiting should wait for the next one. They do
   * while commands keep coming (this turn added some, and more than one waits), up to a size and a number of
   * turns; a lone command goes at once.
   */
  #waitAnotherTurn(): boolean {
    const queued = this.#queued
    if (
      queued > this.#queuedBefore &&
      queued > 1 &&
      this.#outLen < BATCH_BYTES &&
      this.#turns < BATCH_TURNS
    ) {
      this.#queuedBefore = queued
      this.#turns++
      return true
    }
    return false
  }

  /** Appends `*<n>\r\n` and each argument as a bulk string to the output buffer. */
  #encode(args: ReadonlyArray<Buffer | string>): void {
    // An upper bound: a UTF-16 code unit takes at most 3 bytes of UTF-8.
    let size = 16
    for (const a of args) size += (typeof a === 'string' ? 3 * a.length : a.length) + 16
    this.#ensure(size)
    const out = this.#out
    let p = header(out, this.#outLen, 42, args.length)
    for (const a of args) {
      if (typeof a === 'string') {
        // Short ASCII strings (most keys) are copied here: cheaper than two calls into the runtime.
        const start = p
        const len = a.length
        let ascii = len <= 64
        if (ascii) {
          p = header(out, p, 36, len)
          for (let i = 0; i < len; i++) {
            const c = charCodeAt.call(a, i)
            if (c >= 0x80) {
              ascii = false
              break
            }
            out[p++] = c
          }
        }
        if (!ascii) {
          const n = Buffer.byteLength(a)
          p = header(out, start, 36, n)
          p += out.write(a, p, n, 'utf8')
        }
      } else {
        p = header(out, p, 36, a.length)
        p += copyBytes(a, out, p, 0, a.length)
      }
      out[p++] = 13
      out[p++] = 10
    }
    this.#outLen = p
  }

  #ensure(n: number): void {
    if (this.#outLen + n <= this.#out.length) return
    const next = Buffer.allocUnsafe(Math.max(this.#out.length * 2, this.#outLen + n))
    this.#out.copy(next, 0, 0, this.#outLen)
    this.#out = next
  }

  /** Sends a command and decodes its reply; an error reply rejects with the cluster's {@link ReplyError}. */
  async #command(args: ReadonlyArray<Buffer | string>): Promise<Reply> {
    return this.#decode(await this.send(args))
  }

  /** Decodes a raw reply; an error reply throws the cluster's {@link ReplyError}. */
  #decode(raw: Buffer): Reply {
    const reply = this.#decoder.push(raw)[0]
    if (reply instanceof ErrorReply) throw new ReplyError(reply.message)
    if (reply === undefined) throw new Error(`server "${this.id}" sent an undecodable reply`)
    return reply
  }

  /** Write-if-newer copies and dumps for migrations, as server-side scripts where the server has them. */
  readonly #scripts = new Scripts(this, (args) => this.#command(args))

  dump(keys: readonly string[]): Promise<(Entry | null)[]> {
    return this.#scripts.dump(keys)
  }

  restore(entries: readonly Entry[]): Promise<boolean[]> {
    return this.#scripts.restore(entries)
  }

  // GET and MGET read the common reply shapes straight from the raw bytes, and decode anything else in full.
  // The values are slices of a copy of the reply: a slice of the raw bytes would pin the whole socket chunk.

  async get(key: string): Promise<Buffer | null> {
    const raw = await this.send(['GET', key])
    const v = bulkReply(raw)
    if (v !== undefined) return v === null ? null : Buffer.from(v)
    return bulk(this.#decode(raw))
  }

  async mget(keys: readonly string[]): Promise<(Buffer | null)[]> {
    if (keys.length === 0) return []
    const raw = await this.send(['MGET', ...keys])
    const vals = raw[0] === 42 ? bulkArray(Buffer.from(raw)) : undefined
    if (vals !== undefined) return vals
    const r = this.#decode(raw)
    if (!Array.isArray(r)) throw new Error(`server "${this.id}" answered MGET with a non-array`)
    return r.map(bulk)
  }

  async set(key: string, value: Buffer, options: SetOptions = {}): Promise<boolean> {
    const { ttlMs = 0, nx = false } = options
    const args: (Buffer | string)[] = ['SET', key, value]
    if (ttlMs > 0) args.push('PX', String(ttlMs))
    if (nx) args.push('NX')
    const r = await this.#command(args)
    return r instanceof Status
  }

  async mset(
    entries: ReadonlyArray<readonly [key: string, value: Buffer, options?: SetOptions]>,
  ): Promise<void> {
    if (entries.length === 0) return
    if (entries.every(([, , o]) => o === undefined || ((o.ttlMs ?? 0) === 0 && o.nx !== true))) {
      const args: (string | Buffer)[] = ['MSET']
      for (const [k, v] of entries) args.push(k, v)
      await this.#command(args)
      return
    }
    // Entries with TTL or NX: one SET each, written together in this turn.
    await Promise.all(entries.map(([k, v, o]) => this.set(k, v, o)))
  }

  async del(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0
    return int(await this.#command(['DEL', ...keys]))
  }

  async incrBy(key: string, by: number): Promise<number> {
    return int(await this.#command(['INCRBY', key, String(by)]))
  }

  async exists(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0
    return int(await this.#command(['EXISTS', ...keys]))
  }

  async pexpire(key: string, ttlMs: number): Promise<boolean> {
    return int(await this.#command(['PEXPIRE', key, String(ttlMs)])) === 1
  }

  async pttl(key: string): Promise<number> {
    return int(await this.#command(['PTTL', key]))
  }

  async scan(cursor: string, count: number): Promise<[cursor: string, keys: string[]]> {
    const r = await this.#command(['SCAN', cursor, 'COUNT', String(count)])
    if (!Array.isArray(r) || !Array.isArray(r[1])) throw new Error(`server "${this.id}" answered SCAN oddly`)
    return [String(bulk(r[0]!)), r[1].map((k) => String(bulk(k)))]
  }

  async flush(): Promise<void> {
    await this.#command(['FLUSHDB'])
  }

  async ping(): Promise<void> {
    await this.#command(['PING'])
  }

  /** Keys on the server, for migration progress (total and ETA). */
  async dbsize(): Promise<number> {
    return int(await this.#command(['DBSIZE']))
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#drop(new Error(`backend "${this.id}" is closed`))
  }
}

/** For an incomplete bulk string whose header is complete: the total bytes it needs; else 0. */
function bulkNeed(rest: Buffer): number {
  if (rest[0] !== 36) return 0
  const lf = rest.indexOf(10)
  if (lf === -1) return 0
  const n = Number(rest.toString('latin1', 1, lf - 1))
  return Number.isSafeInteger(n) && n >= 0 ? lf + 1 + n + CRLF_LEN : 0
}

function bulk(r: Reply): Buffer | null {
  if (r === null || r === NULL_ARRAY) return null
  if (Buffer.isBuffer(r)) return r
  if (typeof r === 'string') return Buffer.from(r)
  if (r instanceof Status) return Buffer.from(r.text)
  throw new Error(`expected a bulk string reply, got ${typeof r}`)
}

function int(r: Reply): number {
  if (typeof r === 'number') return r
  if (typeof r === 'bigint') return Number(r)
  throw new Error(`expected an integer reply, got ${typeof r}`)
}
