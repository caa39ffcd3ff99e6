// The cluster client: rendezvous routing over live servers, failover, fencing, read-through cache, replicas.
import dc from 'node:diagnostics_channel'
import { performance } from 'node:perf_hooks'
import { utf8Of } from '../buffers.js'
import { RendezvousError } from '../errors.js'
import { Rendezvous, unknownServer } from '../placement/rendezvous.js'
import { normalizeServer } from '../placement/server.js'
import { type Backend, dumpWith, isReplyError } from './backend.js'
import { compareStored, decode, encode, HybridClock, hasHeader, Kind } from './envelope.js'
import { allDown, ClusterError, type KeyFailure, timeoutError } from './errors.js'
import { Limiter } from './limiter.js'
import {
  type Migration,
  type MigrationHost,
  type MigrationOptions,
  type MigrationReason,
  type MigrationStats,
  Migrator,
} from './migration.js'
import {
  type ClusterOptions,
  checkBatch,
  checkRate,
  type ResolvedOptions,
  type ResolvedServer,
  resolveOptions,
  resolveServer,
  type ServerConfig,
  type Value,
} from './options.js'
import { PipelinedBackend, type RawBackend, type RawCallback } from './pipelined.js'
import { SingleFlight } from './singleflight.js'

/** The message published on every cluster channel. */
export interface ServerEvent {
  readonly cluster: Cluster
  /** The server concerned. */
  readonly id: string
  /** The membership epoch after the change. */
  readonly epoch: number
  /** What made it go down, or why a probe failed. */
  readonly error?: unknown
}

/**
 * `node:diagnostics_channel` channels of every cluster (subscribe with `dc.subscribe(name, fn)`):
 * `rendezvous:cluster:server-down` (a server reached `failureThreshold` and left the live set),
 * `rendezvous:cluster:server-up` (a down server answered a probe, was fenced, and re-entered),
 * `rendezvous:cluster:fenced` (cache mode: the returning server was flushed, before `server-up`),
 * `rendezvous:cluster:probe-failed` (a probe of a down server failed; the next one is scheduled).
 */
export const channels = Object.freeze({
  serverDown: dc.channel('rendezvous:cluster:server-down'),
  serverUp: dc.channel('rendezvous:cluster:server-up'),
  fenced: dc.channel('rendezvous:cluster:fenced'),
  probeFailed: dc.channel('rendezvous:cluster:probe-failed'),
})

/** Counters of one server. */
export interface ServerStats {
  readonly id: string
  /** False while marked down. */
  readonly up: boolean
  /** The membership epoch at which it last (re-)entered the live set. */
  readonly epoch: number
  /** Calls made on live traffic (probes not included). */
  readonly requests: number
  /** Calls that failed (not counting timeouts, nor commands the server refused). */
  readonly errors: number
  /** Calls that exceeded `timeoutMs`. */
  readonly timeouts: number
  /** Times it was marked down. */
  readonly downCount: number
  /** Total time spent down, in ms, including the current outage. */
  readonly timeDownMs: number
  /** Background probes sent while down, and how many failed. */
  readonly probes: number
  readonly probeFailures: number
}

/** Counters of a cluster; see {@link Cluster.stats}. */
export interface ClusterStats {
  /** Membership epoch: increases on every server going down or coming back. */
  readonly epoch: number
  readonly servers: readonly ServerStats[]
  /** Cache mode: reads answered from a server (including stale and negative entries). */
  readonly hits: number
  /** Reads that found nothing on the server. */
  readonly misses: number
  /** Cache mode: hits on a remembered loader miss. */
  readonly negativeHits: number
  /** Cache mode: stale values served while a background load refreshes them. */
  readonly staleHits: number
  /** Cache mode: calls to the loader, and how many threw. */
  readonly loaderCalls: number
  readonly loaderErrors: number
  /** Reads that joined one already in flight for the same key instead of doing their own. */
  readonly coalescedWaits: number
  /** Store mode: replicas rewritten by read repair. */
  readonly repairs: number
  /** Cache mode: servers flushed before re-entering. */
  readonly fenced: number
  /** Membership changes, re-replication and warm-ups: see {@link Migration}. */
  readonly migration: MigrationStats
}

/** Options of a write. */
export interface WriteOptions {
  /** Time to live in ms; absent or 0 for none. */
  readonly ttlMs?: number
}

interface Mutable {
  hits: number
  misses: number
  negativeHits: number
  staleHits: number
  loaderCalls: number
  loaderErrors: number
  coalescedWaits: number
  repairs: number
  fenced: number
}

/** One server's backend and health. */
class ServerState {
  config: ResolvedServer
  readonly backend: Backend
  failures = 0
  down = false
  downSince = 0
  timeDownMs = 0
  downCount = 0
  probeAttempt = 0
  probeTimer: NodeJS.Timeout | null = null
  epoch = 0
  requests = 0
  errors = 0
  timeouts = 0
  probes = 0
  probeFailures = 0
  /** Forwarded commands (Cluster.forward), oldest first from rawHead on; settled ones are skipped. */
  raw: RawCall[] = []
  rawHead = 0
  /** Armed while a forwarded command is unsettled, for the oldest one's deadline (or an earlier one's). */
  rawTimer: NodeJS.Timeout | null = null

  constructor(config: ResolvedServer, backend: Backend) {
    this.config = config
    this.backend = backend
  }

  /** Moves rawHead past settled calls, and lets go of them once enough have gathered. */
  trimRaw(): void {
    const raw = this.raw
    let h = this.rawHead
    while (h < raw.length && raw[h]!.settled) h++
    if (h === raw.length) {
      raw.length = 0
      h = 0
    } else if (h >= 1024 && 2 * h >= raw.length) {
      this.raw = raw.slice(h)
      h = 0
    }
    this.rawHead = h
  }
}

/**
 * A forwarded command in flight: its caller's callback is settled once, by the reply, the failure or the
 * deadline (Cluster's timer), with the health accounting of every other call (#call). Calls to one server are
 * queued in the order they were sent, so their deadlines are in order and one timer serves them all: no
 * timer and no promise per command.
 */
class RawCall implements RawCallback {
  settled = false
  readonly s: ServerState
  readonly callback: RawCallback
  readonly deadline: number
  readonly #failed: (s: ServerState, err: unknown) => void

  constructor(
    s: ServerState,
    callback: RawCallback,
    deadline: number,
    failed: (s: ServerState, err: unknown) => void,
  ) {
    this.s = s
    this.callback = callback
    this.deadline = deadline
    this.#failed = failed
  }

  reply(raw: Buffer): void {
    if (this.settled) return
    this.settled = true
    const s = this.s
    if (!s.down) s.failures = 0
    s.trimRaw()
    this.callback.reply(raw)
  }

  fail(err: Error): void {
    if (this.settled) return
    this.settled = true
    const s = this.s
    s.errors++
    this.#failed(s, err)
    s.trimRaw()
    this.callback.fail(err)
  }
}

/** A store-mode read: the value (null for none or deleted), the replica it came from, whether any held it. */
interface StoreAnswer {
  readonly value: Buffer | null
  readonly from: ServerState | null
  /** False when no replica held the key at all (not even a tombstone): a handoff may find it elsewhere. */
  readonly found: boolean
}

/** A reply per replica: the stored bytes, null for none, or the error of that replica. */
type Answer = Buffer | null | Error

