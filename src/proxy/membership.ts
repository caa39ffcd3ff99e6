// PROXY SERVERS / ADD / REMOVE / WEIGHT / MIGRATION: parsing their arguments and shaping their replies.
import type { Cluster } from '../cluster/cluster.js'
import type { Migration, MigrationResult } from '../cluster/migration.js'
import type { ServerConfig } from '../cluster/options.js'
import { MapReply, type Reply } from '../resp/reply.js'
import { parseAddress } from './config.js'

/** A membership change asked for with PROXY ADD, REMOVE or WEIGHT. */
export type MembershipChange =
  | { readonly op: 'add'; readonly server: ServerConfig }
  | { readonly op: 'remove'; readonly id: string }
  | { readonly op: 'weight'; readonly id: string; readonly weight: number }

/** A PROXY command that cannot run: the message names the argument at fault. */
export class MembershipError extends Error {
  override get name(): string {
    return 'MembershipError'
  }
}

function weightOf(text: string, where: string): number {
  const w = /^\s*$/.test(text) ? Number.NaN : Number(text)
  if (!Number.isFinite(w) || w <= 0) {
    throw new MembershipError(`${where}: weight must be a positive number, got "${text}"`)
  }
  return w
}

/**
 * Parses `PROXY ADD id host:port [WEIGHT w] [ZONE z]`, `PROXY REMOVE id` or `PROXY WEIGHT id w` (`args` is the
 * whole command) and checks it against the current members.
 * @throws MembershipError naming the bad argument: unknown or duplicate id, bad address, bad weight.
 */
export function parseChange(
  op: 'add' | 'remove' | 'weight',
  args: readonly Buffer[],
  members: readonly ServerConfig[],
): MembershipChange {
  const where = `PROXY ${op.toUpperCase()}`
  const text = args.map((a) => a.toString('utf8'))
  const id = text[2] ?? ''
  if (id === '') throw new MembershipError(`${where}: expected a server id`)
  const member = members.find((s) => s.id === id)
  const ids = () => members.map((s) => s.id).join(', ')
  if (op !== 'add') {
    if (member === undefined) throw new MembershipError(`${where}: no server "${id}" (members: ${ids()})`)
    if (op === 'remove') {
      if (text.length !== 3) throw new MembershipError(`${where}: expected only a server id`)
      return { op, id }
    }
    if (text.length !== 4) throw new MembershipError(`${where}: expected a server id and a weight`)
    return { op, id, weight: weightOf(text[3]!, `${where} ${id}`) }
  }
  if (member !== undefined) throw new MembershipError(`${where}: server "${id}" is already a member`)
  if (text.length < 4) throw new MembershipError(`${where}: expected a server id and host:port`)
  let host: string
  let port: number
  try {
    ;({ host, port } = parseAddress(text[3]!, `${where} ${id}`, null, false))
  } catch (e) {
    throw new MembershipError((e as Error).message)
  }
  const same = members.find((s) => (s.host ?? '127.0.0.1') === host && s.port === port)
  if (same !== undefined) {
    throw new MembershipError(`${where} ${id}: ${host}:${port} is already server "${same.id}"`)
  }
  const server: { -readonly [K in keyof ServerConfig]: ServerConfig[K] } = { id, host, port }
  for (let i = 4; i < text.length; i += 2) {
    const opt = text[i]!.toLowerCase()
    const value = text[i + 1]
    if (value === undefined) throw new MembershipError(`${where} ${id}: ${opt.toUpperCase()} needs a value`)
    if (opt === 'weight') server.weight = weightOf(value, `${where} ${id}`)
    else if (opt === 'zone') {
      if (value === '') throw new MembershipError(`${where} ${id}: ZONE must not be empty`)
      server.zone = value
    } else {
      throw new MembershipError(`${where} ${id}: unknown option "${text[i]}" (WEIGHT w, ZONE z)`)
    }
  }
  return { op, server }
}

/** PROXY SERVERS: one map per member (id, host, port, weight, zone, health), in membership order. */
export function serversReply(members: readonly ServerConfig[], cluster: Cluster): Reply {
  const up = new Map(cluster.stats().servers.map((s) => [s.id, s.up]))
  return members.map(
    (s) =>
      new MapReply([
        ['id', s.id],
        ['host', s.host ?? '127.0.0.1'],
        ['port', s.port ?? null],
        ['weight', String(s.weight ?? 1)],
        ['zone', s.zone ?? null],
        ['health', up.get(s.id) === false ? 'down' : 'up'],
      ]),
  )
}

const OPS: Record<Migration['reason'], string> = {
  join: 'add',
  leave: 'remove',
  weight: 'weight',
  down: 'down',
  up: 'up',
  rebalance: 'rebalance',
}

interface Tracked {
  readonly migration: Migration
  result: MigrationResult | null
  /** The id of the migration that superseded this one. */
  next: number | null
}

/** Most migrations remembered for `PROXY MIGRATION id`. */
const HISTORY = 16

/**
 * The migrations a proxy has seen, newest last, so `PROXY MIGRATION` can report the last one after it ended and
 * a client can follow a migration that another change superseded (through `next`) to the one that finishes it.
 */
export class MigrationLog {
  readonly #tracked = new Map<number, Tracked>()
  #latest: Tracked | null = null

  /** Starts following `m` (a no-op when followed already); `cluster` is the one running it. */
  track(m: Migration, cluster: Cluster): void {
    if (this.#tracked.get(m.id)?.migration === m) return
    const t: Tracked = { migration: m, result: null, next: null }
    this.#tracked.set(m.id, t)
    if (this.#tracked.size > HISTORY) this.#tracked.delete(this.#tracked.keys().next().value!)
    if (this.#latest === null || m.id >= this.#latest.migration.id) this.#latest = t
    void m.done.then((r) => {
      t.result = r
      // The one that superseded it is current by now: follow it, so the chain ends in a final status.
      const successor = cluster.migration
      if (r.status === 'superseded' && successor !== null && successor !== m) {
        t.next = successor.id
        this.track(successor, cluster)
      }
    })
  }

  /** Forgets every migration (the proxy swapped in a new cluster, whose ids start again). */
  clear(): void {
    this.#tracked.clear()
    this.#latest = null
  }

  /**
   * PROXY MIGRATION [id]: state (`none`, `warm-up`, `scanning`, or how it ended: `done`, `failed`, `aborted`,
   * `superseded`), id, op, server, scanned, total, moved, deleted, bytes, errors, elapsedMs, etaMs, rate, next.
   * Without an id, the migration running now or else the last one; null for an id no longer remembered.
   */
  reply(cluster: Cluster, id: number | null): MapReply | null {
    const current = cluster.migration
    if (current !== null) this.track(current, cluster)
    const t = id === null ? this.#latest : this.#tracked.get(id)
    if (t === undefined) return null
    if (t === null) return new MapReply([['state', 'none']])
    const m = t.migration
    const p = t.result ?? m.progress()
    return new MapReply([
      ['state', t.result?.status ?? p.phase],
      ['id', m.id],
      ['op', OPS[m.reason]],
      ['server', m.server],
      ['scanned', p.scanned],
      ['total', p.total],
      ['moved', p.moved],
      ['deleted', p.deleted],
      ['bytes', p.bytes],
      ['errors', p.errors],
      ['elapsedMs', Math.round(p.elapsedMs)],
      ['etaMs', p.etaMs === null ? null : Math.round(p.etaMs)],
      ['rate', Math.round(p.rate)],
      ['next', t.next],
    ])
  }
}
