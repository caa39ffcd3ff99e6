// The proxy: a RESP server whose commands are routed over a Cluster, with replies kept in request order.
import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type Server, type Socket } from 'node:net'
import { utf8Of } from '../buffers.js'
import { Cluster, type ClusterStats } from '../cluster/cluster.js'
import type { ServerConfig } from '../cluster/options.js'
import type { RawBackend, RawCallback } from '../cluster/pipelined.js'
import { drain, listen, refuse } from '../node/tcp.js'
import { ProtocolError, RequestDecoder } from '../resp/decoder.js'
import { encodeReply } from '../resp/encoder.js'
import {
  DoubleReply,
  MapReply,
  type Reply,
  ReplyError,
  SetReply,
  Status,
  VerbatimReply,
} from '../resp/reply.js'
import { ReplyDecoder } from '../resp/reply-decoder.js'
import { errorText, integerReply, isErrorReply, mergeArrays } from '../resp/scan.js'
import { readAccepted } from '../sockets.js'
import { arityOk, COMMAND_LIST, COMMANDS, type CommandSpec } from './commands.js'
import {
  type MembershipChange,
  MembershipError,
  MigrationLog,
  parseChange,
  serversReply,
} from './membership.js'
import { type ProxyOptions, type ResolvedProxyOptions, resolveProxyOptions } from './options.js'
import { BackendPool } from './shared.js'

/** Where the proxy listens. */
export interface ProxyAddress {
  readonly host: string
  readonly port: number
}

/** The proxy's counters (see {@link RendezvousProxy.stats}); INFO reports the same. */
export interface ProxyStats {
  readonly connectedClients: number
  readonly totalConnectionsReceived: number
  readonly rejectedConnections: number
  readonly totalCommandsProcessed: number
  /** Requests answered with an error because a backend failed or no server was live. */
  readonly backendErrors: number
  /** Clients closed for sending malformed input. */
  readonly protocolErrors: number
  /** Successful reloads. */
  readonly reloads: number
  /** Open backend connections (one per server in use, whatever the number of clients). */
  readonly backendConnections: number
  /** The cluster's counters: epoch, and per server health, requests, errors, timeouts. */
  readonly cluster: ClusterStats
}

const PROXY_VERSION = '7.0.0'
const NO_AUTH = new Set(['auth', 'hello', 'quit'])
const PONG = Buffer.from('+PONG\r\n')
const OK_REPLY = Buffer.from('+OK\r\n')
const NOAUTH = Buffer.from('-NOAUTH Authentication required.\r\n')

/** One client connection. */
class Client {
  readonly id: number
  readonly socket: Socket
  decoder!: RequestDecoder
  authenticated: boolean
  name: string | null = null
  /** Protocol chosen with HELLO: replies of the proxy's own use it; data replies pass through (see resp3). */
  resp: 2 | 3 = 2
  /** Replies in request order; undefined while a reply is still coming. Reset once all are written. */
  replies: (Buffer | undefined)[] = []
  head = 0
  dirty = false
  quitting = false
  closing = false
  paused = false

  constructor(id: number, socket: Socket, authenticated: boolean) {
    this.id = id
    this.socket = socket
    this.authenticated = authenticated
  }
}

function bytes(reply: Reply): Buffer {
  return encodeReply(reply, 2)
}

function err(message: string): Buffer {
  return bytes(new ReplyError(message))
}

function sha256(v: string | Buffer): Buffer {
  return createHash('sha256').update(v).digest()
}

const NIL2 = Buffer.from('$-1\r\n')
const NIL3 = Buffer.from('_\r\n')

/** The text of any failure, for an error reply. */
function failure(e: unknown): Buffer {
  const message = e instanceof Error ? e.message : String(e)
  return err(`ERR proxy: ${message}`)
}

/** What a request's reply slot needs from the proxy: to fill the slot, and the text (and count) of a failure. */
interface Replies {
  fill(c: Client, slot: number, reply: Buffer): void
  failure(e: unknown): Buffer
}

const same = (raw: Buffer): Buffer => raw

/**
 * A request's place in its client's reply queue, filled once its reply is known. As the callback of a forwarded
 * request: with the backend's reply (through `shape` for a RESP3 client), or the text of its failure.
 */
class Pending implements RawCallback {
  readonly #proxy: Replies
  readonly #c: Client
  readonly #slot: number
  readonly #shape: (raw: Buffer) => Buffer

  constructor(proxy: Replies, c: Client, slot: number, shape: ((raw: Buffer) => Buffer) | null) {
    this.#proxy = proxy
    this.#c = c
    this.#slot = slot
    this.#shape = shape ?? same
  }

  /** Fills the slot with `make(x)`, or with the text of what `make` threw. */
  put<T>(make: (x: T) => Buffer, x: T): void {
    let reply: Buffer
    try {
      reply = make(x)
    } catch (e) {
      reply = failure(e)
    }
    this.#proxy.fill(this.#c, this.#slot, reply)
  }

  reply(raw: Buffer): void {
    this.put(this.#shape, raw)
  }

  fail(err: Error): void {
    this.#proxy.fill(this.#c, this.#slot, this.#proxy.failure(err))
  }
}

/**
 * A request split across servers: once every part has answered, its reply is `merge` of theirs (in part order),
 * the first error reply among them, or the text of the first failure.
 */
class Gather {
  readonly #slot: Pending
  readonly #merge: (replies: Buffer[]) => Buffer
  readonly #replies: Buffer[]
  #left: number
  #done = false

  constructor(proxy: Replies, c: Client, slot: number, parts: number, merge: (replies: Buffer[]) => Buffer) {
    this.#slot = new Pending(proxy, c, slot, null)
    this.#merge = merge
    this.#replies = new Array<Buffer>(parts)
    this.#left = parts
  }