const EMPTY = Buffer.alloc(0)

function toBuffer(v: Value): Buffer {
  if (typeof v === 'string') return Buffer.from(v, 'utf8')
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TypeError(`value must be a finite number, got ${v}`)
    return Buffer.from(String(v), 'latin1')
  }
  if (Buffer.isBuffer(v)) return v
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength)
  throw new TypeError(`value must be a string, number, Buffer or Uint8Array, got ${typeof v}`)
}

function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw new TypeError(`key must be a string, got ${typeof key}`)
}

function checkTtl(ttlMs: unknown, name = 'ttlMs'): number {
  if (ttlMs === undefined) return 0
  if (typeof ttlMs !== 'number' || !Number.isInteger(ttlMs) || ttlMs < 0) {
    throw new TypeError(`${name} must be a non-negative integer (ms), got ${String(ttlMs)}`)
  }
  return ttlMs
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e))
}

function utf8(b: Buffer | null): string | null {
  return b === null ? null : utf8Of(b)
}

/**
 * A cache (or store) over many servers, placed by weighted rendezvous hashing.
 *
 * Routing: each key (or its `{hash tag}`) ranks every server; the key goes to the first live one(s). A server is
 * marked down after `failureThreshold` consecutive failures or timeouts; from then on its keys go to the next
 * server of each key's own list (so its load spreads over all the others), and it only gets background probes
 * (exponential backoff with jitter) until it answers. Every call has a hard timeout (`timeoutMs`).
 *
 * Fencing (membership epochs): each change of the live set increments the epoch. In cache mode a server that
 * answers a probe is FLUSHED before it re-enters, so it can never serve a value written before it went down
 * that has changed since. This is the chosen approach: an invalidation log would keep warm data, but it is per
 * client (every client would have to replay every other client's writes), while a flush needs no coordination.
 * The flush is sent on the same connection as any write still buffered from before the outage (a frozen server
 * reads them after SIGCONT), so it also erases those. Writes made while the server was down went to each key's
 * next server, which keeps them; a second failure of the same server, after it returned and the key was
 * rewritten on it, can expose that older copy again: an accepted limit of cache mode (store mode has versions).
 *
 * Cache mode: `get` is read-through via `loader` (concurrent reads of one key coalesced, loads capped by
 * `maxConcurrentLoads`, misses remembered for `negativeTtlMs`, optional stale-while-revalidate). Loader
 * errors reach the caller and are not cached. Loaded values are written back with NX, so a concurrent `set` wins.
 * Plain values are stored as-is (so INCR and other clients see them); values that need metadata (remembered
 * misses, stale-while-revalidate freshness) carry the 16-byte header documented in `envelope.ts`.
 *
 * Store mode: each value is written, with a hybrid-logical-clock version in its header, to the first `replicas`
 * live servers of its list (distinct zones first); `writeConcern` acknowledgements make a write succeed. Reads
 * ask every replica, need `replicas - w + 1` answers, return the newest version (last writer wins) and repair
 * replicas that are behind. Deletes write tombstones (kept `tombstoneTtlMs`). A server that returns is not
 * flushed: its older versions lose to newer ones and are repaired when read.
 *
 * Multi-key operations split per server, run in parallel (one pipelined command per server), and return
 * results in the caller's order; when some keys fail they throw a {@link ClusterError} listing each failed key,
 * never a silent miss.
 */
