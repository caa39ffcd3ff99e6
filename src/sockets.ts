// Socket reads for the servers' and the backends' hot paths, through Node's `onread`: the socket reads into one
// buffer shared by every connection, and the caller gets a copy of each chunk (a slice of Node's Buffer pool when
// under 4 KiB). The default path costs more a read: a fresh ArrayBuffer from the allocator per read, then the
// Readable stream's push and 'data' event. Measured through the proxy at redis-benchmark -P 1: its CPU went from
// 32.7 to 28.3 us a request.
//
// Node honours `onread` only for sockets a program creates (`net.connect`, `new Socket`), not for those a server
// accepts. An accepted socket is therefore rebuilt as a new Socket over the same handle, from Node's undocumented
// `_handle` property and Socket's `handle` option, before it has read anything (its server must be created with
// `pauseOnConnect`). Where either is missing, the accepted socket is read through its 'data' events instead.
import { connect, type NetConnectOpts, Socket } from 'node:net'

/** Called with each chunk read, a Buffer of its own (safe to keep). */
export type OnChunk = (chunk: Buffer) => void

/** The buffer every socket reads into; each chunk is copied out before the next read can happen. */
const shared = Buffer.allocUnsafe(64 * 1024)

function reader(onChunk: OnChunk): { buffer: Buffer; callback: (n: number, buf: Uint8Array) => boolean } {
  return {
    buffer: shared,
    callback: (n) => {
      const chunk = Buffer.allocUnsafe(n)
      shared.copy(chunk, 0, 0, n)
      onChunk(chunk)
      return true
    },
  }
}

interface Adoptable {
  _handle?: { readStart?: unknown } | null
}

/**
 * Starts reading `socket`, a connection accepted by a server created with `pauseOnConnect: true`, and returns the
 * socket to use from now on: a new Socket over the same connection that reads through `onread`, or `socket`
 * itself reading through 'data' events where Node does not offer what the rebuild needs. `adopt: false` asks for
 * the latter (tests compare the two).
 */
export function readAccepted(socket: Socket, onChunk: OnChunk, adopt = true): Socket {
  const old = socket as unknown as Adoptable
  const handle = old._handle
  if (!adopt || handle === null || handle === undefined || typeof handle.readStart !== 'function') {
    socket.on('data', onChunk)
    socket.resume()
    return socket
  }
  // Detach the handle first: destroying the old Socket then releases only its place in the server's count.
  old._handle = null
  socket.destroy()
  return new Socket({ handle, onread: reader(onChunk) } as unknown as ConstructorParameters<typeof Socket>[0])
}

/** `net.connect(options)`, reading through `onread`. */
export function connectReading(options: NetConnectOpts, onChunk: OnChunk): Socket {
  return connect({ ...options, onread: reader(onChunk) } as NetConnectOpts)
}