  /** The callback of part `i`. */
  part(i: number): RawCallback {
    return new GatherPart(this, i)
  }

  reply(i: number, raw: Buffer): void {
    if (this.#done) return
    this.#replies[i] = raw
    if (--this.#left > 0) return
    this.#done = true
    const error = this.#replies.find(isErrorReply)
    if (error !== undefined) this.#slot.put(same, error)
    else this.#slot.put(this.#merge, this.#replies)
  }

  fail(err: Error): void {
    if (this.#done) return
    this.#done = true
    this.#slot.fail(err)
  }
}

class GatherPart implements RawCallback {
  readonly #gather: Gather
  readonly #i: number

  constructor(gather: Gather, i: number) {
    this.#gather = gather
    this.#i = i
  }

  reply(raw: Buffer): void {
    this.#gather.reply(this.#i, raw)
  }

  fail(err: Error): void {
    this.#gather.fail(err)
  }
}

/**
 * A RESP proxy in front of a {@link Cluster}. Each client request is decoded, routed by key to the server that
 * owns it now (through the cluster: timeouts, health, failover, fencing), and its reply written back in
 * request order, however many requests a client pipelines. All clients share one connection per backend.
 */
export class RendezvousProxy {
  #o: ResolvedProxyOptions
  #cluster: Cluster
  readonly #pool = new BackendPool()
  readonly #server: Server
  readonly #clients = new Map<number, Client>()
  #passwordHash: Buffer | null
  #nextId = 1
  #address: ProxyAddress | null = null
  #closing: Promise<void> | null = null
  #reloading: Promise<void> | null = null
  #dirty: Client[] = []
  #flushScheduled = false
  readonly #flushAll = () => this.#flushDirty()
  #connections = 0
  #rejected = 0
  #commands = 0
  #backendErrors = 0
  #protocolErrors = 0
  #reloads = 0
  readonly #migrations = new MigrationLog()
  readonly #startedAt = Date.now()

  constructor(options: ProxyOptions) {
    this.#o = resolveProxyOptions(options)
    this.#cluster = this.#buildCluster(this.#o)
    this.#passwordHash = this.#o.requirepass === null ? null : sha256(this.#o.requirepass)
    this.#server = createServer({ noDelay: true, pauseOnConnect: true }, (socket) => this.#accept(socket))
  }

  /** Where the proxy listens once `listen()` resolved; null before and after. */
  get address(): ProxyAddress | null {
    return this.#address
  }

  /** The cluster requests are routed over (replaced by each reload). */
  get cluster(): Cluster {
    return this.#cluster
  }

  /** A snapshot of the counters. */
  get stats(): ProxyStats {
    return {
      connectedClients: this.#clients.size,
      totalConnectionsReceived: this.#connections,
      rejectedConnections: this.#rejected,
      totalCommandsProcessed: this.#commands,
      backendErrors: this.#backendErrors,
      protocolErrors: this.#protocolErrors,
      reloads: this.#reloads,
      backendConnections: this.#pool.size,
      cluster: this.#cluster.stats(),
    }
  }

  /** Starts listening; resolves with the actual address. */
  listen(): Promise<ProxyAddress> {
    const { host, port, log } = this.#o
    return listen(this.#server, host, port).then((actual) => {
      this.#address = { host, port: actual }
      const servers = this.#o.servers.map((s) => `${s.id}@${s.host ?? '127.0.0.1'}:${s.port}`).join(', ')
      log(
        `rendezvous proxy listening on ${host.includes(':') ? `[${host}]` : host}:${actual} (pid ${process.pid}, mode ${this.#o.mode}, servers ${servers})`,
      )
      return this.#address
    })
  }

  /**
   * Graceful shutdown: stops accepting, lets every client receive the replies to what it already sent, ends
   * the connections (destroying those still open after `shutdownTimeout`), then closes the backends.
   */
  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing
    this.#closing = (async () => {
      const quit = (c: Client): void => {
        c.quitting = true
        this.#flush(c)
      }
      await drain(this.#server, () => this.#clients.values(), quit, this.#o.shutdownTimeout)
      await this.#cluster.close()
      this.#address = null
      this.#o.log('rendezvous proxy closed')
    })()
    return this.#closing
  }

  /**
   * Applies new options live: servers (membership, weights, addresses, passwords), mode, replicas, timeouts,
   * `requirepass` and `allowFlush`. (`host` and `port` need a restart.) A new cluster is built and swapped in;
   * connections of unchanged servers are kept. Cache mode fences first: servers new to the membership, and
   * servers the current cluster has marked down, are flushed before they serve; the reload fails (and
   * nothing changes) when such a server cannot be flushed.
   */
  reload(options: ProxyOptions): Promise<void> {
    const run = async () => {
      const next = resolveProxyOptions({
        ...options,
        host: this.#o.host,
        port: this.#o.port,
        log: this.#o.log,
        reload: this.#o.reload ?? undefined,
      })
      if (options.host !== undefined && options.host !== this.#o.host) {
        this.#o.log(`reload: host ${options.host} ignored (a new address needs a restart)`)
      }
      if (options.port !== undefined && options.port !== this.#o.port && this.#o.port !== 0) {
        this.#o.log(`reload: port ${options.port} ignored (a new address needs a restart)`)
      }
      // Cache mode fences servers new to the membership before they serve: they may hold values that have
      // changed since (the same rule as for a server that comes back). If one cannot be flushed, nothing changes.
      if (next.mode === 'cache') {
        const known = new Set(this.#o.servers.map((s) => s.id))
        for (const s of next.servers) {
          if (known.has(s.id)) continue
          try {
            await this.#probeNew(s, true)
          } catch (e) {
            throw fenceFailed(s.id, e)
          }
        }
      }
      if (this.#applyLive(next)) {
        this.#o = next
        this.#passwordHash = next.requirepass === null ? null : sha256(next.requirepass)
        this.#reloads++
        return
      }
      const cluster = this.#buildCluster(next)
      try {
        if (next.mode === 'cache') await this.#fence(cluster, next.servers)
      } catch (e) {
        await cluster.close()
        throw e
      }
      const old = this.#cluster
      this.#cluster = cluster
      this.#migrations.clear()
      this.#o = next
      this.#passwordHash = next.requirepass === null ? null : sha256(next.requirepass)
      this.#reloads++
      // In-flight calls of the old cluster still complete: the connections they use are shared, and closing
      // the old cluster only releases its leases (and stops its probes).
      await old.close()
      this.#o.log(
        `reload: ${next.servers.length} servers (${next.servers.map((s) => s.id).join(', ')}), mode ${next.mode}`,
      )
    }
    // One reload at a time: a second waits for the first.
    const p = (this.#reloading ?? Promise.resolve()).catch(() => {}).then(run)
    this.#reloading = p.finally(() => {
      if (this.#reloading === p) this.#reloading = null
    })
    return p
  }

