// Test helpers for the server: a tiny in-memory command table standing in for the data side, and raw clients.
import { connect, type Socket } from 'node:net'
import type { DataSide } from '../../src/node/server.js'
import type { CommandSpec, Handler } from '../../src/node/types.js'
import { OK, type Reply } from '../../src/resp/reply.js'
import { ReplyDecoder } from '../../src/resp/reply-decoder.js'

function spec(name: string, arity: number, handler: Handler, flags: string[] = ['fast']): CommandSpec {
  return { name, arity, flags, firstKey: 1, lastKey: 1, step: 1, summary: `${name} (test)`, handler }
}

/** GET, SET, DEL, DBSIZE and a THROW command over a Map: enough to exercise the dispatcher. */
export function tinyData(): DataSide & { map: Map<string, Buffer>; closed: boolean } {
  const map = new Map<string, Buffer>()
  const side = {
    map,
    closed: false,
    commands: [
      spec('get', 2, (a) => map.get(a[1]!.toString('latin1')) ?? null),
      spec('set', -3, (a) => {
        map.set(a[1]!.toString('latin1'), Buffer.from(a[2]!))
        return OK
      }),
      spec('del', -2, (a) => a.slice(1).filter((k) => map.delete(k.toString('latin1'))).length),
      spec('dbsize', 1, () => map.size),
      spec('throw', 1, () => {
        throw new Error('boom')
      }),
      spec('badreply', 1, () => [1, 2.5] as Reply),
    ],
    infoSections: () =>
      `# Memory\r\nused_memory:${map.size * 100}\r\n\r\n# Stats\r\nkeyspace_hits:0\r\n\r\n# Keyspace\r\n`,
    close: () => {
      side.closed = true
    },
  }
  return side
}

/** A raw RESP connection: send bytes, read decoded replies in order. */
export class RawClient {
  readonly socket: Socket
  readonly #decoder = new ReplyDecoder()
  readonly #replies: Reply[] = []
  #waiters: Array<() => void> = []
  closed = false
  readonly closedPromise: Promise<void>

  private constructor(socket: Socket) {
    this.socket = socket
    socket.on('data', (chunk) => {
      for (const r of this.#decoder.push(chunk)) this.#replies.push(r)
      this.#wake()
    })
    this.closedPromise = new Promise((resolve) => {
      socket.on('close', () => {
        this.closed = true
        this.#wake()
        resolve()
      })
    })
    socket.on('error', () => {})
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => resolve(new RawClient(s)))
      s.once('error', reject)
    })
  }

  #wake(): void {
    const w = this.#waiters
    this.#waiters = []
    for (const f of w) f()
  }

  write(data: string | Buffer): void {
    this.socket.write(data)
  }

  /** Waits for `n` more replies (fewer if the server closes first). */
  async read(n = 1): Promise<Reply[]> {
    while (this.#replies.length < n && !this.closed) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve))
    }
    return this.#replies.splice(0, n)
  }

  close(): void {
    this.socket.destroy()
  }
}
