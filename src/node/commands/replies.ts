// Shared error replies of the data commands and the CommandSpec builder they use.
import type { CommandSpec, Handler } from '../types.js'
import { ReplyError } from '../types.js'

/** Redis's reply to a command on a key of another type. */
export const WRONGTYPE = new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value')
/** Redis's reply to a malformed or out-of-range integer. */
export const NOT_INTEGER = new ReplyError('ERR value is not an integer or out of range')
/** Redis's reply to a malformed option list. */
export const SYNTAX = new ReplyError('ERR syntax error')
/** Redis's reply to a `denyoom` command over maxmemory. */
export const OOM = new ReplyError("OOM command not allowed when used memory > 'maxmemory'.")
/** Redis's reply when arithmetic leaves int64. */
export const OVERFLOW = new ReplyError('ERR increment or decrement would overflow')

/** `ERR invalid expire time in '<command>' command`. */
export function invalidExpire(command: string): ReplyError {
  return new ReplyError(`ERR invalid expire time in '${command}' command`)
}

/** `ERR wrong number of arguments for '<command>' command` (for arity rules the table cannot express). */
export function wrongArity(command: string): ReplyError {
  return new ReplyError(`ERR wrong number of arguments for '${command}' command`)
}

/** Builds a command table entry; key positions as in Redis's legacy `COMMAND INFO` (first, last, step). */
export function command(
  name: string,
  arity: number,
  flags: readonly string[],
  keys: readonly [first: number, last: number, step: number],
  summary: string,
  handler: Handler,
): CommandSpec {
  return { name, arity, flags, firstKey: keys[0], lastKey: keys[1], step: keys[2], summary, handler }
}

/** The lower-cased latin1 text of an option argument. */
export function option(buf: Buffer): string {
  return buf.toString('latin1').toLowerCase()
}
