// Starting and stopping the project's TCP servers (the node and the proxy): listen, then drain gracefully.
import type { Server, Socket } from 'node:net'

/** Listens on `host:port` (port 0 picks one); resolves with the actual port, rejects on a listen error. */
export function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err)
    server.once('error', onError)
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError)
      const a = server.address()
      resolve(typeof a === 'object' && a !== null ? a.port : port)
    })
  })
}

/**
 * Answers a connection the server will not take (too many clients, or shutting down) with the error `text`
 * (a RESP error line, CRLF included) and closes it, reading and dropping whatever the client sends meanwhile.
 * The socket comes from a server created with `pauseOnConnect`.
 */
export function refuse(socket: Socket, text: string): void {
  socket.on('error', () => {})
  socket.resume()
  socket.end(text)
}

/**
 * Stops `server` accepting connections, asks each open connection to end with `end` (which should close it after
 * the replies to what it already read), and resolves once all have closed and the server is closed. Connections
 * still open after `timeoutMs` are destroyed.
 */
export async function drain<C extends { readonly socket: Socket }>(
  server: Server,
  connections: () => Iterable<C>,
  end: (connection: C) => void,
  timeoutMs: number,
): Promise<void> {
  const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()))
  const gone: Promise<void>[] = []
  for (const c of connections()) {
    gone.push(new Promise((resolve) => c.socket.once('close', () => resolve())))
    end(c)
  }
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      for (const c of connections()) c.socket.destroy()
      resolve()
    }, timeoutMs)
    timer.unref()
  })
  await Promise.race([Promise.all(gone), timeout])
  clearTimeout(timer)
  await serverClosed
}
