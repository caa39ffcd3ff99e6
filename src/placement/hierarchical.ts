// Rendezvous hashing for thousands of servers: a key ranks only the members of one group.
import { digestInto, fmix32, type Key, laneAInto, lastA, lastB, TWO32 } from './hash.js'
import {
  checkLimit,
  digestServers,
  noServers,
  type Placement,
  pickZones,
  unknownServer,
  zoneClasses,
} from './rendezvous.js'
import { equalWeights, normalizeServer, normalizeServers, type Server, type ServerInput } from './server.js'
import { simd } from './simd.js'
import { ScoreTable, simdGroups } from './table.js'

/** Options of {@link HierarchicalRendezvous}. Clients that must agree on placement must agree on these. */
export interface HierarchicalOptions {
  /**
   * Number of groups. Fixed for the life of a cluster: snapshots made by `add`, `remove` and `setWeight` keep
   * it, so that membership changes never reshuffle groups. Pass it explicitly when clients may be built from
   * different server lists.
   * @default the nearest integer to servers × memberships / 64 (at least 1), from the first server list
   */
  readonly groups?: number
  /**
   * How many groups each server joins. More memberships even out load (a server's share is averaged over its
   * groups) at the cost of memory and construction time; the lookup cost does not depend on it.
   * @default 128
   */
  readonly memberships?: number
}

/** Average group size the default `groups` aims for: the number of scores computed per lookup. */
const TARGET_GROUP_SIZE = 64
const DEFAULT_MEMBERSHIPS = 128

/**
 * Hierarchical rendezvous hashing: O(group size) lookups whatever the number of servers.
 *
 * Each server joins `memberships` of `groups` groups, chosen from its id alone (so a server joining or leaving
 * changes no other server's groups). A key hashes to one group and ranks that group's members by the flat
 * weighted score of hash spec v1. Adding a server therefore moves only keys it now wins; removing one moves
 * only its own keys, to the next member of each key's group; re-weighting one moves keys only to or from it.
 * A server's share is its weight times the average over its groups of 1 / (group weight), which is close to
 * weight / total weight when groups are large and memberships many; `balance` measures it.
 *
 * `ranking(key)` lists the key's group first (by score), then every other server in flat rendezvous order.
 * A key whose group is empty (possible only with few servers per group) is placed by flat rendezvous.
 */
export class HierarchicalRendezvous implements Placement {
  readonly servers: readonly Server[]
  readonly size: number
  /** The number of groups in use. */
  readonly groups: number
  /** Memberships per server in use (at most `groups`). */
  readonly memberships: number
  #ids: string[]
  #byId: Map<string, number>
  #zoneOf: Int32Array
  #hasZones: boolean
  /** How many zones (a server without a zone is one of its own). */
  #zones: number
  /** Slots laid out group after group; group g is slots [#start[g], #start[g + 1]). */
  #table: ScoreTable
  #start: Int32Array
  /** Server index of each slot. */
  #server: Int32Array
  /** One slot per server, in server order: for flat fallbacks and the tail of a ranking. */
  #flat: ScoreTable
  /** Equal weights: each group's byte offset in the SIMD memory for `simd.group` (-1: none), or null. */
  #simdGroups: Int32Array | null

  /** @param servers ids or `{ id, weight?, zone? }`; validated here (`TypeError` on bad input). */
  constructor(servers: Iterable<ServerInput> = [], options: HierarchicalOptions = {}) {
    const list = normalizeServers(servers)
    const memberships = options.memberships ?? DEFAULT_MEMBERSHIPS
    if (!Number.isInteger(memberships) || memberships < 1) {
      throw new TypeError(`memberships must be a positive integer, got ${String(options.memberships)}`)
    }
    const groups = options.groups ?? Math.max(1, Math.round((list.length * memberships) / TARGET_GROUP_SIZE))
    if (!Number.isInteger(groups) || groups < 1 || groups > 2 ** 24) {
      throw new TypeError(`groups must be an integer from 1 to 2^24, got ${String(options.groups)}`)
    }
    this.servers = Object.freeze(list)
    this.size = list.length
    this.groups = groups
    this.memberships = Math.min(memberships, groups)
    this.#ids = list.map((s) => s.id)
    this.#byId = new Map(this.#ids.map((id, i) => [id, i]))
    this.#zoneOf = zoneClasses(list)
    this.#hasZones = list.some((s) => s.zone !== undefined)
    this.#zones = new Set(this.#zoneOf).size

    const digests = digestServers(list)
    // Count members per group, then lay groups out contiguously (counting sort by group).
    const groupsOf = list.map((_, i) =>
      serverGroups(digests[2 * i]!, digests[2 * i + 1]!, groups, this.memberships),
    )
    const start = new Int32Array(groups + 1)
    for (const gs of groupsOf) for (const g of gs) start[g + 1]!++
    for (let g = 0; g < groups; g++) start[g + 1]! += start[g]!
    const fill = start.slice(0, groups)
    const slots = new Int32Array(start[groups]!)
    groupsOf.forEach((gs, i) => {
      for (const g of gs) slots[fill[g]!++] = i
    })
    this.#start = start
    this.#server = slots
    // Equal weights pick in SIMD through a copy that holds each group's server indices beside its digests (a
    // separate lookup of the winner's server cost a cache miss: half the time of a lookup at 10,000 servers).
    // Unequal weights pick in SIMD over ranges of the table's own copy.
    this.#table = new ScoreTable(list, digests, slots, equalWeights(list))
    this.#simdGroups = this.#table.uniform ? simdGroups(this, this.#table.sa, start, slots) : null
    // The fallback for empty groups, which only few servers per group can leave: no SIMD copy.
    this.#flat = new ScoreTable(list, digests, [...list.keys()], true)
  }

