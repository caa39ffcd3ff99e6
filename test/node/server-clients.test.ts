// Real clients against a real listening node: ioredis, node-redis, redis-cli and redis-benchmark.
import assert from 'node:assert/strict'
import { execFile, spawnSync } from 'node:child_process'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { createNode } from '../../src/node/index.js'
import type { NodeServer } from '../../src/node/server.js'

const run = promisify(execFile)

/** Whether a command-line tool is installed. Under CI=true a missing tool fails the test instead of skipping. */
function haveTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0
}
function skipUnlessTool(name: string): string | false {
  if (haveTool(name) || process.env.CI === 'true') return false
  return `${name} is not installed (apt-get install redis-tools); skipped outside CI`
}
function requireTool(name: string): void {
  if (!haveTool(name)) assert.fail(`${name} is required when CI=true (apt-get install redis-tools)`)
}

describe('real clients against a node', () => {
  let node: NodeServer
  let port: number
  before(async () => {
    node = createNode({ port: 0 })
    ;({ port } = await node.listen())
  })
  after(() => node.close())

  test('in one pipeline, a GET answers the value as it was, though a later SET, DEL or APPEND reuses its memory', async () => {
    // Values up to 8 KiB live in shared slab chunks and GET answers from the chunk itself: its reply must be
    // taken before the next command in the same read overwrites, frees or moves that chunk.
    const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 })
    try {
      await r.connect()
      for (const size of [1, 64, 1000, 1024, 5000, 8192, 8193, 20_000]) {
        const a = Buffer.alloc(size, 'a')
        const b = Buffer.alloc(size, 'b')
        const p = r.pipeline()
        p.set('reuse:k', a).getBuffer('reuse:k').set('reuse:k', b).getBuffer('reuse:k')
        p.mgetBuffer('reuse:k', 'reuse:k').del('reuse:k').set('reuse:j', a).append('reuse:j', 'z')
        p.set('reuse:k', a).mgetBuffer('reuse:k', 'reuse:j')
        const out = (await p.exec())!.map(([err, v]) => {
          assert.equal(err, null)
          return v
        })
        assert.deepEqual(out[1], a, `${size}: first GET`)
        assert.deepEqual(out[3], b, `${size}: second GET`)
        assert.deepEqual(out[4], [b, b], `${size}: MGET`)
        assert.equal(out[7], size + 1)
        assert.deepEqual(out[9], [a, Buffer.concat([a, Buffer.from('z')])], `${size}: MGET after APPEND`)
        // The same for hash fields (in the slab up to 1 KiB).
        const q = r.pipeline()
        q.hset('reuse:h', 'f', a).hgetBuffer('reuse:h', 'f').hset('reuse:h', 'f', b, 'g', a)
        q.hmgetBuffer('reuse:h', 'f', 'g').hdel('reuse:h', 'f').hgetallBuffer('reuse:h').del('reuse:h')
        const hout = (await q.exec())!.map(([err, v]) => {
          assert.equal(err, null)
          return v
        })
        assert.deepEqual(hout[1], a, `${size}: HGET`)
        assert.deepEqual(hout[3], [b, a], `${size}: HMGET`)
        assert.deepEqual(hout[5], { g: a }, `${size}: HGETALL`)
      }
    } finally {
      r.disconnect()
    }
  })

  test('ioredis: commands, a pipeline, and its INFO ready check', async () => {
    const r = new Redis({
      host: '127.0.0.1',
      port,
      lazyConnect: true,
      enableReadyCheck: true,
      maxRetriesPerRequest: 1,
    })
    try {
      await r.connect()
      assert.equal(await r.ping(), 'PONG')
      assert.equal(await r.set('io:a', 'hello'), 'OK')
      assert.equal(await r.get('io:a'), 'hello')
      assert.equal(await r.get('io:missing'), null)
      const p = r.pipeline()
      for (let i = 0; i < 200; i++) p.set(`io:k${i}`, String(i)).get(`io:k${i}`)
      const results = await p.exec()
      assert.equal(results?.length, 400)
      for (let i = 0; i < 200; i++) assert.deepEqual(results?.[2 * i + 1], [null, String(i)])
      assert.equal(await r.del('io:a', 'io:missing'), 1)
      await assert.rejects(r.call('nosuchcommand'), /ERR unknown command 'nosuchcommand'/)
      const buf = Buffer.from([0, 1, 2, 255, 13, 10])
      await r.set('io:bin', buf)
      assert.deepEqual(await r.getBuffer('io:bin'), buf)
    } finally {
      r.disconnect()
    }
  })

  test('node-redis: RESP2 and RESP3 (HELLO 3), auto-pipelined commands', async () => {
    for (const RESP of [2, 3] as const) {
      const c = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false }, RESP })
      c.on('error', () => {})
      await c.connect()
      try {
        assert.equal(await c.ping(), 'PONG')
        const keys = Array.from({ length: 100 }, (_, i) => `nr${RESP}:${i}`)
        await Promise.all(keys.map((k) => c.set(k, k)))
        assert.deepEqual(await Promise.all(keys.map((k) => c.get(k))), keys)
        assert.equal(await c.get(`nr${RESP}:missing`), null)
      } finally {
        c.destroy()
      }
    }
  })

  test('redis-cli: commands, quoting, --pipe mass insertion', {
    skip: skipUnlessTool('redis-cli'),
  }, async () => {
    requireTool('redis-cli')
    const cli = (...args: string[]) => run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args])
    assert.equal((await cli('PING')).stdout.trim(), 'PONG')
    assert.equal((await cli('SET', 'cli:k', 'a b\nc')).stdout.trim(), 'OK')
    assert.equal((await cli('--no-raw', 'GET', 'cli:k')).stdout.trim(), '"a b\\nc"')
    assert.match((await cli('FOO')).stdout, /ERR unknown command 'FOO'/)
    const lines = Array.from({ length: 1000 }, (_, i) => `SET cli:pipe:${i} ${i}`).join('\r\n')
    const pipe = await new Promise<string>((resolve, reject) => {
      const child = execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(port), '--pipe'], (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      )
      child.stdin?.end(`${lines}\r\n`)
    })
    assert.match(pipe, /errors: 0, replies: 1000/)
    assert.equal((await cli('GET', 'cli:pipe:999')).stdout.trim(), '999')
  })

  test('redis-benchmark: runs GET/SET without errors or config warnings', {
    skip: skipUnlessTool('redis-benchmark'),
  }, async () => {
    requireTool('redis-benchmark')
    const { stdout, stderr } = await run('redis-benchmark', [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-n',
      '2000',
      '-c',
      '4',
      '-P',
      '4',
      '-t',
      'set,get',
      '-q',
      '--csv',
    ])
    assert.doesNotMatch(stdout + stderr, /WARNING|ERR|error/i)
    assert.match(stdout, /"SET"/)
    assert.match(stdout, /"GET"/)
  })
})