export class Cluster {
  readonly #o: ResolvedOptions
  /** Every server the cluster talks to: members, and removed servers still being drained. */
  readonly #states = new Map<string, ServerState>()
  /** The configured servers, in order (changed by addServer, removeServer, setWeight). */
  #members: ResolvedServer[]
  readonly #factory: (s: ResolvedServer) => Backend
  readonly #migrator: Migrator
  /** Store writes in flight: a migration waits for those routed by the placement it replaces. */
  readonly #writes = new Set<Promise<unknown>>()
  #live: Rendezvous | null
  #epoch = 0
  #closed = false
  readonly #gets = new SingleFlight<string, Buffer | null>()
  readonly #loads = new SingleFlight<string, Buffer | null>()
  readonly #refreshes = new SingleFlight<string, void>()
  readonly #limiter: Limiter
  readonly #hlc: HybridClock
  readonly #stats: Mutable = {
    hits: 0,
    misses: 0,
    negativeHits: 0,
    staleHits: 0,
    loaderCalls: 0,
    loaderErrors: 0,
    coalescedWaits: 0,
    repairs: 0,
    fenced: 0,
  }

  /** @throws TypeError naming the option when an option is invalid. */
  constructor(options: ClusterOptions) {
    this.#o = resolveOptions(options)
    const factory =
      this.#o.backendFactory ??
      ((s: ResolvedServer) =>
        new PipelinedBackend({
          id: s.id,
          host: s.host,
          port: s.port!,
          password: s.password,
          connectTimeoutMs: s.timeoutMs,
        }))
    this.#factory = factory
    this.#members = [...this.#o.servers]
    for (const s of this.#members) this.#states.set(s.id, this.#makeState(s))
    this.#live = new Rendezvous(this.#members)
    this.#limiter = new Limiter(this.#o.maxConcurrentLoads)
    this.#hlc = new HybridClock(this.#o.clock)
    const host: MigrationHost = {
      mode: this.#o.mode,
      replicas: this.#o.replicas,
      route: (key) => this.#route(key),
      servers: () => [...this.#states.keys()],
      isUp: (id) => {
        const st = this.#states.get(id)
        return st !== undefined && !st.down
      },
      call: (id, fn) => {
        const st = this.#states.get(id)
        return st === undefined ? Promise.reject(unknownServer(id)) : this.#call(st, fn)
      },
      barrier: async () => {
        await Promise.allSettled([...this.#writes])
      },
      drop: (id) => this.#drop(id),
    }
    this.#migrator = new Migrator(host, this.#live, {
      rate: this.#o.migrationRate,
      batchSize: this.#o.migrationBatchSize,
      warmUpMs: this.#o.warmUpMs,
    })
  }

  #makeState(s: ResolvedServer): ServerState {
    const backend = this.#factory(s)
    if (backend === null || typeof backend !== 'object' || typeof backend.get !== 'function') {
      throw new TypeError(`Cluster: option backendFactory returned no Backend for server "${s.id}"`)
    }
    return new ServerState(s, backend)
  }

  /** `'cache'` or `'store'`. */
  get mode(): 'cache' | 'store' {
    return this.#o.mode
  }

  /** The membership epoch: increases each time a server goes down or comes back. */
  get epoch(): number {
    return this.#epoch
  }

  /** Ids of the configured servers (live or down, not those being drained), in configuration order. */
  get servers(): string[] {
    return this.#members.map((s) => s.id)
  }

  /**
   * True while a cache-mode warm-up runs after a membership change: a miss on a key's new owner is then worth
   * asking its previous owner about (`getBuffer` does so).
   */
  get warming(): boolean {
    return this.#migrator.warming
  }

  /** The migration running now (a membership change, a re-replication, a warm-up), or null. */
  get migration(): Migration | null {
    return this.#migrator.current
  }

  /** Ids of the servers currently live, in configuration order. */
  get liveServers(): string[] {
    return this.#live === null ? [] : this.#live.servers.map((s) => s.id)
  }

  /**
   * The server a key is routed to now (cache mode), or its first replica (store mode); null if none is live. A
   * key given as bytes is placed as the text they are the UTF-8 encoding of (bytes that are not UTF-8 have a
   * place of their own).
   */
  ownerOf(key: string | Uint8Array): string | null {
    return this.#live === null ? null : this.#live.pick(this.#route(key))
  }

  /** The live servers holding a key's copies now (store mode: up to `replicas`; cache mode: the owner). */
  replicasOf(key: string): string[] {
    return this.#targets(key).map((s) => s.config.id)
  }

  // ---- routing and health ----------------------------------------------------------------------------------

  /** The placement key: the content of the first non-empty `{...}` when hash tags are on. */
  #route(key: string): string
  #route(key: string | Uint8Array): string | Uint8Array
  #route(key: string | Uint8Array): string | Uint8Array {
    if (!this.#o.hashTags) return key
    if (typeof key === 'string') {
      const open = key.indexOf('{')
      if (open < 0) return key
      const close = key.indexOf('}', open + 1)
      return close > open + 1 ? key.slice(open + 1, close) : key
    }
    // The same in bytes: `{` and `}` read the same in a string and in its UTF-8 encoding (every byte of a
    // multi-byte character is 0x80 or over). A loop, not Buffer#indexOf: that is a call into C++ per key.
    const n = key.length
    let open = 0
    while (open < n && key[open] !== 0x7b) open++
    let close = open + 1
    while (close < n && key[close] !== 0x7d) close++
    return close < n && close > open + 1 ? key.subarray(open + 1, close) : key
  }

  #owner(key: string | Uint8Array): ServerState | null {
    const live = this.#live
    return live === null ? null : this.#states.get(live.pick(this.#route(key)))!
  }

  #targets(key: string): ServerState[] {
    const live = this.#live
    if (live === null) return []
    const n = Math.min(this.#o.replicas, live.size)
    return live.pickN(this.#route(key), n).map((id) => this.#states.get(id)!)
  }

  /** Rebuilds the live placement snapshot (an immutable object swapped in, never patched). */
  #rebuild(): void {
    const live = this.#members.filter((s) => !this.#states.get(s.id)!.down)
    this.#live = live.length === 0 ? null : new Rendezvous(live)
  }

  /** Store writes go through here: they are tracked so that a migration can wait for them. */
  #write<T>(s: ServerState, fn: (b: Backend) => Promise<T>): Promise<T> {
    const p = this.#call(s, fn)
    this.#writes.add(p)
    const done = () => this.#writes.delete(p)
    p.then(done, done)
    return p
  }

  /** The live placement changed (member down or up): re-replicate in store mode, when enabled. */
  #healthChanged(s: ServerState, before: Rendezvous | null, reason: 'down' | 'up'): void {
    if (this.#o.mode !== 'store' || !this.#members.includes(s.config)) return
    if (reason === 'down') this.#migrator.distrust(s.config.id)
    if (this.#o.repairOnFailure && !this.#closed) {
      this.#migrator.change(before, this.#live, reason, s.config.id)
    }
  }

  /** One call on live traffic, with the hard timeout and health accounting. */
  #call<T>(s: ServerState, fn: (b: Backend) => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(closed())
    s.requests++
    const ms = this.#o.timeoutMs
    return new Promise<T>((resolve, reject) => {
      let settled = false
      const timer = setTimeout(() => {
        settled = true
        reject(this.#timedOut(s))
      }, ms)
      let p: Promise<T>
      try {
        p = fn(s.backend)
      } catch (e) {
        p = Promise.reject(e)
      }
      p.then(
        (v) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          if (!s.down) s.failures = 0
          resolve(v)
        },
        (e: unknown) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          if (isReplyError(e)) {
            if (!s.down) s.failures = 0
          } else {
            s.errors++
            this.#failed(s, e)
          }
          reject(asError(e))
        },
      )
    })
  }

  /** A call for probes and fencing: timed out, but outside live-traffic accounting. */
  #probeCall<T>(s: ServerState, fn: (b: Backend) => Promise<T>): Promise<T> {
    const ms = this.#o.timeoutMs
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(timeoutError(s.config.id, ms)), ms)
    })
    return Promise.race([fn(s.backend), timeout]).finally(() => clearTimeout(timer))
  }

  /** Counts a call to `s` that outlived `timeoutMs` as a failure; returns the error it fails with. */
  #timedOut(s: ServerState): Error {
    s.timeouts++
    const err = timeoutError(s.config.id, this.#o.timeoutMs)
    this.#failed(s, err)
    return err
  }

  #failed(s: ServerState, err: unknown): void {
    s.failures++
    if (!s.down && s.failures >= this.#o.failureThreshold && !this.#closed) this.#markDown(s, err)
  }

  #markDown(s: ServerState, error: unknown): void {
    s.down = true
    s.downSince = this.#o.clock()
    s.downCount++
    s.probeAttempt = 0
    this.#epoch++
    const before = this.#live
    this.#rebuild()
    this.#healthChanged(s, before, 'down')
    if (channels.serverDown.hasSubscribers) {
      channels.serverDown.publish({
        cluster: this,
        id: s.config.id,
        epoch: this.#epoch,
        error,
      } satisfies ServerEvent)
    }
    this.#scheduleProbe(s)
  }

  /** Next probe after min(probeMaxMs, probeMinMs * 2^attempt), jittered to between half and all of it. */
  #scheduleProbe(s: ServerState): void {
    if (this.#closed) return
    const base = Math.min(this.#o.probeMaxMs, this.#o.probeMinMs * 2 ** Math.min(s.probeAttempt, 30))
    const delay = base / 2 + (this.#o.random() * base) / 2
    s.probeTimer = setTimeout(() => void this.#probe(s), delay)
    s.probeTimer.unref()
  }

  /**
   * Probes a down server. Steps: (1) PING; (2) in cache mode, FLUSH it (the fence: whatever it holds may be
   * stale, including writes it buffered while frozen, which precede the flush on the same connection);
   * (3) only then bump the epoch and put it back in the live set. Any failure schedules the next probe.
   */
  async #probe(s: ServerState): Promise<void> {
    s.probeTimer = null
    if (this.#closed || !s.down) return
    s.probes++
    try {
      await this.#probeCall(s, (b) => b.ping())
      if (this.#o.mode === 'cache') {
        await this.#probeCall(s, (b) => b.flush())
        this.#stats.fenced++
        if (channels.fenced.hasSubscribers) {
          channels.fenced.publish({
            cluster: this,
            id: s.config.id,
            epoch: this.#epoch + 1,
          } satisfies ServerEvent)
        }
      }
    } catch (error) {
      s.probeFailures++
      s.probeAttempt++
      if (channels.probeFailed.hasSubscribers) {
        channels.probeFailed.publish({
          cluster: this,
          id: s.config.id,
          epoch: this.#epoch,
          error,
        } satisfies ServerEvent)
      }
      this.#scheduleProbe(s)
      return
    }
    if (this.#closed) return
    s.down = false
    s.failures = 0
    s.timeDownMs += this.#o.clock() - s.downSince
    this.#epoch++
    s.epoch = this.#epoch
    const before = this.#live
    this.#rebuild()
    this.#healthChanged(s, before, 'up')
    if (channels.serverUp.hasSubscribers) {
      channels.serverUp.publish({ cluster: this, id: s.config.id, epoch: this.#epoch } satisfies ServerEvent)
    }
  }

  /** Groups key positions by the server that owns them now; positions with no live server go to `orphans`. */
  #byOwner(keys: readonly string[]): { groups: Map<ServerState, number[]>; orphans: number[] } {
    const groups = new Map<ServerState, number[]>()
    const orphans: number[] = []
    keys.forEach((k, i) => {
      checkKey(k)
      const s = this.#owner(k)
      if (s === null) orphans.push(i)
      else {
        const g = groups.get(s)
        if (g === undefined) groups.set(s, [i])
        else g.push(i)
      }
    })
    return { groups, orphans }
  }

  // ---- raw routing (for the proxy; added by the proxy's issue, keep small) ------------------------------------

  /**
   * Runs `fn` on the backend of the server that owns `key` now (its first live server; hash tags honoured),
   * through the same path as every other call: the hard timeout, health accounting and failover to the next
   * server once the owner is marked down. `fn` issues one call (e.g. a raw command) and must not retry.
   * Rejects with `ERR_ALL_SERVERS_DOWN` when no server is live. In store mode the call reaches only the first
   * replica and sees stored envelopes: use it for commands that need no replication.
   */
  route<T>(key: string, fn: (backend: Backend) => Promise<T>): Promise<T> {
    const s = this.#owner(key)
    if (s === null) return Promise.reject(allDown())
    if (this.#o.loader !== null) this.#forget(key)
    return this.#call(s, fn)
  }

  /**
   * {@link route} for one raw command, with a callback instead of a promise (the proxy's path for single-key
   * commands): `args` go as they are to the backend of the server that owns `key` now, under the same timeout,
   * health accounting and failover, and its reply's bytes come back, error replies included. The backends must
   * be {@link RawBackend}s. `callback` may be called before this returns (no server live, cluster closed).
   * `urgent`: the backend writes the command by the end of this turn (see {@link RawBackend.call}).
   */
  forward(
    key: string | Uint8Array,
    args: ReadonlyArray<Buffer | string>,
    callback: RawCallback,
    urgent = false,
  ): void {
    const s = this.#owner(key)
    if (s === null) {
      callback.fail(allDown())
      return
    }
    if (this.#o.loader !== null) this.#forget(typeof key === 'string' ? key : utf8Of(key as Buffer))
    if (this.#closed) {
      callback.fail(closed())
      return
    }
    const backend = s.backend as RawBackend
    if (typeof backend.call !== 'function') {
      callback.fail(new TypeError(`forward: the backend of server "${s.config.id}" cannot send raw commands`))
      return
    }
    s.requests++
    const call = new RawCall(s, callback, performance.now() + this.#o.timeoutMs, this.#rawFailed)
    s.raw.push(call)
    if (s.rawTimer === null) s.rawTimer = setTimeout(this.#expireRaw, this.#o.timeoutMs, s)
    backend.call(args, call, urgent)
  }

  readonly #rawFailed = (s: ServerState, err: unknown): void => this.#failed(s, err)

  /** Times out the forwarded calls of `s` past their deadline, then waits for the next one's. */
  readonly #expireRaw = (s: ServerState): void => {
    s.rawTimer = null
    const now = performance.now()
    for (;;) {
      s.trimRaw()
      const call = s.raw[s.rawHead]
      if (call === undefined) return
      if (call.deadline > now) break
      // Settled before its callback runs: a callback that forwards again finds the queue consistent.
      call.settled = true
      call.callback.fail(this.#timedOut(s))
    }
    // A callback above may have armed a timer for a later deadline: the oldest call's comes first.
    if (s.rawTimer !== null) clearTimeout(s.rawTimer)
    s.rawTimer = setTimeout(this.#expireRaw, s.raw[s.rawHead]!.deadline - now, s)
  }

  /** Like {@link route}, on the server with id `id` (e.g. to broadcast to every one of {@link liveServers}). */
  routeToServer<T>(id: string, fn: (backend: Backend) => Promise<T>): Promise<T> {
    const s = this.#states.get(id)
    if (s === undefined) return Promise.reject(new RendezvousError('ERR_UNKNOWN_SERVER', `no server "${id}"`))
    return this.#call(s, fn)
  }

  // ---- public operations -------------------------------------------------------------------------------------

  /** The value of `key` as UTF-8 text, or null. Cache mode: loaded through `loader` on a miss. */
  get(key: string): Promise<string | null> {
    return this.getBuffer(key).then(utf8)
  }

  /** The value of `key` as bytes, or null. */
  getBuffer(key: string): Promise<Buffer | null> {
    checkKey(key)
    if (this.#o.mode === 'store') return this.#storeRead(key).then((r) => r.value)
    // Without a loader there is nothing to coalesce but a GET: skip the bookkeeping on this hot path.
    if (this.#o.loader === null) return this.#cacheGet(key)
    const { promise, shared } = this.#gets.do(key, () => this.#cacheGet(key))
    if (shared) this.#stats.coalescedWaits++
    return promise
  }

  /** Writes `key`. Store mode: resolves once `writeConcern` replicas acknowledged. */
  async set(key: string, value: Value, options: WriteOptions = {}): Promise<void> {
    checkKey(key)
    const buf = toBuffer(value)
    const ttlMs = checkTtl(options.ttlMs)
    if (this.#o.mode === 'store') {
      const bytes = encode(Kind.Value, this.#hlc.now(), buf)
      await this.#replicate(key, (b) => b.set(key, bytes, ttlMs > 0 ? { ttlMs } : undefined))
      return
    }
    this.#forget(key)
    const s = this.#owner(key)
    if (s === null) throw allDown()
    const [bytes, ttl] = this.#cacheBytes(buf, ttlMs)
    await this.#call(s, (b) => b.set(key, bytes, ttl > 0 ? { ttlMs: ttl } : undefined))
    if (this.#migrator.warming) await this.#unwarm([key])
  }

  /** Values of `keys` as UTF-8 text (null for misses), in order. Throws {@link ClusterError} on partial failure. */
  async mget(keys: readonly string[]): Promise<(string | null)[]> {
    try {
      return (await this.mgetBuffer(keys)).map(utf8)
    } catch (e) {
      if (e instanceof ClusterError) {
        throw new ClusterError(
          'mget',
          e.failures,
          e.partial.map((v) => (v === undefined ? undefined : utf8(v as Buffer | null))),
        )
      }
      throw e
    }
  }

  /** Values of `keys` as bytes, in order; one command per server, all in parallel. */
  mgetBuffer(keys: readonly string[]): Promise<(Buffer | null)[]> {
    if (!Array.isArray(keys)) throw new TypeError('mget: keys must be an array of strings')
    return this.#o.mode === 'store' ? this.#storeMget(keys, 'mget') : this.#cacheMget(keys, true, 'mget')
  }

  /** Writes several entries (one command per server, in parallel). Throws {@link ClusterError} on partial failure. */
  async mset(
    entries: Iterable<readonly [string, Value]> | Record<string, Value>,
    options: WriteOptions = {},
  ): Promise<void> {
    const list: (readonly [string, Value])[] =
      Symbol.iterator in Object(entries)
        ? [...(entries as Iterable<readonly [string, Value]>)]
        : Object.entries(entries as Record<string, Value>)
    const ttlMs = checkTtl(options.ttlMs)
    const keys = list.map(([k]) => k)
    const values = list.map(([, v]) => toBuffer(v))
    if (this.#o.mode === 'store') {
      const stored = values.map((v) => encode(Kind.Value, this.#hlc.now(), v))
      await this.#storeWriteMany('mset', keys, stored, ttlMs)
      return
    }
    const { groups, orphans } = this.#byOwner(keys)
    for (const k of keys) this.#forget(k)
    const failures: KeyFailure[] = orphans.map((i) => ({ key: keys[i]!, index: i, error: allDown() }))
    await Promise.all(
      [...groups].map(async ([s, idx]) => {
        const batch = idx.map((i) => {
          const [bytes, ttl] = this.#cacheBytes(values[i]!, ttlMs)
          return [keys[i]!, bytes, ttl > 0 ? { ttlMs: ttl } : undefined] as const
        })
        try {
          await this.#call(s, (b) => b.mset(batch))
        } catch (e) {
          for (const i of idx)
            failures.push({ key: keys[i]!, index: i, server: s.config.id, error: asError(e) })
        }
      }),
    )
    if (this.#migrator.warming) await this.#unwarm(keys)
    if (failures.length > 0)
      throw partial('mset', failures, keys.length, (i) => (fail(i, failures) ? undefined : true))
  }

  /**
   * Deletes keys; resolves to how many were removed. Store mode writes a tombstone per key and counts every key
   * whose tombstone was acknowledged (whether or not it existed).
   */
  async del(...keys: string[]): Promise<number> {
    if (this.#o.mode === 'store') {
      const stone = () => encode(Kind.Tombstone, this.#hlc.now(), EMPTY)
      await this.#storeWriteMany(
        'del',
        keys,
        keys.map(() => stone()),
        this.#o.tombstoneTtlMs,
      )
      return keys.length
    }
    const { groups, orphans } = this.#byOwner(keys)
    for (const k of keys) this.#forget(k)
    const failures: KeyFailure[] = orphans.map((i) => ({ key: keys[i]!, index: i, error: allDown() }))
    let removed = 0
    await Promise.all(
      [...groups].map(async ([s, idx]) => {
        try {
          const n = await this.#call(s, (b) => b.del(idx.map((i) => keys[i]!)))
          removed += n
        } catch (e) {
          for (const i of idx)
            failures.push({ key: keys[i]!, index: i, server: s.config.id, error: asError(e) })
        }
      }),
    )
    if (this.#migrator.warming) await this.#unwarm(keys)
    if (failures.length > 0) throw partial('del', failures, keys.length, () => undefined)
    return removed
  }

  /** How many of `keys` hold a value (repeats count; remembered misses and tombstones do not). */
  async exists(...keys: string[]): Promise<number> {
    const values =
      this.#o.mode === 'store'
        ? await this.#storeMget(keys, 'exists')
        : await this.#cacheMget(keys, false, 'exists')
    return values.filter((v) => v !== null).length
  }

  /**
   * Adds `by` (default 1) to the integer at `key` (0 when missing) atomically on its server; the new value.
   * Cache mode only: store mode rejects with `ERR_UNSUPPORTED`, since an increment over replicas would not be
   * atomic.
   */
  async incr(key: string, by = 1): Promise<number> {
    checkKey(key)
    if (!Number.isSafeInteger(by)) throw new TypeError(`incr: by must be a safe integer, got ${by}`)
    if (this.#o.mode === 'store') {
      throw new RendezvousError(
        'ERR_UNSUPPORTED',
        "incr is not supported in mode 'store' (it would not be atomic)",
      )
    }
    this.#forget(key)
    const s = this.#owner(key)
    if (s === null) throw allDown()
    if (this.#migrator.warming) {
      // Start from the previous owner's value, then make sure a later miss cannot bring that one back.
      await this.#warm(key)
      const n = await this.#call(s, (b) => b.incrBy(key, by))
      if (this.#migrator.warming) await this.#unwarm([key])
      return n
    }
    return this.#call(s, (b) => b.incrBy(key, by))
  }

  /** Sets the TTL of an existing key, in ms; false when it does not exist. Store mode rewrites it, versioned. */
  async expire(key: string, ttlMs: number): Promise<boolean> {
    checkKey(key)
    if (typeof ttlMs !== 'number' || !Number.isInteger(ttlMs) || ttlMs <= 0) {
      throw new TypeError(`expire: ttlMs must be a positive integer, got ${String(ttlMs)}`)
    }
    if (this.#o.mode === 'store') {
      const { value } = await this.#storeRead(key)
      if (value === null) return false
      const bytes = encode(Kind.Value, this.#hlc.now(), value)
      await this.#replicate(key, (b) => b.set(key, bytes, { ttlMs }))
      return true
    }
    const s = this.#owner(key)
    if (s === null) throw allDown()
    return this.#call(s, (b) => b.pexpire(key, ttlMs))
  }

  /** Remaining TTL of `key` in ms: -2 when it does not exist, -1 when it has none. */
  async ttl(key: string): Promise<number> {
    checkKey(key)
    if (this.#o.mode === 'store') {
      const { value, from } = await this.#storeRead(key)
      if (value === null || from === null) return -2
      return this.#call(from, (b) => b.pttl(key))
    }
    const s = this.#owner(key)
    if (s === null) throw allDown()
    return this.#call(s, (b) => b.pttl(key))
  }

  // ---- membership ------------------------------------------------------------------------------------------

  /**
   * Adds a server at runtime. Its keys start going to it at once; the returned {@link Migration} moves existing
   * ones. Store mode: exactly the keys whose owners changed are copied to it (write-if-newer, TTLs kept) and
   * removed from servers no longer among their owners; until then reads that miss fall back to the previous
   * owners. Cache mode: for `warmUpMs`, a miss on the new owner first asks the previous owner, then a throttled
   * clean-up deletes copies from servers that no longer own them.
   * @throws TypeError when the server is invalid or its id is already in the cluster (or still being drained).
   */
  addServer(server: ServerConfig, options?: MigrationOptions): Migration {
    this.#checkOpen()
    checkMigrationOptions(options)
    let spec: ReturnType<typeof normalizeServer>
    try {
      spec = normalizeServer(server, 'addServer(server)')
    } catch (err) {
      throw new TypeError(`Cluster: ${(err as Error).message}`)
    }
    if (this.#states.has(spec.id)) {
      throw new TypeError(
        `Cluster: addServer: server "${spec.id}" is already in the cluster (or being drained)`,
      )
    }
    const resolved = resolveServer(
      server,
      spec,
      'addServer(server)',
      this.#o.timeoutMs,
      this.#o.backendFactory !== null,
    )
    this.#states.set(spec.id, this.#makeState(resolved))
    this.#members = [...this.#members, resolved]
    return this.#changed('join', spec.id, options)
  }

  /**
   * Removes a server gracefully: it leaves the placement at once (no new writes reach it), its keys are drained
   * to their new owners by the returned {@link Migration} (reads fall back to it meanwhile), and its
   * connection is closed once the migration is done. A server that is down cannot be drained: in store mode the
   * other replicas re-replicate its keys instead.
   * @throws RendezvousError `ERR_UNKNOWN_SERVER`, or `ERR_INVALID_ARGUMENT` for the last server.
   */
  removeServer(id: string, options?: MigrationOptions): Migration {
    this.#checkOpen()
    checkMigrationOptions(options)
    const s = this.#member(id)
    if (this.#members.length === 1) {
      throw new RendezvousError('ERR_INVALID_ARGUMENT', `removeServer: "${id}" is the last server`)
    }
    this.#members = this.#members.filter((m) => m !== s.config)
    this.#migrator.depart(id)
    if (s.down) this.#migrator.distrust(id)
    return this.#changed('leave', id, options)
  }

  /**
   * Changes a server's weight at runtime; keys move only to or from it, through the returned {@link Migration}.
   * @throws TypeError for a bad weight; RendezvousError `ERR_UNKNOWN_SERVER`.
   */
  setWeight(id: string, weight: number, options?: MigrationOptions): Migration {
    this.#checkOpen()
    checkMigrationOptions(options)
    const s = this.#member(id)
    try {
      normalizeServer({ id, weight }, 'setWeight')
    } catch (err) {
      throw new TypeError(`Cluster: ${(err as Error).message}`)
    }
    const config: ResolvedServer = { ...s.config, weight }
    this.#members = this.#members.map((m) => (m === s.config ? config : m))
    s.config = config
    return this.#changed('weight', id, options)
  }

  /**
   * Runs the migration to the current placement again: after one that failed or was aborted, or in a new
   * process after one that was interrupted (store mode). Idempotent: copies are write-if-newer and old copies
   * are deleted only once every new owner has the key. Cache mode: the clean-up scan alone.
   */
  rebalance(options?: MigrationOptions): Migration {
    this.#checkOpen()
    checkMigrationOptions(options)
    return this.#migrator.change(this.#live, this.#live, 'rebalance', null, options)
  }

  #checkOpen(): void {
    if (this.#closed) throw closed()
  }

  #member(id: string): ServerState {
    const s = this.#states.get(id)
    if (s === undefined || !this.#members.includes(s.config)) throw unknownServer(id)
    return s
  }

  #changed(reason: MigrationReason, id: string, options?: MigrationOptions): Migration {
    const before = this.#live
    this.#rebuild()
    return this.#migrator.change(before, this.#live, reason, id, options)
  }

  /** Forgets a removed server once drained: stops its probes and closes its backend. */
  #drop(id: string): void {
    const s = this.#states.get(id)
    if (s === undefined || this.#members.includes(s.config)) return
    if (s.probeTimer !== null) clearTimeout(s.probeTimer)
    this.#states.delete(id)
    void s.backend.close().catch(() => {})
  }

  /** A snapshot of the counters (per server and for the cluster). */
  stats(): ClusterStats {
    const now = this.#o.clock()
    return {
      epoch: this.#epoch,
      ...this.#stats,
      migration: this.#migrator.stats(),
      servers: [...this.#states.values()].map((s) => ({
        id: s.config.id,
        up: !s.down,
        epoch: s.epoch,
        requests: s.requests,
        errors: s.errors,
        timeouts: s.timeouts,
        downCount: s.downCount,
        timeDownMs: s.timeDownMs + (s.down ? now - s.downSince : 0),
        probes: s.probes,
        probeFailures: s.probeFailures,
      })),
    }
  }

  /** Stops probes and closes every backend; later calls reject with `ERR_CLOSED`. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#migrator.stop()
    for (const s of this.#states.values()) if (s.probeTimer !== null) clearTimeout(s.probeTimer)
    await Promise.allSettled([...this.#states.values()].map((s) => s.backend.close()))
  }

  // ---- cache mode --------------------------------------------------------------------------------------------

  /** After a write: later reads must not join a read (or load) that began before it. */
  #forget(key: string): void {
    this.#gets.forget(key)
    this.#loads.forget(key)
  }

  /** Stored bytes and physical TTL for a value in cache mode (plain unless metadata is needed). */
  #cacheBytes(value: Buffer, ttlMs: number): [Buffer, number] {
    const swr = this.#o.staleWhileRevalidateMs
    if (ttlMs > 0 && swr > 0) return [encode(Kind.Value, this.#hlc.now(), value, ttlMs), ttlMs + swr]
    // A plain value that looks like a header must be wrapped, or it would be misread.
    if (hasHeader(value)) return [encode(Kind.Value, this.#hlc.now(), value), ttlMs]
    return [value, ttlMs]
  }

  /** Interprets cached bytes: the value, null for a remembered miss; starts a refresh when stale. */
  #fromCache(key: string, raw: Buffer): Buffer | null {
    this.#stats.hits++
    if (!hasHeader(raw)) return raw
    const env = decode(raw)
    if (env.kind !== Kind.Value) {
      this.#stats.negativeHits++
      return null
    }
    if (env.freshUntil < this.#o.clock()) {
      this.#stats.staleHits++
      this.#refresh(key)
    }
    return env.value
  }

  #cacheGet(key: string): Promise<Buffer | null> {
    const s = this.#owner(key)
    if (s === null) return this.#cacheGetSlow(key, s)
    // Fast path: a hit costs one call and no extra async frame; anything else takes the slow path.
    return this.#call(s, (b) => b.get(key)).then(
      (raw) => (raw !== null ? this.#fromCache(key, raw) : this.#cacheGetSlow(key, s, null)),
      (e: unknown) => this.#cacheGetSlow(key, s, undefined, e),
    )
  }

  async #cacheGetSlow(
    key: string,
    s: ServerState | null,
    answer?: null | undefined,
    error?: unknown,
  ): Promise<Buffer | null> {
    if (error !== undefined && isReplyError(error)) throw error
    const failure = error ?? null
    if (s !== null && answer === null) {
      this.#stats.misses++
      if (this.#o.loader !== null) return this.#load(key, true)
      return this.#migrator.warming ? this.#warmGet(key) : null
    }
    // The owner failed (or none is live): serve from the origin without caching, or report the failure.
    if (this.#o.loader === null) throw failure ?? allDown()
    return this.#load(key, false)
  }

  /** Loads `key` from the origin once for all concurrent callers, and writes it back when `writeBack`. */
  #load(key: string, writeBack: boolean): Promise<Buffer | null> {
    const { promise, shared } = this.#loads.do(key, async () => {
      if (writeBack && this.#migrator.warming) {
        const raw = await this.#warm(key)
        if (raw !== null) return this.#fromCache(key, raw)
      }
      const value = await this.#limiter.run(() => this.#callLoader(key))
      if (writeBack) {
        const s = this.#owner(key) // the owner now: membership may have changed during the load
        if (s !== null) {
          const [bytes, ttl] =
            value === null ? this.#negativeBytes() : this.#cacheBytes(value, this.#o.loadTtlMs)
          // NX: a `set` made while the origin was read wins over the loaded value.
          if (ttl >= 0)
            await this.#call(s, (b) => b.set(key, bytes, { nx: true, ttlMs: ttl })).catch(() => {})
        }
      }
      return value
    })
    if (shared) this.#stats.coalescedWaits++
    return promise
  }

  /**
   * Warm-up (mcrouter's WarmUpRoute): the stored bytes of `key` from its previous owner, copied to its owner
   * (NX: a write that landed meanwhile wins) with the remaining TTL; null when there is no previous owner,
   * it has nothing, or it fails.
   */
  async #warm(key: string): Promise<Buffer | null> {
    const s = this.#owner(key)
    const from = s === null ? null : this.#migrator.warmSource(key, s.config.id)
    const p = from === null ? undefined : this.#states.get(from)
    if (s === null || p === undefined) return null
    try {
      const [e] = await this.#call(p, (b) => (b.dump === undefined ? dumpWith(b, [key]) : b.dump([key])))
      if (e === null || e === undefined) return null
      this.#migrator.counted('warmUpHits')
      await this.#call(s, (b) => b.set(key, e.value, { nx: true, ttlMs: e.ttlMs })).catch(() => {})
      return e.value
    } catch {
      return null
    }
  }

  /** A cache miss without a loader during a warm-up: the previous owner's value, coalesced per key. */
  #warmGet(key: string): Promise<Buffer | null> {
    const { promise, shared } = this.#loads.do(key, async () => {
      const raw = await this.#warm(key)
      return raw === null ? null : this.#fromCache(key, raw)
    })
    if (shared) this.#stats.coalescedWaits++
    return promise
  }

  /**
   * During a warm-up, a write or delete also deletes the key from its previous owner, so that a later miss
   * (an eviction on the new owner) cannot bring back the older value. Callers check `warming` first.
   */
  async #unwarm(keys: readonly string[]): Promise<void> {
    await Promise.all(
      keys.map((key) => {
        const s = this.#owner(key)
        const from = s === null ? null : this.#migrator.warmSource(key, s.config.id)
        const p = from === null ? undefined : this.#states.get(from)
        return p === undefined ? null : this.#call(p, (b) => b.del([key])).catch(() => {})
      }),
    )
  }

  async #callLoader(key: string): Promise<Buffer | null> {
    this.#stats.loaderCalls++
    try {
      const v = await this.#o.loader!(key)
      return v === null || v === undefined ? null : toBuffer(v)
    } catch (e) {
      this.#stats.loaderErrors++
      throw e
    }
  }

  /** A remembered miss and its TTL; TTL -1 when misses are not remembered. */
  #negativeBytes(): [Buffer, number] {
    const ttl = this.#o.negativeTtlMs
    return ttl === 0 ? [EMPTY, -1] : [encode(Kind.Negative, this.#hlc.now(), EMPTY), ttl]
  }

  /** Stale-while-revalidate: one background load per key, overwriting the stale value. */
  #refresh(key: string): void {
    if (this.#o.loader === null || this.#refreshes.has(key)) return
    this.#refreshes
      .do(key, async () => {
        const value = await this.#limiter.run(() => this.#callLoader(key))
        const s = this.#owner(key)
        if (s === null) return
        const [bytes, ttl] =
          value === null ? this.#negativeBytes() : this.#cacheBytes(value, this.#o.loadTtlMs)
        if (ttl >= 0) await this.#call(s, (b) => b.set(key, bytes, ttl > 0 ? { ttlMs: ttl } : undefined))
      })
      .promise.catch(() => {})
  }

  async #cacheMget(keys: readonly string[], load: boolean, op: string): Promise<(Buffer | null)[]> {
    const out: (Buffer | null | undefined)[] = new Array(keys.length).fill(undefined)
    const failures: KeyFailure[] = []
    const loader = load ? this.#o.loader : null
    const toLoad: [index: number, writeBack: boolean][] = []
    const { groups, orphans } = this.#byOwner(keys)
    await Promise.all(
      [...groups].map(async ([s, idx]) => {
        try {
          const vals = await this.#call(s, (b) => b.mget(idx.map((i) => keys[i]!)))
          idx.forEach((i, j) => {
            const raw = vals[j] ?? null
            if (raw !== null) out[i] = this.#fromCache(keys[i]!, raw)
            else {
              this.#stats.misses++
              if (loader !== null || (load && this.#migrator.warming)) toLoad.push([i, true])
              else out[i] = null
            }
          })
        } catch (e) {
          for (const i of idx) {
            if (loader !== null && !isReplyError(e)) toLoad.push([i, false])
            else failures.push({ key: keys[i]!, index: i, server: s.config.id, error: asError(e) })
          }
        }
      }),
    )
    for (const i of orphans) {
      if (loader !== null) toLoad.push([i, false])
      else failures.push({ key: keys[i]!, index: i, error: allDown() })
    }
    if (toLoad.length > 0) {
      await Promise.all(
        toLoad.map(async ([i, writeBack]) => {
          try {
            out[i] = loader === null ? await this.#warmGet(keys[i]!) : await this.#load(keys[i]!, writeBack)
          } catch (e) {
            failures.push({ key: keys[i]!, index: i, error: asError(e) })
          }
        }),
      )
    }
    if (failures.length > 0) throw partial(op, failures, keys.length, (i) => out[i])
    return out as (Buffer | null)[]
  }

  // ---- store mode --------------------------------------------------------------------------------------------

  /** Runs a write on every replica of `key`; resolves after `writeAcks` successes. */
  #replicate(key: string, op: (b: Backend) => Promise<unknown>): Promise<void> {
    const targets = this.#targets(key)
    const need = this.#o.writeAcks
    if (targets.length < need) return Promise.reject(writeConcern(key, targets.length, need))
    return new Promise((resolve, reject) => {
      let ok = 0
      let bad = 0
      for (const s of targets) {
        this.#write(s, op).then(
          () => {
            if (++ok === need) resolve()
          },
          (e: unknown) => {
            if (++bad === targets.length - need + 1) reject(writeConcern(key, ok, need, e))
          },
        )
      }
    })
  }

  /** Writes prepared stored bytes for many keys: one MSET-like batch per server, acknowledged per key. */
  async #storeWriteMany(op: string, keys: readonly string[], stored: Buffer[], ttlMs: number): Promise<void> {
    const need = this.#o.writeAcks
    const acks = new Array<number>(keys.length).fill(0)
    const errors = new Map<number, { server: string; error: Error }>()
    const batches = new Map<ServerState, number[]>()
    keys.forEach((k, i) => {
      checkKey(k)
      for (const s of this.#targets(k)) {
        const b = batches.get(s)
        if (b === undefined) batches.set(s, [i])
        else b.push(i)
      }
    })
    await Promise.all(
      [...batches].map(async ([s, idx]) => {
        const batch = idx.map((i) => [keys[i]!, stored[i]!, ttlMs > 0 ? { ttlMs } : undefined] as const)
        try {
          await this.#write(s, (b) => b.mset(batch))
          for (const i of idx) acks[i]!++
        } catch (e) {
          for (const i of idx) errors.set(i, { server: s.config.id, error: asError(e) })
        }
      }),
    )
    const failures: KeyFailure[] = []
    keys.forEach((key, i) => {
      if (acks[i]! >= need) return
      const e = errors.get(i)
      failures.push({
        key,
        index: i,
        ...(e === undefined ? {} : { server: e.server }),
        error: writeConcern(key, acks[i]!, need, e?.error),
      })
    })
    if (failures.length > 0)
      throw partial(op, failures, keys.length, (i) => (fail(i, failures) ? undefined : true))
  }

  /** Reads every replica of `key`, picks the newest, repairs the others; falls back during a migration. */
  async #storeRead(key: string): Promise<StoreAnswer> {
    const targets = this.#targets(key)
    const answers = await Promise.all(
      targets.map((s) => this.#call(s, (b) => b.get(key)).catch((e: unknown) => asError(e))),
    )
    const r = this.#resolve(key, targets, answers)
    return r.found || !this.#migrator.handoff ? r : this.#handoff(key, targets, r)
  }

  /**
   * Handoff: while a migration runs, a key that none of its owners holds is read from its previous owners
   * (newest version wins). No repair here: the migration copies it, write-if-newer.
   */
  async #handoff(key: string, targets: ServerState[], miss: StoreAnswer): Promise<StoreAnswer> {
    const ids = this.#migrator.fallback(key, new Set(targets.map((s) => s.config.id)))
    const states = ids.map((id) => this.#states.get(id)).filter((s) => s !== undefined)
    if (states.length === 0) return miss
    const answers = await Promise.all(states.map((s) => this.#call(s, (b) => b.get(key)).catch(() => null)))
    let best: Buffer | null = null
    let at = -1
    answers.forEach((a, i) => {
      if (a !== null && (best === null || compareStored(a, best) > 0)) {
        best = a
        at = i
      }
    })
    if (best === null) return miss
    const env = decode(best)
    this.#hlc.observe(env.version)
    this.#migrator.counted('handoffReads')
    if (env.kind === Kind.Tombstone) return { ...miss, found: true }
    this.#stats.misses--
    this.#stats.hits++
    return { value: env.value, from: states[at]!, found: true }
  }

  async #storeMget(keys: readonly string[], op: string): Promise<(Buffer | null)[]> {
    const targets = keys.map((k) => {
      checkKey(k)
      return this.#targets(k)
    })
    const answers: Answer[][] = targets.map((t) => new Array<Answer>(t.length).fill(null))
    const batches = new Map<ServerState, [key: number, slot: number][]>()
    targets.forEach((t, i) => {
      t.forEach((s, j) => {
        const b = batches.get(s)
        if (b === undefined) batches.set(s, [[i, j]])
        else b.push([i, j])
      })
    })
    await Promise.all(
      [...batches].map(async ([s, slots]) => {
        try {
          const vals = await this.#call(s, (b) => b.mget(slots.map(([i]) => keys[i]!)))
          slots.forEach(([i, j], n) => {
            answers[i]![j] = vals[n] ?? null
          })
        } catch (e) {
          for (const [i, j] of slots) answers[i]![j] = asError(e)
        }
      }),
    )
    const out: (Buffer | null | undefined)[] = new Array(keys.length).fill(undefined)
    const failures: KeyFailure[] = []
    const handoffs: Promise<void>[] = []
    keys.forEach((key, i) => {
      try {
        const r = this.#resolve(key, targets[i]!, answers[i]!)
        out[i] = r.value
        if (!r.found && this.#migrator.handoff) {
          handoffs.push(
            this.#handoff(key, targets[i]!, r).then((h) => {
              out[i] = h.value
            }),
          )
        }
      } catch (e) {
        failures.push({ key, index: i, error: asError(e) })
      }
    })
    await Promise.all(handoffs)
    if (failures.length > 0) throw partial(op, failures, keys.length, (i) => out[i])
    return out as (Buffer | null)[]
  }

  /**
   * Last writer wins over the replicas' answers: needs `readAnswers` of them, returns the newest value (null
   * for none or a tombstone) and starts repairing replicas that answered with something older or nothing.
   */
  #resolve(key: string, targets: ServerState[], answers: Answer[]): StoreAnswer {
    let ok = 0
    let best: Buffer | null = null
    let bestAt = -1
    let firstError: Error | null = null
    answers.forEach((a, i) => {
      if (a instanceof Error) {
        firstError ??= a
        return
      }
      ok++
      if (a !== null && (best === null || compareStored(a, best) > 0)) {
        best = a
        bestAt = i
      }
    })
    const need = Math.min(this.#o.readAnswers, Math.max(1, targets.length))
    if (ok < need) {
      if (targets.length === 0) throw allDown()
      throw new RendezvousError(
        'ERR_READ_QUORUM',
        `"${key}": ${ok} of ${targets.length} replicas answered, reads need ${need} (options replicas, writeConcern)`,
        { cause: firstError },
      )
    }
    if (best === null) {
      this.#stats.misses++
      return { value: null, from: null, found: false }
    }
    const winner: Buffer = best
    const env = decode(winner)
    this.#hlc.observe(env.version)
    const stale = targets.filter((_, i) => {
      const a = answers[i]
      if (a instanceof Error || a === undefined) return false
      if (a === null) return env.kind !== Kind.Tombstone
      return !a.equals(winner)
    })
    if (stale.length > 0) void this.#repair(key, winner, env.kind, targets[bestAt]!, stale)
    if (env.kind === Kind.Tombstone) {
      this.#stats.misses++
      return { value: null, from: null, found: true }
    }
    this.#stats.hits++
    return { value: env.value, from: targets[bestAt]!, found: true }
  }

  /**
   * Writes the winning bytes to replicas that are behind, with the winner's remaining TTL. Missing replicas are
   * filled with NX (a write that lands meanwhile is newer and must not be overwritten). A replica holding an
   * older value is overwritten; in a race with a concurrent write of the same key this can regress that one
   * replica, which the next read repairs again from the others.
   */
  async #repair(
    key: string,
    bytes: Buffer,
    kind: Kind,
    from: ServerState,
    stale: ServerState[],
  ): Promise<void> {
    try {
      let ttlMs = this.#o.tombstoneTtlMs
      if (kind !== Kind.Tombstone) {
        const left = await this.#call(from, (b) => b.pttl(key))
        if (left === -2) return
        ttlMs = Math.max(left, 0)
      }
      const exists = await Promise.all(
        stale.map((s) => this.#call(s, (b) => b.exists([key])).catch(() => -1)),
      )
      await Promise.all(
        stale.map((s, i) => {
          const e = exists[i]!
          if (e < 0) return null
          this.#stats.repairs++
          return this.#write(s, (b) => b.set(key, bytes, { ttlMs, nx: e === 0 })).catch(() => {})
        }),
      )
    } catch {
      // Best effort: the next read repairs again.
    }
  }
}

function checkMigrationOptions(options: MigrationOptions | undefined): void {
  if (options === undefined) return
  if (options === null || typeof options !== 'object')
    throw new TypeError('Cluster: migration options must be an object')
  if (options.rate !== undefined) checkRate('rate', options.rate)
  if (options.batchSize !== undefined) checkBatch('batchSize', options.batchSize)
}

function closed(): RendezvousError {
  return new RendezvousError('ERR_CLOSED', 'the cluster is closed')
}

function writeConcern(key: string, acks: number, need: number, cause?: unknown): RendezvousError {
  return new RendezvousError(
    'ERR_WRITE_CONCERN',
    `"${key}": ${acks} of ${need} required replicas acknowledged the write (options writeConcern, replicas)`,
    cause === undefined ? undefined : { cause },
  )
}

function fail(i: number, failures: readonly KeyFailure[]): boolean {
  return failures.some((f) => f.index === i)
}

function partial<T>(
  op: string,
  failures: KeyFailure[],
  n: number,
  value: (i: number) => T | undefined,
): ClusterError<T> {
  failures.sort((a, b) => a.index - b.index)
  const failed = new Set(failures.map((f) => f.index))
  const values = Array.from({ length: n }, (_, i) => (failed.has(i) ? undefined : value(i)))
  return new ClusterError<T>(op, failures, values)
}
