// The dashboard's view of a cluster: per-server figures polled through the cluster, totals, migrations.
import dc from 'node:diagnostics_channel'
import type { Backend } from '../cluster/backend.js'
import { type Cluster, channels, type ServerEvent } from '../cluster/cluster.js'
import type { Migration, MigrationResult } from '../cluster/migration.js'
import type { ServerConfig } from '../cluster/options.js'
import { isRawBackend } from '../cluster/pipelined.js'
import type { RendezvousProxy } from '../proxy/server.js'
import { ReplyDecoder } from '../resp/reply-decoder.js'

/**
 * A server's health as the page shows it: `up`; `down` (marked down, probed in the background); `fenced`
 * (came back and was flushed before serving again, within the last 30 s); `rejoining` (came back, its keys are
 * being reconciled); `joining` (added, keys moving to it); `draining` (removed, keys moving away).
 */
export type Health = 'up' | 'down' | 'fenced' | 'rejoining' | 'joining' | 'draining'

/** One server in {@link DashboardState}. Figures a server cannot give are null. */
export interface ServerView {
  readonly id: string
  readonly host: string | null
  readonly port: number | null
  readonly weight: number
  readonly zone: string | null
  readonly health: Health
  /** False for a removed server still being drained. */
  readonly member: boolean
  /** Its weight over the sum of the members' weights (0 when draining). */
  readonly expectedShare: number
  /** Keys it holds (INFO keyspace or DBSIZE). */
  readonly keys: number | null
  /** INFO `used_memory`. */
  readonly memoryBytes: number | null
  /** INFO keyspace_hits / (hits + misses) since the server started; null before any read. */
  readonly hitRate: number | null
  readonly hits: number | null
  readonly misses: number | null
  /** Calls per second the cluster made to it over the last interval (the dashboard's own not counted). */
  readonly opsPerSec: number
  /** Round trip of the dashboard's last poll of this server, in ms. */
  readonly latencyMs: number | null
  readonly requests: number
  readonly errors: number
  readonly timeouts: number
  readonly downCount: number
  /** Membership epoch at which it last entered the live set. */
  readonly epoch: number
}

/** One migration in {@link DashboardState}. */
export interface MigrationView {
  readonly id: number
  readonly reason: string
  readonly server: string | null
  readonly running: boolean
  /** `'done'`, `'failed'`, `'aborted'` or `'superseded'` once ended; null while running. */
  readonly status: MigrationResult['status'] | null
  readonly phase: string
  readonly scanned: number
  readonly total: number | null
  readonly moved: number
  readonly deleted: number
  readonly errors: number
  /** 0 to 100; null while unknown (warm-up, or a server that cannot count its keys). */
  readonly percent: number | null
  readonly elapsedMs: number
  readonly etaMs: number | null
}

/** What `/api/state` returns. */
export interface DashboardState {
  /** Epoch ms of the poll. */
  readonly time: number
  readonly mode: 'cache' | 'store'
  /** Membership epoch: increases each time a server goes down or comes back. */
  readonly epoch: number
  readonly servers: readonly ServerView[]
  readonly totals: {
    readonly servers: number
    readonly live: number
    /** Keys held (in store mode, copies over the replica count). */
    readonly keys: number
    /** Copies held over all members (equal to `keys` in cache mode). */
    readonly copies: number
    readonly memoryBytes: number
    readonly opsPerSec: number
    readonly hitRate: number | null
    readonly requests: number
    readonly errors: number
  }
  /** The running migration first, then recently ended ones (newest first). */
  readonly migrations: readonly MigrationView[]
  /** The proxy's address and counters, when the dashboard watches a proxy. */
  readonly proxy: {
    readonly host: string
    readonly port: number
    readonly connectedClients: number
    readonly totalCommandsProcessed: number
    readonly backendErrors: number
  } | null
  /** True when a server can be added without an address (the page then makes host and port optional). */
  readonly canAddWithoutAddress: boolean
}

interface Polled {
  keys: number | null
  memoryBytes: number | null
  hits: number | null
  misses: number | null
  latencyMs: number | null
}

const FENCED_SHOWN_MS = 30_000
const KEPT_MIGRATIONS = 6

/** Parses INFO text into its fields. */
export function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue
    const i = line.indexOf(':')
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1))
  }
  return out
}

function num(v: string | undefined): number | null {
  if (v === undefined) return null
  const n = Number(v)
  return Number.isFinite(n) ? n : null
}

