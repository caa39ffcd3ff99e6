// What-if previews of membership changes and key lookups, computed with the placement analysis helpers.
import type { ServerConfig } from '../cluster/options.js'
import { expectedShares, movement } from '../placement/analysis.js'
import { Rendezvous } from '../placement/rendezvous.js'
import type { MembershipChange } from './options.js'

/** A request the API refuses: answered 400 with the field named. */
export class BadRequest extends Error {
  /** The request field at fault (`op`, `id`, `weight`, `key`, `body`, ...). */
  readonly field: string

  constructor(field: string, message: string) {
    super(`${field}: ${message}`)
    this.field = field
  }

  override get name(): string {
    return 'BadRequest'
  }
}

const MAX_ID = 200

/** Checks a change request body against the current members; throws {@link BadRequest} naming the field. */
export function parseChange(
  body: unknown,
  members: readonly ServerConfig[],
  known: ReadonlySet<string>,
): MembershipChange {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequest('body', 'expected a JSON object { op, id, weight? }')
  }
  const b = body as Record<string, unknown>
  const op = b.op
  if (op !== 'add' && op !== 'remove' && op !== 'reweight') {
    throw new BadRequest('op', `expected add, remove or reweight, got ${JSON.stringify(op) ?? 'nothing'}`)
  }
  const id = b.id
  if (typeof id !== 'string' || id.trim() === '' || id.length > MAX_ID || !id.isWellFormed()) {
    throw new BadRequest('id', `expected a server id (1 to ${MAX_ID} characters)`)
  }
  const isMember = members.some((s) => s.id === id)
  if (op === 'add' && known.has(id)) throw new BadRequest('id', `server "${id}" already exists`)
  if (op !== 'add' && !isMember) throw new BadRequest('id', `no server "${id}" in the membership`)
  if (op === 'remove' && members.length === 1) throw new BadRequest('id', `"${id}" is the last server`)
  let weight: number | undefined
  if (b.weight !== undefined && b.weight !== null && b.weight !== '') {
    const w = typeof b.weight === 'string' ? Number(b.weight) : b.weight
    if (typeof w !== 'number' || !Number.isFinite(w) || w <= 0 || w > 1e6) {
      throw new BadRequest('weight', `expected a positive number, got ${JSON.stringify(b.weight)}`)
    }
    weight = w
  } else if (op === 'reweight') {
    throw new BadRequest('weight', 'required to re-weight a server')
  }
  const change: { -readonly [K in keyof MembershipChange]: MembershipChange[K] } = { op, id }
  if (weight !== undefined && op !== 'remove') change.weight = weight
  if (op === 'add') {
    if (b.host !== undefined && b.host !== null && b.host !== '') {
      if (typeof b.host !== 'string' || b.host.length > 255)
        throw new BadRequest('host', 'expected a host name')
      change.host = b.host
    }
    if (b.port !== undefined && b.port !== null && b.port !== '') {
      const p = typeof b.port === 'string' ? Number(b.port) : b.port
      if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535) {
        throw new BadRequest('port', `expected an integer from 1 to 65535, got ${JSON.stringify(b.port)}`)
      }
      change.port = p
    }
    if (b.zone !== undefined && b.zone !== null && b.zone !== '') {
      if (typeof b.zone !== 'string' || b.zone.length > MAX_ID)
        throw new BadRequest('zone', 'expected a zone name')
      change.zone = b.zone
    }
  }
  return change
}

/** The membership after `change`. */
export function applyChange(members: readonly ServerConfig[], change: MembershipChange): ServerConfig[] {
  switch (change.op) {
    case 'add': {
      const s: { -readonly [K in keyof ServerConfig]: ServerConfig[K] } = {
        id: change.id,
        weight: change.weight ?? 1,
      }
      if (change.host !== undefined) s.host = change.host
      if (change.port !== undefined) s.port = change.port
      if (change.zone !== undefined) s.zone = change.zone
      return [...members, s]
    }
    case 'remove':
      return members.filter((s) => s.id !== change.id)
    case 'reweight':
      return members.map((s) => (s.id === change.id ? { ...s, weight: change.weight! } : s))
  }
}

/** The placement key of a key: the content of its first non-empty `{...}` when hash tags are on (as the cluster). */
export function routeKey(key: string, hashTags: boolean): string {
  if (!hashTags) return key
  const open = key.indexOf('{')
  if (open < 0) return key
  const close = key.indexOf('}', open + 1)
  return close > open + 1 ? key.slice(open + 1, close) : key
}

function placementOf(servers: readonly ServerConfig[]): Rendezvous {
  return new Rendezvous(
    servers.map((s) =>
      s.zone === undefined
        ? { id: s.id, weight: s.weight ?? 1 }
        : { id: s.id, weight: s.weight ?? 1, zone: s.zone },
    ),
  )
}

/** Where the keys of a what-if preview came from. */
export interface KeySample {
  readonly source: 'scanned' | 'synthetic'
  readonly keys: readonly string[]
  /** Keys the servers hold in all (the preview scales its sample counts to it); null when unknown. */
  readonly totalKeys: number | null
}

