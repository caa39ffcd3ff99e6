// Cluster.forward (the proxy's path for single-key commands) over real TCP: replies, refusals, timeouts through
// the shared deadline timer, lost connections, and health accounting like every other call's.
import assert from 'node:assert/strict'
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net'
import { test } from 'node:test'
import type { RawCallback } from '../../src/cluster/index.js'
import { Cluster, type ClusterOptions, PipelinedBackend } from '../../src/cluster/index.js'
import { MemoryBackend } from '../../src/cluster/memory.js'
import { createNode } from '../../src/node/index.js'

/** A server that accepts connections and never answers (a frozen process, as far as a client can tell). */
async function silent(): Promise<{ port: number; sockets: Socket[]; close(): Promise<void> }> {
  const sockets: Socket[] = []
  const server: Server = createServer((s) => {
    sockets.push(s)
    s.on('error', () => {})
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    port: (server.address() as AddressInfo).port,
    sockets,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise((r) => server.close(r))
    },
  }
}

interface Outcome {
  reply?: string
  error?: Error & { code?: string }
  calls: number
}

/** Forwards one command and resolves with what its callback got (and how many times it was called). */
function forward(cluster: Cluster, key: string, args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { calls: 0 }
    const cb: RawCallback = {
      reply: (raw) => {
        out.calls++
        out.reply = raw.toString()
        resolve(out)
      },
      fail: (err) => {
        out.calls++
        out.error = err
        resolve(out)
      },
    }
    cluster.forward(key, args, cb)
  })
}

/** A cluster on PipelinedBackends as the proxy makes them (`flush: 'batch'`), over servers that have ports. */
function rawCluster(servers: { id: string; port: number }[], options: Partial<ClusterOptions>): Cluster {
  return new Cluster({
    servers,
    backendFactory: (s) => new PipelinedBackend({ id: s.id, port: s.port!, flush: 'batch' }),
    ...options,
  })
}

function keyOwnedBy(cluster: Cluster, id: string): string {
  for (let i = 0; ; i++) if (cluster.ownerOf(`k${i}`) === id) return `k${i}`
}

test('Cluster.forward: replies come back as bytes, refusals are replies (not failures), and each callback runs once', {
  timeout: 20_000,
}, async () => {
  const node = createNode({ port: 0 })
  const { port } = await node.listen()
  const cluster = rawCluster([{ id: 'a', port }], { timeoutMs: 2000 })
  try {
    const outcomes = await Promise.all([
      forward(cluster, 'x', ['SET', 'x', 'hello']),
      forward(cluster, 'x', ['GET', 'x']),
      forward(cluster, 'x', ['INCR', 'x']),
      forward(cluster, 'y', ['GET', 'y']),
    ])
    assert.deepEqual(
      outcomes.map((o) => o.reply),
      ['+OK\r\n', '$5\r\nhello\r\n', '-ERR value is not an integer or out of range\r\n', '$-1\r\n'],
    )
    await new Promise((r) => setTimeout(r, 20))
    assert.deepEqual(
      outcomes.map((o) => o.calls),
      [1, 1, 1, 1],
    )
    const a = cluster.stats().servers[0]!
    assert.equal(a.errors, 0)
    assert.equal(a.timeouts, 0)
    assert.equal(a.up, true)
  } finally {
    await cluster.close()
    await node.close()
  }
})

test('Cluster.forward: commands to a silent server time out one by one (ERR_TIMEOUT, counted), then it goes down and its keys move', {
  timeout: 20_000,
}, async () => {
  const frozen = await silent()
  const node = createNode({ port: 0 })
  const { port } = await node.listen()
  const cluster = rawCluster(
    [
      { id: 'f', port: frozen.port },
      { id: 'n', port },
    ],
    { timeoutMs: 150, failureThreshold: 3, probeMinMs: 60_000, probeMaxMs: 60_000 },
  )
  try {
    const key = keyOwnedBy(cluster, 'f')
    // Three calls sent at different times, each with its own deadline.
    const first = forward(cluster, key, ['GET', key])
    await new Promise((r) => setTimeout(r, 40))
    const second = forward(cluster, key, ['GET', key])
    await new Promise((r) => setTimeout(r, 40))
    const third = forward(cluster, key, ['GET', key])
    const settledFirst = await first
    assert.equal(settledFirst.error?.code, 'ERR_TIMEOUT')
    assert.match(settledFirst.error!.message, /server "f" did not answer within 150 ms/)
    for (const o of [await second, await third]) assert.equal(o.error?.code, 'ERR_TIMEOUT')
    const f = cluster.stats().servers.find((s) => s.id === 'f')!
    assert.equal(f.timeouts, 3)
    assert.equal(f.up, false)
    assert.equal(cluster.ownerOf(key), 'n')
    const moved = await forward(cluster, key, ['SET', key, 'v'])
    assert.equal(moved.reply, '+OK\r\n')
    // A reply that comes after the deadline reaches nobody: each callback ran once.
    frozen.sockets[0]!.write('$-1\r\n$-1\r\n$-1\r\n')
    await new Promise((r) => setTimeout(r, 30))
    assert.deepEqual(
      [settledFirst, await second, await third].map((o) => o.calls),
      [1, 1, 1],
    )
  } finally {
    await cluster.close()
    await frozen.close()
    await node.close()
  }
})

test('Cluster.forward: a lost connection fails the commands waiting on it (counted as errors); the next one reconnects', {
  timeout: 20_000,
}, async () => {
  const frozen = await silent()
  const cluster = rawCluster([{ id: 'a', port: frozen.port }], { timeoutMs: 5000, failureThreshold: 5 })
  try {
    const pending = [forward(cluster, 'x', ['GET', 'x']), forward(cluster, 'y', ['GET', 'y'])]
    for (let i = 0; i < 200 && frozen.sockets.length === 0; i++) await new Promise((r) => setTimeout(r, 5))
    frozen.sockets[0]!.destroy()
    for (const o of await Promise.all(pending)) {
      assert.match(o.error!.message, /connection to server "a" .* was lost/)
      assert.equal(o.calls, 1)
    }
    const a = cluster.stats().servers[0]!
    assert.equal(a.errors, 2)
    assert.equal(a.timeouts, 0)
    const again = forward(cluster, 'z', ['GET', 'z'])
    for (let i = 0; i < 200 && frozen.sockets.length < 2; i++) await new Promise((r) => setTimeout(r, 5))
    frozen.sockets[1]!.write('$1\r\nz\r\n')
    assert.equal((await again).reply, '$1\r\nz\r\n')
  } finally {
    await cluster.close()
    await frozen.close()
  }
})

test('Cluster.forward: a backend that cannot send raw commands fails the call with a TypeError naming the server', async () => {
  const cluster = new Cluster({ servers: [{ id: 'm' }], backendFactory: () => new MemoryBackend() })
  try {
    const o = await forward(cluster, 'x', ['GET', 'x'])
    assert.ok(o.error instanceof TypeError)
    assert.match(o.error.message, /backend of server "m" cannot send raw commands/)
    assert.equal(cluster.stats().servers[0]!.errors, 0)
  } finally {
    await cluster.close()
  }
})