/** Polls a backend: INFO when it can send raw commands (our node, Redis, Valkey), else DBSIZE. */
async function poll(b: Backend): Promise<Omit<Polled, 'latencyMs'>> {
  if (isRawBackend(b)) {
    const raw = await b.send(['INFO'])
    const reply = new ReplyDecoder().push(raw)[0]
    if (Buffer.isBuffer(reply)) {
      const info = parseInfo(reply.toString('utf8'))
      const db0 = info.get('db0')
      const keys = db0 === undefined ? 0 : num(/keys=(\d+)/.exec(db0)?.[1])
      return {
        keys,
        memoryBytes: num(info.get('used_memory')),
        hits: num(info.get('keyspace_hits')),
        misses: num(info.get('keyspace_misses')),
      }
    }
  }
  const keys = b.dbsize === undefined ? null : await b.dbsize()
  return { keys, memoryBytes: null, hits: null, misses: null }
}

/**
 * Keeps the dashboard's picture of a cluster: polls every server (through the cluster, so with its timeouts),
 * turns counters into rates, tracks migrations and fencing events. The dashboard's own calls are counted so
 * that they can be left out of ops/s.
 */
export class StateTracker {
  readonly #proxy: RendezvousProxy | null
  readonly #cluster: Cluster | null
  readonly #configs = new Map<string, ServerConfig>()
  readonly #own = new Map<string, number>()
  readonly #polled = new Map<string, Polled>()
  /** Per server: requests and own calls at the previous poll, with its time. */
  #previous = new Map<string, { requests: number; own: number }>()
  #previousTime = 0
  #previousCluster: Cluster | null = null
  #rates = new Map<string, number>()
  readonly #fencedAt = new Map<string, number>()
  readonly #migrations: Migration[] = []
  readonly #results = new Map<Migration, MigrationResult>()
  readonly #canAdd: boolean
  readonly #onFenced = (message: unknown) => {
    const e = message as ServerEvent
    if (e.cluster === this.cluster) this.#fencedAt.set(e.id, Date.now())
  }

  constructor(
    proxy: RendezvousProxy | null,
    cluster: Cluster | null,
    servers: readonly ServerConfig[],
    canAdd: boolean,
  ) {
    this.#proxy = proxy
    this.#cluster = cluster
    this.#canAdd = canAdd
    for (const s of servers) this.#configs.set(s.id, s)
    dc.subscribe(channels.fenced.name, this.#onFenced)
  }

  /** The cluster now (a proxy reload may have replaced it). */
  get cluster(): Cluster {
    return this.#proxy?.cluster ?? this.#cluster!
  }

  /** The members' configurations, in the cluster's order (unknown ones get weight 1). */
  members(): ServerConfig[] {
    return this.cluster.servers.map((id) => this.#configs.get(id) ?? { id })
  }

  /** Records the membership after a change (kept for servers being drained). */
  setMembers(servers: readonly ServerConfig[]): void {
    for (const s of servers) this.#configs.set(s.id, s)
  }

  /** Follows a migration (one started by the dashboard, or seen running). */
  track(m: Migration | null): void {
    if (m === null || this.#migrations.includes(m)) return
    this.#migrations.unshift(m)
    void m.done.then((r) => this.#results.set(m, r))
    while (this.#migrations.length > KEPT_MIGRATIONS) {
      let old = this.#migrations.length - 1
      while (old >= 0 && this.#migrations[old]!.running) old--
      if (old < 0) break
      this.#results.delete(this.#migrations[old]!)
      this.#migrations.splice(old, 1)
    }
  }

  /** Runs `fn` on one server through the cluster, counted as the dashboard's own call. */
  call<T>(id: string, fn: (b: Backend) => Promise<T>): Promise<T> {
    this.#own.set(id, (this.#own.get(id) ?? 0) + 1)
    return this.cluster.routeToServer(id, fn)
  }

  /** Polls every live server once and updates the rates. */
  async refresh(): Promise<void> {
    const cluster = this.cluster
    this.track(cluster.migration)
    const stats = cluster.stats()
    await Promise.all(
      stats.servers.map(async (s) => {
        if (!s.up) {
          this.#polled.delete(s.id)
          return
        }
        const started = performance.now()
        try {
          const p = await this.call(s.id, poll)
          this.#polled.set(s.id, { ...p, latencyMs: performance.now() - started })
        } catch {
          this.#polled.delete(s.id)
        }
      }),
    )
    const now = performance.now()
    const after = cluster.stats()
    const next = new Map<string, { requests: number; own: number }>()
    const rates = new Map<string, number>()
    const sameCluster = this.#previousCluster === cluster
    for (const s of after.servers) {
      const own = this.#own.get(s.id) ?? 0
      next.set(s.id, { requests: s.requests, own })
      const prev = this.#previous.get(s.id)
      if (sameCluster && prev !== undefined && now > this.#previousTime) {
        const calls = s.requests - prev.requests - (own - prev.own)
        rates.set(s.id, Math.max(0, (calls * 1000) / (now - this.#previousTime)))
      }
    }
    this.#previous = next
    this.#previousTime = now
    this.#previousCluster = cluster
    this.#rates = rates
  }

  /** The current picture (from the last `refresh`). */
  snapshot(): DashboardState {
    const cluster = this.cluster
    const stats = cluster.stats()
    const memberIds = new Set(cluster.servers)
    const members = this.members()
    const weightSum = members.reduce((a, s) => a + (s.weight ?? 1), 0)
    const running = cluster.migration
    const now = Date.now()
    const servers: ServerView[] = stats.servers.map((s) => {
      const conf = this.#configs.get(s.id) ?? { id: s.id }
      const member = memberIds.has(s.id)
      const p = this.#polled.get(s.id)
      const fenced = this.#fencedAt.get(s.id)
      let health: Health = 'up'
      if (!s.up) health = 'down'
      else if (!member) health = 'draining'
      else if (running?.server === s.id && running.reason === 'join') health = 'joining'
      else if (running?.server === s.id && running.reason === 'up') health = 'rejoining'
      else if (fenced !== undefined && now - fenced < FENCED_SHOWN_MS) health = 'fenced'
      const hits = p?.hits ?? null
      const misses = p?.misses ?? null
      const reads = (hits ?? 0) + (misses ?? 0)
      return {
        id: s.id,
        host: conf.port === undefined ? null : (conf.host ?? '127.0.0.1'),
        port: conf.port ?? null,
        weight: conf.weight ?? 1,
        zone: conf.zone ?? null,
        health,
        member,
        expectedShare: member && weightSum > 0 ? (conf.weight ?? 1) / weightSum : 0,
        keys: p?.keys ?? null,
        memoryBytes: p?.memoryBytes ?? null,
        hitRate: hits === null || reads === 0 ? null : hits / reads,
        hits,
        misses,
        opsPerSec: this.#rates.get(s.id) ?? 0,
        latencyMs: p?.latencyMs ?? null,
        requests: s.requests,
        errors: s.errors,
        timeouts: s.timeouts,
        downCount: s.downCount,
        epoch: s.epoch,
      }
    })
    let hits = 0
    let reads = 0
    for (const s of servers) {
      hits += s.hits ?? 0
      reads += (s.hits ?? 0) + (s.misses ?? 0)
    }
    // Store mode keeps each key on min(replicas, live) servers: count keys, not copies.
    const copies = servers.reduce((a, s) => a + (s.member ? (s.keys ?? 0) : 0), 0)
    const copiesPerKey = cluster.mode === 'store' ? Math.max(1, cluster.replicasOf('').length) : 1
    const proxy = this.#proxy
    const ps = proxy?.stats
    const addr = proxy?.address
    return {
      time: now,
      mode: cluster.mode,
      epoch: stats.epoch,
      servers,
      totals: {
        servers: memberIds.size,
        live: cluster.liveServers.length,
        keys: Math.round(copies / copiesPerKey),
        copies,
        memoryBytes: servers.reduce((a, s) => a + (s.memoryBytes ?? 0), 0),
        opsPerSec: servers.reduce((a, s) => a + s.opsPerSec, 0),
        hitRate: reads === 0 ? null : hits / reads,
        requests: servers.reduce((a, s) => a + s.requests, 0),
        errors: servers.reduce((a, s) => a + s.errors, 0),
      },
      migrations: this.#migrations.map((m) => migrationView(m, this.#results.get(m) ?? null)),
      proxy:
        ps === undefined || addr === null || addr === undefined
          ? null
          : {
              host: addr.host,
              port: addr.port,
              connectedClients: ps.connectedClients,
              totalCommandsProcessed: ps.totalCommandsProcessed,
              backendErrors: ps.backendErrors,
            },
      canAddWithoutAddress: this.#canAdd,
    }
  }

  /** Stops listening to the cluster's channels. */
  close(): void {
    dc.unsubscribe(channels.fenced.name, this.#onFenced)
  }
}

/** The page's view of one migration. */
export function migrationView(m: Migration, result: MigrationResult | null): MigrationView {
  const p = result ?? m.progress()
  const running = result === null && m.running
  let percent: number | null = null
  if (!running) percent = 100
  else if (p.phase === 'scanning' && p.total !== null) {
    percent = p.total === 0 ? 99 : Math.min(99, (100 * p.scanned) / p.total)
  }
  return {
    id: m.id,
    reason: m.reason,
    server: m.server,
    running,
    status: result?.status ?? null,
    phase: p.phase,
    scanned: p.scanned,
    total: p.total,
    moved: p.moved,
    deleted: p.deleted,
    errors: p.errors,
    percent,
    elapsedMs: p.elapsedMs,
    etaMs: p.etaMs,
  }
}
