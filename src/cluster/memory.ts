// The in-process reference Backend: a Map with TTLs on an injectable clock, for tests and single-process use.
import { type Backend, ReplyError, type SetOptions, type Entry as Stored } from './backend.js'
import { compareStored } from './envelope.js'

/** Options of {@link MemoryBackend}. */
export interface MemoryBackendOptions {
  /**
   * Milliseconds since the epoch, used for TTLs; inject a fake clock in tests.
   * @default Date.now
   */
  readonly clock?: () => number
}

interface Entry {
  value: Buffer
  /** Absolute expiry in ms, or 0 for none. */
  expiresAt: number
}

const NOT_INTEGER = 'ERR value is not an integer or out of range'

/**
 * A {@link Backend} held in process memory, with Redis semantics for every method (TTL in ms, NX, INCRBY on
 * decimal integers, PEXPIRE with a non-positive TTL deleting the key). Expired entries are dropped when touched.
 * The reference implementation: every other backend must pass the same contract suite.
 */
export class MemoryBackend implements Backend {
  readonly id: string
  readonly #map = new Map<string, Entry>()
  readonly #clock: () => number
  #closed = false

  constructor(id = 'memory', options: MemoryBackendOptions = {}) {
    const { clock = Date.now } = options
    if (typeof clock !== 'function') throw new TypeError('MemoryBackend: clock must be a function')
    this.id = id
    this.#clock = clock
  }

  /** Number of live (unexpired) keys. */
  get size(): number {
    let n = 0
    for (const key of [...this.#map.keys()]) if (this.#live(key) !== undefined) n++
    return n
  }

  #check(): void {
    if (this.#closed) throw new Error(`backend "${this.id}" is closed`)
  }

  #live(key: string): Entry | undefined {
    const e = this.#map.get(key)
    if (e === undefined) return undefined
    if (e.expiresAt !== 0 && e.expiresAt <= this.#clock()) {
      this.#map.delete(key)
      return undefined
    }
    return e
  }

  #put(key: string, value: Buffer, ttlMs: number | undefined): void {
    if (ttlMs !== undefined && (!Number.isInteger(ttlMs) || ttlMs < 0)) {
      throw new ReplyError(`ERR invalid expire time in 'set' command (ttlMs ${ttlMs})`)
    }
    const expiresAt = ttlMs === undefined || ttlMs === 0 ? 0 : this.#clock() + ttlMs
    // Copy: callers may reuse their buffers, and a real server keeps its own bytes too.
    this.#map.set(key, { value: Buffer.from(value), expiresAt })
  }

  async get(key: string): Promise<Buffer | null> {
    this.#check()
    const e = this.#live(key)
    return e === undefined ? null : Buffer.from(e.value)
  }

  async mget(keys: readonly string[]): Promise<(Buffer | null)[]> {
    this.#check()
    return keys.map((k) => {
      const e = this.#live(k)
      return e === undefined ? null : Buffer.from(e.value)
    })
  }

  async set(key: string, value: Buffer, options: SetOptions = {}): Promise<boolean> {
    this.#check()
    if (options.nx === true && this.#live(key) !== undefined) return false
    this.#put(key, value, options.ttlMs)
    return true
  }

  async mset(
    entries: ReadonlyArray<readonly [key: string, value: Buffer, options?: SetOptions]>,
  ): Promise<void> {
    this.#check()
    for (const [key, value, options] of entries) {
      if (options?.nx === true && this.#live(key) !== undefined) continue
      this.#put(key, value, options?.ttlMs)
    }
  }

  async del(keys: readonly string[]): Promise<number> {
    this.#check()
    let n = 0
    for (const k of keys) if (this.#live(k) !== undefined && this.#map.delete(k)) n++
    return n
  }

  async incrBy(key: string, by: number): Promise<number> {
    this.#check()
    if (!Number.isSafeInteger(by)) throw new ReplyError(NOT_INTEGER)
    const e = this.#live(key)
    let current = 0
    if (e !== undefined) {
      const text = e.value.toString('latin1')
      if (!/^-?(0|[1-9][0-9]*)$/.test(text)) throw new ReplyError(NOT_INTEGER)
      current = Number(text)
      if (!Number.isSafeInteger(current)) throw new ReplyError(NOT_INTEGER)
    }
    const next = current + by
    if (!Number.isSafeInteger(next)) throw new ReplyError('ERR increment or decrement would overflow')
    const value = Buffer.from(String(next), 'latin1')
    if (e === undefined) this.#map.set(key, { value, expiresAt: 0 })
    else e.value = value // INCRBY keeps the TTL, as in Redis.
    return next
  }

  async exists(keys: readonly string[]): Promise<number> {
    this.#check()
    return keys.filter((k) => this.#live(k) !== undefined).length
  }

  async pexpire(key: string, ttlMs: number): Promise<boolean> {
    this.#check()
    if (!Number.isInteger(ttlMs)) throw new ReplyError(NOT_INTEGER)
    const e = this.#live(key)
    if (e === undefined) return false
    if (ttlMs <= 0) this.#map.delete(key)
    else e.expiresAt = this.#clock() + ttlMs
    return true
  }

  async pttl(key: string): Promise<number> {
    this.#check()
    const e = this.#live(key)
    if (e === undefined) return -2
    if (e.expiresAt === 0) return -1
    return e.expiresAt - this.#clock()
  }

  /**
   * Cursor = the last key returned, and keys are visited in sorted order, so every key present for the whole
   * scan is returned exactly once even when others are added or removed in between.
   */
  async scan(cursor: string, count: number): Promise<[cursor: string, keys: string[]]> {
    this.#check()
    const after = cursor === '0' ? null : Buffer.from(cursor, 'base64url').toString('utf8')
    const keys = [...this.#map.keys()].filter((k) => after === null || k > after).sort()
    const out: string[] = []
    let last: string | null = null
    for (const k of keys) {
      if (out.length >= Math.max(1, count)) break
      last = k
      if (this.#live(k) !== undefined) out.push(k)
    }
    const done = last === null || last === keys[keys.length - 1]
    return [done ? '0' : Buffer.from(last!, 'utf8').toString('base64url'), out]
  }

  async dump(keys: readonly string[]): Promise<(Stored | null)[]> {
    this.#check()
    const now = this.#clock()
    return keys.map((key) => {
      const e = this.#live(key)
      if (e === undefined) return null
      return { key, value: Buffer.from(e.value), ttlMs: e.expiresAt === 0 ? 0 : e.expiresAt - now }
    })
  }

  async restore(entries: readonly Stored[]): Promise<boolean[]> {
    this.#check()
    return entries.map(({ key, value, ttlMs }) => {
      const cur = this.#live(key)
      if (cur !== undefined && compareStored(value, cur.value) <= 0) return false
      this.#put(key, value, ttlMs)
      return true
    })
  }

  async dbsize(): Promise<number> {
    this.#check()
    return this.size
  }

  async flush(): Promise<void> {
    this.#check()
    this.#map.clear()
  }

  async ping(): Promise<void> {
    this.#check()
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#map.clear()
  }
}