  /**
   * A reload that only changes membership (servers added or removed, weights) goes through the cluster's
   * migration machinery: `addServer`, `removeServer`, `setWeight`, each returning a running migration. Returns
   * false when anything else changed (mode, replicas, timeouts, a server's address or password), which needs
   * a new cluster.
   */
  #applyLive(next: ResolvedProxyOptions): boolean {
    const cur = this.#o
    const cluster = this.#cluster
    const same =
      cur.mode === next.mode &&
      cur.replicas === next.replicas &&
      cur.writeConcern === next.writeConcern &&
      cur.timeoutMs === next.timeoutMs &&
      cur.failureThreshold === next.failureThreshold &&
      cur.probeMinMs === next.probeMinMs &&
      cur.probeMaxMs === next.probeMaxMs &&
      cur.hashTags === next.hashTags
    if (!same || typeof cluster.addServer !== 'function') return false
    const before = new Map(cur.servers.map((s) => [s.id, s]))
    const after = new Map(next.servers.map((s) => [s.id, s]))
    for (const [id, s] of after) {
      const b = before.get(id)
      if (b === undefined) continue
      if (
        (b.host ?? '127.0.0.1') !== (s.host ?? '127.0.0.1') ||
        b.port !== s.port ||
        (b.password ?? null) !== (s.password ?? null) ||
        b.zone !== s.zone
      ) {
        return false
      }
    }
    const log = this.#o.log
    for (const s of next.servers) {
      if (!before.has(s.id)) {
        cluster.addServer(s)
        log(`reload: added server "${s.id}" (${s.host ?? '127.0.0.1'}:${s.port}); keys migrate to it`)
      }
    }
    for (const [id, b] of before) {
      const s = after.get(id)
      if (s === undefined) {
        cluster.removeServer(id)
        log(`reload: removing server "${id}"; its keys migrate away`)
      } else if ((s.weight ?? 1) !== (b.weight ?? 1)) {
        cluster.setWeight(id, s.weight ?? 1)
        log(`reload: server "${id}" weight ${b.weight ?? 1} -> ${s.weight ?? 1}`)
      }
    }
    return true
  }

  /**
   * Flushes the servers of `next` that the current cluster has marked down: they may hold stale values. (Servers
   * new to the membership were fenced already, before `reload` chose between a live change and a new cluster.)
   */
  async #fence(next: Cluster, servers: readonly ServerConfig[]): Promise<void> {
    const current = new Map(this.#cluster.stats().servers.map((s) => [s.id, s]))
    const suspects = servers.filter((s) => current.get(s.id)?.up === false)
    await Promise.all(
      suspects.map(async (s) => {
        try {
          await next.routeToServer(s.id, (b) => b.flush())
        } catch (e) {
          throw fenceFailed(s.id, e)
        }
      }),
    )
  }