  /** The group a key falls in: a mix of lane A of its digest, scaled to [0, groups). */
  #groupOf(ka: number): number {
    return Math.floor((fmix32(ka ^ GROUP_SALT) * this.groups) / TWO32)
  }

  get(id: string): Server | undefined {
    const i = this.#byId.get(id)
    return i === undefined ? undefined : this.servers[i]
  }

  pick(key: Key): string {
    laneAInto(key)
    if (this.size === 0) throw noServers()
    const ka = lastA()
    const g = this.#groupOf(ka)
    const start = this.#start[g]!
    const end = this.#start[g + 1]!
    // An empty group (possible only with few servers per group) falls back to flat rendezvous.
    if (start === end) return this.#ids[this.#flat.pick(ka, key, 0, this.size)]!
    const at = this.#simdGroups?.[g] ?? -1
    if (at >= 0) {
      const server = simd!.group(ka, at, end - start)
      if (server >= 0) return this.#ids[server]!
    }
    return this.#ids[this.#server[this.#table.pick(ka, key, start, end)]!]!
  }

  /** Server indices in the key's priority order: its group by score, then the rest in flat order. */
  #rank(key: Key, limit: number): number[] {
    digestInto(key)
    if (this.size === 0) throw noServers()
    const ka = lastA()
    const kb = lastB()
    const g = this.#groupOf(ka)
    const out = this.#table.rank(ka, kb, this.#start[g]!, this.#start[g + 1]!).map((k) => this.#server[k]!)
    if (out.length >= limit) return out
    const seen = new Set(out)
    // The first `limit` of the flat order hold enough servers not seen: at most out.length of them are.
    for (const i of this.#flat.top(ka, kb, 0, this.size, limit)) if (!seen.has(i)) out.push(i)
    return out
  }

  pickN(key: Key, n: number): string[] {
    if (!Number.isInteger(n) || n < 0)
      throw new TypeError(`pickN: n must be a non-negative integer, got ${n}`)
    if (n === 1) return [this.pick(key)]
    if (!this.#hasZones) return this.ranking(key, n)
    const chosen = pickZones((m) => this.#rank(key, m), this.size, this.#zoneOf, this.#zones, n)
    return chosen.map((i) => this.#ids[i]!)
  }

  ranking(key: Key, limit = Number.POSITIVE_INFINITY): string[] {
    const out = this.#rank(key, checkLimit(limit))
    return (out.length > limit ? out.slice(0, limit) : out).map((i) => this.#ids[i]!)
  }

  #with(servers: readonly ServerInput[]): HierarchicalRendezvous {
    return new HierarchicalRendezvous(servers, { groups: this.groups, memberships: this.memberships })
  }

  add(server: ServerInput): HierarchicalRendezvous {
    return this.#with([...this.servers, normalizeServer(server)])
  }

  remove(id: string): HierarchicalRendezvous {
    if (!this.#byId.has(id)) throw unknownServer(id)
    return this.#with(this.servers.filter((s) => s.id !== id))
  }

  setWeight(id: string, weight: number): HierarchicalRendezvous {
    if (!this.#byId.has(id)) throw unknownServer(id)
    return this.#with(this.servers.map((s) => (s.id === id ? { id, weight, zone: s.zone } : s)))
  }
}

const GROUP_SALT = 0x68727731 // "hrw1"

/**
 * The distinct groups a server joins: candidates fmix32(sa ^ fmix32(sb + j)) scaled to [0, groups) for
 * j = 0, 1, 2, ..., skipping repeats, until `count` are found. Depends on the server's id only.
 */
export function serverGroups(sa: number, sb: number, groups: number, count: number): number[] {
  const out: number[] = []
  const seen = new Set<number>()
  for (let j = 0; out.length < count; j++) {
    const g = Math.floor((fmix32(sa ^ fmix32((sb + j) | 0)) * groups) / TWO32)
    if (seen.has(g)) continue
    seen.add(g)
    out.push(g)
  }
  return out
}
