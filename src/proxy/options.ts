// Options of the proxy, their defaults, and their validation (a TypeError naming the bad option).
import type { ServerConfig } from '../cluster/options.js'

/** Options of {@link createProxy}. Only `servers` is required. */
export interface ProxyOptions {
  /** The backend servers (id, host, port, weight, zone, password), as for a `Cluster`. */
  readonly servers: readonly ServerConfig[]
  /**
   * Address to listen on. Only loopback by default.
   * @default '127.0.0.1'
   */
  readonly host?: string
  /**
   * TCP port; 0 picks a free one (read it from `listen()` or `address`).
   * @default 6400
   */
  readonly port?: number
  /**
   * `'cache'`: one copy per key, commands forwarded as they are, a returning server is flushed (fenced).
   * `'store'`: `replicas` versioned copies; only GET/SET-like and the multi-key commands are served.
   * @default 'cache'
   */
  readonly mode?: 'cache' | 'store'
  /**
   * Store mode: copies of each value.
   * @default 2 (or the number of servers, if fewer)
   */
  readonly replicas?: number
  /**
   * Store mode: acknowledgements per write: 'all', 'majority' or a number.
   * @default 'majority'
   */
  readonly writeConcern?: 'all' | 'majority' | number
  /** Hard timeout of every backend call, in ms. @default 500 */
  readonly timeoutMs?: number
  /** Consecutive failures after which a backend is marked down. @default 3 */
  readonly failureThreshold?: number
  /** First delay before probing a down backend, in ms. @default 100 */
  readonly probeMinMs?: number
  /** Longest delay between two probes of a down backend, in ms. @default 5000 */
  readonly probeMaxMs?: number
  /** Place keys by their `{hash tag}`. @default true */
  readonly hashTags?: boolean
  /**
   * Password clients must give (AUTH or HELLO ... AUTH) before any other command; null for none.
   * @default null
   */
  readonly requirepass?: string | null
  /**
   * Serve FLUSHALL and FLUSHDB by flushing every backend. Off by default: one stray command would empty
   * every server.
   * @default false
   */
  readonly allowFlush?: boolean
  /**
   * Most simultaneous clients; one more gets `-ERR max number of clients reached`.
   * @default 10000
   */
  readonly maxClients?: number
  /**
   * Most requests of one client waiting for replies; beyond it the proxy stops reading from that client until
   * replies drain (pipelining stays in order, memory stays bounded).
   * @default 1024
   */
  readonly maxPendingPerClient?: number
  /**
   * How long `close()` waits for clients to hang up after their connections were ended, in ms.
   * @default 2000
   */
  readonly shutdownTimeout?: number
  /**
   * Where the proxy writes its few log lines (where it listens, reloads, shutdown).
   * @default () => {}
   */
  readonly log?: (line: string) => void
  /**
   * Source of new options for `PROXY RELOAD` (the CLI reads the config file again); absent: the command
   * answers an error.
   * @default undefined
   */
  readonly reload?: () => Promise<ProxyOptions> | ProxyOptions
}

/** {@link ProxyOptions} with every default filled in. */
export interface ResolvedProxyOptions {
  readonly servers: readonly ServerConfig[]
  readonly host: string
  readonly port: number
  readonly mode: 'cache' | 'store'
  readonly replicas: number | undefined
  readonly writeConcern: 'all' | 'majority' | number
  readonly timeoutMs: number
  readonly failureThreshold: number
  readonly probeMinMs: number
  readonly probeMaxMs: number
  readonly hashTags: boolean
  readonly requirepass: string | null
  readonly allowFlush: boolean
  readonly maxClients: number
  readonly maxPendingPerClient: number
  readonly shutdownTimeout: number
  readonly log: (line: string) => void
  readonly reload: (() => Promise<ProxyOptions> | ProxyOptions) | null
}

function integer(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new TypeError(
      `proxy: option ${name} must be an integer from ${min} to ${max}, got ${String(value)}`,
    )
  }
  return value
}

/** Fills in defaults and checks the proxy's own options; the cluster checks the rest when it is built. */
export function resolveProxyOptions(options: ProxyOptions): ResolvedProxyOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('proxy: options must be an object with at least { servers }')
  }
  const o: ResolvedProxyOptions = {
    servers: options.servers,
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 6400,
    mode: options.mode ?? 'cache',
    replicas: options.replicas,
    writeConcern: options.writeConcern ?? 'majority',
    timeoutMs: options.timeoutMs ?? 500,
    failureThreshold: options.failureThreshold ?? 3,
    probeMinMs: options.probeMinMs ?? 100,
    probeMaxMs: options.probeMaxMs ?? 5000,
    hashTags: options.hashTags ?? true,
    requirepass: options.requirepass ?? null,
    allowFlush: options.allowFlush ?? false,
    maxClients: options.maxClients ?? 10000,
    maxPendingPerClient: options.maxPendingPerClient ?? 1024,
    shutdownTimeout: options.shutdownTimeout ?? 2000,
    log: options.log ?? (() => {}),
    reload: options.reload ?? null,
  }
  if (typeof o.host !== 'string' || o.host === '')
    throw new TypeError('proxy: option host must be an address')
  integer('port', o.port, 0, 65535)
  integer('maxClients', o.maxClients, 1)
  integer('maxPendingPerClient', o.maxPendingPerClient, 1)
  integer('shutdownTimeout', o.shutdownTimeout, 0)
  if (o.requirepass !== null && (typeof o.requirepass !== 'string' || o.requirepass === '')) {
    throw new TypeError('proxy: option requirepass must be a non-empty string or null')
  }
  if (typeof o.allowFlush !== 'boolean') throw new TypeError('proxy: option allowFlush must be a boolean')
  if (typeof o.log !== 'function') throw new TypeError('proxy: option log must be a function')
  if (o.reload !== null && typeof o.reload !== 'function') {
    throw new TypeError('proxy: option reload must be a function')
  }
  return o
}
