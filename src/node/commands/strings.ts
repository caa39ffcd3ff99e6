// String commands: GET SET and their variants, multi-key MGET/MSET, ranges, and integer/float counters.
import { bytesOf, Hash, KEEP_TTL, type Keyspace, keyOf, type StringValue } from '../keyspace.js'
import { type CommandSpec, OK, type Reply, ReplyError } from '../types.js'
import { addInt64, INT64_MAX, INT64_MIN, incrByFloat, intReply, parseInt64Bytes } from './numbers.js'
import {
  command,
  invalidExpire,
  NOT_INTEGER,
  OVERFLOW,
  option,
  SYNTAX,
  WRONGTYPE,
  wrongArity,
} from './replies.js'

const EMPTY = Buffer.alloc(0)

const OUT_OF_RANGE = new ReplyError('ERR offset is out of range')
const TOO_LONG = new ReplyError('ERR string exceeds maximum allowed size (proto-max-bulk-len)')
const DECR_OVERFLOW = new ReplyError('ERR decrement would overflow')

// Option bits of SET and GETEX (Redis's OBJ_SET_* / OBJ_* flags).
const NX = 1
const XX = 2
const GET = 4
const KEEPTTL = 8
const PERSIST = 16
const EX = 32
const PX = 64
const EXAT = 128
const PXAT = 256
const ANY_EXPIRE = EX | PX | EXAT | PXAT

interface ExtendedArgs {
  flags: number
  expire: Buffer | undefined
}

/**
 * Redis's parseExtendedStringArgumentsOrReply: the options of SET (`forSet`) or GETEX from `args[from]` on.
 * Conflicting or unknown options, or an expiry option without a value, are `ERR syntax error`.
 */
function parseExtended(args: Buffer[], from: number, forSet: boolean): ExtendedArgs | ReplyError {
  let flags = 0
  let expire: Buffer | undefined
  for (let j = from; j < args.length; j++) {
    const opt = option(args[j]!)
    const next = args[j + 1]
    if (opt === 'nx' && !(flags & XX) && forSet) flags |= NX
    else if (opt === 'xx' && !(flags & NX) && forSet) flags |= XX
    else if (opt === 'get' && forSet) flags |= GET
    else if (opt === 'keepttl' && !(flags & (PERSIST | ANY_EXPIRE)) && forSet) flags |= KEEPTTL
    else if (opt === 'persist' && !forSet && !(flags & (ANY_EXPIRE | KEEPTTL))) flags |= PERSIST
    else if (opt === 'ex' && !(flags & (KEEPTTL | PERSIST | EXAT | PX | PXAT)) && next !== undefined) {
      flags |= EX
      expire = next
      j++
    } else if (opt === 'px' && !(flags & (KEEPTTL | PERSIST | EX | EXAT | PXAT)) && next !== undefined) {
      flags |= PX
      expire = next
      j++
    } else if (opt === 'exat' && !(flags & (KEEPTTL | PERSIST | EX | PX | PXAT)) && next !== undefined) {
      flags |= EXAT
      expire = next
      j++
    } else if (opt === 'pxat' && !(flags & (KEEPTTL | PERSIST | EX | EXAT | PX)) && next !== undefined) {
      flags |= PXAT
      expire = next
      j++
    } else {
      return SYNTAX
    }
  }
  return { flags, expire }
}

