// Generic key commands: DEL UNLINK EXISTS TOUCH TYPE, the EXPIRE and TTL families, RENAME, SCAN KEYS RANDOMKEY.
import { globMatch } from '../glob.js'
import { Hash, type Keyspace, keyOf } from '../keyspace.js'
import { type CommandSpec, OK, type Reply, ReplyError, Status } from '../types.js'
import { INT64_MAX, INT64_MIN, parseInt64Bytes } from './numbers.js'
import { command, invalidExpire, NOT_INTEGER, option, SYNTAX } from './replies.js'

const NO_SUCH_KEY = new ReplyError('ERR no such key')
const INVALID_CURSOR = new ReplyError('ERR invalid cursor')
const NX_CONFLICT = new ReplyError('ERR NX and XX, GT or LT options at the same time are not compatible')
const GT_LT_CONFLICT = new ReplyError('ERR GT and LT options at the same time are not compatible')
const TYPE_NONE = new Status('none')
const TYPE_STRING = new Status('string')
const TYPE_HASH = new Status('hash')
const UINT64_MAX = 18446744073709551615n

/**
 * Parses a SCAN cursor as Redis does (strtoul on the whole text): decimal digits with an optional sign, where
 * a negative number wraps around 2^64, and the empty text is 0. Returns null for `ERR invalid cursor`.
 */
export function parseCursor(text: string): bigint | null {
  const m = /^([+-]?)([0-9]*)$/.exec(text)
  if (m === null) return null
  const digits = m[2] ?? ''
  if (digits.length === 0) return m[1] === '' ? 0n : null
  const v = BigInt(digits)
  if (v > UINT64_MAX) return null
  return m[1] === '-' && v !== 0n ? UINT64_MAX + 1n - v : v
}

