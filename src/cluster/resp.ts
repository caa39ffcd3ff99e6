// A Backend for any RESP server (our node, Redis, Valkey) on one pipelined ioredis connection per server.
import { Redis } from 'ioredis'
import type { Backend, Entry, SetOptions } from './backend.js'
import { Scripts } from './scripts.js'

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
  /** Write-if-newer copies and dumps for migrations, run as server-side scripts where the server has them. */
  readonly #scripts = new Scripts(this, (args) => {
    const [name, ...rest] = args
    return this.#run((c) => c.callBuffer(String(name), ...rest))
  })

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

  dump(keys: readonly string[]): Promise<(Entry | null)[]> {
    return this.#scripts.dump(keys)
  }

  restore(entries: readonly Entry[]): Promise<boolean[]> {
    return this.#scripts.restore(entries)
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
