// Options of a cache node, their defaults, and their validation (TypeError naming the bad option).
import { DEFAULT_DECODER_LIMITS } from '../resp/decoder.js'
import type { MaxmemoryPolicy } from './keyspace.js'

export type { MaxmemoryPolicy }

/** Options of {@link createNode}. Every one is optional. */
export interface NodeOptions {
  /**
   * TCP port to listen on; 0 picks a free one (read it from `listen()` or `address`).
   * @default 7379
   */
  port?: number
  /**
   * Address to bind. Only loopback by default: exposing a cache without a password is a classic breach.
   * @default '127.0.0.1'
   */
  host?: string
  /**
   * Memory limit for the data, in bytes (keys, values and per-entry overhead); 0 means no limit.
   * @default 268435456 (256 MB)
   */
  maxmemory?: number
  /**
   * `allkeys-lru` evicts the least recently used keys (approximated, as Redis does) to make room;
   * `noeviction` refuses writes with `-OOM command not allowed when used memory > 'maxmemory'.`
   * @default 'allkeys-lru'
   */
  maxmemoryPolicy?: MaxmemoryPolicy
  /**
   * Password every client must give (AUTH or HELLO ... AUTH) before any other command; null for none.
   * @default null
   */
  requirepass?: string | null
  /**
   * Most simultaneous clients; one more gets `-ERR max number of clients reached` and is closed.
   * @default 10000
   */
  maxclients?: number
  /**
   * Largest bulk string (one argument) a client may send, in bytes (Redis's `proto-max-bulk-len`).
   * @default 536870912 (512 MB)
   */
  maxBulkLength?: number
  /**
   * Most arguments in one request, the command name included.
   * @default 1048576
   */
  maxArgs?: number
  /**
   * Longest inline (telnet-style) command line, in bytes.
   * @default 65536
   */
  maxInlineLength?: number
  /**
   * Most bytes one client may have buffered in an incomplete request (Redis's `client-query-buffer-limit`).
   * @default 1073741824 (1 GB)
   */
  maxQueryBuffer?: number
  /**
   * How long `close()` waits for clients to hang up after it ended their connections, in milliseconds,
   * before destroying the sockets.
   * @default 2000
   */
  shutdownTimeout?: number
  /**
   * Wall clock in milliseconds since the epoch, for TTLs and TIME; inject a fake one in tests.
   * @default Date.now
   */
  clock?: () => number
  /**
   * Where the node writes its few log lines (where it listens, shutdown). Silent by default: the CLI passes
   * `console.log`.
   * @default () => {}
   */
  log?: (line: string) => void
}

/** {@link NodeOptions} with every default filled in. */
export type ResolvedNodeOptions = Required<Omit<NodeOptions, 'requirepass'>> & { requirepass: string | null }

/** Fills in defaults and checks every option; throws TypeError naming the first bad one. */
export function resolveNodeOptions(options: NodeOptions = {}): ResolvedNodeOptions {
  const o: ResolvedNodeOptions = {
    port: options.port ?? 7379,
    host: options.host ?? '127.0.0.1',
    maxmemory: options.maxmemory ?? 256 * 1024 * 1024,
    maxmemoryPolicy: options.maxmemoryPolicy ?? 'allkeys-lru',
    requirepass: options.requirepass ?? null,
    maxclients: options.maxclients ?? 10000,
    maxBulkLength: options.maxBulkLength ?? DEFAULT_DECODER_LIMITS.maxBulkLength,
    maxArgs: options.maxArgs ?? DEFAULT_DECODER_LIMITS.maxArgs,
    maxInlineLength: options.maxInlineLength ?? DEFAULT_DECODER_LIMITS.maxInlineLength,
    maxQueryBuffer: options.maxQueryBuffer ?? DEFAULT_DECODER_LIMITS.maxQueryBuffer,
    shutdownTimeout: options.shutdownTimeout ?? 2000,
    clock: options.clock ?? Date.now,
    log: options.log ?? (() => {}),
  }
  integer('port', o.port, 0, 65535)
  if (typeof o.host !== 'string' || o.host === '')
    throw new TypeError(`host: expected an address, got ${o.host}`)
  integer('maxmemory', o.maxmemory, 0)
  if (o.maxmemoryPolicy !== 'allkeys-lru' && o.maxmemoryPolicy !== 'noeviction') {
    throw new TypeError(`maxmemoryPolicy: expected 'allkeys-lru' or 'noeviction', got '${o.maxmemoryPolicy}'`)
  }
  if (o.requirepass !== null && (typeof o.requirepass !== 'string' || o.requirepass === '')) {
    throw new TypeError('requirepass: expected a non-empty string or null')
  }
  integer('maxclients', o.maxclients, 1)
  integer('maxBulkLength', o.maxBulkLength, 1)
  integer('maxArgs', o.maxArgs, 1)
  integer('maxInlineLength', o.maxInlineLength, 1)
  integer('maxQueryBuffer', o.maxQueryBuffer, 1)
  integer('shutdownTimeout', o.shutdownTimeout, 0)
  if (typeof o.clock !== 'function') throw new TypeError('clock: expected a function returning milliseconds')
  if (typeof o.log !== 'function') throw new TypeError('log: expected a function')
  return o
}

function integer(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new TypeError(`${name}: expected an integer from ${min} to ${max}, got ${String(value)}`)
  }
}
