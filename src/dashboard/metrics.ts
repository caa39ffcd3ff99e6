// `/metrics`: the dashboard's figures in Prometheus text format, through prom-client on a registry of our own.
import { Counter, Gauge, Registry } from 'prom-client'
import type { DashboardState } from './state.js'

type Labels = Record<string, string>

/** The metrics of one dashboard: a private registry (no global default registry), filled from a state. */
export class DashboardMetrics {
  readonly #registry = new Registry()
  readonly #gauges = new Map<string, Gauge>()
  readonly #counters = new Map<string, Counter>()

  constructor() {
    const g = (name: string, help: string, labelNames: string[] = []) =>
      this.#gauges.set(name, new Gauge({ name, help, labelNames, registers: [this.#registry] }))
    const c = (name: string, help: string, labelNames: string[] = []) =>
      this.#counters.set(name, new Counter({ name, help, labelNames, registers: [this.#registry] }))
    const server = ['server']
    g('rendezvous_server_up', '1 when the server is live, 0 when marked down', server)
    g('rendezvous_server_member', '1 for a member, 0 for a removed server still being drained', server)
    g('rendezvous_server_health', 'Health of the server (1 for its current state)', ['server', 'state'])
    g('rendezvous_server_weight', 'Placement weight of the server', server)
    g('rendezvous_server_expected_share', 'Weight share: the fraction of keys the server should own', server)
    g('rendezvous_server_keys', 'Keys held by the server (INFO keyspace or DBSIZE)', server)
    g('rendezvous_server_memory_bytes', 'Memory used by the server for data (INFO used_memory)', server)
    g('rendezvous_server_hit_ratio', 'keyspace_hits / (hits + misses) of the server since it started', server)
    g(
      'rendezvous_server_ops_per_second',
      'Calls per second made to the server over the last interval',
      server,
    )
    g('rendezvous_server_latency_seconds', 'Round trip of the last poll of the server', server)
    g('rendezvous_server_epoch', 'Membership epoch at which the server last entered the live set', server)
    c('rendezvous_server_requests_total', 'Calls made to the server on live traffic', server)
    c('rendezvous_server_errors_total', 'Calls to the server that failed', server)
    c('rendezvous_server_timeouts_total', 'Calls to the server that timed out', server)
    c('rendezvous_server_down_total', 'Times the server was marked down', server)
    g('rendezvous_cluster_epoch', 'Membership epoch: increases when a server goes down or comes back')
    g('rendezvous_cluster_servers', 'Members of the cluster')
    g('rendezvous_cluster_live_servers', 'Members currently live')
    g('rendezvous_cluster_keys', 'Keys held over all servers')
    g('rendezvous_cluster_memory_bytes', 'Memory used over all servers')
    g('rendezvous_cluster_ops_per_second', 'Calls per second over all servers')
    g('rendezvous_cluster_hit_ratio', 'Hits over reads, all servers')
    g('rendezvous_migration_running', '1 while a migration runs')
    g(
      'rendezvous_migration_progress_ratio',
      'Progress of the running migration (0 to 1), absent when unknown',
    )
    g('rendezvous_migration_scanned_keys', 'Keys scanned by the running migration')
    g('rendezvous_migration_moved_keys', 'Keys copied to new owners by the running migration')
    g('rendezvous_proxy_connected_clients', 'Clients connected to the proxy')
    c('rendezvous_proxy_commands_total', 'Commands processed by the proxy')
    c(
      'rendezvous_proxy_backend_errors_total',
      'Requests the proxy answered with an error because a backend failed',
    )
  }

  /** The content type of {@link text}. */
  get contentType(): string {
    return this.#registry.contentType
  }

  /** Sets every metric from `state` and renders them. */
  async text(state: DashboardState): Promise<string> {
    for (const m of this.#gauges.values()) m.reset()
    for (const m of this.#counters.values()) m.reset()
    const set = (name: string, value: number | null, labels: Labels = {}) => {
      if (value !== null && Number.isFinite(value)) this.#gauges.get(name)!.set(labels, value)
    }
    const count = (name: string, value: number, labels: Labels = {}) => {
      if (Number.isFinite(value) && value >= 0) this.#counters.get(name)!.inc(labels, value)
    }
    for (const s of state.servers) {
      const l = { server: s.id }
      set('rendezvous_server_up', s.health === 'down' ? 0 : 1, l)
      set('rendezvous_server_member', s.member ? 1 : 0, l)
      set('rendezvous_server_health', 1, { server: s.id, state: s.health })
      set('rendezvous_server_weight', s.weight, l)
      set('rendezvous_server_expected_share', s.expectedShare, l)
      set('rendezvous_server_keys', s.keys, l)
      set('rendezvous_server_memory_bytes', s.memoryBytes, l)
      set('rendezvous_server_hit_ratio', s.hitRate, l)
      set('rendezvous_server_ops_per_second', s.opsPerSec, l)
      set('rendezvous_server_latency_seconds', s.latencyMs === null ? null : s.latencyMs / 1000, l)
      set('rendezvous_server_epoch', s.epoch, l)
      count('rendezvous_server_requests_total', s.requests, l)
      count('rendezvous_server_errors_total', s.errors, l)
      count('rendezvous_server_timeouts_total', s.timeouts, l)
      count('rendezvous_server_down_total', s.downCount, l)
    }
    const t = state.totals
    set('rendezvous_cluster_epoch', state.epoch)
    set('rendezvous_cluster_servers', t.servers)
    set('rendezvous_cluster_live_servers', t.live)
    set('rendezvous_cluster_keys', t.keys)
    set('rendezvous_cluster_memory_bytes', t.memoryBytes)
    set('rendezvous_cluster_ops_per_second', t.opsPerSec)
    set('rendezvous_cluster_hit_ratio', t.hitRate)
    const running = state.migrations.find((m) => m.running)
    set('rendezvous_migration_running', running === undefined ? 0 : 1)
    if (running !== undefined) {
      set('rendezvous_migration_progress_ratio', running.percent === null ? null : running.percent / 100)
      set('rendezvous_migration_scanned_keys', running.scanned)
      set('rendezvous_migration_moved_keys', running.moved)
    }
    if (state.proxy !== null) {
      set('rendezvous_proxy_connected_clients', state.proxy.connectedClients)
      count('rendezvous_proxy_commands_total', state.proxy.totalCommandsProcessed)
      count('rendezvous_proxy_backend_errors_total', state.proxy.backendErrors)
    }
    return this.#registry.metrics()
  }
}
