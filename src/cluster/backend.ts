// The one small interface every cache server sits behind: our node, Redis/Valkey, or process memory.

/** Options of a write. */
export interface SetOptions {
  /** Time to live in milliseconds; absent or 0 means no expiry. */
  readonly ttlMs?: number
  /** Only set when the key does not exist (SET NX). */
  readonly nx?: boolean
}

/**
 * The server answered a command with an error (wrong type, not an integer, ...): the server is healthy and
 * the command was refused. Backends reject with an error named `ReplyError` (this class, or ioredis's) for
 * such answers; any other rejection counts as a failure of the server or its connection.
 */
export class ReplyError extends Error {
  override get name(): string {
    return 'ReplyError'
  }
}

/** True when `err` is a command refused by a healthy server rather than a failure of the server. */
export function isReplyError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError'
}

/**
 * A cache server as the cluster sees it. Keys are strings (binary-safe as latin1 where needed), values bytes.
 * Methods reject on failure; the cluster adds timeouts, health tracking and failover around them. A rejection
 * with a {@link ReplyError} (by name) means the server refused the command; any other means it failed.
 * The memory backend is the reference implementation; every backend passes the same contract suite.
 */
export interface Backend {
  /** The server id this backend was made for. */
  readonly id: string
  get(key: string): Promise<Buffer | null>
  /** Values in the order of `keys`, `null` for misses. */
  mget(keys: readonly string[]): Promise<(Buffer | null)[]>
  /** Resolves true when the value was written (false only when `nx` and the key existed). */
  set(key: string, value: Buffer, options?: SetOptions): Promise<boolean>
  /** Writes several entries in one round trip (pipelined). */
  mset(entries: ReadonlyArray<readonly [key: string, value: Buffer, options?: SetOptions]>): Promise<void>
  /** Number of keys removed. */
  del(keys: readonly string[]): Promise<number>
  /** INCRBY: the new value. */
  incrBy(key: string, by: number): Promise<number>
  /** Number of the keys that exist. */
  exists(keys: readonly string[]): Promise<number>
  /** Sets a TTL; false when the key does not exist. */
  pexpire(key: string, ttlMs: number): Promise<boolean>
  /** Remaining TTL in ms: -2 when the key does not exist, -1 when it has no TTL. */
  pttl(key: string): Promise<number>
  /** One step of a full keyspace scan: the next cursor ('0' when done) and a batch of keys. */
  scan(cursor: string, count: number): Promise<[cursor: string, keys: string[]]>
  /** Removes every key (used to fence a server that returns after being down, in cache mode). */
  flush(): Promise<void>
  /** Resolves when the server answers; used by background health probes. */
  ping(): Promise<void>
  /** Closes connections; pending calls reject. */
  close(): Promise<void>
}
