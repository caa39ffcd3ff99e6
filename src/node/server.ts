// The cache node's TCP server: connections, RESP decoding, in-order pipelined dispatch, auth and limits.
import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type Server, type Socket } from 'node:net'
import { CommandTable } from '../resp/command-table.js'
import { ProtocolError, RequestDecoder, requestKeys } from '../resp/decoder.js'
import { ReplyWriter } from '../resp/encoder.js'
import { type Reply, ReplyError } from '../resp/reply.js'
import { readAccepted } from '../sockets.js'
import { connectionCommands, type ServerContext } from './builtins.js'
import { dataCommands } from './commands/index.js'
import { Keyspace, PREFETCH_MAX } from './keyspace.js'
import { type NodeOptions, type ResolvedNodeOptions, resolveNodeOptions } from './options.js'
import { drain, listen, refuse } from './tcp.js'
import type { ClientState, CommandSpec } from './types.js'

/** The data side a {@link NodeServer} serves: its commands, its INFO sections, and what to stop on close. */
export interface DataSide {
  /** Data commands (GET, SET, ...), dispatched after the connection-level ones. */
  readonly commands: readonly CommandSpec[]
  /**
   * INFO's memory, stats and keyspace sections, in Redis's `# Section\r\nkey:value\r\n` format, with the
   * server's own counters `statsBefore` first in `# Stats` (added by the server if missing).
   */
  infoSections?(statsBefore: Array<[string, number]>): string
  /**
   * Called with each chunk read from a client before its requests run. It may load what they will read (see
   * Keyspace.prefetch) but must not change anything observable.
   */
  prefetch?(chunk: Buffer): void
  /** Called once by `close()` after the last client is gone (stop timers, free memory). */
  close?(): void
}

/** Where a node listens. */
export interface NodeAddress {
  host: string
  port: number
}

/** Counters of the protocol side, reported in INFO. */
export interface ServerStats {
  totalConnectionsReceived: number
  rejectedConnections: number
  totalCommandsProcessed: number
  protocolErrors: number
}

const NO_AUTH = new Set(['auth', 'hello', 'quit'])
const NOAUTH = new ReplyError('NOAUTH Authentication required.')

/** The server's record of one connection; commands see it as a {@link ClientState}. */
export class Connection implements ClientState {
  readonly id: number
  resp: 2 | 3 = 2
  name: string | null = null
  authenticated: boolean
  closeAfterReply = false
  /** Set by CLIENT SETINFO. */
  libName = ''
  libVer = ''
  /** Full name of the last command, e.g. `client|list`. */
  lastCommand = 'NULL'
  readonly createdAt: number
  lastInteraction: number
  closing = false
  readonly socket: Socket
  readonly decoder: RequestDecoder
  readonly addr: string
  readonly laddr: string

  constructor(id: number, socket: Socket, decoder: RequestDecoder, authenticated: boolean, now: number) {
    this.id = id
    this.socket = socket
    this.decoder = decoder
    this.authenticated = authenticated
    this.createdAt = now
    this.lastInteraction = now
    this.addr = `${socket.remoteAddress}:${socket.remotePort}`
    this.laddr = `${socket.localAddress}:${socket.localPort}`
  }
}

/**
 * A RESP server over a command table. Requests are decoded and executed synchronously as each chunk arrives,
 * and all the replies to one chunk go out in one write, so pipelined replies stay in order for free.
 */
