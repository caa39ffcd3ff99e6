// Membership changes without loss: copy to new owners, drain leavers, re-replicate after failures, warm-up.
import dc from 'node:diagnostics_channel'
import { EventEmitter } from 'node:events'
import type { Rendezvous } from '../placement/rendezvous.js'
import { type Backend, dumpWith, type Entry, restoreWith } from './backend.js'

/** What the migration engine needs from the cluster: a deliberately small seam. */
export interface MigrationHost {
  readonly mode: 'cache' | 'store'
  /** Copies per key (store mode; 1 in cache mode). */
  readonly replicas: number
  /** The placement key of a key (its hash tag, when hash tags are on). */
  route(key: string): string
  /** Ids of every server the cluster still talks to: members, and servers being drained. */
  servers(): string[]
  /** False while the server is marked down (or unknown). */
  isUp(id: string): boolean
  /** A call with the cluster's hard timeout and health accounting. */
  call<T>(id: string, fn: (b: Backend) => Promise<T>): Promise<T>
  /** Resolves once every store write started before the call has settled. */
  barrier(): Promise<void>
  /** Closes and forgets a server that was removed, once its keys are drained. */
  drop(id: string): void
}

/** Why a migration runs. */
export type MigrationReason = 'join' | 'leave' | 'weight' | 'down' | 'up' | 'rebalance'

/** Per-change overrides of the cluster's migration options. */
export interface MigrationOptions {
  /** Keys scanned per second over all servers; `Infinity` for no limit. @default the cluster's `migrationRate` */
  readonly rate?: number
  /** Keys per SCAN step and per copy round trip. @default the cluster's `migrationBatchSize` */
  readonly batchSize?: number
}

/** A snapshot of a migration's progress. */
export interface MigrationProgress {
  /** `'warm-up'` (cache mode: previous owners still answer misses), `'scanning'`, or `'done'`. */
  readonly phase: 'warm-up' | 'scanning' | 'done'
  /** Keys read by SCAN on every server. */
  readonly scanned: number
  /** Keys on the scanned servers when the scan started (DBSIZE), or null when a server cannot tell. */
  readonly total: number | null
  /** Copies written to new owners (a copy an owner already had, or had newer, is not counted). */
  readonly moved: number
  /** Keys deleted from servers no longer among their owners. */
  readonly deleted: number
  /** Bytes of the copies sent to new owners. */
  readonly bytes: number
  /** Failed steps (a SCAN, a copy, a delete); keys whose copy failed are kept on their old servers. */
  readonly errors: number
  readonly elapsedMs: number
  /** Keys scanned per second so far. */
  readonly rate: number
  /** Estimated time left in ms, from `total` and `rate`; null when unknown. */
  readonly etaMs: number | null
}

/** How a migration ended. */
export interface MigrationResult extends MigrationProgress {
  /**
   * `'done'`: every key is on its owners and nowhere else. `'failed'`: some steps failed; keys not copied stay
   * where they were (reads still fall back to them) and `cluster.rebalance()` retries. `'aborted'`: stopped by
   * `abort()` or `close()`. `'superseded'`: another change started a migration that covers this one.
   */
  readonly status: 'done' | 'failed' | 'aborted' | 'superseded'
}

/** The message published on the migration channels. */
export interface MigrationEvent {
  readonly migration: Migration
  readonly progress: MigrationProgress
}

/**
 * `node:diagnostics_channel` channels: `rendezvous:cluster:migration-start`, `rendezvous:cluster:migration-progress`
 * (after each batch) and `rendezvous:cluster:migration-done` (with the {@link MigrationResult} as `progress`).
 */
export const migrationChannels = Object.freeze({
  start: dc.channel('rendezvous:cluster:migration-start'),
  progress: dc.channel('rendezvous:cluster:migration-progress'),
  done: dc.channel('rendezvous:cluster:migration-done'),
})

interface Counters {
  scanned: number
  moved: number
  deleted: number
  bytes: number
  errors: number
}

/**
 * The handle of one membership change (or re-replication). Emits `'progress'` ({@link MigrationProgress}) after
 * each batch and `'done'` ({@link MigrationResult}) once; `done` resolves with the same result (it never
 * rejects: failures are counted in `errors` and reflected in `status`).
 */
