// The proxy's command table: how each command is served (locally, by key, split per server) or why it is not.
import { CommandTable } from '../resp/command-table.js'

/** How the proxy serves a command. */
export type Route =
  /** Answered by the proxy itself (PING, AUTH, INFO...). */
  | { readonly kind: 'local' }
  /** Forwarded as it is to the owner of the key at argument 1. */
  | { readonly kind: 'key' }
  /** Forwarded as it is when every key (from `first`, every `step`, `last` < 0 counting from the end) lives on one server. */
  | { readonly kind: 'same'; readonly first: number; readonly last: number; readonly step: number }
  /** Split per server and merged in order. */
  | { readonly kind: 'mget' | 'mset' | 'sum' }
  /** Refused with this reason. */
  | { readonly kind: 'refuse'; readonly reason: string }

/** One command of the table. */
export interface CommandSpec {
  /** Lower-case name. */
  readonly name: string
  /** Redis arity: exactly n arguments (name included) when positive, at least -n when negative. */
  readonly arity: number
  readonly route: Route
  /** Served in store mode (by the cluster's replicated operations). */
  readonly store?: boolean
  /** The RESP3 shape of the reply when it differs from RESP2's (re-encoded for RESP3 clients). */
  readonly resp3?: 'map' | 'set' | 'double'
}

const RESP3: Record<string, 'map' | 'set' | 'double'> = {
  hgetall: 'map',
  smembers: 'set',
  zscore: 'double',
  zincrby: 'double',
}

const LOCAL: Route = { kind: 'local' }
const KEY: Route = { kind: 'key' }
const TWO_KEYS: Route = { kind: 'same', first: 1, last: 2, step: 1 }
const ALL_KEYS: Route = { kind: 'same', first: 1, last: -1, step: 1 }

const SPREAD = 'keys are spread over servers, so no single server can answer it'
const TRANSACTION = 'a transaction cannot span servers, and the backend connections are shared by all clients'
const PUBSUB = 'pub/sub needs a connection of its own to one server; connect to a server directly'
const BLOCKING = 'a blocking command would stall the backend connection shared by all clients'
const SCRIPT = 'scripts may touch keys on any server'
const ADMIN = 'server administration goes to each server directly, not through the proxy'
const DATABASES = 'the proxy serves database 0 only'

const specs: CommandSpec[] = []
function add(route: Route, arity: number, names: string, store = false): void {
  for (const name of names.split(' ')) {
    const shape = RESP3[name]
    specs.push(
      shape === undefined ? { name, arity, route, store } : { name, arity, route, store, resp3: shape },
    )
  }
}

add(LOCAL, -1, 'ping')
add(LOCAL, 2, 'echo')
add(LOCAL, -1, 'quit hello command info')
add(LOCAL, -2, 'auth select client config proxy')
add(LOCAL, -1, 'flushall flushdb')
add(LOCAL, 1, 'reset')

// Strings, counters and TTLs.
add(KEY, 2, 'get ttl pttl', true)
add(KEY, -3, 'set expire pexpire', true)
add(KEY, 4, 'setex psetex', true)
add(KEY, 2, 'getdel incr decr persist type strlen expiretime pexpiretime')
add(KEY, 3, 'setnx getset incrby decrby incrbyfloat append getbit')
add(KEY, -2, 'getex bitcount')
add(KEY, -3, 'expireat pexpireat')
add(KEY, 4, 'getrange setrange substr setbit')
// Hashes, lists, sets, sorted sets, HyperLogLog: one key each.
add(KEY, 2, 'hgetall hlen hkeys hvals llen smembers scard zcard')
add(KEY, 3, 'hget hexists hstrlen lindex sismember zscore')
add(
  KEY,
  4,
  'hincrby hincrbyfloat hsetnx lrange lset lrem ltrim zincrby zcount zremrangebyscore zremrangebyrank',
)
add(KEY, -4, 'hset hmset zadd zrange zrangebyscore zrevrange zrevrangebyscore')
add(KEY, -3, 'hmget hdel lpush rpush lpushx rpushx lpos sadd srem smismember zrem zrank zrevrank zmscore')
add(KEY, -3, 'hscan sscan zscan')
add(KEY, -2, 'lpop rpop spop srandmember pfadd')
add(KEY, 5, 'linsert')
// Multi-key commands served when their keys live together (e.g. share a {hash tag}).
add(TWO_KEYS, 3, 'rename renamenx rpoplpush')
add(TWO_KEYS, -3, 'copy')
add(TWO_KEYS, 4, 'smove')
add(TWO_KEYS, 5, 'lmove')
add(ALL_KEYS, -2, 'sinter sunion sdiff pfcount pfmerge')
add(ALL_KEYS, -3, 'sinterstore sunionstore sdiffstore')
add({ kind: 'same', first: 1, last: -1, step: 2 }, -3, 'msetnx')
// Split per server.
add({ kind: 'mget' }, -2, 'mget', true)
add({ kind: 'mset' }, -3, 'mset', true)
add({ kind: 'sum' }, -2, 'del unlink exists', true)
add({ kind: 'sum' }, -2, 'touch')
// Refused, with the reason.
add({ kind: 'refuse', reason: SPREAD }, -1, 'keys scan randomkey dbsize sort sort_ro')
add({ kind: 'refuse', reason: TRANSACTION }, -1, 'multi exec discard watch unwatch')
add(
  { kind: 'refuse', reason: PUBSUB },
  -1,
  'subscribe unsubscribe psubscribe punsubscribe ssubscribe sunsubscribe publish spublish pubsub',
)
add(
  { kind: 'refuse', reason: BLOCKING },
  -1,
  'blpop brpop brpoplpush blmove blmpop bzpopmin bzpopmax bzmpop wait waitaof',
)
add({ kind: 'refuse', reason: SCRIPT }, -1, 'eval evalsha eval_ro evalsha_ro script fcall fcall_ro function')
add({ kind: 'refuse', reason: DATABASES }, -1, 'move swapdb')
add(
  { kind: 'refuse', reason: ADMIN },
  -1,
  'save bgsave bgrewriteaof shutdown debug monitor slaveof replicaof cluster migrate failover lastsave slowlog latency memory acl module object',
)

/** Every command the proxy knows, found from the bytes of its name in any ASCII case. */
export const COMMANDS = new CommandTable(specs)
/** Every command the proxy knows, in definition order. */
export const COMMAND_LIST: readonly CommandSpec[] = specs

/** True when `argc` arguments (name included) satisfy `arity`. */
export function arityOk(arity: number, argc: number): boolean {
  return arity >= 0 ? argc === arity : argc >= -arity
}