  #buildCluster(o: ResolvedProxyOptions): Cluster {
    return new Cluster({
      servers: o.servers,
      mode: o.mode,
      ...(o.replicas === undefined ? {} : { replicas: o.replicas }),
      writeConcern: o.writeConcern,
      timeoutMs: o.timeoutMs,
      failureThreshold: o.failureThreshold,
      probeMinMs: o.probeMinMs,
      probeMaxMs: o.probeMaxMs,
      hashTags: o.hashTags,
      backendFactory: (s) => this.#pool.acquire(s),
    })
  }

  // ---- connections -----------------------------------------------------------------------------------------

  #accept(accepted: Socket): void {
    this.#connections++
    if (this.#closing !== null || this.#clients.size >= this.#o.maxClients) {
      this.#rejected++
      refuse(
        accepted,
        this.#closing !== null ? '-ERR proxy is shutting down\r\n' : '-ERR max number of clients reached\r\n',
      )
      return
    }
    // Data arrives from a later event-loop turn, once `c` exists.
    const socket = readAccepted(accepted, (chunk) => this.#onData(c, chunk))
    const c = new Client(this.#nextId++, socket, this.#passwordHash === null)
    c.decoder = new RequestDecoder((args) => this.#dispatch(c, args))
    this.#clients.set(c.id, c)
    socket.on('drain', () => this.#maybeResume(c))
    socket.on('error', () => socket.destroy())
    socket.on('close', () => {
      c.closing = true
      this.#clients.delete(c.id)
    })
  }

  #onData(c: Client, chunk: Buffer): void {
    if (c.closing || c.quitting) return
    try {
      c.decoder.push(chunk)
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e
      // Answer what came before the violation, then the error, then hang up on this client only.
      this.#protocolErrors++
      c.replies.push(err(`ERR ${e.message}`))
      c.quitting = true
    }
    this.#flush(c)
    if (!c.paused && c.replies.length - c.head >= this.#o.maxPendingPerClient) {
      c.paused = true
      c.socket.pause()
    }
  }

  /** Runs one request; its reply (now or later) takes the next slot of the client's reply queue. */
  #dispatch(c: Client, args: Buffer[]): boolean | undefined {
    const slot = c.replies.length
    c.replies.push(undefined)
    let r: Buffer | Promise<Buffer> | null
    try {
      r = this.#execute(c, args, slot)
    } catch (e) {
      r = failure(e)
    }
    if (r instanceof Promise) {
      r.then(
        (b) => this.#complete(c, slot, b),
        (e: unknown) => this.#complete(c, slot, failure(e)),
      )
    } else if (r !== null) {
      c.replies[slot] = r
    }
    return c.quitting ? false : undefined
  }

  /** How Slots fill their client's reply queue, and count a backend's failure. */
  readonly #replies: Replies = {
    fill: (c, slot, reply) => this.#complete(c, slot, reply),
    failure: (e) => this.#onFail(e),
  }

  #complete(c: Client, slot: number, reply: Buffer): void {
    if (c.closing) return
    c.replies[slot] = reply
    if (slot !== c.head || c.dirty) return
    // The one reply the client awaits (a client that waits for each answer): nothing to gather it with.
    if (slot + 1 === c.replies.length) {
      this.#flush(c)
      return
    }
    c.dirty = true
    this.#dirty.push(c)
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      setImmediate(this.#flushAll)
    }
  }

  #flushDirty(): void {
    this.#flushScheduled = false
    const list = this.#dirty
    this.#dirty = []
    for (const c of list) {
      c.dirty = false
      this.#flush(c)
    }
  }

  /** Writes every reply ready at the head of the queue, in one write. */
  #flush(c: Client): void {
    if (c.closing) return
    const replies = c.replies
    let i = c.head
    const end = replies.length
    let first: Buffer | undefined
    let parts: Buffer[] | null = null
    while (i < end) {
      const r = replies[i]
      if (r === undefined) break
      if (first === undefined) first = r
      else if (parts === null) parts = [first, r]
      else parts.push(r)
      replies[i] = undefined
      i++
    }
    if (i === end) {
      replies.length = 0
      c.head = 0
    } else {
      c.head = i
    }
    let ok = true
    if (first !== undefined) ok = c.socket.write(parts === null ? first : Buffer.concat(parts))
    if (c.quitting && replies.length === 0) {
      c.closing = true
      c.socket.end()
      return
    }
    if (ok) this.#maybeResume(c)
  }

  #maybeResume(c: Client): void {
    if (!c.paused || c.closing) return
    if (c.replies.length - c.head < this.#o.maxPendingPerClient && !c.socket.writableNeedDrain) {
      c.paused = false
      c.socket.resume()
    }
  }

  // ---- commands --------------------------------------------------------------------------------------------

  /** The reply to a request, now or as a promise; null when a {@link Pending} for `slot` will fill it. */
  #execute(c: Client, args: Buffer[], slot: number): Buffer | Promise<Buffer> | null {
    const spec = COMMANDS.find(args[0]!)
    if (spec === undefined) return unknownCommand(args)
    if (!arityOk(spec.arity, args.length)) return wrongArity(spec.name)
    if (!c.authenticated && !NO_AUTH.has(spec.name)) return NOAUTH
    this.#commands++
    const route = spec.route
    switch (route.kind) {
      case 'key':
        if (this.#o.mode === 'store') return this.#storeCommand(spec, args)
        if (spec.name === 'get' && this.#cluster.warming) return this.#warmGet(args[1]!, args)
        this.#cluster.forward(
          args[1]!,
          args,
          new Pending(
            this.#replies,
            c,
            slot,
            c.resp === 3 && spec.resp3 !== undefined ? resp3(spec.resp3) : null,
          ),
        )
        return null
      case 'mget':
      case 'mset':
      case 'sum':
        if (this.#o.mode === 'store') return this.#storeCommand(spec, args)
        return this.#split(c, slot, spec.name, route.kind, args)
      case 'same':
        if (this.#o.mode === 'store') return storeOnly(spec.name)
        return this.#sameServer(spec.name, args, route.first, route.last, route.step)
      case 'refuse':
        return err(`ERR ${spec.name.toUpperCase()} is not supported by the proxy: ${route.reason}`)
      case 'local':
        return this.#local(c, spec, args)
    }
  }

  /** Sends the request as it is to the owner of `key`; its reply comes back as it is. */
  #forward(key: Buffer, args: Buffer[]): Promise<Buffer> {
    return new Promise((resolve) =>
      this.#cluster.forward(key, args, { reply: resolve, fail: (e) => resolve(this.#onFail(e)) }),
    )
  }

  /**
   * GET during a cache warm-up (after a membership change): a miss on the key's new owner is answered through
   * the cluster, which asks the key's previous owner and copies the value over (mcrouter's WarmUpRoute), so
   * that adding a server does not turn its keys into misses that all go to the clients' origin at once.
   */
  async #warmGet(key: Buffer, args: Buffer[]): Promise<Buffer> {
    const raw = await this.#forward(key, args)
    if (!raw.equals(NIL2) && !raw.equals(NIL3)) return raw
    try {
      const value = await this.#cluster.getBuffer(key.toString('utf8'))
      return value === null ? raw : bytes(value)
    } catch (e) {
      return this.#onFail(e)
    }
  }

  readonly #onFail = (e: unknown): Buffer => {
    this.#backendErrors++
    return failure(e)
  }

  #sameServer(
    name: string,
    args: Buffer[],
    first: number,
    last: number,
    step: number,
  ): Buffer | Promise<Buffer> {
    const stop = last < 0 ? args.length + last : last
    const cluster = this.#cluster
    let owner: string | null | undefined
    for (let i = first; i <= stop; i += step) {
      const o = cluster.ownerOf(args[i]!)
      if (owner === undefined) owner = o
      else if (o !== owner) {
        return err(
          `ERR ${name.toUpperCase()} is not supported by the proxy for these keys: "${utf8Of(args[first]!)}" and "${utf8Of(args[i]!)}" live on different servers (give related keys the same {hash tag} to keep them together)`,
        )
      }
    }
    return this.#forward(args[first]!, args)
  }

  /**
   * MGET, MSET, DEL/UNLINK/EXISTS/TOUCH over several servers: keys grouped by owner (synchronously, so the
   * groups and the calls see the same membership), one command per server, all in flight together, and the
   * replies merged in the caller's order. One server owning every key: the request is forwarded as it is.
   */
  #split(
    c: Client,
    slot: number,
    name: string,
    kind: 'mget' | 'mset' | 'sum',
    args: Buffer[],
  ): Buffer | null {
    const cluster = this.#cluster
    const stride = kind === 'mset' ? 2 : 1
    if (kind === 'mset' && (args.length - 1) % 2 !== 0) return wrongArity(name)
    // The key indices of each owner, owners in the order their first key came.
    const groups = new Map<string, number[]>()
    const order: number[][] = []
    for (let i = 1; i < args.length; i += stride) {
      const owner = cluster.ownerOf(args[i]!)
      if (owner === null) return this.#onFail(new Error('every server is marked down'))
      let g = groups.get(owner)
      if (g === undefined) {
        g = []
        groups.set(owner, g)
        order.push(g)
      }
      g.push(i)
    }
    if (order.length === 1) {
      cluster.forward(args[1]!, args, new Pending(this.#replies, c, slot, null))
      return null
    }
    const gather = new Gather(this.#replies, c, slot, order.length, (replies) => {
      if (kind === 'sum') {
        let total = 0
        for (const r of replies) total += integerReply(r) ?? 0
        return bytes(total)
      }
      if (kind === 'mset') return OK_REPLY
      const merged = mergeArrays(replies, order, args.length - 1)
      if (merged === null) throw new Error(`server answered ${name} oddly`)
      return merged
    })
    const command = args[0]!
    for (let g = 0; g < order.length; g++) {
      const idx = order[g]!
      const sub: Buffer[] = [command]
      for (const i of idx) {
        sub.push(args[i]!)
        if (stride === 2) sub.push(args[i + 1]!)
      }
      // Urgent: the request waits for its slowest part, so no part waits to share a write with later commands.
      cluster.forward(args[idx[0]!]!, sub, gather.part(g), true)
    }
    return null
  }

  // ---- store mode ------------------------------------------------------------------------------------------

  async #storeCommand(spec: CommandSpec, args: Buffer[]): Promise<Buffer> {
    if (spec.store !== true) return storeOnly(spec.name)
    const cluster = this.#cluster
    const keys: string[] = []
    const keyArgs =
      spec.name === 'mset'
        ? args.filter((_, i) => i % 2 === 1)
        : spec.route.kind === 'key'
          ? [args[1]!]
          : args.slice(1)
    for (const b of keyArgs) {
      const k = b.toString('utf8')
      if (k.includes('\uFFFD') && !Buffer.from(k).equals(b)) {
        return err('ERR keys must be valid UTF-8 in store mode')
      }
      keys.push(k)
    }
    const key = keys[0]!
    try {
      switch (spec.name) {
        case 'get':
          return bytes(await cluster.getBuffer(key))
        case 'set': {
          let ttlMs = 0
          for (let i = 3; i < args.length; i++) {
            const opt = args[i]!.toString('latin1').toUpperCase()
            if ((opt === 'EX' || opt === 'PX') && i + 1 < args.length) {
              const n = positive(args[++i]!)
              if (n === null) return err("ERR invalid expire time in 'set' command")
              ttlMs = opt === 'EX' ? n * 1000 : n
            } else if (opt === 'NX' || opt === 'XX' || opt === 'GET' || opt === 'KEEPTTL') {
              return err(
                `ERR SET ${opt} is not supported in store mode (it would not be atomic over replicas)`,
              )
            } else {
              return err('ERR syntax error')
            }
          }
          await cluster.set(key, args[2]!, { ttlMs })
          return OK_REPLY
        }
        case 'setex':
        case 'psetex': {
          const n = positive(args[2]!)
          if (n === null) return err(`ERR invalid expire time in '${spec.name}' command`)
          await cluster.set(key, args[3]!, { ttlMs: spec.name === 'setex' ? n * 1000 : n })
          return OK_REPLY
        }
        case 'expire':
        case 'pexpire': {
          if (args.length > 3)
            return err(`ERR ${spec.name.toUpperCase()} options are not supported in store mode`)
          const n = positive(args[2]!)
          if (n === null) return err('ERR a positive expire time is required in store mode')
          return bytes((await cluster.expire(key, spec.name === 'expire' ? n * 1000 : n)) ? 1 : 0)
        }
        case 'ttl':
        case 'pttl': {
          const ms = await cluster.ttl(key)
          return bytes(ms < 0 || spec.name === 'pttl' ? ms : Math.round(ms / 1000))
        }
        case 'mget':
          return bytes(await cluster.mgetBuffer(keys))
        case 'mset': {
          if ((args.length - 1) % 2 !== 0) return wrongArity('mset')
          const entries: [string, Buffer][] = keys.map((k, j) => [k, args[2 + 2 * j]!])
          await cluster.mset(entries)
          return OK_REPLY
        }
        case 'del':
        case 'unlink':
          return bytes(await cluster.del(...keys))
        case 'exists':
          return bytes(await cluster.exists(...keys))
        default:
          return storeOnly(spec.name)
      }
    } catch (e) {
      return this.#onFail(e)
    }
  }

  // ---- commands answered by the proxy ----------------------------------------------------------------------

  #local(c: Client, spec: CommandSpec, args: Buffer[]): Buffer | Promise<Buffer> {
    const sub = args.length > 1 ? args[1]!.toString('latin1').toLowerCase() : ''
    switch (spec.name) {
      case 'ping':
        if (args.length > 2) return wrongArity('ping')
        return args.length === 1 ? PONG : bytes(args[1]!)
      case 'echo':
        return bytes(args[1]!)
      case 'quit':
        c.quitting = true
        return OK_REPLY
      case 'auth': {
        if (args.length > 3) return err('ERR syntax error')
        return this.#auth(c, args.length === 3 ? args[1]! : null, args[args.length - 1]!)
      }
      case 'hello':
        return this.#hello(c, args)
      case 'select':
        if (args.length !== 2) return wrongArity('select')
        if (args[1]!.toString('latin1') !== '0') {
          return err('ERR SELECT is not supported by the proxy: it serves database 0 only')
        }
        return OK_REPLY
      case 'reset':
        c.name = null
        c.authenticated = this.#passwordHash === null
        return bytes(new Status('RESET'))
      case 'client':
        return this.#client(c, sub, args)
      case 'command':
        return this.#command(sub, args)
      case 'config':
        return this.#config(sub, args)
      case 'info':
        return encodeReply(new VerbatimReply('txt', this.info(args.length > 1 ? sub : 'default')), c.resp)
      case 'flushall':
      case 'flushdb':
        return this.#flushServers(spec.name, args)
      case 'proxy':
        return this.#proxyCommand(c, sub, args)
      default:
        return unknownCommand(args, spec.name)
    }
  }

  #auth(c: Client, user: Buffer | null, password: Buffer): Buffer {
    if (this.#passwordHash === null) {
      return err(
        'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
      )
    }
    // Hashing first gives both sides one length, so the comparison time says nothing about the secret.
    const ok =
      (user === null || user.toString('latin1') === 'default') &&
      timingSafeEqual(sha256(password), this.#passwordHash)
    if (!ok) return err('WRONGPASS invalid username-password pair or user is disabled.')
    c.authenticated = true
    return OK_REPLY
  }

  #hello(c: Client, args: Buffer[]): Buffer {
    let i = 1
    if (args.length > 1) {
      const v = args[1]!.toString('latin1')
      if (v !== '2' && v !== '3') return err('NOPROTO unsupported protocol version')
      i = 2
    }
    for (; i < args.length; i++) {
      const opt = args[i]!.toString('latin1').toLowerCase()
      if (opt === 'auth' && i + 2 < args.length) {
        const r = this.#auth(c, args[i + 1]!, args[i + 2]!)
        if (r !== OK_REPLY) return r
        i += 2
      } else if (opt === 'setname' && i + 1 < args.length) {
        c.name = args[++i]!.toString('utf8')
      } else {
        return err(`ERR Syntax error in HELLO option '${opt}'`)
      }
    }
    if (!c.authenticated) return NOAUTH
    if (args.length > 1) c.resp = args[1]![0] === 51 ? 3 : 2
    return encodeReply(
      new MapReply([
        ['server', 'rendezvous-proxy'],
        ['version', PROXY_VERSION],
        ['proto', c.resp],
        ['id', c.id],
        ['mode', 'standalone'],
        ['role', 'master'],
        ['modules', []],
      ]),
      c.resp,
    )
  }

  #client(c: Client, sub: string, args: Buffer[]): Buffer {
    switch (sub) {
      case 'setname':
        if (args.length !== 3) return wrongArity('client|setname')
        c.name = args[2]!.toString('utf8')
        return OK_REPLY
      case 'getname':
        return bytes(c.name)
      case 'id':
        return bytes(c.id)
      case 'setinfo':
      case 'no-evict':
      case 'no-touch':
        return OK_REPLY
      default:
        return err(`ERR CLIENT ${sub.toUpperCase()} is not supported by the proxy`)
    }
  }

  #command(sub: string, args: Buffer[]): Buffer {
    const info = (s: CommandSpec): Reply => {
      const keys =
        s.route.kind === 'local' || s.route.kind === 'refuse'
          ? [0, 0, 0]
          : s.route.kind === 'same'
            ? [s.route.first, s.route.last, s.route.step]
            : s.route.kind === 'mset'
              ? [1, -1, 2]
              : s.route.kind === 'key'
                ? [1, 1, 1]
                : [1, -1, 1]
      return [s.name, s.arity, [], ...keys]
    }
    const served = COMMAND_LIST.filter((s) => s.route.kind !== 'refuse')
    switch (sub) {
      case '':
        return bytes(served.map(info))
      case 'count':
        return bytes(served.length)
      case 'docs':
        return bytes([])
      case 'list':
        return bytes(served.map((s) => s.name))
      case 'info':
        return bytes(
          args.slice(2).map((a) => {
            const s = COMMANDS.find(a)
            return s === undefined || s.route.kind === 'refuse' ? null : info(s)
          }),
        )
      default:
        return err(`ERR unknown subcommand '${sub}'. Try COMMAND HELP.`)
    }
  }

  #config(sub: string, args: Buffer[]): Buffer {
    if (sub !== 'get') return err(`ERR CONFIG ${sub.toUpperCase()} is not supported by the proxy`)
    if (args.length < 3) return wrongArity('config|get')
    const values: Record<string, string> = {
      save: '',
      appendonly: 'no',
      databases: '1',
      maxclients: String(this.#o.maxClients),
      timeout: '0',
      port: String(this.#address?.port ?? this.#o.port),
      bind: this.#o.host,
    }
    const out: string[] = []
    for (const a of args.slice(2)) {
      const re = glob(a.toString('latin1').toLowerCase())
      for (const [k, v] of Object.entries(values)) if (re.test(k) && !out.includes(k)) out.push(k, v)
    }
    return bytes(out)
  }

  async #flushServers(name: string, args: Buffer[]): Promise<Buffer> {
    if (!this.#o.allowFlush) {
      return err(
        `ERR ${name.toUpperCase()} is disabled in the proxy: it would empty every server (enable it with the allowFlush option or --allow-flush)`,
      )
    }
    const cluster = this.#cluster
    const ids = cluster.stats().servers.map((s) => s.id)
    const results = await Promise.allSettled(
      ids.map((id) => cluster.routeToServer(id, (b) => (b as RawBackend).send(args))),
    )
    const failed: string[] = []
    results.forEach((r, i) => {
      if (r.status === 'rejected') failed.push(`"${ids[i]}": ${(r.reason as Error).message}`)
      else if (isErrorReply(r.value)) failed.push(`"${ids[i]}": ${errorText(r.value)}`)
    })
    if (failed.length > 0)
      return err(
        `ERR proxy: ${name} failed on ${failed.length} of ${ids.length} servers: ${failed.join('; ')}`,
      )
    return OK_REPLY
  }

  async #proxyCommand(c: Client, sub: string, args: Buffer[]): Promise<Buffer> {
    switch (sub) {
      case 'reload':
        break
      case 'servers':
        if (args.length !== 2) return wrongArity('proxy|servers')
        return encodeReply(serversReply(this.#o.servers, this.#cluster), c.resp)
      case 'add':
      case 'remove':
      case 'weight':
        return this.#membership(sub, args)
      case 'migration': {
        if (args.length > 3) return wrongArity('proxy|migration')
        const id = args.length === 3 ? positive(args[2]!) : null
        if (args.length === 3 && id === null) return err('ERR PROXY MIGRATION: id must be a positive integer')
        const reply = this.#migrations.reply(this.#cluster, id)
        if (reply === null)
          return err(`ERR PROXY MIGRATION: no migration ${id} (the proxy keeps the last 16)`)
        return encodeReply(reply, c.resp)
      }
      default:
        return err(
          `ERR unknown subcommand '${sub}'. Try PROXY SERVERS, ADD, REMOVE, WEIGHT, MIGRATION or RELOAD.`,
        )
    }
    const source = this.#o.reload
    if (source === null) return err('ERR PROXY RELOAD: the proxy was started without a config file')
    try {
      await this.reload(await source())
      return OK_REPLY
    } catch (e) {
      return err(`ERR PROXY RELOAD failed: ${e instanceof Error ? e.message : String(e)}`)
    }
  }

  /**
   * PROXY ADD, REMOVE, WEIGHT: checks the change, starts it through the cluster (which migrates keys in the
   * background) and answers at once; `PROXY MIGRATION` follows the migration. A new server must answer a PING
   * first (in cache mode it is also flushed, the same fence as a server that returns). The membership changes
   * in memory only: a later reload applies the config file's servers.
   */
  async #membership(op: 'add' | 'remove' | 'weight', args: Buffer[]): Promise<Buffer> {
    if (this.#reloading !== null) await this.#reloading.catch(() => {})
    let change: MembershipChange
    try {
      change = parseChange(op, args, this.#o.servers)
      if (change.op === 'add') await this.#probeNew(change.server)
    } catch (e) {
      return err(
        `ERR ${e instanceof MembershipError ? '' : `PROXY ${op.toUpperCase()}: `}${(e as Error).message}`,
      )
    }
    // Checked again after the probe's await: another client may have changed the membership meanwhile.
    const cluster = this.#cluster
    let servers = this.#o.servers
    try {
      if (change.op === 'add') {
        parseChange(op, args, servers)
        this.#migrations.track(cluster.addServer(change.server), cluster)
        servers = [...servers, change.server]
        this.#o.log(
          `PROXY ADD: added server "${change.server.id}" (${change.server.host}:${change.server.port})`,
        )
      } else if (change.op === 'remove') {
        this.#migrations.track(cluster.removeServer(change.id), cluster)
        servers = servers.filter((s) => s.id !== change.id)
        this.#o.log(`PROXY REMOVE: removing server "${change.id}"; its keys migrate away`)
      } else {
        this.#migrations.track(cluster.setWeight(change.id, change.weight), cluster)
        servers = servers.map((s) => (s.id === change.id ? { ...s, weight: change.weight } : s))
        this.#o.log(`PROXY WEIGHT: server "${change.id}" weight ${change.weight}`)
      }
    } catch (e) {
      const message = (e as Error).message.replace(/^Cluster: /, '')
      return err(`ERR ${e instanceof MembershipError ? '' : `PROXY ${op.toUpperCase()}: `}${message}`)
    }
    this.#o = { ...this.#o, servers }
    return OK_REPLY
  }

  /** A server about to join must answer; in cache mode (or when `flush`) it is flushed so it cannot serve old values. */
  async #probeNew(s: ServerConfig, flush = this.#o.mode === 'cache'): Promise<void> {
    const lease = this.#pool.acquire({
      id: s.id,
      weight: s.weight ?? 1,
      zone: s.zone,
      host: s.host ?? '127.0.0.1',
      port: s.port,
      password: s.password ?? null,
      timeoutMs: this.#o.timeoutMs,
    })
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${this.#o.timeoutMs} ms`)),
        this.#o.timeoutMs,
      )
    })
    try {
      await Promise.race([lease.ping(), timeout])
      if (flush) await Promise.race([lease.flush(), timeout])
    } catch (e) {
      throw new MembershipError(
        `PROXY ADD ${s.id}: ${s.host}:${s.port} does not answer: ${e instanceof Error ? e.message : String(e)}`,
      )
    } finally {
      clearTimeout(timer)
      await lease.close()
    }
  }

  /** INFO text: server, clients, stats, and one line per backend (health, epoch, requests, errors). */
  info(section = 'default'): string {
    const s = this.stats
    const all = section === 'default' || section === 'all' || section === 'everything'
    const lines: string[] = []
    const want = (name: string) => all || section === name
    if (want('server')) {
      lines.push(
        '# Server',
        `redis_version:${PROXY_VERSION}`,
        'redis_mode:standalone',
        'rendezvous_role:proxy',
        `process_id:${process.pid}`,
        `tcp_port:${this.#address?.port ?? this.#o.port}`,
        `uptime_in_seconds:${Math.floor((Date.now() - this.#startedAt) / 1000)}`,
        `mode:${this.#o.mode}`,
        '',
      )
    }
    if (want('clients')) lines.push('# Clients', `connected_clients:${s.connectedClients}`, '')
    if (want('stats')) {
      lines.push(
        '# Stats',
        `total_connections_received:${s.totalConnectionsReceived}`,
        `rejected_connections:${s.rejectedConnections}`,
        `total_commands_processed:${s.totalCommandsProcessed}`,
        `backend_errors:${s.backendErrors}`,
        `protocol_errors:${s.protocolErrors}`,
        `reloads:${s.reloads}`,
        `backend_connections:${s.backendConnections}`,
        '',
      )
    }
    if (want('backends')) {
      lines.push('# Backends', `epoch:${s.cluster.epoch}`, `live_servers:${this.#cluster.liveServers.length}`)
      for (const b of s.cluster.servers) {
        // A server being removed has left the membership but still drains: it shows as `addr=leaving`.
        const conf = this.#o.servers.find((x) => x.id === b.id)
        const addr = conf === undefined ? 'leaving' : `${conf.host ?? '127.0.0.1'}:${conf.port}`
        lines.push(
          `backend_${b.id}:addr=${addr},up=${b.up ? 1 : 0},epoch=${b.epoch},requests=${b.requests},errors=${b.errors},timeouts=${b.timeouts},down_count=${b.downCount},time_down_ms=${b.timeDownMs}`,
        )
      }
      lines.push('')
    }
    return lines.join('\r\n')
  }
}