describe('real clients against a node with requirepass', () => {
  let node: NodeServer
  let port: number
  before(async () => {
    node = createNode({ port: 0, requirepass: 'pa55 word' })
    ;({ port } = await node.listen())
  })
  after(() => node.close())

  test('ioredis and node-redis authenticate; without the password they get NOAUTH', async () => {
    const r = new Redis({ host: '127.0.0.1', port, password: 'pa55 word', lazyConnect: true })
    await r.connect()
    assert.equal(await r.set('auth:k', 'v'), 'OK')
    r.disconnect()
    const c = createClient({
      socket: { host: '127.0.0.1', port, reconnectStrategy: false },
      password: 'pa55 word',
      RESP: 3,
    })
    c.on('error', () => {})
    await c.connect()
    assert.equal(await c.get('auth:k'), 'v')
    c.destroy()
    // RESP2 without a password: connected, but every command but AUTH/HELLO/QUIT is refused.
    const anon = new Redis({
      host: '127.0.0.1',
      port,
      lazyConnect: true,
      protocol: 2,
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
    })
    anon.on('error', () => {})
    await anon.connect()
    await assert.rejects(anon.get('auth:k'), /NOAUTH Authentication required/)
    anon.disconnect()
    // RESP3 (ioredis's default) without a password: HELLO 3 itself is refused, as Redis 7 does.
    const anon3 = new Redis({
      host: '127.0.0.1',
      port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    })
    anon3.on('error', () => {})
    await assert.rejects(anon3.connect())
    anon3.disconnect()
  })

  test('redis-cli -a authenticates', { skip: skipUnlessTool('redis-cli') }, async () => {
    requireTool('redis-cli')
    const args = ['-h', '127.0.0.1', '-p', String(port), '--no-auth-warning']
    assert.equal((await run('redis-cli', [...args, '-a', 'pa55 word', 'PING'])).stdout.trim(), 'PONG')
    assert.match((await run('redis-cli', [...args, 'PING'])).stdout, /NOAUTH/)
  })
})