/** The string commands, bound to a keyspace. */
export function stringCommands(ks: Keyspace): CommandSpec[] {
  /**
   * Redis's getExpireMillisecondsOrReply: the absolute expiry time for an EX/PX/EXAT/PXAT argument, or the
   * error. The value must be a positive integer whose absolute time in ms stays within int64.
   */
  function expireTime(arg: Buffer, flags: number, name: string): number | ReplyError {
    const v = parseInt64Bytes(arg)
    if (v === null) return NOT_INTEGER
    const seconds = (flags & (EX | EXAT)) !== 0
    if (v <= 0n || (seconds && v > INT64_MAX / 1000n)) return invalidExpire(name)
    let ms = seconds ? v * 1000n : v
    if (flags & (EX | PX)) ms += BigInt(ks.now())
    if (ms > INT64_MAX) return invalidExpire(name)
    return Number(ms)
  }

  /** The string at `key` for a read: undefined when missing, WRONGTYPE when not a string. */
  function readString(key: string): StringValue | undefined | ReplyError {
    const v = ks.read(key)
    return v instanceof Hash ? WRONGTYPE : v
  }

  /** Redis's setGenericCommand. */
  function setGeneric(
    name: string,
    key: Buffer,
    value: Buffer,
    flags: number,
    expire: Buffer | undefined,
    okReply: Reply,
    abortReply: Reply,
  ): Reply {
    let at = 0
    if (expire !== undefined) {
      const t = expireTime(expire, flags, name)
      if (t instanceof ReplyError) return t
      at = t
    }
    let old: Reply = null
    if (flags & GET) {
      const v = readString(keyOf(key))
      if (v instanceof ReplyError) return v
      old = v === undefined ? null : bytesOf(v)
    }
    if (flags & (NX | XX)) {
      const found = ks.has(keyOf(key))
      if ((flags & NX && found) || (flags & XX && !found)) return flags & GET ? old : abortReply
    }
    ks.setCopy(key, value, flags & KEEPTTL ? KEEP_TTL : at)
    return flags & GET ? old : okReply
  }

  /** INCRBY and friends (Redis's incrDecrCommand). */
  function incrBy(key: string, incr: bigint): Reply {
    const v = ks.get(key)
    let current = 0n
    if (v !== undefined) {
      if (v instanceof Hash) return WRONGTYPE
      const parsed = parseInt64Bytes(v)
      if (parsed === null) return NOT_INTEGER
      current = parsed
    }
    const next = addInt64(current, incr)
    if (next === null) return OVERFLOW
    ks.set(key, next.toString(), KEEP_TTL)
    return intReply(next)
  }

  return [
    command('get', 2, ['readonly', 'fast'], [1, 1, 1], 'Returns the string value of a key.', (args) => {
      const v = ks.view(args[1]!)
      return v instanceof Hash ? WRONGTYPE : (v ?? null)
    }),
    command(
      'set',
      -3,
      ['write', 'denyoom'],
      [1, 1, 1],
      'Sets the string value of a key, ignoring its type. The key is created if it doesn’t exist.',
      (args) => {
        if (args.length === 3) {
          ks.setCopy(args[1]!, args[2]!)
          return OK
        }
        const parsed = parseExtended(args, 3, true)
        if (parsed instanceof ReplyError) return parsed
        return setGeneric('set', args[1]!, args[2]!, parsed.flags, parsed.expire, OK, null)
      },
    ),
    command(
      'setnx',
      3,
      ['write', 'denyoom', 'fast'],
      [1, 1, 1],
      'Set the string value of a key only when the key doesn’t exist.',
      (args) => setGeneric('setnx', args[1]!, args[2]!, NX, undefined, 1, 0),
    ),
    command(
      'setex',
      4,
      ['write', 'denyoom'],
      [1, 1, 1],
      'Sets the string value and expiration time of a key.',
      (args) => setGeneric('setex', args[1]!, args[3]!, EX, args[2]!, OK, null),
    ),
    command(
      'psetex',
      4,
      ['write', 'denyoom'],
      [1, 1, 1],
      'Sets both string value and expiration time in milliseconds of a key.',
      (args) => setGeneric('psetex', args[1]!, args[3]!, PX, args[2]!, OK, null),
    ),
    command(
      'getdel',
      2,
      ['write', 'fast'],
      [1, 1, 1],
      'Returns the string value of a key after deleting the key.',
      (args) => {
        const key = keyOf(args[1]!)
        const v = readString(key)
        if (v === undefined || v instanceof ReplyError) return v ?? null
        ks.delete(key)
        return bytesOf(v)
      },
    ),
    command(
      'getex',
      -2,
      ['write', 'fast'],
      [1, 1, 1],
      'Returns the string value of a key after setting its expiration time.',
      (args) => {
        const key = keyOf(args[1]!)
        const parsed = parseExtended(args, 2, false)
        if (parsed instanceof ReplyError) return parsed
        const v = readString(key)
        if (v === undefined || v instanceof ReplyError) return v ?? null
        const { flags, expire } = parsed
        if (expire !== undefined) {
          const at = expireTime(expire, flags, 'getex')
          if (at instanceof ReplyError) return at
          if (flags & (EXAT | PXAT) && at <= ks.now()) ks.delete(key)
          else ks.setExpire(key, at)
        } else if (flags & PERSIST) {
          ks.persist(key)
        }
        return bytesOf(v)
      },
    ),
    command(
      'mget',
      -2,
      ['readonly', 'fast'],
      [1, -1, 1],
      'Atomically returns the string values of one or more keys.',
      (args) => {
        const out: Reply[] = new Array(args.length - 1)
        for (let i = 1; i < args.length; i++) {
          // Views of the stored values: nothing changes the keyspace before the reply is written.
          const v = ks.view(args[i]!)
          out[i - 1] = v === undefined || v instanceof Hash ? null : v
        }
        return out
      },
    ),
    command(
      'mset',
      -3,
      ['write', 'denyoom'],
      [1, -1, 2],
      'Atomically creates or modifies the string values of one or more keys.',
      (args) => {
        if (args.length % 2 === 0) return wrongArity('mset')
        for (let i = 1; i < args.length; i += 2) ks.setCopy(args[i]!, args[i + 1]!)
        return OK
      },
    ),
    command(
      'msetnx',
      -3,
      ['write', 'denyoom'],
      [1, -1, 2],
      'Atomically modifies the string values of one or more keys only when all keys don’t exist.',
      (args) => {
        if (args.length % 2 === 0) return wrongArity('msetnx')
        for (let i = 1; i < args.length; i += 2) if (ks.has(keyOf(args[i]!))) return 0
        for (let i = 1; i < args.length; i += 2) ks.setCopy(args[i]!, args[i + 1]!)
        return 1
      },
    ),
    command(
      'append',
      3,
      ['write', 'denyoom', 'fast'],
      [1, 1, 1],
      'Appends a string to the value of a key. Creates the key if it doesn’t exist.',
      (args) => {
        const key = keyOf(args[1]!)
        const add = args[2]!
        const v = ks.get(key)
        if (v === undefined) {
          ks.setCopy(key, add)
          return add.length
        }
        if (v instanceof Hash) return WRONGTYPE
        const total = v.length + add.length
        if (total > ks.protoMaxBulkLen) return TOO_LONG
        if (add.length > 0) ks.set(key, Buffer.concat([bytesOf(v), add], total), KEEP_TTL)
        return total
      },
    ),
    command('strlen', 2, ['readonly', 'fast'], [1, 1, 1], 'Returns the length of a string value.', (args) => {
      const v = readString(keyOf(args[1]!))
      if (v instanceof ReplyError) return v
      return v === undefined ? 0 : v.length
    }),
    command(
      'getrange',
      4,
      ['readonly'],
      [1, 1, 1],
      'Returns a substring of the string stored at a key.',
      (args) => {
        let start = parseInt64Bytes(args[2]!)
        let end = parseInt64Bytes(args[3]!)
        if (start === null || end === null) return NOT_INTEGER
        const v = readString(keyOf(args[1]!))
        if (v instanceof ReplyError) return v
        if (v === undefined) return EMPTY
        const len = BigInt(v.length)
        if (start < 0n && end < 0n && start > end) return EMPTY
        if (start < 0n) start += len
        if (end < 0n) end += len
        if (start < 0n) start = 0n
        if (end < 0n) end = 0n
        if (end >= len) end = len - 1n
        if (start > end || len === 0n) return EMPTY
        const s = Number(start)
        const e = Number(end) + 1
        return typeof v === 'string' ? Buffer.from(v.slice(s, e), 'latin1') : v.subarray(s, e)
      },
    ),
    command(
      'setrange',
      4,
      ['write', 'denyoom'],
      [1, 1, 1],
      'Overwrites a part of a string value with another by an offset. Creates the key if it doesn’t exist.',
      (args) => {
        const offset = parseInt64Bytes(args[2]!)
        if (offset === null) return NOT_INTEGER
        if (offset < 0n) return OUT_OF_RANGE
        const key = keyOf(args[1]!)
        const add = args[3]!
        const v = ks.get(key)
        if (v instanceof Hash) return WRONGTYPE
        if (add.length === 0) return v === undefined ? 0 : v.length
        if (offset + BigInt(add.length) > BigInt(ks.protoMaxBulkLen)) return TOO_LONG
        const at = Number(offset)
        const len = Math.max(v === undefined ? 0 : v.length, at + add.length)
        const buf = Buffer.alloc(len)
        if (v !== undefined) bytesOf(v).copy(buf)
        add.copy(buf, at)
        ks.set(key, buf, v === undefined ? 0 : KEEP_TTL)
        return len
      },
    ),
    command(
      'incr',
      2,
      ['write', 'denyoom', 'fast'],
      [1, 1, 1],
      'Increments the integer value of a key by one.',
      (args) => incrBy(keyOf(args[1]!), 1n),
    ),
    command(
      'decr',
      2,
      ['write', 'denyoom', 'fast'],
      [1, 1, 1],
      'Decrements the integer value of a key by one.',
      (args) => incrBy(keyOf(args[1]!), -1n),
    ),
    command(
      'incrby',
      3,
      ['write', 'denyoom', 'fast'],
      [1, 1, 1],
      'Increments the integer value of a key by a number.',
      (args) => {
        const incr = parseInt64Bytes(args[2]!)
        return incr === null ? NOT_INTEGER : incrBy(keyOf(args[1]!), incr)
      },
    ),
    command(
      'decrby',
      3,
      ['write', 'denyoom', 'fast'],
      [1, 1, 1],
      'Decrements a number from the integer value of a key.',
      (args) => {
        const decr = parseInt64Bytes(args[2]!)
        if (decr === null) return NOT_INTEGER
        if (decr === INT64_MIN) return DECR_OVERFLOW
        return incrBy(keyOf(args[1]!), -decr)
      },
    ),
    command(
      'incrbyfloat',
      3,
      ['write', 'denyoom', 'fast'],
      [1, 1, 1],
      'Increment the floating point value of a key by a number.',
      (args) => {
        const key = keyOf(args[1]!)
        const v = ks.get(key)
        if (v instanceof Hash) return WRONGTYPE
        // Longer texts are no valid float anyway (Redis's MAX_LONG_DOUBLE_CHARS): skip decoding them.
        const current =
          v === undefined ? '0' : v.length >= 5120 ? '' : typeof v === 'string' ? v : v.toString('latin1')
        const r = incrByFloat(current, args[2]!.toString('latin1'))
        if (!r.ok) return new ReplyError(r.error)
        ks.set(key, r.text, KEEP_TTL)
        return r.text
      },
    ),
  ]
}