/** What `/api/whatif` returns. */
export interface WhatIf {
  readonly change: MembershipChange
  readonly sample: { readonly source: 'scanned' | 'synthetic'; readonly keys: number; readonly note: string }
  /** Keys held in all (what `estimated` figures scale to), or null when unknown. */
  readonly totalKeys: number | null
  readonly servers: readonly {
    readonly id: string
    readonly weightBefore: number | null
    readonly weightAfter: number | null
    /** Weight shares: what each server should own. */
    readonly expectedBefore: number
    readonly expectedAfter: number
    /** Shares of the sample's keys each server owns before and after. */
    readonly shareBefore: number
    readonly shareAfter: number
  }[]
  readonly moved: {
    /** Keys of the sample that change owner, and that count as a fraction. */
    readonly keys: number
    readonly fraction: number
    /** The least fraction any placement must move for this change (half the L1 distance of weight shares). */
    readonly optimalFraction: number
    /** `fraction` x `totalKeys`, rounded; null when the total is unknown. */
    readonly estimated: number | null
    /** Keys that move between two servers the change does not touch: always 0 with rendezvous hashing. */
    readonly betweenUntouched: number
    readonly flows: readonly {
      readonly from: string
      readonly to: string
      readonly keys: number
      readonly fraction: number
      readonly estimated: number | null
    }[]
  }
}

/** Previews `change` over `sample`: per-server shares before and after, and the keys that move where. */
export function whatIf(
  members: readonly ServerConfig[],
  change: MembershipChange,
  sample: KeySample,
  hashTags: boolean,
): WhatIf {
  const next = applyChange(members, change)
  const before = placementOf(members)
  const after = placementOf(next)
  const routes = sample.keys.map((k) => routeKey(k, hashTags))
  const mv = movement(before, after, routes)
  const countsBefore = new Map<string, number>()
  const countsAfter = new Map<string, number>()
  for (const r of routes) {
    const a = before.pick(r)
    const b = after.pick(r)
    countsBefore.set(a, (countsBefore.get(a) ?? 0) + 1)
    countsAfter.set(b, (countsAfter.get(b) ?? 0) + 1)
  }
  const eb = expectedShares(before)
  const ea = expectedShares(after)
  const n = routes.length
  const ids = [...members.map((s) => s.id), ...next.filter((s) => !eb.has(s.id)).map((s) => s.id)]
  const total = sample.totalKeys
  const scale = (f: number) => (total === null ? null : Math.round(f * total))
  const flows: WhatIf['moved']['flows'][number][] = []
  for (const [from, row] of mv.flows) {
    for (const [to, keys] of row) {
      const fraction = n === 0 ? 0 : keys / n
      flows.push({ from, to, keys, fraction, estimated: scale(fraction) })
    }
  }
  flows.sort((x, y) => y.keys - x.keys || (x.from < y.from ? -1 : 1))
  return {
    change,
    sample: {
      source: sample.source,
      keys: n,
      note:
        sample.source === 'scanned'
          ? `${n} keys sampled with SCAN from the servers`
          : `${n} synthetic keys (the servers hold too few keys to sample)`,
    },
    totalKeys: total,
    servers: ids.map((id) => ({
      id,
      weightBefore: before.get(id)?.weight ?? null,
      weightAfter: after.get(id)?.weight ?? null,
      expectedBefore: eb.get(id) ?? 0,
      expectedAfter: ea.get(id) ?? 0,
      shareBefore: n === 0 ? 0 : (countsBefore.get(id) ?? 0) / n,
      shareAfter: n === 0 ? 0 : (countsAfter.get(id) ?? 0) / n,
    })),
    moved: {
      keys: mv.moved,
      fraction: mv.fraction,
      optimalFraction: mv.optimalFraction,
      estimated: scale(mv.fraction),
      betweenUntouched: mv.betweenUntouched,
      flows,
    },
  }
}

/** Deterministic synthetic keys for previews when the servers hold too few. */
export function syntheticKeys(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `key:${i}`)
}

/** One server in a key lookup, in the key's priority order. */
export interface LookupRow {
  readonly rank: number
  readonly id: string
  readonly weight: number
  /** The HRW score in the log domain (`ln(w) - ln(-ln(u))`); the highest wins. */
  readonly score: number
  /** True for the servers that should hold the key now (the owner, or the replicas in store mode). */
  readonly owner: boolean
  /** Whether the server actually holds the key (EXISTS); null when it could not be asked (down). */
  readonly holds: boolean | null
}

/** The key's ranking over the members (highest score first). */
export function ranking(
  members: readonly ServerConfig[],
  key: string,
  hashTags: boolean,
): { route: string; rows: Omit<LookupRow, 'owner' | 'holds'>[] } {
  const route = routeKey(key, hashTags)
  const p = placementOf(members)
  return {
    route,
    rows: p
      .scores(route)
      .map((s, i) => ({ rank: i + 1, id: s.id, weight: p.get(s.id)!.weight, score: s.score })),
  }
}