/**
 * Replies pass through from the servers in RESP2, which RESP3 clients read too, except where RESP3 gives a
 * command another shape: those replies are decoded and re-encoded in their RESP3 shape.
 */
function resp3(shape: 'map' | 'set' | 'double'): (raw: Buffer) => Buffer {
  return (raw) => {
    if (isErrorReply(raw)) return raw
    const r = new ReplyDecoder().push(raw)[0]
    if (shape === 'map' && Array.isArray(r)) {
      const entries: [Reply, Reply][] = []
      for (let i = 0; i + 1 < r.length; i += 2) entries.push([r[i]!, r[i + 1]!])
      return encodeReply(new MapReply(entries), 3)
    }
    if (shape === 'set' && Array.isArray(r)) return encodeReply(new SetReply(r), 3)
    if (shape === 'double' && Buffer.isBuffer(r))
      return encodeReply(new DoubleReply(Number(r.toString('latin1'))), 3)
    return raw
  }
}

function positive(b: Buffer): number | null {
  const s = b.toString('latin1')
  if (!/^\d{1,15}$/.test(s)) return null
  const n = Number(s)
  return n > 0 ? n : null
}

function storeOnly(name: string): Buffer {
  return err(
    `ERR ${name.toUpperCase()} is not supported by the proxy in store mode: values are replicated and versioned (supported: GET SET SETEX PSETEX MGET MSET DEL UNLINK EXISTS EXPIRE PEXPIRE TTL PTTL)`,
  )
}

