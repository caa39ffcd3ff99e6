// A Backend for any RESP server (our node, Redis, Valkey) on one pipelined ioredis connection per server.
import { createHash } from 'node:crypto'
import { Redis } from 'ioredis'
import { type Backend, dumpWith, type Entry, restoreWith, type SetOptions } from './backend.js'

/** KEYS: the keys. Reply: value, PTTL, value, PTTL, ... (false for a missing key or another type). */
const DUMP = `local out = {}
for i, k in ipairs(KEYS) do
  local v = redis.pcall('GET', k)
  if type(v) == 'string' then
    out[2 * i - 1] = v
    out[2 * i] = redis.call('PTTL', k)
  else
    out[2 * i - 1] = false
    out[2 * i] = -2
  end
end
return out`

/**
 * KEYS: the keys; ARGV: value, ttl ms (0 = none) per key. Writes each unless the key holds bytes newer or equal
 * by compareStored (envelope.ts): version bytes 5..12 when the 0xD5 0x01 header is there (else version 0),
 * then the bytes. Compared byte by byte: Lua's string < follows the server's locale. Reply: 1/0 per key.
 */
const RESTORE = `local function hdr(s) return #s >= 16 and string.byte(s, 1) == 213 and string.byte(s, 2) == 1 end
local function cmp(a, b)
  local ha, hb = hdr(a), hdr(b)
  for j = 5, 12 do
    local x = ha and string.byte(a, j) or 0
    local y = hb and string.byte(b, j) or 0
    if x ~= y then return x < y and -1 or 1 end
  end
  if a == b then return 0 end
  for j = 1, math.min(#a, #b) do
    local x, y = string.byte(a, j), string.byte(b, j)
    if x ~= y then return x < y and -1 or 1 end
  end
  return #a < #b and -1 or 1
end
local out = {}
for i, k in ipairs(KEYS) do
  local v, ttl = ARGV[2 * i - 1], tonumber(ARGV[2 * i])
  local cur = redis.pcall('GET', k)
  if type(cur) == 'string' and cmp(v, cur) <= 0 then
    out[i] = 0
  else
    if ttl > 0 then redis.call('SET', k, v, 'PX', ttl) else redis.call('SET', k, v) end
    out[i] = 1
  end
end
return out`

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex')
const DUMP_SHA = sha1(DUMP)
const RESTORE_SHA = sha1(RESTORE)

/** Where a RESP server listens, and how to talk to it. */
export interface RespBackendOptions {
  /** Server id (placement identity). */
  readonly id: string
  /** @default '127.0.0.1' */
  readonly host?: string
  readonly port: number
  /** Password for AUTH; absent or null for none. @default null */
  readonly password?: string | null
  /**
   * How long establishing the TCP connection may take, in ms. The cluster's own `timeoutMs` bounds every call
   * anyway; this only stops a connection attempt from lingering.
   * @default 1000
   */
  readonly connectTimeoutMs?: number
  /**
   * Delay before ioredis reconnects a dropped connection, in ms, growing with each attempt up to this value.
   * Reconnection runs in the background; calls made meanwhile fail at once (no offline queue).
   * @default 500
   */
  readonly maxReconnectDelayMs?: number
}

/**
 * A {@link Backend} over one ioredis connection per server, with automatic pipelining (every command issued in
 * the same tick goes out in one write). Tuned to fail fast rather than hide failures: `lazyConnect` (connects
 * on first use), `enableOfflineQueue: false` (a call on a broken connection rejects at once instead of waiting
 * for a reconnect), `maxRetriesPerRequest: 0` (no command is re-sent after a reconnect: the cluster decides
 * what to retry, and where). Timeouts are the cluster's job (`timeoutMs`), so a frozen server costs one
 * timer per call rather than a hang.
 */
export class RespBackend implements Backend {
  readonly id: string
  readonly #client: Redis
  #connecting: Promise<void> | null = null
  /** False once the server refused EVALSHA/EVAL (our node has no scripting): use plain commands. */
  #scripts = true

