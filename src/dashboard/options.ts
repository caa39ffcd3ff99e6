// Options of the dashboard, the membership change it previews and applies, and their validation.
import type { Cluster } from '../cluster/cluster.js'
import type { Migration } from '../cluster/migration.js'
import type { ServerConfig } from '../cluster/options.js'
import type { RendezvousProxy } from '../proxy/server.js'

/** A membership change, as the what-if view previews it and `/api/apply` performs it. */
export interface MembershipChange {
  readonly op: 'add' | 'remove' | 'reweight'
  /** The server added, removed or re-weighted. */
  readonly id: string
  /** New weight (`reweight`), or the weight of the server added. @default 1 for `add` */
  readonly weight?: number
  /** `add`: the new server's address and failure domain (see {@link DashboardOptions.apply}). */
  readonly host?: string
  readonly port?: number
  readonly zone?: string
}

/** What {@link DashboardOptions.apply} reports back. */
export interface ApplyResult {
  /** The migration the change started, if any (its progress is shown live). */
  readonly migration: Migration | null
  /** The membership after the change, when the apply function knows it better (e.g. a port it picked). */
  readonly servers?: readonly ServerConfig[]
}

/** Options of {@link createDashboard}: give either `proxy` or `cluster`. */
export interface DashboardOptions {
  /** The proxy to watch: its cluster (looked up again on every use, a reload may replace it) and its counters. */
  readonly proxy?: RendezvousProxy
  /** The cluster to watch, when there is no proxy. */
  readonly cluster?: Cluster
  /**
   * The servers' configurations (address, weight, zone), which a `Cluster` does not expose.
   * @default ids from the cluster, weight 1, no zone, no address
   */
  readonly servers?: readonly ServerConfig[]
  /**
   * Performs a membership change. `next` is the membership after it.
   * @default through the cluster's migration API: `addServer`, `removeServer`, `setWeight`
   */
  readonly apply?: (change: MembershipChange, next: readonly ServerConfig[]) => Promise<ApplyResult>
  /**
   * True when `apply` can add a server without an address (e.g. `rendezvous up` starts an embedded node).
   * @default false
   */
  readonly canAddWithoutAddress?: boolean
  /**
   * TCP port of the HTTP server; 0 picks a free one.
   * @default 8080
   */
  readonly port?: number
  /**
   * Address to bind. Only loopback by default: the dashboard can change the membership.
   * @default '127.0.0.1'
   */
  readonly host?: string
  /**
   * How often the servers are polled (INFO or DBSIZE through the cluster), in ms.
   * @default 1000
   */
  readonly intervalMs?: number
  /**
   * Most keys the what-if view samples (SCAN) from the servers; with fewer than `minSample` keys found it uses
   * synthetic keys instead.
   * @default 5000
   */
  readonly sampleKeys?: number
  /**
   * Fewest sampled keys the what-if view trusts; below it, it counts synthetic keys.
   * @default 200
   */
  readonly minSample?: number
  /**
   * Place keys by their `{hash tag}` (as the cluster does) in lookups and previews.
   * @default true
   */
  readonly hashTags?: boolean
}

/** {@link DashboardOptions} with every default filled in. */
export interface ResolvedDashboardOptions {
  readonly proxy: RendezvousProxy | null
  readonly cluster: Cluster | null
  readonly servers: readonly ServerConfig[]
  readonly apply: ((change: MembershipChange, next: readonly ServerConfig[]) => Promise<ApplyResult>) | null
  readonly canAddWithoutAddress: boolean
  readonly port: number
  readonly host: string
  readonly intervalMs: number
  readonly sampleKeys: number
  readonly minSample: number
  readonly hashTags: boolean
}

function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new TypeError(
      `dashboard: option ${name} must be an integer from ${min} to ${max}, got ${String(value)}`,
    )
  }
  return value
}

/** Fills in defaults and checks every option; a `TypeError` names the bad one. */
export function resolveDashboardOptions(options: DashboardOptions): ResolvedDashboardOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('dashboard: options must be an object with { proxy } or { cluster }')
  }
  const proxy = options.proxy ?? null
  const cluster = options.cluster ?? null
  if ((proxy === null) === (cluster === null)) {
    throw new TypeError('dashboard: give exactly one of the options proxy and cluster')
  }
  const o: ResolvedDashboardOptions = {
    proxy,
    cluster,
    servers: options.servers ?? [],
    apply: options.apply ?? null,
    canAddWithoutAddress: options.canAddWithoutAddress ?? false,
    port: options.port ?? 8080,
    host: options.host ?? '127.0.0.1',
    intervalMs: options.intervalMs ?? 1000,
    sampleKeys: options.sampleKeys ?? 5000,
    minSample: options.minSample ?? 200,
    hashTags: options.hashTags ?? true,
  }
  if (!Array.isArray(o.servers)) throw new TypeError('dashboard: option servers must be an array')
  if (o.apply !== null && typeof o.apply !== 'function') {
    throw new TypeError('dashboard: option apply must be a function')
  }
  if (typeof o.host !== 'string' || o.host === '')
    throw new TypeError('dashboard: option host must be an address')
  integer('port', o.port, 0, 65535)
  integer('intervalMs', o.intervalMs, 10, 3_600_000)
  integer('sampleKeys', o.sampleKeys, 1, 1_000_000)
  integer('minSample', o.minSample, 0, 1_000_000)
  if (typeof o.hashTags !== 'boolean') throw new TypeError('dashboard: option hashTags must be a boolean')
  return o
}
