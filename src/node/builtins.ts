// Connection- and server-level commands (PING, HELLO, AUTH, CLIENT, COMMAND, INFO, CONFIG GET, ...).
import { arch, platform, release } from 'node:os'
import { MapReply, OK, type Reply, ReplyError, SetReply, Status, VerbatimReply } from '../resp/reply.js'
import { globMatch } from './glob.js'
import type { ResolvedNodeOptions } from './options.js'
import type { Connection, ServerStats } from './server.js'
import type { ClientState, CommandSpec, Handler } from './types.js'

/** The version we announce in HELLO and INFO: the Redis 7 semantics clients may feature-test for. */
export const REDIS_VERSION = '7.2.0'
/** This package's version, reported in INFO as `rendezvous_version`. */
export const RENDEZVOUS_VERSION = '0.1.0'

/** What the connection commands need from the server that runs them. */
export interface ServerContext {
  readonly options: ResolvedNodeOptions
  readonly startedAt: number
  readonly stats: Readonly<ServerStats>
  hasPassword(): boolean
  checkPassword(password: Buffer): boolean
  clients(): Iterable<Connection>
  clientOf(state: ClientState): Connection | undefined
  /** The whole command table, connection and data commands, for COMMAND. */
  specs(): readonly CommandSpec[]
  /** INFO's memory, stats and keyspace sections from the data side, `statsBefore` first in `# Stats`. */
  dataInfo(statsBefore: Array<[string, number]>): string
  port(): number
}

const PONG = new Status('PONG')
const WRONGPASS = new ReplyError('WRONGPASS invalid username-password pair or user is disabled.')
const SYNTAX = new ReplyError('ERR syntax error')
const NOT_INTEGER = new ReplyError('ERR value is not an integer or out of range')
const BAD_NAME = new ReplyError('ERR Client names cannot contain spaces, newlines or special characters.')

type SpecInit = Partial<Omit<CommandSpec, 'name' | 'arity' | 'handler'>>

function spec(
  name: string,
  arity: number,
  summary: string,
  handler: Handler,
  init: SpecInit = {},
): CommandSpec {
  return {
    name,
    arity,
    flags: init.flags ?? ['fast'],
    firstKey: init.firstKey ?? 0,
    lastKey: init.lastKey ?? 0,
    step: init.step ?? 0,
    summary,
    handler,
    ...(init.subcommands ? { subcommands: init.subcommands } : {}),
  }
}