  constructor(options: RespBackendOptions) {
    const {
      id,
      host = '127.0.0.1',
      port,
      password = null,
      connectTimeoutMs = 1000,
      maxReconnectDelayMs = 500,
    } = options
    this.id = id
    this.#client = new Redis({
      host,
      port,
      ...(password === null ? {} : { password }),
      lazyConnect: true,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      maxRetriesPerRequest: 0,
      connectTimeout: connectTimeoutMs,
      retryStrategy: (times: number) => Math.min(25 * 2 ** Math.min(times, 10), maxReconnectDelayMs),
    })
    // Connection errors surface as rejected calls; without a listener ioredis would log them.
    this.#client.on('error', () => {})
  }

  /** The underlying ioredis client (for diagnostics; do not issue commands that change connection state). */
  get client(): Redis {
    return this.#client
  }

  /**
   * Resolves when the connection is usable. The first call connects (lazyConnect); concurrent first calls share
   * that attempt. While ioredis reconnects in the background, commands are sent anyway and fail fast.
   */
  #connect(): Promise<void> {
    if (this.#connecting === null) {
      this.#connecting = this.#client.connect().finally(() => {
        this.#connecting = null
      })
    }
    return this.#connecting
  }

  #run<T>(fn: (c: Redis) => Promise<T>): Promise<T> {
    const c = this.#client
    if (c.status === 'wait' || this.#connecting !== null) return this.#connect().then(() => fn(c))
    return fn(c)
  }

  get(key: string): Promise<Buffer | null> {
    return this.#run((c) => c.getBuffer(key))
  }

  async mget(keys: readonly string[]): Promise<(Buffer | null)[]> {
    if (keys.length === 0) return []
    return this.#run((c) => c.mgetBuffer(keys as string[]))
  }

  async set(key: string, value: Buffer, options: SetOptions = {}): Promise<boolean> {
    const { ttlMs = 0, nx = false } = options
    const reply = await this.#run((c) => {
      if (ttlMs > 0) return nx ? c.set(key, value, 'PX', ttlMs, 'NX') : c.set(key, value, 'PX', ttlMs)
      return nx ? c.set(key, value, 'NX') : c.set(key, value)
    })
    return reply === 'OK'
  }

  async mset(
    entries: ReadonlyArray<readonly [key: string, value: Buffer, options?: SetOptions]>,
  ): Promise<void> {
    if (entries.length === 0) return
    if (entries.every(([, , o]) => o === undefined || ((o.ttlMs ?? 0) === 0 && o.nx !== true))) {
      const args: (string | Buffer)[] = []
      for (const [k, v] of entries) args.push(k, v)
      await this.#run((c) => c.mset(args))
      return
    }
    // Mixed TTL/NX: one SET per entry, all in the same tick so auto-pipelining sends them in one write.
    await Promise.all(entries.map(([k, v, o]) => this.set(k, v, o)))
  }

  async del(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0
    return this.#run((c) => c.del(keys as string[]))
  }

  incrBy(key: string, by: number): Promise<number> {
    return this.#run((c) => c.incrby(key, by))
  }

  async exists(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0
    return this.#run((c) => c.exists(keys as string[]))
  }

  async pexpire(key: string, ttlMs: number): Promise<boolean> {
    return (await this.#run((c) => c.pexpire(key, ttlMs))) === 1
  }

  pttl(key: string): Promise<number> {
    return this.#run((c) => c.pttl(key))
  }

  scan(cursor: string, count: number): Promise<[cursor: string, keys: string[]]> {
    return this.#run((c) => c.scan(cursor, 'COUNT', count))
  }

  /** Runs a script by SHA, loading it with EVAL on NOSCRIPT; null when the server has no scripting. */
  async #script(
    sha: string,
    lua: string,
    keys: readonly string[],
    args: readonly (string | Buffer)[],
  ): Promise<unknown[] | null> {
    if (!this.#scripts) return null
    try {
      try {
        return (await this.#run((c) =>
          c.callBuffer('EVALSHA', sha, keys.length, ...keys, ...args),
        )) as unknown[]
      } catch (e) {
        if (!String((e as Error).message).startsWith('NOSCRIPT')) throw e
        return (await this.#run((c) => c.callBuffer('EVAL', lua, keys.length, ...keys, ...args))) as unknown[]
      }
    } catch (e) {
      if (!/unknown command/i.test(String((e as Error).message))) throw e
      this.#scripts = false
      return null
    }
  }

  /** One server-side script per batch (GET and PTTL per key); plain MGET + PTTL on servers without scripting. */
  async dump(keys: readonly string[]): Promise<(Entry | null)[]> {
    if (keys.length === 0) return []
    const reply = await this.#script(DUMP_SHA, DUMP, keys, [])
    if (reply === null) return dumpWith(this, keys)
    return keys.map((key, i) => {
      const value = reply[2 * i]
      const ttl = Number(reply[2 * i + 1])
      if (!Buffer.isBuffer(value) || ttl === -2) return null
      return { key, value, ttlMs: ttl < 0 ? 0 : Math.max(1, ttl) }
    })
  }

  /** Write-if-newer, compared on the server in one script per batch (atomic per key). */
  async restore(entries: readonly Entry[]): Promise<boolean[]> {
    if (entries.length === 0) return []
    const args: (string | Buffer)[] = []
    for (const e of entries) args.push(e.value, String(e.ttlMs))
    const reply = await this.#script(
      RESTORE_SHA,
      RESTORE,
      entries.map((e) => e.key),
      args,
    )
    if (reply === null) return restoreWith(this, entries)
    return reply.map((n) => Number(n) === 1)
  }

  dbsize(): Promise<number> {
    return this.#run((c) => c.dbsize())
  }

  async flush(): Promise<void> {
    await this.#run((c) => c.flushdb())
  }

  async ping(): Promise<void> {
    await this.#run((c) => c.ping())
  }

  async close(): Promise<void> {
    this.#client.disconnect(false)
  }
}
