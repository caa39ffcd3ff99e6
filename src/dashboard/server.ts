// The dashboard's HTTP server: the page, its JSON API (state, what-if, apply, lookup) and /metrics.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { ServerConfig } from '../cluster/options.js'
import { DashboardMetrics } from './metrics.js'
import {
  type ApplyResult,
  type DashboardOptions,
  type MembershipChange,
  type ResolvedDashboardOptions,
  resolveDashboardOptions,
} from './options.js'
import { PAGE_CSS, PAGE_HTML, PAGE_JS } from './page.js'
import { type DashboardState, migrationView, StateTracker } from './state.js'
import {
  applyChange,
  BadRequest,
  type KeySample,
  type LookupRow,
  parseChange,
  ranking,
  syntheticKeys,
  whatIf,
} from './whatif.js'

/** Where the dashboard listens. */
export interface DashboardAddress {
  readonly host: string
  readonly port: number
  /** `http://host:port/` */
  readonly url: string
}

const MAX_BODY = 64 * 1024
const MAX_KEY = 4096
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
}
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/**
 * The web dashboard of a cluster (or of a proxy's cluster): one self-contained page (HTML, CSS and JS served
 * by this server, nothing from the network) polling `/api/state` every second, a what-if view of membership
 * changes, a key lookup, and `/metrics` for Prometheus.
 */
export class Dashboard {
  readonly #o: ResolvedDashboardOptions
  readonly #tracker: StateTracker
  readonly #metrics = new DashboardMetrics()
  readonly #server: Server
  #address: DashboardAddress | null = null
  #timer: NodeJS.Timeout | null = null
  #refreshing: Promise<void> | null = null
  #closing: Promise<void> | null = null
  #applying: Promise<unknown> = Promise.resolve()

