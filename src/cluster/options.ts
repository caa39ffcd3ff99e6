// Options of a Cluster, their defaults, and their validation (a TypeError naming the bad option).
import { normalizeServers, type Server, type ServerSpec } from '../placement/server.js'
import type { Backend } from './backend.js'

/** One server of the cluster: its placement identity (id, weight, zone) and where it listens. */
export interface ServerConfig extends ServerSpec {
  /** @default '127.0.0.1' */
  readonly host?: string
  /** TCP port. Required unless a `backendFactory` makes backends that need none. */
  readonly port?: number
  /** Password (AUTH) of this server, if it has one. @default null */
  readonly password?: string | null
}

/** A value the cluster stores: strings are written as UTF-8, numbers as their decimal text. */
export type Value = string | Buffer | Uint8Array | number

/** A read-through loader: the value from the origin, or null/undefined when the origin has none. */
export type Loader = (key: string) => Promise<Value | null | undefined> | Value | null | undefined

/** Options of {@link Cluster}. */
export interface ClusterOptions {
  /** The servers. Only `id` and `weight` (and `zone` for replicas) decide placement. */
  readonly servers: readonly ServerConfig[]
  /**
   * Makes the backend of one server. Inject memory or fake backends in tests, or another protocol.
   * @default a PipelinedBackend (one pipelined connection, on the project's RESP codec) to `host:port` with
   *   `password`
   */
  readonly backendFactory?: (server: ResolvedServer) => Backend
  /**
   * `'cache'`: one copy per key on its owner, read-through from `loader`, a server that returns is flushed.
   * `'store'`: `replicas` copies, versioned, acknowledged by `writeConcern`, repaired on read.
   * @default 'cache'
   */
  readonly mode?: 'cache' | 'store'
  /** Cache mode: loads a missing key from the origin (coalesced per key, capped by `maxConcurrentLoads`). @default none */
  readonly loader?: Loader
  /** Cache mode: TTL of values written by the loader, in ms; 0 for none (the servers' LRU evicts). @default 0 */
  readonly loadTtlMs?: number
  /** Hard timeout of every call to a server, in ms: a frozen server costs this, never a hang. @default 500 */
  readonly timeoutMs?: number
  /** Consecutive failures (errors or timeouts) after which a server is marked down. @default 3 */
  readonly failureThreshold?: number
  /** First delay before probing a down server, in ms; doubles on each failed probe, with jitter. @default 100 */
  readonly probeMinMs?: number
  /** Longest delay between two probes of a down server, in ms. @default 5000 */
  readonly probeMaxMs?: number
  /**
   * Store mode: copies of each value, on the first `replicas` live servers of its priority list (distinct zones
   * first). Must not exceed the number of servers.
   * @default 2 (or the number of servers, if fewer)
   */
  readonly replicas?: number
  /**
   * Store mode: acknowledgements a write waits for: `'all'` replicas, a `'majority'` (floor(r/2)+1), or a
   * number from 1 to `replicas`. Reads wait for `replicas - w + 1` answers, so that they see every
   * acknowledged write.
   * @default 'majority'
   */
  readonly writeConcern?: 'all' | 'majority' | number
  /** Cache mode: how long a loader miss (null/undefined) is remembered, in ms; 0 to not cache misses. @default 5000 */
  readonly negativeTtlMs?: number
  /**
   * Cache mode: for values with a TTL, how long past it a stale value may still be served (while one
   * background load refreshes it), in ms; 0 to disable.
   * @default 0
   */
  readonly staleWhileRevalidateMs?: number
  /** Cache mode: most loader calls running at once (the rest wait). @default 64 */
  readonly maxConcurrentLoads?: number
  /** Place keys by the part inside the first `{...}` when there is one (Redis Cluster's hash tags). @default true */
  readonly hashTags?: boolean
  /** Store mode: how long a delete's tombstone is kept, in ms (must outlast any replica disagreement). @default 86400000 */
  readonly tombstoneTtlMs?: number
  /** Wall clock in ms, for versions and freshness; inject a fake one in tests. @default Date.now */
  readonly clock?: () => number
  /** Random numbers in [0, 1) for probe jitter. @default Math.random */
  readonly random?: () => number
  /**
   * Migration: keys scanned per second, over all servers together, by a membership change (store mode),
   * a re-replication after a failure, or the clean-up after a cache-mode warm-up. `Infinity` for no limit.
   * @default 20000
   */
  readonly migrationRate?: number
  /** Migration: keys asked per SCAN step and moved per round trip. @default 500 */
  readonly migrationBatchSize?: number
  /**
   * Cache mode: after `addServer`, `removeServer` or `setWeight`, for this many ms a miss on a key's new owner
   * first asks its previous owner before the loader (mcrouter's WarmUpRoute). 0 to go straight to the loader.
   * @default 60000
   */
  readonly warmUpMs?: number
  /**
   * Store mode: when a server goes down (or comes back), re-replicate in the background so that each key has
   * `replicas` copies on its live owners again, and reconcile the returning server's copies by version.
   * @default true
   */
  readonly repairOnFailure?: boolean
}

