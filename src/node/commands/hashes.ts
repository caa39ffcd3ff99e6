// Hash commands: HSET HGET HMGET HGETALL HDEL HEXISTS HLEN HINCRBY.
import { Hash, type Keyspace, keyOf, type Value } from '../keyspace.js'
import { type CommandSpec, MapReply, type Reply, ReplyError } from '../types.js'
import { addInt64, intReply, parseInt64Bytes } from './numbers.js'
import { command, NOT_INTEGER, OVERFLOW, WRONGTYPE, wrongArity } from './replies.js'

const HASH_NOT_INTEGER = new ReplyError('ERR hash value is not an integer')

/** The hash commands, bound to a keyspace. */
export function hashCommands(ks: Keyspace): CommandSpec[] {
  /** The hash at `key` for a read: undefined when missing, WRONGTYPE when not a hash. */
  function readHash(key: string): Hash | undefined | ReplyError {
    const v: Value | undefined = ks.read(key)
    if (v === undefined || v instanceof Hash) return v
    return WRONGTYPE
  }

  /** The hash at `key` for a write, created empty (not yet stored) when missing. */
  function writeHash(key: string): Hash | ReplyError {
    const v = ks.get(key)
    if (v === undefined) return new Hash()
    return v instanceof Hash ? v : WRONGTYPE
  }

  return [
    command(
      'hset',
      -4,
      ['write', 'denyoom', 'fast'],
      [1, 1, 1],
      'Creates or modifies the value of a field in a hash.',
      (args) => {
        if (args.length % 2 === 1) return wrongArity('hset')
        const key = keyOf(args[1]!)
        const h = writeHash(key)
        if (h instanceof ReplyError) return h
        let created = 0
        for (let i = 2; i < args.length; i += 2)
          if (ks.hashSet(key, h, keyOf(args[i]!), args[i + 1]!)) created++
        return created
      },
    ),
    command('hget', 3, ['readonly', 'fast'], [1, 1, 1], 'Returns the value of a field in a hash.', (args) => {
      const h = readHash(keyOf(args[1]!))
      if (h === undefined) return null
      if (h instanceof ReplyError) return h
      return ks.hashView(h, keyOf(args[2]!)) ?? null
    }),
    command(
      'hmget',
      -3,
      ['readonly', 'fast'],
      [1, 1, 1],
      'Returns the values of all fields in a hash.',
      (args) => {
        const h = readHash(keyOf(args[1]!))
        if (h instanceof ReplyError) return h
        const out: Reply[] = new Array(args.length - 2)
        // Views of the stored values: nothing changes the keyspace before the reply is written.
        for (let i = 2; i < args.length; i++) {
          out[i - 2] = h === undefined ? null : (ks.hashView(h, keyOf(args[i]!)) ?? null)
        }
        return out
      },
    ),
    command('hgetall', 2, ['readonly'], [1, 1, 1], 'Returns all fields and values in a hash.', (args) => {
      const h = readHash(keyOf(args[1]!))
      if (h instanceof ReplyError) return h
      const entries: [Reply, Reply][] = []
      if (h !== undefined) ks.hashForEach(h, (f, v) => entries.push([Buffer.from(f, 'latin1'), v]))
      return new MapReply(entries)
    }),
    command(
      'hdel',
      -3,
      ['write', 'fast'],
      [1, 1, 1],
      'Deletes one or more fields and their values from a hash.',
      (args) => {
        const key = keyOf(args[1]!)
        const v = ks.get(key)
        if (v === undefined) return 0
        if (!(v instanceof Hash)) return WRONGTYPE
        let n = 0
        for (let i = 2; i < args.length; i++) if (ks.hashDelete(key, v, keyOf(args[i]!))) n++
        return n
      },
    ),
    command(
      'hexists',
      3,
      ['readonly', 'fast'],
      [1, 1, 1],
      'Determines whether a field exists in a hash.',
      (args) => {
        const h = readHash(keyOf(args[1]!))
        if (h instanceof ReplyError) return h
        return h?.fields.has(keyOf(args[2]!)) ? 1 : 0
      },
    ),
    command('hlen', 2, ['readonly', 'fast'], [1, 1, 1], 'Returns the number of fields in a hash.', (args) => {
      const h = readHash(keyOf(args[1]!))
      if (h instanceof ReplyError) return h
      return h === undefined ? 0 : h.size
    }),
    command(
      'hincrby',
      4,
      ['write', 'denyoom', 'fast'],
      [1, 1, 1],
      'Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn’t exist.',
      (args) => {
        const incr = parseInt64Bytes(args[3]!)
        if (incr === null) return NOT_INTEGER
        const key = keyOf(args[1]!)
        const h = writeHash(key)
        if (h instanceof ReplyError) return h
        const field = keyOf(args[2]!)
        const old = ks.hashGet(h, field)
        let current = 0n
        if (old !== undefined) {
          const parsed = parseInt64Bytes(old)
          if (parsed === null) return HASH_NOT_INTEGER
          current = parsed
        }
        const next = addInt64(current, incr)
        if (next === null) return OVERFLOW
        ks.hashSet(key, h, field, next.toString())
        return intReply(next)
      },
    ),
  ]
}
