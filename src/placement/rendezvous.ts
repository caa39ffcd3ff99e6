// Flat weighted rendezvous (HRW) hashing: one key digest, then one cheap mix per server.
import { RendezvousError } from '../errors.js'
import { digestInto, type Key, laneAInto, lastA, lastB, uniform, weightedScore } from './hash.js'
import { equalWeights, normalizeServer, normalizeServers, type Server, type ServerInput } from './server.js'
import { ScoreTable } from './table.js'

/** What every placement strategy offers. Snapshots are immutable: changes return a new object. */
export interface Placement {
  /** The servers, in the order given. */
  readonly servers: readonly Server[]
  /** Number of servers. */
  readonly size: number
  /** The id of the key's owner (the first of its priority list). Throws `ERR_NO_SERVERS` when empty. */
  pick(key: Key): string
  /** The first `n` distinct servers of the key's priority list (zones spread first when zones are set). */
  pickN(key: Key, n: number): string[]
  /**
   * The key's whole priority list, or with `limit` its first `limit` servers (cheaper for a short prefix: the
   * rest are not sorted). Zones play no part here.
   */
  ranking(key: Key, limit?: number): string[]
  /** The server with this id, if present. */
  get(id: string): Server | undefined
  /** A new snapshot with one more server. */
  add(server: ServerInput): Placement
  /** A new snapshot without the server `id`. */
  remove(id: string): Placement
  /** A new snapshot with the weight of `id` changed. */
  setWeight(id: string, weight: number): Placement
}

/**
 * Weighted rendezvous hashing over a fixed set of servers (hash spec v1, docs/hash-spec.md).
 *
 * Each key ranks every server by score `w / -ln(u)` (computed as its logarithm), with `u` a 53-bit uniform
 * draw from the (key, server) pair and `w` the server's weight. Ties break by the draw, then by id.
 * When all weights are equal the ranking is by draw alone and no logarithm is computed.
 */
export class Rendezvous implements Placement {
  readonly servers: readonly Server[]
  readonly size: number
  #ids: string[]
  #table: ScoreTable
  /** Server index (null: the same as the slot) and id of each table slot. */
  #slotServer: Int32Array | null
  #slotIds: string[]
  /** Zone class of each server (one number per zone; a server without a zone is a zone of its own). */
  #zoneOf: Int32Array
  #hasZones: boolean
  /** How many zones (a server without a zone is one of its own). */
  #zones: number
  /** Index of each id, built on first use (lookups by id are off the hot path). */
  #byIdMap: Map<string, number> | null = null

  /** @param servers ids or `{ id, weight?, zone? }`; validated here (`TypeError` on bad input). */
  constructor(servers: Iterable<ServerInput> = []) {
    const list = normalizeServers(servers)
    this.servers = Object.freeze(list)
    this.size = list.length
    this.#ids = list.map((s) => s.id)
    // With unequal weights, heaviest servers first: the weighted pick then finds a strong candidate early and
    // skips more servers. (Slot order never changes a result: ties break by draw and id, not by position.)
    const equal = equalWeights(list)
    const order = equal ? null : [...list.keys()].sort((a, b) => list[b]!.weight - list[a]!.weight)
    this.#slotServer = order === null ? null : Int32Array.from(order)
    this.#slotIds = order === null ? this.#ids : order.map((i) => list[i]!.id)
    this.#table = new ScoreTable(list, digestServers(list), order ?? [...list.keys()])
    this.#hasZones = list.some((s) => s.zone !== undefined)
    this.#zoneOf = this.#hasZones ? zoneClasses(list) : new Int32Array(0)
    this.#zones = new Set(this.#zoneOf).size
  }

