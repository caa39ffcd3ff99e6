// Test harness for the data commands: a keyspace on a fake clock, and a `run` that calls handlers directly.
import { dataCommands } from '../../src/node/commands/index.js'
import { Keyspace, type KeyspaceOptions } from '../../src/node/keyspace.js'
import {
  type ClientState,
  type CommandSpec,
  Latin1Bulk,
  MapReply,
  type Reply,
  ReplyError,
  Status,
} from '../../src/node/types.js'

/** A reply in a comparable shape: bulk strings as latin1 text, errors as `{ error }`, statuses as `{ status }`. */
export type Plain =
  | string
  | number
  | bigint
  | null
  | { error: string }
  | { status: string }
  | { map: Plain[] }
  | Plain[]

/** Converts a handler's reply to {@link Plain}. */
export function plain(r: Reply): Plain {
  if (r === null || typeof r === 'number' || typeof r === 'bigint' || typeof r === 'string') return r
  if (Buffer.isBuffer(r)) return r.toString('latin1')
  if (r instanceof Latin1Bulk) return r.text
  if (r instanceof Status) return { status: r.text }
  if (r instanceof ReplyError) return { error: r.message }
  if (r instanceof MapReply) return { map: r.entries.flatMap(([k, v]) => [plain(k), plain(v)]) }
  if (Array.isArray(r)) return r.map(plain)
  throw new Error(`unexpected reply ${String(r)}`)
}

export interface Harness {
  ks: Keyspace
  /** The fake clock, in ms; move it with `clock.now += n`. */
  clock: { now: number }
  /** Runs a command (arguments as latin1 text) as the dispatcher would, arity check included. */
  run(...args: string[]): Plain
  specs: Map<string, CommandSpec>
}

/** A keyspace with a fake clock starting at 1,700,000,000,000 ms, and its command table. */
export function harness(options: KeyspaceOptions = {}): Harness {
  const clock = { now: 1_700_000_000_000 }
  const ks = new Keyspace({ now: () => clock.now, ...options })
  const specs = new Map(dataCommands(ks).map((s) => [s.name, s]))
  const client: ClientState = { id: 1, resp: 2, name: null, authenticated: true, closeAfterReply: false }
  function run(...args: string[]): Plain {
    const spec = specs.get(args[0]!.toLowerCase())
    if (spec === undefined) throw new Error(`no command ${args[0]}`)
    if (spec.arity > 0 ? args.length !== spec.arity : args.length < -spec.arity) {
      return { error: `ERR wrong number of arguments for '${spec.name}' command` }
    }
    return plain(
      spec.handler(
        args.map((a) => Buffer.from(a, 'latin1')),
        client,
      ),
    )
  }
  return { ks, clock, run, specs }
}

/** Shorthands for expected replies. */
export const err = (error: string): Plain => ({ error })
export const status = (s: string): Plain => ({ status: s })
export const OK = status('OK')
export const WRONGTYPE = err('WRONGTYPE Operation against a key holding the wrong kind of value')
export const NOT_INT = err('ERR value is not an integer or out of range')
export const SYNTAX = err('ERR syntax error')