export class NodeServer {
  readonly #options: ResolvedNodeOptions
  readonly #data: DataSide
  readonly #table = new CommandTable<CommandSpec>()
  readonly #specs: CommandSpec[]
  readonly #server: Server
  readonly #clients = new Map<number, Connection>()
  /** One writer for all connections: each data event fills it and empties it before returning. */
  readonly #writer = new ReplyWriter(64 * 1024)
  readonly #passwordHash: Buffer | null
  readonly #startedAt: number
  readonly #stats: ServerStats = {
    totalConnectionsReceived: 0,
    rejectedConnections: 0,
    totalCommandsProcessed: 0,
    protocolErrors: 0,
  }
  #nextId = 1
  #address: NodeAddress | null = null
  #closing: Promise<void> | null = null

  constructor(options: NodeOptions, data: DataSide) {
    this.#options = resolveNodeOptions(options)
    this.#data = data
    this.#startedAt = this.#options.clock()
    this.#passwordHash = this.#options.requirepass === null ? null : sha256(this.#options.requirepass)
    this.#specs = [...connectionCommands(this.#context()), ...data.commands]
    for (const spec of this.#specs) this.#table.add(spec)
    this.#server = createServer({ noDelay: true, pauseOnConnect: true }, (socket) => this.#accept(socket))
  }

  /** Where the server listens, once `listen()` resolved; null before and after. */
  get address(): NodeAddress | null {
    return this.#address
  }

  /** Number of connected clients. */
  get clientCount(): number {
    return this.#clients.size
  }

  /** Protocol-side counters (a live view). */
  get stats(): Readonly<ServerStats> {
    return this.#stats
  }

  /** Starts listening on the configured host and port; resolves with the actual address. */
  listen(): Promise<NodeAddress> {
    const { host, port, log } = this.#options
    return listen(this.#server, host, port).then((actual) => {
      this.#address = { host, port: actual }
      log(
        `rendezvous node listening on ${host.includes(':') ? `[${host}]` : host}:${actual} (pid ${process.pid})`,
      )
      return this.#address
    })
  }

  /**
   * Graceful shutdown: stops accepting, ends every connection after the replies to what it already read,
   * waits up to `shutdownTimeout` for clients to hang up (then destroys the rest), and stops the data side.
   */
  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing
    this.#closing = (async () => {
      await drain(
        this.#server,
        () => this.#clients.values(),
        (conn) => this.#end(conn),
        this.#options.shutdownTimeout,
      )
      this.#address = null
      this.#data.close?.()
      this.#options.log('rendezvous node closed')
    })()
    return this.#closing
  }

  #accept(accepted: Socket): void {
    const o = this.#options
    this.#stats.totalConnectionsReceived++
    if (this.#closing !== null || this.#clients.size >= o.maxclients) {
      this.#stats.rejectedConnections++
      refuse(
        accepted,
        this.#closing !== null
          ? '-ERR server is shutting down\r\n'
          : '-ERR max number of clients reached\r\n',
      )
      return
    }
    const id = this.#nextId++
    const decoder: RequestDecoder = new RequestDecoder((args) => this.#dispatch(conn, args), {
      maxBulkLength: o.maxBulkLength,
      maxArgs: o.maxArgs,
      maxInlineLength: o.maxInlineLength,
      maxQueryBuffer: o.maxQueryBuffer,
    })
    // Data arrives from a later event-loop turn, once `conn` exists.
    const socket = readAccepted(accepted, (chunk) => this.#onData(conn, chunk))
    const conn: Connection = new Connection(id, socket, decoder, this.#passwordHash === null, o.clock())
    decoder.unauthenticated = !conn.authenticated
    this.#clients.set(id, conn)
    socket.on('drain', () => {
      if (!conn.closing) socket.resume()
    })
    // A reset or a write to a vanished peer: nothing to answer, just forget the client.
    socket.on('error', () => socket.destroy())
    socket.on('close', () => this.#clients.delete(id))
  }

  #onData(conn: Connection, chunk: Buffer): void {
    if (conn.closing) return
    conn.lastInteraction = this.#options.clock()
    this.#data.prefetch?.(chunk)
    try {
      conn.decoder.push(chunk)
    } catch (err) {
      // Answer what came before the violation, then the error, then hang up on this client only. (Anything
      // but a ProtocolError would be a bug of ours: still this client's problem only, not the server's.)
      if (err instanceof ProtocolError) this.#stats.protocolErrors++
      else
        this.#options.log(
          `rendezvous node: closing client ${conn.id} after an internal error: ${String(err)}`,
        )
      const message = err instanceof ProtocolError ? err.message : 'internal error'
      this.#writer.write(new ReplyError(`ERR ${message}`), conn.resp)
      this.#flush(conn)
      this.#end(conn)
      return
    }
    this.#flush(conn)
    if (conn.decoder.stopped) this.#end(conn)
  }

  #flush(conn: Connection): void {
    const parts = this.#writer.take()
    if (parts.length === 0) return
    const socket = conn.socket
    let ok = true
    if (parts.length === 1) {
      ok = socket.write(parts[0]!)
    } else {
      socket.cork()
      for (const p of parts) ok = socket.write(p)
      socket.uncork()
    }
    // The client does not read its replies: stop reading its requests until it does.
    if (!ok) socket.pause()
  }

  #end(conn: Connection): void {
    if (conn.closing) return
    conn.closing = true
    conn.socket.end()
  }

  /** Runs one request and writes its reply; returns false to stop reading this connection (QUIT). */
  #dispatch(conn: Connection, args: Buffer[]): boolean | undefined {
    if (this.#closing !== null) return false
    const w = this.#writer
    const mark = w.length
    try {
      w.write(this.#execute(conn, args), conn.resp)
    } catch (err) {
      w.rewind(mark)
      w.write(
        new ReplyError(`ERR internal error: ${err instanceof Error ? err.message : String(err)}`),
        conn.resp,
      )
    }
    if (conn.closeAfterReply) return false
    // AUTH or HELLO may have just authenticated the client: lift the decoder's pre-auth limits.
    if (conn.decoder.unauthenticated && conn.authenticated) conn.decoder.unauthenticated = false
    return undefined
  }

  #execute(conn: Connection, args: Buffer[]): Reply {
    let spec = this.#table.find(args[0]!)
    if (spec === undefined) return unknownCommand(args)
    if (!arityOk(spec.arity, args.length)) return wrongArity(spec.name)
    let fullName = spec.name
    const subs = spec.subcommands
    if (subs !== undefined && subs.length > 0 && args.length > 1) {
      const subName = args[1]!.toString('latin1').toLowerCase()
      const sub = subs.find((s) => s.name === subName)
      if (sub === undefined) {
        return new ReplyError(
          `ERR unknown subcommand '${truncate(args[1]!.toString('latin1'), 128)}'. Try ${spec.name.toUpperCase()} HELP.`,
        )
      }
      fullName = `${spec.name}|${sub.name}`
      if (!arityOk(sub.arity, args.length)) return wrongArity(fullName)
      spec = sub
    }
    if (!conn.authenticated && !NO_AUTH.has(fullName)) return NOAUTH
    conn.lastCommand = fullName
    const reply = spec.handler(args, conn)
    // Counted after running, as Redis does: INFO does not count itself.
    this.#stats.totalCommandsProcessed++
    return reply
  }

  #checkPassword(password: Buffer): boolean {
    if (this.#passwordHash === null) return false
    // Hashing first makes both sides the same length, so the comparison time says nothing about the secret.
    return timingSafeEqual(sha256(password), this.#passwordHash)
  }

  #context(): ServerContext {
    return {
      options: this.#options,
      startedAt: this.#startedAt,
      stats: this.#stats,
      hasPassword: () => this.#passwordHash !== null,
      checkPassword: (password) => this.#checkPassword(password),
      clients: () => this.#clients.values(),
      clientOf: (state) => this.#clients.get(state.id),
      specs: () => this.#specs,
      dataInfo: (statsBefore) => this.#data.infoSections?.(statsBefore) ?? '',
      port: () => this.#address?.port ?? this.#options.port,
    }
  }
}