  get #byId(): Map<string, number> {
    this.#byIdMap ??= new Map(this.#ids.map((id, i) => [id, i]))
    return this.#byIdMap
  }

  get(id: string): Server | undefined {
    const i = this.#byId.get(id)
    return i === undefined ? undefined : this.servers[i]
  }

  pick(key: Key): string {
    laneAInto(key)
    const slot = this.#table.pickSimd(lastA())
    if (slot >= 0) return this.#slotIds[slot]!
    if (this.size === 0) throw noServers()
    // The SIMD pick could not decide: straight to JavaScript, without asking it again.
    return this.#slotIds[this.#table.pickExact(lastA(), key, 0, this.size)]!
  }

  /** Table slots sorted best first for a key. */
  #rankSlots(key: Key): number[] {
    digestInto(key)
    if (this.size === 0) throw noServers()
    return this.#table.rank(lastA(), lastB(), 0, this.size)
  }

  /** Server indices sorted best first for a key. */
  #rank(key: Key): number[] {
    const slots = this.#rankSlots(key)
    const server = this.#slotServer
    return server === null ? slots : slots.map((k) => server[k]!)
  }

  pickN(key: Key, n: number): string[] {
    if (!Number.isInteger(n) || n < 0)
      throw new TypeError(`pickN: n must be a non-negative integer, got ${n}`)
    if (n === 1) return [this.pick(key)]
    if (!this.#hasZones) return this.ranking(key, n)
    digestInto(key)
    if (this.size === 0) throw noServers()
    const ka = lastA()
    const kb = lastB()
    const server = this.#slotServer
    const prefix = (m: number) => {
      const slots = this.#table.top(ka, kb, 0, this.size, m)
      return server === null ? slots : slots.map((k) => server[k]!)
    }
    return pickZones(prefix, this.size, this.#zoneOf, this.#zones, n).map((i) => this.#ids[i]!)
  }

  ranking(key: Key, limit?: number): string[] {
    if (limit === undefined) return this.#rank(key).map((i) => this.#ids[i]!)
    checkLimit(limit)
    digestInto(key)
    if (this.size === 0) throw noServers()
    return this.#table.top(lastA(), lastB(), 0, this.size, limit).map((k) => this.#slotIds[k]!)
  }

  /**
   * The key's priority list with each server's draw `u` in (0, 1] and score `ln(w) - ln(-ln(u))` (the log of
   * `w / -ln(u)`). For display and debugging; `ranking` is cheaper.
   */
  scores(key: Key): { id: string; u: number; score: number }[] {
    const t = this.#table
    return this.#rankSlots(key).map((k) => ({
      id: this.#slotIds[k]!,
      u: uniform(t.lastDraw(k)),
      score: weightedScore(Math.log(this.servers[this.#slotServer?.[k] ?? k]!.weight), t.lastDraw(k)),
    }))
  }

  add(server: ServerInput): Rendezvous {
    return new Rendezvous([...this.servers, normalizeServer(server)])
  }

  remove(id: string): Rendezvous {
    if (!this.#byId.has(id)) throw unknownServer(id)
    return new Rendezvous(this.servers.filter((s) => s.id !== id))
  }

  setWeight(id: string, weight: number): Rendezvous {
    if (!this.#byId.has(id)) throw unknownServer(id)
    return new Rendezvous(this.servers.map((s) => (s.id === id ? { id, weight, zone: s.zone } : s)))
  }
}

/** Digests of server ids, packed as [sa0, sb0, sa1, sb1, ...]. */
export function digestServers(servers: readonly Server[]): Int32Array {
  const out = new Int32Array(2 * servers.length)
  servers.forEach((s, i) => {
    digestInto(s.id)
    out[2 * i] = lastA()
    out[2 * i + 1] = lastB()
  })
  return out
}

/** A zone class per server: equal numbers for equal zones, a distinct negative number for no zone. */
export function zoneClasses(servers: readonly Server[]): Int32Array {
  const zones = new Map<string, number>()
  const out = new Int32Array(servers.length)
  servers.forEach((s, i) => {
    if (s.zone === undefined) {
      out[i] = -1 - i
      return
    }
    if (!zones.has(s.zone)) zones.set(s.zone, zones.size)
    out[i] = zones.get(s.zone)!
  })
  return out
}

/**
 * pickN with zones, from prefixes of a key's ranking (`prefix(m)`: at least its first m servers, or all of
 * them). Spreading takes the best server of each zone in ranking order, then the best of the rest (all within
 * the first `want`): a prefix of at least `want` servers that holds `want` distinct zones, or every zone there
 * is, decides it. The prefix doubles until it does, so that a lookup over many servers sorts only a few.
 */
export function pickZones(
  prefix: (m: number) => number[],
  size: number,
  zoneOf: Int32Array,
  zones: number,
  n: number,
): number[] {
  const want = Math.min(n, size)
  if (want === 0) return []
  for (let m = 2 * want; ; m *= 2) {
    const order = prefix(m)
    if (order.length >= size || new Set(order.map((i) => zoneOf[i]!)).size >= Math.min(want, zones)) {
      return spreadZones(order, zoneOf, want)
    }
  }
}

/**
 * Chooses `want` servers from a priority list: first the best server of each zone not yet used, in list order;
 * then, if zones run out, the remaining servers in list order. The result for n is a prefix of that for n+1.
 */
export function spreadZones(order: readonly number[], zoneOf: Int32Array, want: number): number[] {
  const out: number[] = []
  const usedZones = new Set<number>()
  const taken = new Set<number>()
  for (const i of order) {
    if (out.length === want) return out
    const z = zoneOf[i]!
    if (usedZones.has(z)) continue
    usedZones.add(z)
    taken.add(i)
    out.push(i)
  }
  for (const i of order) {
    if (out.length === want) break
    if (!taken.has(i)) out.push(i)
  }
  return out
}

/** `limit` of `ranking(key, limit)`, checked: a non-negative integer or +Infinity. */
export function checkLimit(limit: number): number {
  if (!(Number.isInteger(limit) || limit === Number.POSITIVE_INFINITY) || limit < 0)
    throw new TypeError(`ranking: limit must be a non-negative integer, got ${limit}`)
  return limit
}

/** The error for a lookup on an empty placement. */
export function noServers(): RendezvousError {
  return new RendezvousError('ERR_NO_SERVERS', 'no servers: add at least one server before placing keys')
}

/** The error for a change naming a server that is not there. */
export function unknownServer(id: string): RendezvousError {
  return new RendezvousError('ERR_UNKNOWN_SERVER', `no server with id "${id}"`)
}