export class Migration extends EventEmitter {
  /** Increasing number of this migration within its cluster. */
  readonly id: number
  readonly reason: MigrationReason
  /** The server added, removed, re-weighted, or gone down/up; null for `rebalance`. */
  readonly server: string | null
  /** Resolves when the migration ends, however it ends. */
  readonly done: Promise<MigrationResult>
  readonly #counters: Counters = { scanned: 0, moved: 0, deleted: 0, bytes: 0, errors: 0 }
  #phase: MigrationProgress['phase'] = 'scanning'
  #total: number | null = null
  readonly #started = performance.now()
  #ended: number | null = null
  #stop: MigrationResult['status'] | null = null
  #resolve!: (r: MigrationResult) => void
  readonly #wakers = new Set<() => void>()

  /** @internal made by the cluster; use `addServer`, `removeServer`, `setWeight` or `rebalance`. */
  constructor(id: number, reason: MigrationReason, server: string | null) {
    super()
    this.id = id
    this.reason = reason
    this.server = server
    this.done = new Promise((resolve) => {
      this.#resolve = resolve
    })
  }

  /** True until the migration ends. */
  get running(): boolean {
    return this.#ended === null
  }

  /** Progress so far. */
  progress(): MigrationProgress {
    const c = this.#counters
    const elapsedMs = (this.#ended ?? performance.now()) - this.#started
    const rate = elapsedMs > 0 ? (c.scanned * 1000) / elapsedMs : 0
    const left = this.#total === null ? null : Math.max(0, this.#total - c.scanned)
    return {
      phase: this.#phase,
      scanned: c.scanned,
      total: this.#total,
      moved: c.moved,
      deleted: c.deleted,
      bytes: c.bytes,
      errors: c.errors,
      elapsedMs,
      rate,
      etaMs: this.#ended !== null ? 0 : left === null || rate === 0 ? null : (left * 1000) / rate,
    }
  }

  /**
   * Stops at the next batch boundary (a batch whose copies are confirmed still deletes its old copies). Safe at
   * any point: re-running the same change (or `cluster.rebalance()`) finishes the job without loss.
   */
  abort(): void {
    this.stop('aborted')
  }

  /** @internal */
  stop(status: 'aborted' | 'superseded'): void {
    if (this.#ended !== null || this.#stop !== null) return
    this.#stop = status
    for (const wake of this.#wakers) wake()
  }

  /** @internal the reason to stop, or null to go on. */
  get stopping(): MigrationResult['status'] | null {
    return this.#stop
  }

  /** @internal */
  get counters(): Counters {
    return this.#counters
  }

  /** @internal */
  setPhase(phase: MigrationProgress['phase'], total: number | null = this.#total): void {
    this.#phase = phase
    this.#total = total
  }

  /** @internal sleeps `ms`, waking early when stopped; true when stopped. */
  async pause(ms: number): Promise<boolean> {
    if (this.#stop !== null) return true
    if (ms > 0) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer)
          this.#wakers.delete(wake)
          resolve()
        }
        const timer = setTimeout(wake, ms)
        this.#wakers.add(wake)
      })
    }
    return this.#stop !== null
  }

  /** @internal */
  report(): void {
    const progress = this.progress()
    this.emit('progress', progress)
    if (migrationChannels.progress.hasSubscribers) {
      migrationChannels.progress.publish({ migration: this, progress } satisfies MigrationEvent)
    }
  }

  /** @internal */
  finish(status: MigrationResult['status']): MigrationResult {
    this.#ended = performance.now()
    this.#phase = 'done'
    const result: MigrationResult = { ...this.progress(), status: this.#stop ?? status }
    this.emit('done', result)
    if (migrationChannels.done.hasSubscribers) {
      migrationChannels.done.publish({ migration: this, progress: result } satisfies MigrationEvent)
    }
    this.#resolve(result)
    return result
  }
}

/** Counters of every migration of a cluster, for `cluster.stats().migration`. */
export interface MigrationStats {
  /** Migrations started, and how many ended done, failed, aborted or superseded. */
  readonly started: number
  readonly completed: number
  readonly failed: number
  readonly aborted: number
  readonly superseded: number
  /** True while one runs. */
  readonly running: boolean
  /** Totals over every migration. */
  readonly scanned: number
  readonly moved: number
  readonly deleted: number
  readonly bytes: number
  readonly errors: number
  /** Store mode: reads that missed on a key's owners and were answered by a previous owner (handoff). */
  readonly handoffReads: number
  /** Cache mode: misses answered by a key's previous owner during a warm-up instead of the loader. */
  readonly warmUpHits: number
}

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x) => b.includes(x))

