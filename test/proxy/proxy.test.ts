// The proxy end to end over our nodes and over real redis-servers: redis-cli, ioredis, node-redis, redis-benchmark.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { createNode } from '../../src/node/index.js'
import { createProxy, type RendezvousProxy } from '../../src/proxy/index.js'
import { haveRedis, type ServerProcess, startRedis } from '../cluster/servers.js'
import { cli, haveTool, rawExchange, run } from './helpers.js'

interface Backends {
  ports: number[]
  stop(): Promise<void>
}

async function ourNodes(n: number): Promise<Backends> {
  const nodes = Array.from({ length: n }, () => createNode({ port: 0 }))
  const ports = []
  for (const node of nodes) ports.push((await node.listen()).port)
  return { ports, stop: async () => void (await Promise.all(nodes.map((x) => x.close()))) }
}

async function redisServers(n: number): Promise<Backends> {
  const procs: ServerProcess[] = []
  for (let i = 0; i < n; i++) procs.push(await startRedis())
  return {
    ports: procs.map((p) => p.port),
    stop: async () => void (await Promise.all(procs.map((p) => p.kill()))),
  }
}

const haveCli = haveTool('redis-cli', 'redis-tools')
const haveBench = haveTool('redis-benchmark', 'redis-tools')

for (const kind of ['our nodes', 'redis-servers'] as const) {
  const skip = kind === 'redis-servers' && !haveRedis() ? 'redis-server is not installed' : false
  describe(`proxy over ${kind}`, { skip }, () => {
    let backends: Backends
    let proxy: RendezvousProxy
    let port = 0

    before(async () => {
      backends = kind === 'our nodes' ? await ourNodes(3) : await redisServers(3)
      proxy = createProxy({
        port: 0,
        servers: backends.ports.map((p, i) => ({ id: `s${i}`, port: p })),
        allowFlush: true,
      })
      port = (await proxy.listen()).port
    })
    after(async () => {
      await proxy.close()
      await backends.stop()
    })

    test('redis-cli: single-key commands, split multi-key commands merged in order', {
      skip: !haveCli,
    }, async () => {
      assert.equal(await cli(port, 'ping'), 'PONG')
      assert.equal(await cli(port, 'set', 'k', 'v'), 'OK')
      assert.equal(await cli(port, 'get', 'k'), 'v')
      const keys = Array.from({ length: 30 }, (_, i) => `key:${i}`)
      assert.equal(await cli(port, 'mset', ...keys.flatMap((k) => [k, `val-${k}`])), 'OK')
      assert.equal(
        await cli(port, 'mget', keys[0]!, 'missing', ...keys.slice(1)),
        ['val-key:0', '', ...keys.slice(1).map((k) => `val-${k}`)].join('\n'),
      )
      // The keys really are spread: every backend got some of them.
      const spread = await Promise.all(backends.ports.map((p) => cli(p, 'dbsize')))
      assert.ok(
        spread.every((n) => Number(n) >= 1),
        `keys per server: ${spread}`,
      )
      assert.equal(await cli(port, 'exists', ...keys, 'missing', 'key:0'), '31')
      assert.equal(await cli(port, 'del', ...keys.slice(0, 10), 'missing'), '10')
      assert.equal(await cli(port, 'touch', ...keys.slice(10)), '20')
      assert.equal(await cli(port, 'unlink', ...keys.slice(10)), '20')
    })

    test('redis-cli: counters, TTLs and SET options go to the key owner', { skip: !haveCli }, async () => {
      assert.equal(await cli(port, 'incr', 'n'), '1')
      assert.equal(await cli(port, 'incrby', 'n', '9'), '10')
      assert.equal(await cli(port, 'decrby', 'n', '3'), '7')
      assert.equal(await cli(port, 'decr', 'n'), '6')
      assert.equal(await cli(port, 'append', 'n', 'x'), '2')
      assert.equal(await cli(port, 'strlen', 'n'), '2')
      assert.equal(await cli(port, 'type', 'n'), 'string')
      assert.equal(await cli(port, 'set', 't', '1', 'EX', '100', 'NX'), 'OK')
      assert.equal(await cli(port, 'set', 't', '2', 'NX'), '')
      assert.equal(await cli(port, 'set', 't', '3', 'XX', 'KEEPTTL', 'GET'), '1')
      const ttl = Number(await cli(port, 'ttl', 't'))
      assert.ok(ttl > 0 && ttl <= 100)
      assert.equal(await cli(port, 'persist', 't'), '1')
      assert.equal(await cli(port, 'ttl', 't'), '-1')
      assert.equal(await cli(port, 'expire', 't', '50'), '1')
      assert.ok(Number(await cli(port, 'pttl', 't')) > 0)
      assert.equal(await cli(port, 'setex', 'sx', '10', 'a'), 'OK')
      assert.equal(await cli(port, 'psetex', 'px', '10000', 'b'), 'OK')
      assert.equal(await cli(port, 'setnx', 'sx', 'c'), '0')
      assert.equal(await cli(port, 'getdel', 'sx'), 'a')
      assert.equal(await cli(port, 'get', 'sx'), '')
      assert.equal(await cli(port, 'pexpire', 'px', '100000'), '1')
    })

    test('commands that cannot be served across servers answer a clear error', {
      skip: !haveCli,
    }, async () => {
      assert.match(await cli(port, 'keys', '*'), /^ERR KEYS is not supported by the proxy: keys are spread/)
      assert.match(await cli(port, 'scan', '0'), /^ERR SCAN is not supported by the proxy/)
      assert.match(await cli(port, 'multi'), /^ERR MULTI is not supported by the proxy: a transaction/)
      assert.match(await cli(port, 'subscribe', 'c'), /SUBSCRIBE is not supported by the proxy: pub\/sub/)
      assert.match(await cli(port, 'blpop', 'l', '0'), /BLPOP is not supported by the proxy: a blocking/)
      assert.match(await cli(port, 'select', '1'), /^ERR SELECT is not supported by the proxy/)
      assert.equal(await cli(port, 'select', '0'), 'OK')
      // RENAME: served when both keys live on one server ({hash tag}), refused when they span servers.
      await cli(port, 'set', '{user1}.a', 'x')
      assert.equal(await cli(port, 'rename', '{user1}.a', '{user1}.b'), 'OK')
      assert.equal(await cli(port, 'get', '{user1}.b'), 'x')
      let other = ''
      for (let i = 0; i < 100 && other === ''; i++) {
        const r = await cli(port, 'rename', '{user1}.b', `elsewhere${i}`)
        if (r.includes('different servers')) other = r
      }
      assert.match(
        other,
        /^ERR RENAME is not supported by the proxy for these keys: .* live on different servers/,
      )
      assert.match(await cli(port, 'frobnicate', 'x'), /^ERR unknown command 'frobnicate'/)
    })

    test('INFO and CONFIG GET describe the proxy', { skip: !haveCli }, async () => {
      const info = await cli(port, 'info')
      assert.match(info, /connected_clients:\d+/)
      assert.match(info, /total_commands_processed:\d+/)
      for (let i = 0; i < 3; i++)
        assert.match(info, new RegExp(`backend_s${i}:addr=127\\.0\\.0\\.1:\\d+,up=1,epoch=0`))
      assert.equal(await cli(port, 'config', 'get', 'appendonly'), 'appendonly\nno')
    })

    test('ioredis: a pipeline of mixed commands is answered in request order', async () => {
      const r = new Redis({ port, lazyConnect: true })
      await r.connect()
      try {
        const p = r.pipeline()
        for (let i = 0; i < 500; i++) {
          p.set(`p:${i}`, String(i))
          p.get(`p:${i}`)
          p.incr(`c:${i % 7}`)
          if (i % 50 === 0) p.mget(`p:${i}`, `p:${i - 1}`, 'nope', `p:${Math.max(0, i - 2)}`)
        }
        const res = (await p.exec())!
        let j = 0
        const counts = new Map<number, number>()
        for (let i = 0; i < 500; i++) {
          assert.deepEqual(res[j++], [null, 'OK'])
          assert.deepEqual(res[j++], [null, String(i)])
          const c = (counts.get(i % 7) ?? 0) + 1
          counts.set(i % 7, c)
          assert.deepEqual(res[j++], [null, c])
          if (i % 50 === 0) {
            const expect = [String(i), i === 0 ? null : String(i - 1), null, String(Math.max(0, i - 2))]
            assert.deepEqual(res[j++], [null, expect])
          }
        }
        // Many concurrent callers, no explicit pipeline.
        const values = await Promise.all(Array.from({ length: 200 }, (_, i) => r.get(`p:${i}`)))
        assert.deepEqual(
          values,
          Array.from({ length: 200 }, (_, i) => String(i)),
        )
        const bin = Buffer.from([0, 255, 1, 200, 13, 10])
        await r.set(Buffer.from([0xff, 0xfe]), bin)
        assert.deepEqual(await r.getBuffer(Buffer.from([0xff, 0xfe])), bin)
      } finally {
        r.disconnect()
      }
    })

    test('node-redis: connects and works through the proxy', async () => {
      const c = createClient({ socket: { port, host: '127.0.0.1', reconnectStrategy: false } })
      c.on('error', () => {})
      await c.connect()
      try {
        assert.equal(await c.ping(), 'PONG')
        await c.set('nr:a', '1')
        await c.mSet({ 'nr:b': '2', 'nr:c': '3' })
        assert.deepEqual(await c.mGet(['nr:a', 'nr:b', 'nr:c', 'nr:x']), ['1', '2', '3', null])
        assert.equal(await c.incrBy('nr:a', 5), 6)
        assert.equal(await c.del(['nr:a', 'nr:b', 'nr:c']), 3)
        const many = await Promise.all(Array.from({ length: 100 }, (_, i) => c.set(`nr:${i}`, `${i}`)))
        assert.ok(many.every((x) => x === 'OK'))
      } finally {
        await c.quit()
      }
    })

    test('redis-benchmark runs through the proxy', { skip: !haveBench }, async () => {
      const r = await run('redis-benchmark', [
        '-p',
        String(port),
        '-n',
        '2000',
        '-c',
        '10',
        '-t',
        'set,get,mset',
        '-q',
      ])
      assert.equal(r.code, 0, r.stderr)
      const out = r.stdout.replace(/\r/g, '\n')
      for (const name of ['SET', 'GET', 'MSET']) assert.match(out, new RegExp(`${name}.*requests per second`))
      assert.doesNotMatch(out + r.stderr, /ERR|error/i)
      assert.equal(await cli(port, 'exists', 'key:__rand_int__'), '1')
    })

    test('all clients share one connection per backend', async () => {
      const clients = Array.from({ length: 20 }, () => new Redis({ port, lazyConnect: true }))
      await Promise.all(clients.map((c) => c.connect()))
      try {
        await Promise.all(
          clients.map((c, i) => c.mset(...Array.from({ length: 30 }, (_, j) => [`b${i}:${j}`, 'x']).flat())),
        )
        assert.equal(proxy.stats.backendConnections, 3)
        for (const p of backends.ports) {
          const info = await cli(p, 'info', 'clients')
          // Our connection, plus the one redis-cli opened to ask.
          assert.match(info, /connected_clients:2\b/)
        }
      } finally {
        for (const c of clients) c.disconnect()
      }
    })

    test('a key is placed by its bytes: UTF-8 text where the cluster places the string, other bytes by the bytes', async () => {
      const client = new Redis({ port, lazyConnect: true })
      const direct = backends.ports.map((p) => new Redis({ port: p, lazyConnect: true }))
      await Promise.all([client, ...direct].map((c) => c.connect()))
      try {
        const text = ['ключ', 'clé', '鍵', 'plain', 'emoji 🙂', '{ключ}a', '{ключ}b']
        for (const k of text) assert.equal(proxy.cluster.ownerOf(Buffer.from(k)), proxy.cluster.ownerOf(k))
        // Not UTF-8: a lone continuation byte, a truncated sequence, 0xff. As text they would all read U+FFFD.
        const binary = Array.from({ length: 12 }, (_, i) => Buffer.from([0x6b, i, 0x80 + i, 0xff]))
        const keys: (string | Buffer)[] = [...text, ...binary]
        for (const k of keys) assert.equal(await client.set(k, 'v'), 'OK')
        for (const k of keys) {
          const owner = Number(proxy.cluster.ownerOf(k)!.slice(1))
          const on = await Promise.all(direct.map((d) => d.exists(k)))
          assert.deepEqual(
            on,
            [0, 1, 2].map((i) => (i === owner ? 1 : 0)),
            `key ${JSON.stringify(k)}`,
          )
        }
        // Split and merged by the same placement.
        assert.deepEqual(
          await client.mget(...keys),
          keys.map(() => 'v'),
        )
        assert.equal(await client.del(...keys), keys.length)
      } finally {
        for (const c of [client, ...direct]) c.disconnect()
      }
    })

    test('malformed input closes that client only', async () => {
      const good = new Redis({ port, lazyConnect: true })
      await good.connect()
      try {
        await good.set('survivor', 'yes')
        const bad = await rawExchange(port, '*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$x\r\n')
        assert.equal(bad.closed, true)
        assert.match(bad.text, /^\+PONG\r\n-ERR Protocol error: invalid bulk length\r\n$/)
        const bad2 = await rawExchange(port, 'GET "unbalanced\r\n')
        assert.match(bad2.text, /^-ERR Protocol error: unbalanced quotes/)
        assert.equal(await good.get('survivor'), 'yes')
        assert.ok(proxy.stats.protocolErrors >= 2)
      } finally {
        good.disconnect()
      }
    })

    test('FLUSHALL with allowFlush empties every server', { skip: !haveCli }, async () => {
      await cli(port, 'mset', 'f1', '1', 'f2', '2', 'f3', '3', 'f4', '4')
      assert.equal(await cli(port, 'flushall'), 'OK')
      for (const p of backends.ports) assert.equal(await cli(p, 'dbsize'), '0')
    })
  })
}

