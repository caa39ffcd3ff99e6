// Requests split across servers (MGET, MSET, DEL, EXISTS) when one of the servers never answers: the split
// request gets an error naming the server, and the client's other requests, before and after it in the same
// pipeline, are answered in order.
import assert from 'node:assert/strict'
import { type AddressInfo, createServer, type Socket } from 'node:net'
import { test } from 'node:test'
import { Redis } from 'ioredis'
import { createNode } from '../../src/node/index.js'
import { createProxy } from '../../src/proxy/index.js'

test('a split request with a part on a silent server answers its timeout; the rest of the pipeline is answered in order', {
  timeout: 30_000,
}, async () => {
  const sockets: Socket[] = []
  const silent = createServer((s) => {
    sockets.push(s)
    s.on('error', () => {})
  })
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r))
  const nodes = [createNode({ port: 0 }), createNode({ port: 0 })]
  const ports = [...(await Promise.all(nodes.map((n) => n.listen()))).map((a) => a.port)]
  const proxy = createProxy({
    port: 0,
    servers: [
      { id: 'a', port: ports[0]! },
      { id: 'b', port: ports[1]! },
      { id: 'frozen', port: (silent.address() as AddressInfo).port },
    ],
    timeoutMs: 200,
    failureThreshold: 1000,
  })
  const { port } = await proxy.listen()
  const client = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0 })
  await client.connect()
  try {
    const owner = (k: string) => proxy.cluster.ownerOf(k)
    const keysOn = (id: string, n: number) => {
      const out: string[] = []
      for (let i = 0; out.length < n; i++) if (owner(`k${i}`) === id) out.push(`k${i}`)
      return out
    }
    const [a1, a2, a3] = keysOn('a', 3) as [string, string, string]
    const [b1] = keysOn('b', 1) as [string]
    const [f1] = keysOn('frozen', 1) as [string]
    await client.mset(a1, 'A1', a2, 'A2', b1, 'B1')
    const results = await client
      .pipeline()
      .get(a1)
      .mget(b1, f1, a2)
      .mget(a2, b1, a3)
      .del(a1, f1)
      .exists(a2, b1)
      .mset(a1, 'again', b1, 'again')
      .mget(a1, b1)
      .exec()
    const [get, mgetFrozen, mgetLive, delFrozen, exists, mset, after] = results!
    assert.deepEqual(get, [null, 'A1'])
    assert.match(String(mgetFrozen![0]), /ERR proxy: server "frozen" did not answer within 200 ms/)
    assert.deepEqual(mgetLive, [null, ['A2', 'B1', null]])
    assert.match(String(delFrozen![0]), /ERR proxy: server "frozen" did not answer within 200 ms/)
    assert.deepEqual(exists, [null, 2])
    assert.deepEqual(mset, [null, 'OK'])
    assert.deepEqual(after, [null, ['again', 'again']])
    assert.ok(proxy.stats.backendErrors >= 2)
  } finally {
    client.disconnect()
    await proxy.close()
    for (const s of sockets) s.destroy()
    await new Promise((r) => silent.close(r))
    await Promise.all(nodes.map((n) => n.close()))
  }
})