/** The generic key commands, bound to a keyspace. */
export function keyCommands(ks: Keyspace): CommandSpec[] {
  /** EXPIRE PEXPIRE EXPIREAT PEXPIREAT (Redis's expireGenericCommand). */
  function expireGeneric(args: Buffer[], name: string, seconds: boolean, relative: boolean): Reply {
    let nx = false
    let xx = false
    let gt = false
    let lt = false
    for (let j = 3; j < args.length; j++) {
      const opt = option(args[j]!)
      if (opt === 'nx') nx = true
      else if (opt === 'xx') xx = true
      else if (opt === 'gt') gt = true
      else if (opt === 'lt') lt = true
      else return new ReplyError(`ERR Unsupported option ${args[j]!.toString('latin1')}`)
    }
    if (nx && (xx || gt || lt)) return NX_CONFLICT
    if (gt && lt) return GT_LT_CONFLICT
    let when = parseInt64Bytes(args[2]!)
    if (when === null) return NOT_INTEGER
    if (seconds) {
      if (when > INT64_MAX / 1000n || when < INT64_MIN / 1000n) return invalidExpire(name)
      when *= 1000n
    }
    const base = relative ? BigInt(ks.now()) : 0n
    if (when > INT64_MAX - base) return invalidExpire(name)
    when += base
    const key = keyOf(args[1]!)
    const at = ks.expireAt(key)
    if (at < 0) return 0
    // Redis's current_expire: -1 for none, which counts as an infinite TTL for GT and LT.
    const current = at === 0 ? -1n : BigInt(at)
    if (nx && current !== -1n) return 0
    if (xx && current === -1n) return 0
    if (gt && (when <= current || current === -1n)) return 0
    if (lt && when >= current && current !== -1n) return 0
    ks.setExpire(key, Number(when))
    return 1
  }

  /** TTL PTTL EXPIRETIME PEXPIRETIME (Redis's ttlGenericCommand). */
  function ttlGeneric(args: Buffer[], ms: boolean, absolute: boolean): Reply {
    const key = keyOf(args[1]!)
    if (ks.read(key, false) === undefined) return -2
    const at = ks.expireAt(key)
    if (at <= 0) return -1
    let ttl = absolute ? at : at - ks.now()
    if (ttl < 0) ttl = 0
    return ms ? ttl : Math.floor((ttl + 500) / 1000)
  }

  function del(args: Buffer[]): Reply {
    let n = 0
    for (let i = 1; i < args.length; i++) if (ks.delete(keyOf(args[i]!))) n++
    return n
  }

  return [
    command('del', -2, ['write'], [1, -1, 1], 'Deletes one or more keys.', del),
    command('unlink', -2, ['write', 'fast'], [1, -1, 1], 'Asynchronously deletes one or more keys.', del),
    command(
      'exists',
      -2,
      ['readonly', 'fast'],
      [1, -1, 1],
      'Determines whether one or more keys exist.',
      (args) => {
        let n = 0
        for (let i = 1; i < args.length; i++) if (ks.read(keyOf(args[i]!), false) !== undefined) n++
        return n
      },
    ),
    command(
      'touch',
      -2,
      ['readonly', 'fast'],
      [1, -1, 1],
      'Returns the number of existing keys out of those specified after updating the time they were last accessed.',
      (args) => {
        let n = 0
        for (let i = 1; i < args.length; i++) if (ks.read(keyOf(args[i]!)) !== undefined) n++
        return n
      },
    ),
    command(
      'type',
      2,
      ['readonly', 'fast'],
      [1, 1, 1],
      'Determines the type of value stored at a key.',
      (args) => {
        const v = ks.read(keyOf(args[1]!), false)
        return v === undefined ? TYPE_NONE : v instanceof Hash ? TYPE_HASH : TYPE_STRING
      },
    ),
    command(
      'expire',
      -3,
      ['write', 'fast'],
      [1, 1, 1],
      'Sets the expiration time of a key in seconds.',
      (args) => expireGeneric(args, 'expire', true, true),
    ),
    command(
      'pexpire',
      -3,
      ['write', 'fast'],
      [1, 1, 1],
      'Sets the expiration time of a key in milliseconds.',
      (args) => expireGeneric(args, 'pexpire', false, true),
    ),
    command(
      'expireat',
      -3,
      ['write', 'fast'],
      [1, 1, 1],
      'Sets the expiration time of a key to a Unix timestamp.',
      (args) => expireGeneric(args, 'expireat', true, false),
    ),
    command(
      'pexpireat',
      -3,
      ['write', 'fast'],
      [1, 1, 1],
      'Sets the expiration time of a key to a Unix milliseconds timestamp.',
      (args) => expireGeneric(args, 'pexpireat', false, false),
    ),
    command(
      'ttl',
      2,
      ['readonly', 'fast'],
      [1, 1, 1],
      'Returns the expiration time in seconds of a key.',
      (args) => ttlGeneric(args, false, false),
    ),
    command(
      'pttl',
      2,
      ['readonly', 'fast'],
      [1, 1, 1],
      'Returns the expiration time in milliseconds of a key.',
      (args) => ttlGeneric(args, true, false),
    ),
    command(
      'expiretime',
      2,
      ['readonly', 'fast'],
      [1, 1, 1],
      'Returns the expiration time of a key as a Unix timestamp.',
      (args) => ttlGeneric(args, false, true),
    ),
    command(
      'pexpiretime',
      2,
      ['readonly', 'fast'],
      [1, 1, 1],
      'Returns the expiration time of a key as a Unix milliseconds timestamp.',
      (args) => ttlGeneric(args, true, true),
    ),
    command('persist', 2, ['write', 'fast'], [1, 1, 1], 'Removes the expiration time of a key.', (args) =>
      ks.persist(keyOf(args[1]!)) ? 1 : 0,
    ),
    command('rename', 3, ['write'], [1, 2, 1], 'Renames a key and overwrites the destination.', (args) =>
      ks.rename(keyOf(args[1]!), keyOf(args[2]!)) ? OK : NO_SUCH_KEY,
    ),
    command('scan', -2, ['readonly'], [0, 0, 0], 'Iterates over the key names in the database.', (args) => {
      const cursor = parseCursor(args[1]!.toString('latin1'))
      if (cursor === null) return INVALID_CURSOR
      let count = 10
      let pattern: string | undefined
      let type: string | undefined
      for (let i = 2; i < args.length; i += 2) {
        const opt = option(args[i]!)
        const value = args[i + 1]
        if (value === undefined) return SYNTAX
        if (opt === 'count') {
          const n = parseInt64Bytes(value)
          if (n === null) return NOT_INTEGER
          if (n < 1n) return SYNTAX
          count = n > 1_000_000_000n ? 1_000_000_000 : Number(n)
        } else if (opt === 'match') {
          const p = keyOf(value)
          pattern = p === '*' ? undefined : p
        } else if (opt === 'type') {
          type = value.toString('latin1').toLowerCase()
        } else {
          return SYNTAX
        }
      }
      const keys: Buffer[] = []
      const start = cursor > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(cursor)
      const next = ks.scan(start, count, (key, keyType) => {
        if (pattern !== undefined && !globMatch(pattern, key)) return
        if (type !== undefined && type !== keyType) return
        keys.push(Buffer.from(key, 'latin1'))
      })
      return [String(next), keys]
    }),
    command('keys', 2, ['readonly'], [0, 0, 0], 'Returns all key names that match a pattern.', (args) => {
      const p = keyOf(args[1]!)
      const keys: Buffer[] = []
      ks.forEach((key) => {
        if (p === '*' || globMatch(p, key)) keys.push(Buffer.from(key, 'latin1'))
      })
      return keys
    }),
    command('randomkey', 1, ['readonly'], [0, 0, 0], 'Returns a random key name from the database.', () => {
      const key = ks.randomKey()
      return key === undefined ? null : Buffer.from(key, 'latin1')
    }),
  ]
}
