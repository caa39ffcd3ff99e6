// Socket reads through `onread` (src/sockets.ts): accepted sockets rebuilt over their handle, and the 'data'
// fallback, deliver every byte in order as chunks of their own, pause and resume, write, end and close.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { describe, test } from 'node:test'
import { connectReading, readAccepted } from '../../src/sockets.js'

/** A listening server whose accepted sockets go through readAccepted; resolves with what tests need. */
async function serve(adopt: boolean) {
  const chunks: Buffer[] = []
  const accepted: Socket[] = []
  const sockets: Socket[] = []
  const server: Server = createServer({ pauseOnConnect: true }, (s) => {
    accepted.push(s)
    sockets.push(readAccepted(s, (chunk) => chunks.push(chunk), adopt))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as { port: number }).port
  return { server, port, chunks, accepted, sockets }
}

/** Bytes 0..n-1 of a pattern no two nearby chunks share. */
function pattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff
  return b
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 5))
  assert.ok(check(), 'timed out')
}

for (const adopt of [true, false]) {
  describe(`readAccepted (${adopt ? 'onread over the accepted handle' : "'data' events"})`, () => {
    test(adopt ? 'rebuilds the socket' : 'keeps the socket', async () => {
      const { server, port, accepted, sockets } = await serve(adopt)
      const c = connect(port, '127.0.0.1')
      await until(() => sockets.length === 1)
      if (adopt) assert.notEqual(sockets[0], accepted[0])
      else assert.equal(sockets[0], accepted[0])
      c.destroy()
      server.close()
    })

    test('every byte arrives in order, in chunks that later reads do not overwrite', async () => {
      const { server, port, chunks } = await serve(adopt)
      const c = connect(port, '127.0.0.1')
      await once(c, 'connect')
      // Writes of many sizes, some larger than the shared 64 KiB read buffer, each waited for so that they
      // arrive as separate reads.
      const sent: Buffer[] = []
      let total = 0
      for (const [i, n] of [1, 100, 4095, 4096, 70_000, 3, 200_000, 17].entries()) {
        const b = pattern(n, i)
        sent.push(b)
        total += n
        c.write(b)
        await until(() => chunks.reduce((a, x) => a + x.length, 0) === total)
      }
      assert.ok(chunks.length >= sent.length)
      assert.deepEqual(Buffer.concat(chunks), Buffer.concat(sent))
      c.destroy()
      server.close()
    })

    test('pause stops the reads and resume restarts them; writes, end and close work', async () => {
      const { server, port, chunks, sockets } = await serve(adopt)
      const c = connect(port, '127.0.0.1')
      await until(() => sockets.length === 1)
      const s = sockets[0]!
      s.pause()
      c.write('held')
      await new Promise((r) => setTimeout(r, 50))
      assert.equal(chunks.length, 0)
      s.resume()
      await until(() => chunks.length > 0)
      assert.equal(Buffer.concat(chunks).toString(), 'held')

      const got: Buffer[] = []
      c.on('data', (b) => got.push(b))
      s.write('reply')
      await until(() => Buffer.concat(got).toString() === 'reply')

      const closed = once(s, 'close')
      c.end()
      await closed
      await new Promise<void>((r) => server.close(() => r()))
    })
  })
}

test('connectReading delivers chunks of their own', async () => {
  const big = pattern(150_000, 9)
  const server = createServer((s) => {
    s.write(big.subarray(0, 10))
    setTimeout(() => s.end(big.subarray(10)), 30)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const chunks: Buffer[] = []
  const c = connectReading({ host: '127.0.0.1', port: (server.address() as { port: number }).port }, (b) =>
    chunks.push(b),
  )
  await once(c, 'close')
  assert.ok(chunks.length >= 2)
  assert.deepEqual(Buffer.concat(chunks), big)
  server.close()
})