/** Why a reload stopped: server `id` could not be flushed before it would serve. */
function fenceFailed(id: string, e: unknown): Error {
  return new Error(
    `reload: server "${id}" could not be fenced (flushed) before serving: ${e instanceof Error ? e.message : String(e)}; nothing changed, retry when it answers`,
  )
}

function wrongArity(name: string): Buffer {
  return err(`ERR wrong number of arguments for '${name}' command`)
}

function unknownCommand(args: Buffer[], sent = args[0]!.toString('latin1')): Buffer {
  let list = ''
  for (let i = 1; i < args.length && list.length < 128; i++)
    list += `'${args[i]!.toString('latin1').slice(0, 128)}' `
  return err(`ERR unknown command '${sent.slice(0, 128)}', with args beginning with: ${list}`)
}

function glob(pattern: string): RegExp {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  return new RegExp(`^${re}$`)
}

/**
 * Creates a RESP proxy over a cluster of servers. Call `listen()` to serve and `close()` to stop.
 *
 * @example
 * const proxy = createProxy({ port: 6400, servers: [{ id: 'a', port: 7001 }, { id: 'b', port: 7002 }] })
 * await proxy.listen()
 */
export function createProxy(options: ProxyOptions): RendezvousProxy {
  return new RendezvousProxy(options)
}