/** A server with defaults filled in, as given to `backendFactory`. */
export interface ResolvedServer {
  readonly id: string
  readonly weight: number
  readonly zone: string | undefined
  readonly host: string
  readonly port: number | undefined
  readonly password: string | null
  /** The cluster's `timeoutMs`, for backends that bound connection attempts. */
  readonly timeoutMs: number
}

/** {@link ClusterOptions} validated, with every default filled in. */
export interface ResolvedOptions {
  readonly servers: readonly ResolvedServer[]
  readonly backendFactory: ((server: ResolvedServer) => Backend) | null
  readonly mode: 'cache' | 'store'
  readonly loader: Loader | null
  readonly loadTtlMs: number
  readonly timeoutMs: number
  readonly failureThreshold: number
  readonly probeMinMs: number
  readonly probeMaxMs: number
  readonly replicas: number
  /** Acknowledgements per write (from `writeConcern`). */
  readonly writeAcks: number
  /** Answers per read: `replicas - writeAcks + 1`. */
  readonly readAnswers: number
  readonly negativeTtlMs: number
  readonly staleWhileRevalidateMs: number
  readonly maxConcurrentLoads: number
  readonly hashTags: boolean
  readonly tombstoneTtlMs: number
  readonly clock: () => number
  readonly random: () => number
  readonly migrationRate: number
  readonly migrationBatchSize: number
  readonly warmUpMs: number
  readonly repairOnFailure: boolean
}

function ms(name: string, v: unknown, positive: boolean): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || (positive && v === 0)) {
    throw new TypeError(
      `Cluster: option ${name} must be a ${positive ? 'positive' : 'non-negative'} integer (ms), got ${String(v)}`,
    )
  }
  return v
}

function fn<T>(name: string, v: unknown): T {
  if (typeof v !== 'function')
    throw new TypeError(`Cluster: option ${name} must be a function, got ${typeof v}`)
  return v as T
}