describe('proxy auth', () => {
  test('requirepass: NOAUTH before AUTH, WRONGPASS on a bad one, HELLO AUTH; backend passwords', async (t) => {
    if (!haveRedis()) return t.skip('redis-server is not installed')
    const backend = await startRedis(undefined, ['--requirepass', 'backend-secret'])
    const proxy = createProxy({
      port: 0,
      requirepass: 'front-secret',
      servers: [{ id: 'a', port: backend.port, password: 'backend-secret' }],
    })
    const { port } = await proxy.listen()
    try {
      const r = await rawExchange(
        port,
        'GET k\r\nAUTH nope\r\nAUTH default nope\r\nAUTH front-secret\r\nSET k v\r\nGET k\r\nQUIT\r\n',
      )
      assert.equal(
        r.text,
        '-NOAUTH Authentication required.\r\n-WRONGPASS invalid username-password pair or user is disabled.\r\n' +
          '-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n+OK\r\n$1\r\nv\r\n+OK\r\n',
      )
      const h = await rawExchange(port, 'HELLO 2 AUTH default front-secret\r\nPING\r\nQUIT\r\n')
      assert.match(h.text, /rendezvous-proxy[\s\S]*\+PONG\r\n\+OK\r\n$/)
      const c = new Redis({ port, password: 'front-secret', lazyConnect: true })
      await c.connect()
      assert.equal(await c.get('k'), 'v')
      c.disconnect()
    } finally {
      await proxy.close()
      await backend.kill()
    }
  })
})