  constructor(options: DashboardOptions) {
    this.#o = resolveDashboardOptions(options)
    this.#tracker = new StateTracker(
      this.#o.proxy,
      this.#o.cluster,
      this.#o.servers,
      this.#o.canAddWithoutAddress,
    )
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((e: unknown) => {
        this.#json(res, 500, { error: e instanceof Error ? e.message : String(e) })
      })
    })
    this.#server.keepAliveTimeout = 5000
  }

  /** Where the dashboard listens once `listen()` resolved; null before and after. */
  get address(): DashboardAddress | null {
    return this.#address
  }

  /** Starts polling and listening; resolves with the actual address. Rejects (EADDRINUSE, ...) as `listen` does. */
  listen(): Promise<DashboardAddress> {
    const { host, port } = this.#o
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(e)
      this.#server.once('error', onError)
      this.#server.listen({ host, port, exclusive: true }, () => {
        this.#server.off('error', onError)
        const a = this.#server.address()
        const actual = typeof a === 'object' && a !== null ? a.port : port
        const h = host.includes(':') ? `[${host}]` : host
        this.#address = { host, port: actual, url: `http://${h}:${actual}/` }
        void this.#refresh()
        this.#timer = setInterval(() => void this.#refresh(), this.#o.intervalMs)
        this.#timer.unref()
        resolve(this.#address)
      })
    })
  }

  /** Stops polling and the HTTP server (open connections are closed). */
  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing
    this.#closing = (async () => {
      if (this.#timer !== null) clearInterval(this.#timer)
      this.#tracker.close()
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()))
      this.#server.closeAllConnections()
      await closed
      await this.#refreshing?.catch(() => {})
      this.#address = null
    })()
    return this.#closing
  }

  /** The state the page shows, after polling the servers once more. */
  async state(): Promise<DashboardState> {
    await this.#refresh()
    return this.#tracker.snapshot()
  }

  #refresh(): Promise<void> {
    if (this.#refreshing === null) {
      this.#refreshing = this.#tracker.refresh().finally(() => {
        this.#refreshing = null
      })
    }
    return this.#refreshing
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const route = `${req.method ?? 'GET'} ${url.pathname}`
    switch (route) {
      case 'GET /':
      case 'GET /index.html':
        return this.#send(res, 200, 'text/html; charset=utf-8', PAGE_HTML, { 'content-security-policy': CSP })
      case 'GET /app.css':
        return this.#send(res, 200, 'text/css; charset=utf-8', PAGE_CSS)
      case 'GET /app.js':
        return this.#send(res, 200, 'text/javascript; charset=utf-8', PAGE_JS)
      case 'GET /favicon.ico':
        res.writeHead(204, SECURITY_HEADERS).end()
        return
      case 'GET /api/state':
        if (this.#refreshing !== null) await this.#refreshing
        return this.#json(res, 200, this.#tracker.snapshot())
      case 'GET /api/lookup':
        return this.#lookup(res, url.searchParams.get('key'))
      case 'POST /api/whatif':
        return this.#whatIf(req, res)
      case 'POST /api/apply':
        return this.#apply(req, res)
      case 'GET /metrics': {
        const text = await this.#metrics.text(this.#tracker.snapshot())
        return this.#send(res, 200, this.#metrics.contentType, text)
      }
    }
    const known = [
      '/',
      '/index.html',
      '/app.css',
      '/app.js',
      '/api/state',
      '/api/lookup',
      '/api/whatif',
      '/api/apply',
      '/metrics',
    ]
    if (known.includes(url.pathname)) {
      const allow = url.pathname === '/api/whatif' || url.pathname === '/api/apply' ? 'POST' : 'GET'
      res.setHeader('allow', allow)
      return this.#json(res, 405, {
        error: `method ${req.method} not allowed on ${url.pathname} (use ${allow})`,
      })
    }
    this.#json(res, 404, { error: `no such page: ${url.pathname}` })
  }

  // ---- API ---------------------------------------------------------------------------------------------------

  #known(): Set<string> {
    return new Set(this.#tracker.cluster.stats().servers.map((s) => s.id))
  }

  async #whatIf(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await this.#body(req, res)
    if (body === undefined) return
    const members = this.#tracker.members()
    let change: MembershipChange
    try {
      change = parseChange(body, members, this.#known())
    } catch (e) {
      return this.#bad(res, e)
    }
    const sample = await this.#sample(members)
    this.#json(res, 200, whatIf(members, change, sample, this.#o.hashTags))
  }

  async #apply(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await this.#body(req, res)
    if (body === undefined) return
    // One change at a time: the second is checked against the membership the first produced.
    const run = async () => {
      const members = this.#tracker.members()
      const change = parseChange(body, members, this.#known())
      const next = applyChange(members, change)
      const result: ApplyResult =
        this.#o.apply === null ? this.#defaultApply(change) : await this.#o.apply(change, next)
      this.#tracker.setMembers(result.servers ?? next)
      this.#tracker.track(result.migration)
      return result
    }
    const p = this.#applying.catch(() => {}).then(run)
    this.#applying = p
    let result: ApplyResult
    try {
      result = await p
    } catch (e) {
      if (e instanceof BadRequest || e instanceof TypeError || (e instanceof Error && 'code' in e)) {
        return this.#bad(res, e)
      }
      throw e
    }
    await this.#refresh()
    this.#json(res, 200, {
      ok: true,
      migration: result.migration === null ? null : migrationView(result.migration, null),
      state: this.#tracker.snapshot(),
    })
  }

  #defaultApply(change: MembershipChange): ApplyResult {
    const cluster = this.#tracker.cluster
    switch (change.op) {
      case 'add': {
        const [added] = applyChange([], change) as [ServerConfig]
        return { migration: cluster.addServer(added) }
      }
      case 'remove':
        return { migration: cluster.removeServer(change.id) }
      case 'reweight':
        return { migration: cluster.setWeight(change.id, change.weight!) }
    }
  }

  async #lookup(res: ServerResponse, key: string | null): Promise<void> {
    if (key === null || key === '')
      return this.#bad(res, new BadRequest('key', 'give a key: /api/lookup?key=...'))
    if (key.length > MAX_KEY)
      return this.#bad(res, new BadRequest('key', `longer than ${MAX_KEY} characters`))
    const cluster = this.#tracker.cluster
    const members = this.#tracker.members()
    const { route, rows } = ranking(members, key, this.#o.hashTags)
    const owners = new Set(cluster.replicasOf(key))
    const stats = cluster.stats().servers
    const up = new Map(stats.map((s) => [s.id, s.up]))
    // Ask every live server, members and servers being drained: a key may still sit on a previous owner.
    const asked = stats.filter((s) => s.up).map((s) => s.id)
    const held = new Map<string, boolean | null>()
    await Promise.all(
      asked.map(async (id) => {
        try {
          held.set(id, (await this.#tracker.call(id, (b) => b.exists([key]))) > 0)
        } catch {
          held.set(id, null)
        }
      }),
    )
    const out: LookupRow[] = rows.map((r) => ({
      ...r,
      owner: owners.has(r.id),
      holds: held.get(r.id) ?? null,
    }))
    const elsewhere = [...held]
      .filter(([id, h]) => h === true && !rows.some((r) => r.id === id))
      .map(([id]) => id)
    this.#json(res, 200, {
      key,
      route,
      hashTag: route !== key,
      owner: cluster.ownerOf(key),
      ranking: out.map((r) => ({ ...r, live: up.get(r.id) ?? false })),
      alsoHeldBy: elsewhere,
    })
  }

  /** A bounded sample of keys from the members (SCAN), or synthetic keys when they hold too few. */
  async #sample(members: readonly ServerConfig[]): Promise<KeySample> {
    const cluster = this.#tracker.cluster
    const live = new Set(cluster.liveServers)
    const ids = members.map((s) => s.id).filter((id) => live.has(id))
    const per = Math.max(1, Math.ceil(this.#o.sampleKeys / Math.max(1, ids.length)))
    const keys = new Set<string>()
    await Promise.all(
      ids.map(async (id) => {
        let cursor = '0'
        let got = 0
        try {
          for (let step = 0; step < 20; step++) {
            const [next, batch] = await this.#tracker.call(id, (b) => b.scan(cursor, Math.min(500, per)))
            for (const k of batch) {
              if (got >= per) break
              keys.add(k)
              got++
            }
            cursor = next
            if (cursor === '0' || got >= per) break
          }
        } catch {
          // A server that fails to scan just contributes fewer keys.
        }
      }),
    )
    const total = this.#tracker.snapshot().totals.keys
    if (keys.size < this.#o.minSample) {
      return {
        source: 'synthetic',
        keys: syntheticKeys(Math.max(this.#o.sampleKeys, 1000)),
        totalKeys: total,
      }
    }
    return { source: 'scanned', keys: [...keys], totalKeys: total }
  }

  // ---- HTTP plumbing ---------------------------------------------------------------------------------------

  /** Reads a JSON body; on a bad one answers 400 (or 413/415) and returns undefined. */
  async #body(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
    const type = req.headers['content-type'] ?? ''
    if (!/^application\/json\b/i.test(type)) {
      this.#json(res, 415, { error: 'body: send JSON with content-type: application/json', field: 'body' })
      return undefined
    }
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of req) {
      size += (chunk as Buffer).length
      if (size > MAX_BODY) {
        this.#json(res, 413, { error: `body: larger than ${MAX_BODY} bytes`, field: 'body' })
        req.destroy()
        return undefined
      }
      chunks.push(chunk as Buffer)
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown
    } catch {
      this.#bad(res, new BadRequest('body', 'invalid JSON'))
      return undefined
    }
  }

  #bad(res: ServerResponse, e: unknown): void {
    const field = e instanceof BadRequest ? e.field : null
    const message = e instanceof Error ? e.message : String(e)
    this.#json(res, 400, field === null ? { error: message } : { error: message, field })
  }

  #json(res: ServerResponse, status: number, value: unknown): void {
    if (res.headersSent) {
      res.end()
      return
    }
    this.#send(res, status, 'application/json; charset=utf-8', JSON.stringify(value))
  }

  #send(
    res: ServerResponse,
    status: number,
    type: string,
    body: string,
    extra: Record<string, string> = {},
  ): void {
    res.writeHead(status, {
      ...SECURITY_HEADERS,
      ...extra,
      'content-type': type,
      'content-length': Buffer.byteLength(body),
    })
    res.end(body)
  }
}

/**
 * Creates the dashboard of a proxy's cluster, or of a cluster. Call `listen()` to serve and `close()` to stop.
 *
 * @example
 * const dashboard = createDashboard({ proxy, servers, port: 8080 })
 * const { url } = await dashboard.listen()
 */
export function createDashboard(options: DashboardOptions): Dashboard {
  return new Dashboard(options)
}