/**
 * The migration engine of one cluster. Store mode keeps the last *settled* placement (whose owners are known to
 * hold every key) and the servers whose copies cannot be trusted since (they went down, or a migration that
 * did not finish deleted from them). Every change of the live placement runs one migration from the settled
 * placement to the new one, superseding (and waiting for) any migration still running.
 *
 * For each key a scan finds on server S, with `old` = its settled owners minus untrusted servers and `new` =
 * its owners now:
 * 1. S not in `new` and S in `old` (S leaves the key): copy to `new` minus `old`, then delete from S;
 * 2. S in neither (a stray copy, e.g. a write routed by a placement in between): copy to all of `new`, then
 *    delete from S;
 * 3. S in both, `old` != `new`: the first live server of `old` that stays copies to `new` minus `old`
 *    (so keys a leaver lost, or a failed server held, still reach their new owners);
 * 4. otherwise nothing.
 * Copies are write-if-newer ({@link Backend.restore}: version, then bytes), so a write made during the move
 * (which already goes to `new`) is never overwritten, and copying twice is harmless. A key is deleted from S only
 * after the copy to every target was confirmed. Hence re-running an interrupted change is idempotent: keys
 * already moved are found on their new owners (case 3 copies nothing newer), keys not yet moved still sit on
 * their old owners.
 */