/** Builds the connection-level command table for one server. */
export function connectionCommands(ctx: ServerContext): CommandSpec[] {
  const o = ctx.options
  const conn = (c: ClientState): Connection => {
    const found = ctx.clientOf(c)
    if (found === undefined) throw new Error('unknown client')
    return found
  }
  const authOk = (user: Buffer, password: Buffer): boolean => {
    if (user.toString('latin1') !== 'default') return false
    return ctx.hasPassword() ? ctx.checkPassword(password) : true
  }
  const helloMap = (c: ClientState): MapReply =>
    new MapReply([
      ['server', 'redis'],
      ['version', REDIS_VERSION],
      ['proto', c.resp],
      ['id', c.id],
      ['mode', 'standalone'],
      ['role', 'master'],
      ['modules', []],
    ])

  const client = (c: ClientState): Connection => conn(c)
  const clientSubcommands: CommandSpec[] = [
    spec('id', 2, 'Returns the unique client ID of the connection.', (_a, c) => c.id),
    spec('getname', 2, 'Returns the name of the connection.', (_a, c) => c.name),
    spec('setname', 3, 'Sets the connection name.', (a, c) => {
      const name = a[2]!
      if (!validName(name)) return BAD_NAME
      c.name = name.length === 0 ? null : name.toString('latin1')
      return OK
    }),
    spec('setinfo', 4, 'Sets information specific to the client or connection.', (a, c) => {
      const attr = a[2]!.toString('latin1').toLowerCase()
      const value = a[3]!
      if (attr !== 'lib-name' && attr !== 'lib-ver') {
        return new ReplyError(`ERR Unrecognized option '${a[2]!.toString('latin1')}'`)
      }
      if (!validName(value)) {
        return new ReplyError(`ERR ${attr} cannot contain spaces, newlines or special characters.`)
      }
      if (attr === 'lib-name') client(c).libName = value.toString('latin1')
      else client(c).libVer = value.toString('latin1')
      return OK
    }),
    spec('info', 2, 'Returns information about the connection.', (_a, c) => {
      return new VerbatimReply('txt', `${describeClient(client(c), o.clock())}\n`)
    }),
    spec('list', -2, 'Lists open connections.', (a) => {
      let ids: Set<number> | null = null
      let type = 'normal'
      for (let i = 2; i < a.length; i++) {
        const opt = a[i]!.toString('latin1').toLowerCase()
        if (opt === 'type' && i + 1 < a.length) {
          type = a[++i]!.toString('latin1').toLowerCase()
          if (!['normal', 'master', 'replica', 'slave', 'pubsub'].includes(type)) {
            return new ReplyError(`ERR Unknown client type '${type}'`)
          }
        } else if (opt === 'id' && i + 1 < a.length) {
          ids ??= new Set()
          while (i + 1 < a.length) {
            const id = parseInteger(a[++i]!)
            if (id === null || id < 1) return new ReplyError('ERR Invalid client ID')
            ids.add(id)
          }
        } else {
          return SYNTAX
        }
      }
      const now = o.clock()
      let text = ''
      if (type === 'normal') {
        for (const k of ctx.clients()) {
          if (ids === null || ids.has(k.id)) text += `${describeClient(k, now)}\n`
        }
      }
      return new VerbatimReply('txt', text)
    }),
    spec('help', 2, 'Returns helpful text about the different subcommands.', () =>
      [
        'CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
        'GETNAME, SETNAME <name>, ID, INFO, LIST [TYPE <type>] [ID <id> ...], SETINFO <attr> <value>, HELP',
      ].map((s) => new Status(s)),
    ),
  ]

  const commandSubcommands: CommandSpec[] = [
    spec('count', 2, 'Returns a count of commands.', () => ctx.specs().length),
    spec('info', -2, 'Returns information about one, multiple or all commands.', (a) => {
      if (a.length === 2) return ctx.specs().map((s) => commandInfo(s, s.name))
      return a.slice(2).map((n) => {
        const s = findSpec(ctx.specs(), n.toString('latin1'))
        return s === undefined ? null : commandInfo(s, s.name)
      })
    }),
    spec('docs', -2, 'Returns documentary information about one, multiple or all commands.', (a) => {
      const chosen =
        a.length === 2
          ? ctx.specs()
          : a
              .slice(2)
              .map((n) => findSpec(ctx.specs(), n.toString('latin1')))
              .filter((s): s is CommandSpec => s !== undefined)
      return new MapReply(chosen.map((s) => [s.name, commandDocs(s, s.name)]))
    }),
    spec('list', -2, 'Returns a list of command names.', () => ctx.specs().map((s) => s.name)),
  ]

  const configSubcommands: CommandSpec[] = [
    spec('get', -3, 'Returns the effective values of configuration parameters.', (a) => {
      const params = configParams(o, ctx.port())
      const seen = new Map<string, string>()
      for (let i = 2; i < a.length; i++) {
        const pattern = a[i]!.toString('latin1').toLowerCase()
        for (const [k, v] of params) if (globMatch(pattern, k)) seen.set(k, v)
      }
      return new MapReply([...seen])
    }),
    spec('set', -4, 'Sets configuration parameters in-flight.', (a) => {
      return new ReplyError(
        `ERR Unknown option or number of arguments for CONFIG SET - '${a[2]!.toString('latin1')}'`,
      )
    }),
    spec('resetstat', 2, 'Resets the server statistics.', () => OK),
  ]

  return [
    spec('ping', -1, 'Returns the server liveliness response.', (a) => {
      if (a.length > 2) return new ReplyError("ERR wrong number of arguments for 'ping' command")
      return a.length === 2 ? a[1]! : PONG
    }),
    spec('echo', 2, 'Returns the given string.', (a) => a[1]!),
    spec('quit', -1, 'Closes the connection.', (_a, c) => {
      c.closeAfterReply = true
      return OK
    }),
    spec(
      'hello',
      -1,
      'Handshakes with the Redis server.',
      (a, c) => {
        let proto = c.resp
        let i = 1
        if (a.length >= 2) {
          const v = parseInteger(a[1]!)
          if (v === null) return new ReplyError('ERR Protocol version is not an integer or out of range')
          if (v !== 2 && v !== 3) return new ReplyError('NOPROTO unsupported protocol version')
          proto = v
          i = 2
        }
        let user: Buffer | null = null
        let password: Buffer | null = null
        let name: Buffer | null = null
        for (; i < a.length; i++) {
          const opt = a[i]!.toString('latin1')
          const more = a.length - 1 - i
          if (opt.toLowerCase() === 'auth' && more >= 2) {
            user = a[i + 1]!
            password = a[i + 2]!
            i += 2
          } else if (opt.toLowerCase() === 'setname' && more >= 1) {
            name = a[++i]!
            if (!validName(name)) return BAD_NAME
          } else {
            return new ReplyError(`ERR Syntax error in HELLO option '${opt}'`)
          }
        }
        if (user !== null && password !== null) {
          if (!authOk(user, password)) return WRONGPASS
          c.authenticated = true
        }
        if (!c.authenticated) {
          return new ReplyError(
            'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
          )
        }
        if (name !== null) c.name = name.length === 0 ? null : name.toString('latin1')
        c.resp = proto
        return helloMap(c)
      },
      { flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'] },
    ),
    spec(
      'auth',
      -2,
      'Authenticates the connection.',
      (a, c) => {
        if (a.length > 3) return SYNTAX
        if (a.length === 2 && !ctx.hasPassword()) {
          return new ReplyError(
            'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
          )
        }
        const ok = a.length === 2 ? ctx.checkPassword(a[1]!) : authOk(a[1]!, a[2]!)
        if (!ok) return WRONGPASS
        c.authenticated = true
        return OK
      },
      { flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'] },
    ),
    spec('select', 2, 'Changes the selected database.', (a) => {
      const db = parseInteger(a[1]!)
      if (db === null) return NOT_INTEGER
      return db === 0 ? OK : new ReplyError('ERR DB index is out of range')
    }),
    spec('client', -2, 'A container for client connection commands.', () => SYNTAX, {
      subcommands: clientSubcommands,
      flags: [],
    }),
    spec(
      'command',
      -1,
      'Returns detailed information about all commands.',
      () => ctx.specs().map((s) => commandInfo(s, s.name)),
      { subcommands: commandSubcommands, flags: ['loading', 'stale'] },
    ),
    spec('config', -2, 'A container for server configuration commands.', () => SYNTAX, {
      subcommands: configSubcommands,
      flags: [],
    }),
    spec(
      'info',
      -1,
      'Returns information and statistics about the server.',
      (a) => {
        const wanted = a.slice(1).map((s) => s.toString('latin1').toLowerCase())
        return new VerbatimReply('txt', infoText(ctx, wanted))
      },
      { flags: ['loading', 'stale'] },
    ),
    spec('time', 1, 'Returns the server time.', () => {
      const ms = o.clock()
      const sec = Math.floor(ms / 1000)
      return [String(sec), String(Math.floor((ms - sec * 1000) * 1000))]
    }),
  ]
}

/** Client names and library info: printable ASCII without spaces (Redis's rule). */
function validName(b: Buffer): boolean {
  for (const c of b) if (c < 33 || c > 126) return false
  return true
}

/** Strict decimal integer (Redis's string2ll), or null. */
function parseInteger(b: Buffer): number | null {
  const s = b.toString('latin1')
  if (!/^-?(0|[1-9]\d{0,17})$/.test(s)) return null
  return Number(s)
}

function findSpec(specs: readonly CommandSpec[], name: string): CommandSpec | undefined {
  const lower = name.toLowerCase()
  const [parent, sub] = lower.split('|')
  const top = specs.find((s) => s.name === parent)
  if (sub === undefined || top === undefined) return top
  return top.subcommands?.find((s) => s.name === sub)
}

function commandInfo(s: CommandSpec, fullName: string): Reply {
  return [
    fullName,
    s.arity,
    new SetReply(s.flags.map((f) => new Status(f))),
    s.firstKey,
    s.lastKey,
    s.step,
    new SetReply([]),
    new SetReply([]),
    [],
    (s.subcommands ?? []).map((sub) => commandInfo(sub, `${fullName}|${sub.name}`)),
  ]
}

const GROUPS: Record<string, string> = {
  ping: 'connection',
  echo: 'connection',
  quit: 'connection',
  hello: 'connection',
  auth: 'connection',
  select: 'connection',
  client: 'connection',
  command: 'server',
  config: 'server',
  info: 'server',
  time: 'server',
  dbsize: 'server',
  flushall: 'server',
  flushdb: 'server',
}
const GENERIC = new Set(
  'del unlink exists touch type expire pexpire expireat pexpireat ttl pttl persist expiretime pexpiretime rename scan keys randomkey'.split(
    ' ',
  ),
)

function group(name: string): string {
  const top = name.split('|')[0]!
  return GROUPS[top] ?? (GENERIC.has(top) ? 'generic' : top.startsWith('h') ? 'hash' : 'string')
}

function commandDocs(s: CommandSpec, fullName: string): MapReply {
  const entries: Array<[Reply, Reply]> = [
    ['summary', s.summary],
    ['since', '1.0.0'],
    ['group', group(fullName)],
  ]
  if (s.subcommands !== undefined && s.subcommands.length > 0) {
    entries.push([
      'subcommands',
      new MapReply(
        s.subcommands.map((sub) => [`${fullName}|${sub.name}`, commandDocs(sub, `${fullName}|${sub.name}`)]),
      ),
    ])
  }
  return new MapReply(entries)
}

function configParams(o: ResolvedNodeOptions, port: number): Array<[string, string]> {
  // requirepass is deliberately absent: CONFIG GET must not hand the secret to whoever asks.
  return [
    ['maxmemory', String(o.maxmemory)],
    ['maxmemory-policy', o.maxmemoryPolicy],
    ['maxclients', String(o.maxclients)],
    ['save', ''],
    ['appendonly', 'no'],
    ['databases', '1'],
    ['port', String(port)],
    ['bind', o.host],
    ['proto-max-bulk-len', String(o.maxBulkLength)],
    ['client-query-buffer-limit', String(o.maxQueryBuffer)],
    ['timeout', '0'],
  ]
}

/** One line of CLIENT LIST / CLIENT INFO, in Redis's field order (fields we do not track are 0 or empty). */
function describeClient(k: Connection, now: number): string {
  const age = Math.max(0, Math.floor((now - k.createdAt) / 1000))
  const idle = Math.max(0, Math.floor((now - k.lastInteraction) / 1000))
  const qbuf = k.decoder.buffered
  const obl = k.socket.writableLength
  return (
    `id=${k.id} addr=${k.addr} laddr=${k.laddr} fd=-1 name=${k.name ?? ''} age=${age} idle=${idle} flags=N db=0 ` +
    `sub=0 psub=0 ssub=0 multi=-1 qbuf=${qbuf} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=${obl} oll=0 ` +
    `omem=${obl} tot-mem=${qbuf + obl} events=r cmd=${k.lastCommand} user=default redir=-1 resp=${k.resp} ` +
    `lib-name=${k.libName} lib-ver=${k.libVer}`
  )
}

/** Splits `# Name` sections of INFO text into [lower-case name, lines] pairs. */
function splitSections(text: string): Array<[string, string[]]> {
  const out: Array<[string, string[]]> = []
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trimEnd()
    if (line.startsWith('# ')) out.push([line.slice(2).trim().toLowerCase(), [line]])
    else if (line !== '' && out.length > 0) out[out.length - 1]![1].push(line)
  }
  return out
}

function infoText(ctx: ServerContext, wanted: string[]): string {
  const o = ctx.options
  const now = o.clock()
  const uptime = Math.max(0, Math.floor((now - ctx.startedAt) / 1000))
  const s = ctx.stats
  const sections: Array<[string, string[]]> = [
    [
      'server',
      [
        '# Server',
        `redis_version:${REDIS_VERSION}`,
        `rendezvous_version:${RENDEZVOUS_VERSION}`,
        'redis_mode:standalone',
        `os:${platform()} ${release()} ${arch()}`,
        `arch_bits:${arch().endsWith('64') ? 64 : 32}`,
        `process_id:${process.pid}`,
        `node_version:${process.versions.node}`,
        `tcp_port:${ctx.port()}`,
        `server_time_usec:${Math.floor(now * 1000)}`,
        `uptime_in_seconds:${uptime}`,
        `uptime_in_days:${Math.floor(uptime / 86400)}`,
        `executable:${process.execPath}`,
      ],
    ],
    [
      'clients',
      [
        '# Clients',
        `connected_clients:${[...ctx.clients()].length}`,
        `maxclients:${o.maxclients}`,
        'blocked_clients:0',
      ],
    ],
    [
      'persistence',
      ['# Persistence', 'loading:0', 'async_loading:0', 'rdb_bgsave_in_progress:0', 'aof_enabled:0'],
    ],
  ]
  const statsBefore: Array<[string, number]> = [
    ['total_connections_received', s.totalConnectionsReceived],
    ['rejected_connections', s.rejectedConnections],
    ['total_commands_processed', s.totalCommandsProcessed],
    ['total_error_replies_protocol', s.protocolErrors],
  ]
  const data = splitSections(ctx.dataInfo(statsBefore))
  const protocolStats = statsBefore.map(([k, v]) => `${k}:${v}`)
  const stats = data.find(([name]) => name === 'stats')
  if (stats !== undefined) {
    const have = new Set(stats[1].map((l) => l.split(':')[0]))
    stats[1].splice(1, 0, ...protocolStats.filter((l) => !have.has(l.split(':')[0])))
  } else {
    data.unshift(['stats', ['# Stats', ...protocolStats]])
  }
  const all = [...sections, ...data]
  const everything =
    wanted.length === 0 || wanted.some((w) => w === 'all' || w === 'default' || w === 'everything')
  const chosen = everything ? all : all.filter(([name]) => wanted.includes(name))
  return chosen.map(([, lines]) => `${lines.join('\r\n')}\r\n`).join('\r\n')
}
