// Bounded-load selection: walk a key's priority list until a server has room under (1 + eps) x its fair load.
import type { Key } from './hash.js'
import type { Placement } from './rendezvous.js'

/** Current load per server id: a map, a plain record, or a function. Missing ids count as 0. */
export type Loads = ReadonlyMap<string, number> | Readonly<Record<string, number>> | ((id: string) => number)

function loadOf(loads: Loads, id: string): number {
  if (typeof loads === 'function') return loads(id)
  if (loads instanceof Map) return loads.get(id) ?? 0
  return (loads as Readonly<Record<string, number>>)[id] ?? 0
}

/**
 * The first server in the key's ranking whose load is under its capacity, where a server's capacity is
 * `(1 + eps)` times its fair share (weight / total weight) of the total load plus this one request.
 * With equal weights that is `(1 + eps) × mean`. Keys stay on their owner until it is overloaded and then spill
 * down their own priority list, so hot keys spread without moving cold ones (consistent hashing with bounded
 * loads, Mirrokni, Thorup and Zadimoghaddam).
 *
 * @param eps how far above its fair share a server may go; must be positive (e.g. 0.25).
 */
export function pickBounded(placement: Placement, key: Key, loads: Loads, eps: number): string {
  if (typeof eps !== 'number' || !(eps > 0) || !Number.isFinite(eps)) {
    throw new TypeError(`pickBounded: eps must be a positive finite number, got ${String(eps)}`)
  }
  let total = 1
  let weights = 0
  for (const s of placement.servers) {
    const l = loadOf(loads, s.id)
    if (!Number.isFinite(l) || l < 0)
      throw new TypeError(`pickBounded: load of "${s.id}" must be ≥ 0, got ${l}`)
    total += l
    weights += s.weight
  }
  const owner = placement.pick(key)
  const room = (id: string) =>
    loadOf(loads, id) + 1 <= ((1 + eps) * total * placement.get(id)!.weight) / weights
  if (room(owner)) return owner
  // Down the ranking in prefixes of 2, 4, ..., 32 servers, then all of it: a key spills only as far as it must,
  // and a short prefix costs one pass over the servers, not a sort of all of them (a longer one is a sort anyway).
  for (let seen = 1; seen < placement.size; ) {
    const next = seen < 32 ? Math.min(2 * seen, placement.size) : placement.size
    const prefix = placement.ranking(key, next)
    for (let i = seen; i < next; i++) if (room(prefix[i]!)) return prefix[i]!
    seen = next
  }
  // Every server is at capacity (possible only through rounding): fall back to the owner.
  return owner
}