export class Migrator {
  readonly #host: MigrationHost
  readonly #rate: number
  readonly #batchSize: number
  readonly #warmUpMs: number
  #settled: Rendezvous | null
  readonly #untrusted = new Set<string>()
  /** Placements whose owners may still hold keys: read fallbacks (store) and warm-up sources (cache). */
  #previous: Rendezvous[] = []
  readonly #departing = new Set<string>()
  #current: Migration | null = null
  #last: Promise<unknown> = Promise.resolve()
  #ids = 0
  #warming = false
  readonly #totals = {
    started: 0,
    completed: 0,
    failed: 0,
    aborted: 0,
    superseded: 0,
    scanned: 0,
    moved: 0,
    deleted: 0,
    bytes: 0,
    errors: 0,
    handoffReads: 0,
    warmUpHits: 0,
  }

  constructor(
    host: MigrationHost,
    initial: Rendezvous | null,
    options: { rate: number; batchSize: number; warmUpMs: number },
  ) {
    this.#host = host
    this.#settled = initial
    this.#rate = options.rate
    this.#batchSize = options.batchSize
    this.#warmUpMs = options.warmUpMs
  }

  /** The migration running now, if any. */
  get current(): Migration | null {
    return this.#current
  }

  /** Store mode: true while reads that miss should ask previous owners. */
  get handoff(): boolean {
    return this.#previous.length > 0
  }

  /** Cache mode: true during a warm-up. */
  get warming(): boolean {
    return this.#warming
  }

  /** A server went down: its copies are no longer trusted (store mode), even if no migration runs. */
  distrust(id: string): void {
    this.#untrusted.add(id)
  }

  /** Marks a removed server to drain: it is scanned (while up) and closed once a migration settles. */
  depart(id: string): void {
    this.#departing.add(id)
  }

  /** Store mode: servers that may hold `key` beyond `asked` (its owners under previous placements), live ones. */
  fallback(key: string, asked: ReadonlySet<string>): string[] {
    const route = this.#host.route(key)
    const out: string[] = []
    for (const p of this.#previous) {
      for (const id of p.pickN(route, Math.min(this.#host.replicas, p.size))) {
        if (!asked.has(id) && !out.includes(id) && this.#host.isUp(id)) out.push(id)
      }
    }
    return out
  }

  /** Cache mode: during a warm-up, the live previous owner of `key` other than `owner`; null if none. */
  warmSource(key: string, owner: string): string | null {
    if (!this.#warming) return null
    const route = this.#host.route(key)
    for (let i = this.#previous.length - 1; i >= 0; i--) {
      const p = this.#previous[i]!
      if (p.size === 0) continue
      const id = p.pick(route)
      if (id !== owner && this.#host.isUp(id)) return id
    }
    return null
  }

  /** Counts a read served by a previous owner. */
  counted(what: 'handoffReads' | 'warmUpHits'): void {
    this.#totals[what]++
  }

  stats(): MigrationStats {
    return { ...this.#totals, running: this.#current !== null }
  }

  /**
   * The live placement changed from `before` to `after`: start the migration that moves keys accordingly
   * (superseding the one running). Store mode scans and copies; cache mode warms up, then cleans up.
   */
  change(
    before: Rendezvous | null,
    after: Rendezvous | null,
    reason: MigrationReason,
    server: string | null,
    options: MigrationOptions = {},
  ): Migration {
    const m = new Migration(++this.#ids, reason, server)
    const prior = this.#current
    prior?.stop('superseded')
    this.#current = m
    this.#totals.started++
    if (this.#host.mode === 'store') {
      if (this.#settled !== null && !this.#previous.includes(this.#settled))
        this.#previous.push(this.#settled)
      if (before !== null && !this.#previous.includes(before)) this.#previous.push(before)
    } else if (before !== null && this.#warmUpMs > 0 && reason !== 'rebalance') {
      this.#previous.push(before)
      this.#warming = true
      m.setPhase('warm-up')
    }
    if (migrationChannels.start.hasSubscribers) {
      migrationChannels.start.publish({ migration: m, progress: m.progress() } satisfies MigrationEvent)
    }
    // One migration at a time: the next starts once the one it supersedes has stopped (it may be mid-batch).
    const run = this.#last.then(() => this.#run(m, after, options))
    this.#last = run.catch(() => {})
    return m
  }

  /** Stops the running migration (on close). */
  stop(): void {
    this.#current?.stop('aborted')
  }

  async #run(m: Migration, target: Rendezvous | null, options: MigrationOptions): Promise<void> {
    const rate = options.rate ?? this.#rate
    const batchSize = options.batchSize ?? this.#batchSize
    const deleters = new Set<string>()
    let result: MigrationResult
    try {
      if (m.stopping === null && this.#host.mode === 'cache' && this.#warming) {
        m.setPhase('warm-up')
        await m.pause(this.#warmUpMs)
      }
      if (m.stopping === null) {
        if (this.#host.mode === 'cache') {
          // The warm-up is over: misses go to the loader; then delete what servers no longer own.
          this.#warming = false
          this.#previous = []
        }
        await this.#host.barrier()
        await this.#scanAll(m, target, rate, batchSize, deleters)
      }
      result = m.finish(m.counters.errors > 0 ? 'failed' : 'done')
    } catch {
      m.counters.errors++
      result = m.finish('failed')
    }
    this.#settle(m, result, target, deleters)
  }

  #settle(m: Migration, result: MigrationResult, target: Rendezvous | null, deleters: Set<string>): void {
    const t = this.#totals
    const c = m.counters
    t.scanned += c.scanned
    t.moved += c.moved
    t.deleted += c.deleted
    t.bytes += c.bytes
    t.errors += c.errors
    if (result.status === 'done') t.completed++
    else if (result.status === 'failed') t.failed++
    else if (result.status === 'aborted') t.aborted++
    else t.superseded++
    if (this.#current === m) this.#current = null
    if (result.status === 'done' && this.#current === null) {
      // Every key is on its owners under `target`: it becomes the settled placement.
      this.#settled = target
      this.#untrusted.clear()
      this.#previous = []
      this.#warming = false
      for (const id of this.#departing) this.#host.drop(id)
      this.#departing.clear()
    } else {
      if (this.#host.mode === 'cache' && this.#current === null) {
        // Nothing newer runs: end the warm-up (stale copies left behind go with a later `rebalance`).
        this.#warming = false
        this.#previous = []
      }
      // Copies were deleted from these servers on the way to a placement that did not settle.
      for (const id of deleters) this.#untrusted.add(id)
      if (this.#host.mode === 'store' && target !== null && !this.#previous.includes(target)) {
        this.#previous.push(target)
      }
    }
  }

  async #scanAll(
    m: Migration,
    target: Rendezvous | null,
    rate: number,
    batchSize: number,
    deleters: Set<string>,
  ): Promise<void> {
    const host = this.#host
    const sources = host.servers().filter((id) => host.isUp(id))
    const sizes = await Promise.all(
      sources.map((id) =>
        host.call(id, (b) => (b.dbsize === undefined ? Promise.resolve(-1) : b.dbsize())).catch(() => -1),
      ),
    )
    m.setPhase('scanning', sizes.some((n) => n < 0) ? null : sizes.reduce((a, b) => a + b, 0))
    const throttle = new Throttle(rate)
    await Promise.all(
      sources.map((id) => this.#scanOne(m, id, target, throttle, batchSize, deleters).catch(() => {})),
    )
  }

  /** Scans one server to the end (or until stopped), moving each batch before reading the next. */
  async #scanOne(
    m: Migration,
    source: string,
    target: Rendezvous | null,
    throttle: Throttle,
    batchSize: number,
    deleters: Set<string>,
  ): Promise<void> {
    const host = this.#host
    const c = m.counters
    let cursor = '0'
    let failures = 0
    do {
      if (await m.pause(throttle.reserve(batchSize))) return
      if (!host.isUp(source)) {
        c.errors++ // it went down: whatever it holds is covered by the migration that supersedes this one
        return
      }
      let keys: string[]
      try {
        ;[cursor, keys] = await host.call(source, (b) => b.scan(cursor, batchSize))
        failures = 0
      } catch {
        c.errors++
        if (++failures >= 5) return
        continue
      }
      c.scanned += keys.length
      if (keys.length > 0) await this.#moveBatch(m, source, keys, target, deleters)
      m.report()
    } while (cursor !== '0' && m.stopping === null)
  }

  /** Classifies a batch of keys found on `source`, copies what must move, then deletes what must leave. */
  async #moveBatch(
    m: Migration,
    source: string,
    keys: string[],
    target: Rendezvous | null,
    deleters: Set<string>,
  ): Promise<void> {
    const host = this.#host
    const c = m.counters
    if (target === null || target.size === 0) return
    const r = Math.min(host.replicas, target.size)
    const settled = this.#settled
    /** Per key to copy: the targets; keys to delete after their copies. */
    const copies = new Map<string, string[]>()
    const leave: string[] = []
    for (const key of keys) {
      const route = host.route(key)
      if (host.mode === 'cache') {
        if (target.pick(route) !== source) leave.push(key)
        continue
      }
      const next = target.pickN(route, r)
      const old =
        settled === null || settled.size === 0
          ? []
          : settled
              .pickN(route, Math.min(host.replicas, settled.size))
              .filter((id) => !this.#untrusted.has(id))
      if (!next.includes(source)) {
        const to = old.includes(source) ? next.filter((id) => !old.includes(id)) : next
        copies.set(key, to)
        leave.push(key)
      } else if (!sameSet(old, next) && old.includes(source)) {
        const first = old.find((id) => next.includes(id) && host.isUp(id))
        if (first === source) {
          const to = next.filter((id) => !old.includes(id))
          if (to.length > 0) copies.set(key, to)
        }
      }
    }
    const failed = new Set<string>()
    if (copies.size > 0) {
      let entries: (Entry | null)[]
      const wanted = [...copies.keys()]
      try {
        entries = await host.call(source, (b) =>
          b.dump === undefined ? dumpWith(b, wanted) : b.dump(wanted),
        )
      } catch {
        c.errors++
        return
      }
      const perTarget = new Map<string, Entry[]>()
      wanted.forEach((key, i) => {
        const e = entries[i]
        if (e === null || e === undefined) return // gone (expired or deleted) since the scan
        for (const id of copies.get(key)!) {
          const list = perTarget.get(id)
          if (list === undefined) perTarget.set(id, [e])
          else list.push(e)
        }
      })
      await Promise.all(
        [...perTarget].map(async ([id, list]) => {
          try {
            const wrote = await host.call(id, (b) =>
              b.restore === undefined ? restoreWith(b, list) : b.restore(list),
            )
            list.forEach((e, i) => {
              c.bytes += e.value.length
              if (wrote[i] === true) c.moved++
            })
          } catch {
            c.errors++
            for (const e of list) failed.add(e.key)
          }
        }),
      )
    }
    // Stopped while copying (a newer change is waiting): keep the old copies, the next migration decides.
    if (m.stopping !== null) return
    const drop = leave.filter((k) => !failed.has(k))
    if (drop.length === 0) return
    try {
      const n = await host.call(source, (b) => b.del(drop))
      c.deleted += n // not `+= await`: other sources add to the same counter meanwhile
      deleters.add(source)
    } catch {
      c.errors++
    }
  }
}

/** A token bucket over real time: `reserve(n)` returns how long to wait before using `n` keys. */
class Throttle {
  readonly #rate: number
  #next = performance.now()

  constructor(rate: number) {
    this.#rate = rate
  }

  reserve(n: number): number {
    if (this.#rate === Number.POSITIVE_INFINITY) return 0
    const now = performance.now()
    const start = Math.max(now, this.#next)
    this.#next = start + (n * 1000) / this.#rate
    return start - now
  }
}
