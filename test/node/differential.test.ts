// The node against redis-server: the same random pipelines of string and hash commands, with values around the
// sizes where the node changes how it stores them (16 B, 1 KiB, 8 KiB), must get the same replies from both.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { createNode } from '../../src/node/index.js'
import type { NodeServer } from '../../src/node/server.js'
import { haveRedis, type ServerProcess, startRedis } from '../cluster/servers.js'

const SIZES = [0, 1, 15, 16, 17, 64, 1000, 1022, 1023, 1024, 1025, 1026, 2048, 4097, 8191, 8192, 8193, 9000]

/** A seeded generator of random commands (a linear congruential one: the same seed gives the same commands). */
function commands(seed: number): () => string[] {
  let s = seed
  const rnd = (n: number) => {
    s = (s * 1103515245 + 12345) & 0x7fffffff
    return s % n
  }
  const val = () =>
    String.fromCharCode(97 + rnd(26)).repeat(SIZES[rnd(SIZES.length)]!) + (rnd(2) ? String(rnd(1000)) : '')
  const key = () => `k${rnd(6)}`
  const field = () => `f${rnd(5)}`
  const offset = (n: number) => String(rnd(n) - 100)
  const makers: Array<() => string[]> = [
    () => ['set', key(), val()],
    () => ['get', key()],
    () => ['append', key(), val()],
    () => ['strlen', key()],
    () => ['getrange', key(), offset(3000), offset(9000)],
    () => ['setrange', key(), String(rnd(9000)), val()],
    () => ['incr', key()],
    () => ['mset', key(), val(), key(), val()],
    () => ['mget', key(), key(), key()],
    () => ['getdel', key()],
    () => ['set', key(), val(), 'get'],
    () => ['set', key(), val(), 'xx'],
    () => ['setnx', key(), val()],
    () => ['getex', key(), 'persist'],
    () => ['rename', key(), key()],
    () => ['del', key()],
    () => ['exists', key(), key()],
    () => ['type', key()],
    () => ['hset', key(), field(), val(), field(), val()],
    () => ['hget', key(), field()],
    () => ['hmget', key(), field(), field()],
    () => ['hgetall', key()],
    () => ['hdel', key(), field()],
    () => ['hincrby', key(), field(), String(rnd(10) - 5)],
    () => ['hlen', key()],
    () => ['hexists', key(), field()],
  ]
  return () => makers[rnd(makers.length)]!()
}

/** What a pipeline's reply looks like, for comparison: the error's text or the reply's bytes. */
function shape(results: [Error | null, unknown][] | null): string[] {
  return (results ?? []).map(([err, value]) => JSON.stringify(err !== null ? { error: err.message } : value))
}

const run = haveRedis() ? describe : describe.skip

run('node against redis-server', () => {
  let redis: ServerProcess
  let node: NodeServer
  let theirs: Redis
  let ours: Redis
  before(async () => {
    redis = await startRedis()
    node = createNode({ port: 0 })
    const { port } = await node.listen()
    theirs = new Redis({ port: redis.port, lazyConnect: true })
    ours = new Redis({ port, lazyConnect: true })
    await Promise.all([theirs.connect(), ours.connect()])
  })
  after(async () => {
    theirs.disconnect()
    ours.disconnect()
    await node.close()
    await redis.kill()
  })

  for (const seed of [1, 2, 3]) {
    test(`random pipelines of string and hash commands get redis-server's replies (seed ${seed})`, async () => {
      const next = commands(seed)
      let compared = 0
      for (let round = 0; round < 60; round++) {
        const batch = Array.from({ length: 1 + (round % 40) }, next)
        const a = theirs.pipeline()
        const b = ours.pipeline()
        for (const [name, ...args] of batch) {
          a.callBuffer(name!, ...args)
          b.callBuffer(name!, ...args)
        }
        const [expected, actual] = await Promise.all([a.exec(), b.exec()])
        const want = shape(expected)
        const got = shape(actual)
        for (let i = 0; i < batch.length; i++) {
          const cmd = batch[i]!.map((x) => (x.length > 20 ? `${x.slice(0, 8)}...(${x.length} bytes)` : x))
          assert.equal(got[i], want[i], cmd.join(' '))
        }
        compared += batch.length
      }
      assert.ok(compared > 1000)
    })
  }
})
