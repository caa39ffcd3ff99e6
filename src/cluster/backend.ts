// The one small interface every cache server sits behind: our node, Redis/Valkey, or process memory.
import { compareStored } from './envelope.js'

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
  /**
   * Migration: the stored bytes and remaining TTL of each key in one round trip (null for a missing key, or
   * one that holds another type). Optional: without it the cluster uses {@link dumpWith}.
   */
  dump?(keys: readonly string[]): Promise<(Entry | null)[]>
  /**
   * Migration: writes each entry unless its key holds bytes that are newer or equal by
   * {@link compareStored} (version, then bytes), atomically per key, so a write made during a move is never
   * overwritten by an older copy. Per entry, true when written. Optional: without it the cluster uses
   * {@link restoreWith}, which is not atomic.
   */
  restore?(entries: readonly Entry[]): Promise<boolean[]>
  /** Number of keys on the server (DBSIZE), for migration progress estimates. Optional. */
  dbsize?(): Promise<number>
}

/** A stored value as migration moves it: the bytes and the remaining TTL. */
export interface Entry {
  readonly key: string
  readonly value: Buffer
  /** Remaining time to live in ms; 0 for none. */
  readonly ttlMs: number
}

/** {@link Backend.dump} with plain commands: one MGET and one PTTL per key (pipelined by RESP backends). */
export async function dumpWith(b: Backend, keys: readonly string[]): Promise<(Entry | null)[]> {
  if (keys.length === 0) return []
  const [values, ttls] = await Promise.all([b.mget(keys), Promise.all(keys.map((k) => b.pttl(k)))])
  return keys.map((key, i) => {
    const value = values[i] ?? null
    const ttl = ttls[i]!
    // -2: expired between the two reads; a TTL of 0 would mean "none" on restore, so keep at least 1 ms.
    if (value === null || ttl === -2) return null
    return { key, value, ttlMs: ttl < 0 ? 0 : Math.max(1, ttl) }
  })
}

/**
 * {@link Backend.restore} with plain commands: GET, compare, SET. Not atomic: a write landing between the GET
 * and the SET can be overwritten by the copy. Backends that can compare on the server should implement
 * `restore` instead.
 */
export async function restoreWith(b: Backend, entries: readonly Entry[]): Promise<boolean[]> {
  if (entries.length === 0) return []
  const current = await b.mget(entries.map((e) => e.key))
  return Promise.all(
    entries.map(async (e, i) => {
      const cur = current[i] ?? null
      if (cur !== null && compareStored(e.value, cur) <= 0) return false
      return b.set(e.key, e.value, e.ttlMs > 0 ? { ttlMs: e.ttlMs } : undefined)
    }),
  )
}