/** Validates options and fills in defaults; throws a `TypeError` naming the first bad option. */
export function resolveOptions(options: ClusterOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('Cluster: options must be an object with at least { servers }')
  }
  const {
    servers,
    backendFactory,
    mode = 'cache',
    loader,
    loadTtlMs = 0,
    timeoutMs = 500,
    failureThreshold = 3,
    probeMinMs = 100,
    probeMaxMs = 5000,
    replicas,
    writeConcern = 'majority',
    negativeTtlMs = 5000,
    staleWhileRevalidateMs = 0,
    maxConcurrentLoads = 64,
    hashTags = true,
    tombstoneTtlMs = 86_400_000,
    clock = Date.now,
    random = Math.random,
    migrationRate = 20_000,
    migrationBatchSize = 500,
    warmUpMs = 60_000,
    repairOnFailure = true,
  } = options
  if (!Array.isArray(servers) || servers.length === 0) {
    throw new TypeError('Cluster: option servers must be a non-empty array of { id, host, port }')
  }
  if (mode !== 'cache' && mode !== 'store') {
    throw new TypeError(`Cluster: option mode must be 'cache' or 'store', got ${JSON.stringify(mode)}`)
  }
  if (backendFactory !== undefined) fn('backendFactory', backendFactory)
  if (loader !== undefined && loader !== null) {
    fn('loader', loader)
    if (mode === 'store') throw new TypeError("Cluster: option loader is only used in mode 'cache'")
  }
  ms('timeoutMs', timeoutMs, true)
  ms('loadTtlMs', loadTtlMs, false)
  ms('probeMinMs', probeMinMs, true)
  ms('probeMaxMs', probeMaxMs, true)
  if (probeMaxMs < probeMinMs) throw new TypeError('Cluster: option probeMaxMs must be at least probeMinMs')
  ms('negativeTtlMs', negativeTtlMs, false)
  ms('staleWhileRevalidateMs', staleWhileRevalidateMs, false)
  ms('tombstoneTtlMs', tombstoneTtlMs, true)
  if (!Number.isInteger(failureThreshold) || failureThreshold < 1) {
    throw new TypeError(
      `Cluster: option failureThreshold must be a positive integer, got ${failureThreshold}`,
    )
  }
  if (
    !(
      maxConcurrentLoads === Number.POSITIVE_INFINITY ||
      (Number.isInteger(maxConcurrentLoads) && maxConcurrentLoads > 0)
    )
  ) {
    throw new TypeError(
      `Cluster: option maxConcurrentLoads must be a positive integer or Infinity, got ${maxConcurrentLoads}`,
    )
  }
  if (typeof hashTags !== 'boolean') throw new TypeError('Cluster: option hashTags must be a boolean')
  fn('clock', clock)
  fn('random', random)
  checkRate('migrationRate', migrationRate)
  checkBatch('migrationBatchSize', migrationBatchSize)
  ms('warmUpMs', warmUpMs, false)
  if (typeof repairOnFailure !== 'boolean') {
    throw new TypeError('Cluster: option repairOnFailure must be a boolean')
  }

  // Placement identity (ids unique, weights, zones) is validated by the placement core; rename its errors.
  let specs: ReturnType<typeof normalizeServers>
  try {
    specs = normalizeServers(servers.map((s) => ({ id: s?.id, weight: s?.weight, zone: s?.zone })))
  } catch (err) {
    throw new TypeError(`Cluster: option ${(err as Error).message}`)
  }
  const resolved = servers.map((s, i) =>
    resolveServer(s, specs[i]!, `servers[${i}]`, timeoutMs, backendFactory !== undefined),
  )

  const r = replicas ?? Math.min(2, servers.length)
  if (!Number.isInteger(r) || r < 1) {
    throw new TypeError(`Cluster: option replicas must be a positive integer, got ${String(replicas)}`)
  }
  if (r > servers.length) {
    throw new TypeError(`Cluster: option replicas (${r}) exceeds the number of servers (${servers.length})`)
  }
  let writeAcks: number
  if (writeConcern === 'all') writeAcks = r
  else if (writeConcern === 'majority') writeAcks = Math.floor(r / 2) + 1
  else if (Number.isInteger(writeConcern) && writeConcern >= 1 && writeConcern <= r) writeAcks = writeConcern
  else {
    throw new TypeError(
      `Cluster: option writeConcern must be 'all', 'majority' or an integer from 1 to replicas (${r}), got ${String(writeConcern)}`,
    )
  }
  return {
    servers: resolved,
    backendFactory: backendFactory ?? null,
    mode,
    loader: loader ?? null,
    loadTtlMs,
    timeoutMs,
    failureThreshold,
    probeMinMs,
    probeMaxMs,
    replicas: mode === 'store' ? r : 1,
    writeAcks: mode === 'store' ? writeAcks : 1,
    readAnswers: mode === 'store' ? r - writeAcks + 1 : 1,
    negativeTtlMs,
    staleWhileRevalidateMs,
    maxConcurrentLoads,
    hashTags,
    tombstoneTtlMs,
    clock,
    random,
    migrationRate,
    migrationBatchSize,
    warmUpMs,
    repairOnFailure,
  }
}

/** Checks a keys-per-second rate: a positive number or `Infinity`. */
export function checkRate(name: string, v: unknown): number {
  if (typeof v !== 'number' || Number.isNaN(v) || v <= 0) {
    throw new TypeError(
      `Cluster: option ${name} must be a positive number of keys/s or Infinity, got ${String(v)}`,
    )
  }
  return v
}

/** Checks a batch size: a positive integer. */
export function checkBatch(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new TypeError(`Cluster: option ${name} must be a positive integer, got ${String(v)}`)
  }
  return v
}

/** Fills in one server's defaults and checks its address; `spec` is its validated placement identity. */
export function resolveServer(
  s: ServerConfig,
  spec: Server,
  where: string,
  timeoutMs: number,
  hasFactory: boolean,
): ResolvedServer {
  const { host = '127.0.0.1', port, password = null } = s
  if (typeof host !== 'string' || host.length === 0) {
    throw new TypeError(`Cluster: option ${where}.host must be a non-empty string`)
  }
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new TypeError(`Cluster: option ${where}.port must be an integer from 1 to 65535, got ${port}`)
  }
  if (port === undefined && !hasFactory) {
    throw new TypeError(`Cluster: option ${where}.port is required (or pass a backendFactory)`)
  }
  if (password !== null && typeof password !== 'string') {
    throw new TypeError(`Cluster: option ${where}.password must be a string`)
  }
  return { id: spec.id, weight: spec.weight, zone: spec.zone, host, port, password, timeoutMs }
}