function sha256(value: string | Buffer): Buffer {
  return createHash('sha256').update(value).digest()
}

function arityOk(arity: number, argc: number): boolean {
  return arity >= 0 ? argc === arity : argc >= -arity
}

function wrongArity(fullName: string): ReplyError {
  return new ReplyError(`ERR wrong number of arguments for '${fullName}' command`)
}

function truncate(s: string, n: number): string {
  return s.length > n ? s.slice(0, n) : s
}

/** Redis's text: the name as sent, then the first arguments quoted, up to about 128 characters. */
function unknownCommand(args: Buffer[]): ReplyError {
  const sent = args[0]!.toString('latin1')
  let list = ''
  for (let i = 1; i < args.length && list.length < 128; i++) {
    list += `'${truncate(args[i]!.toString('latin1'), 128 - list.length)}' `
  }
  return new ReplyError(`ERR unknown command '${truncate(sent, 128)}', with args beginning with: ${list}`)
}

/**
 * Creates a cache node: the keyspace (byte-accounted LRU with TTLs), the data commands over it, and the
 * RESP server in front. Call `listen()` to start serving and `close()` to shut down gracefully.
 *
 * @example
 * const node = createNode({ port: 7379, maxmemory: 64 * 1024 * 1024 })
 * const { host, port } = await node.listen()
 */
export function createNode(options: NodeOptions = {}): NodeServer {
  const o = resolveNodeOptions(options)
  const keyspace = new Keyspace({
    maxmemory: o.maxmemory,
    maxmemoryPolicy: o.maxmemoryPolicy,
    now: o.clock,
    protoMaxBulkLen: o.maxBulkLength,
  })
  keyspace.start()
  const ranges = new Int32Array(2 * PREFETCH_MAX)
  return new NodeServer(o, {
    commands: dataCommands(keyspace),
    infoSections: (statsBefore) => keyspace.infoSections(statsBefore),
    prefetch: (chunk) => {
      // Only pipelines gain: a lone request has no other lookup to overlap with.
      const n = requestKeys(chunk, ranges)
      if (n > 1) keyspace.prefetch(chunk, ranges, n)
    },
    close: () => keyspace.stop(),
  })
}
