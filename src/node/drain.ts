// Graceful shutdown of a TCP server: stop accepting, let each connection finish, then force the stragglers.
import type { Server, Socket } from 'node:net'

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
