// Server descriptors: validation and normalisation shared by every placement strategy.

/** A server as given by the user: its id alone, or an object with an optional weight and zone. */
export type ServerInput = string | ServerSpec

/** A server with an optional weight (default 1) and failure domain. */
export interface ServerSpec {
  /** Unique, non-empty id. Only the id (and weight) decide placement: clients need nothing else. */
  readonly id: string
  /** Relative capacity, any positive finite number. @default 1 */
  readonly weight?: number
  /** Failure domain (rack, zone, host). `pickN` spreads replicas over distinct zones first. */
  readonly zone?: string
}

/** A validated server. */
export interface Server {
  readonly id: string
  readonly weight: number
  readonly zone: string | undefined
}

/** True when every server has the same weight (also for none or one): picks then rank by draw alone. */
export function equalWeights(servers: readonly Server[]): boolean {
  return servers.every((s) => s.weight === servers[0]!.weight)
}

/** Validates one server description; throws `TypeError` naming what is wrong. */
export function normalizeServer(input: ServerInput, where = 'server'): Server {
  if (typeof input === 'string') return normalizeServer({ id: input }, where)
  if (input === null || typeof input !== 'object') {
    throw new TypeError(`${where}: expected an id string or { id, weight?, zone? }, got ${String(input)}`)
  }
  const { id, weight = 1, zone } = input
  if (typeof id !== 'string' || id.length === 0) {
    throw new TypeError(`${where}: id must be a non-empty string, got ${JSON.stringify(id)}`)
  }
  if (!id.isWellFormed()) throw new TypeError(`${where}: id ${JSON.stringify(id)} has a lone surrogate`)
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) {
    throw new TypeError(`${where} "${id}": weight must be a positive finite number, got ${String(weight)}`)
  }
  if (zone !== undefined && (typeof zone !== 'string' || zone.length === 0)) {
    throw new TypeError(`${where} "${id}": zone must be a non-empty string when given, got ${String(zone)}`)
  }
  return Object.freeze({ id, weight, zone })
}

/** Validates a server list: every entry, and ids unique. */
export function normalizeServers(inputs: Iterable<ServerInput>): Server[] {
  if (inputs === null || typeof inputs !== 'object' || !(Symbol.iterator in inputs)) {
    throw new TypeError(`servers must be an array of ids or { id, weight?, zone? }, got ${String(inputs)}`)
  }
  const out: Server[] = []
  const seen = new Set<string>()
  let i = 0
  for (const input of inputs) {
    const s = normalizeServer(input, `servers[${i++}]`)
    if (seen.has(s.id)) throw new TypeError(`servers: duplicate id "${s.id}"`)
    seen.add(s.id)
    out.push(s)
  }
  return out
}

/** Compares two strings by their UTF-8 bytes (the spec's id order), which differs from `<` on astral chars. */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!
    const y = b.codePointAt(i)!
    if (x !== y) return x < y ? -1 : 1
    if (x > 0xffff) i++
  }
  return a.length - b.length
}
