// The TCP server over a tiny command table: pipelining, errors, protocol violations, auth, limits, shutdown.
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { NodeServer } from '../../src/node/server.js'
import { encodeCommand } from '../../src/resp/encoder.js'
import { MapReply, NULL_ARRAY, type Reply, ReplyError, Status, VerbatimReply } from '../../src/resp/reply.js'
import { RawClient, tinyData } from './server-helpers.js'

const cmd = (...args: string[]) => encodeCommand(args)
const str = (r: Reply | undefined) => (r instanceof Buffer ? r.toString() : r)

async function started(options: ConstructorParameters<typeof NodeServer>[0] = {}) {
  const data = tinyData()
  const server = new NodeServer({ port: 0, ...options }, data)
  const { port } = await server.listen()
  return { server, data, port }
}

describe('server over a tiny command table', () => {
  let server: NodeServer
  let port: number
  before(async () => {
    ;({ server, port } = await started({ maxInlineLength: 1024 }))
  })
  after(() => server.close())

  test('binds to 127.0.0.1 by default', () => {
    assert.equal(server.address?.host, '127.0.0.1')
  })

  test('a pipeline of 2000 requests in one write gets 2000 replies in order', async () => {
    const c = await RawClient.open(port)
    const parts: Buffer[] = []
    for (let i = 0; i < 1000; i++) parts.push(cmd('SET', `k${i}`, `v${i}`), cmd('GET', `k${i}`))
    c.write(Buffer.concat(parts))
    const replies = await c.read(2000)
    for (let i = 0; i < 1000; i++) {
      assert.deepEqual(replies[2 * i], new Status('OK'))
      assert.equal(str(replies[2 * i + 1]), `v${i}`)
    }
    c.close()
  })

  test('a pipeline trickling in one byte per write still answers in order', async () => {
    const c = await RawClient.open(port)
    c.socket.setNoDelay(true)
    const wire = Buffer.concat([
      cmd('SET', 'a', '1'),
      Buffer.from('GET a\r\n'),
      cmd('PING'),
      cmd('ECHO', 'x y'),
    ])
    for (const b of wire) c.write(Buffer.from([b]))
    const replies = await c.read(4)
    assert.deepEqual(replies.map(str), [new Status('OK'), '1', new Status('PONG'), 'x y'])
    c.close()
  })

  test("Redis's error texts: unknown command, arity, unknown subcommand; names are case-insensitive", async () => {
    const c = await RawClient.open(port)
    c.write(
      Buffer.concat([
        cmd('FOO', 'a', 'b'),
        cmd('foo'),
        cmd('GET'),
        cmd('gEt', 'nope'),
        cmd('CLIENT', 'bogus'),
        cmd('client', 'setname'),
        cmd('PING', 'a', 'b'),
      ]),
    )
    assert.deepEqual(await c.read(7), [
      new ReplyError("ERR unknown command 'FOO', with args beginning with: 'a' 'b' "),
      new ReplyError("ERR unknown command 'foo', with args beginning with: "),
      new ReplyError("ERR wrong number of arguments for 'get' command"),
      null,
      new ReplyError("ERR unknown subcommand 'bogus'. Try CLIENT HELP."),
      new ReplyError("ERR wrong number of arguments for 'client|setname' command"),
      new ReplyError("ERR wrong number of arguments for 'ping' command"),
    ])
    c.close()
  })

  test('a protocol error answers, then closes that client only; the others go on', async () => {
    const bad = await RawClient.open(port)
    const good = await RawClient.open(port)
    bad.write(Buffer.concat([cmd('PING'), Buffer.from('*1\r\n$-5\r\n'), cmd('PING')]))
    assert.deepEqual(await bad.read(3), [
      new Status('PONG'),
      new ReplyError('ERR Protocol error: invalid bulk length'),
    ])
    await bad.closedPromise
    good.write(cmd('PING'))
    assert.deepEqual(await good.read(1), [new Status('PONG')])
    const more = await RawClient.open(port)
    more.write('*1\r\n$999999999999\r\n')
    assert.deepEqual(await more.read(1), [new ReplyError('ERR Protocol error: invalid bulk length')])
    await more.closedPromise
    const inline = await RawClient.open(port)
    inline.write(`${'x'.repeat(2000)}\r\n`)
    assert.deepEqual(await inline.read(1), [new ReplyError('ERR Protocol error: too big inline request')])
    await inline.closedPromise
    good.write('PING\r\n')
    assert.deepEqual(await good.read(1), [new Status('PONG')])
    good.close()
  })

  test('a handler that throws, or returns a non-reply, answers ERR and the connection goes on', async () => {
    const c = await RawClient.open(port)
    c.write(Buffer.concat([cmd('THROW'), cmd('BADREPLY'), cmd('PING')]))
    const [a, b, p] = await c.read(3)
    assert.deepEqual(a, new ReplyError('ERR internal error: boom'))
    assert.ok(b instanceof ReplyError && b.message.startsWith('ERR internal error'))
    assert.deepEqual(p, new Status('PONG'))
    c.close()
  })

  test('QUIT answers OK, closes, and what followed it in the pipeline is not run', async () => {
    const c = await RawClient.open(port)
    c.write(Buffer.concat([cmd('SET', 'q', '1'), cmd('QUIT'), cmd('SET', 'q', '2')]))
    assert.deepEqual(await c.read(3), [new Status('OK'), new Status('OK')])
    await c.closedPromise
    const d = await RawClient.open(port)
    d.write(cmd('GET', 'q'))
    assert.equal(str((await d.read(1))[0]), '1')
    d.close()
  })

  test('HELLO 3 switches to RESP3 and answers the server map; HELLO errors', async () => {
    const c = await RawClient.open(port)
    c.write(
      Buffer.concat([cmd('HELLO', '3', 'SETNAME', 'me'), cmd('GET', 'missing'), cmd('CLIENT', 'GETNAME')]),
    )
    const [hello, missing, name] = await c.read(3)
    assert.ok(hello instanceof MapReply)
    const m = new Map<unknown, Reply>(hello.entries.map(([k, v]) => [str(k), v] as const))
    assert.equal(str(m.get('server')), 'redis')
    assert.equal(m.get('proto'), 3)
    assert.equal(typeof m.get('id'), 'number')
    assert.equal(missing, null)
    assert.equal(str(name), 'me')
    c.write(
      Buffer.concat([cmd('HELLO', '4'), cmd('HELLO', 'x'), cmd('HELLO', '2', 'FOO'), cmd('HELLO', '2')]),
    )
    const [v4, vx, opt, back] = await c.read(4)
    assert.deepEqual(v4, new ReplyError('NOPROTO unsupported protocol version'))
    assert.deepEqual(vx, new ReplyError('ERR Protocol version is not an integer or out of range'))
    assert.deepEqual(opt, new ReplyError("ERR Syntax error in HELLO option 'FOO'"))
    assert.ok(Array.isArray(back), 'HELLO 2 answers a flat array')
    c.write(cmd('GET', 'missing'))
    assert.deepEqual(await c.read(1), [null])
    c.close()
  })

  test('connection commands: SELECT, ECHO, PING, TIME, CLIENT, COMMAND, CONFIG GET, INFO', async () => {
    const c = await RawClient.open(port)
    c.write(
      Buffer.concat([
        cmd('SELECT', '0'),
        cmd('SELECT', '1'),
        cmd('SELECT', 'x'),
        cmd('ECHO', 'hi'),
        cmd('PING', 'msg'),
        cmd('TIME'),
        cmd('CLIENT', 'SETNAME', 'bad name'),
        cmd('CLIENT', 'SETNAME', 'worker-1'),
        cmd('CLIENT', 'ID'),
        cmd('CLIENT', 'INFO'),
        cmd('CLIENT', 'LIST'),
        cmd('COMMAND', 'COUNT'),
        cmd('COMMAND', 'INFO', 'get', 'nosuch'),
        cmd('COMMAND', 'DOCS', 'get'),
        cmd('CONFIG', 'GET', 'maxmemory*'),
        cmd('CONFIG', 'GET', '*pass*'),
        cmd('INFO', 'clients'),
        cmd('INFO'),
      ]),
    )
    const r = await c.read(18)
    assert.deepEqual(r[0], new Status('OK'))
    assert.deepEqual(r[1], new ReplyError('ERR DB index is out of range'))
    assert.deepEqual(r[2], new ReplyError('ERR value is not an integer or out of range'))
    assert.equal(str(r[3]), 'hi')
    assert.equal(str(r[4]), 'msg')
    const time = r[5] as Buffer[]
    assert.equal(time.length, 2)
    assert.ok(Math.abs(Number(time[0]!.toString()) - Date.now() / 1000) < 60)
    assert.deepEqual(
      r[6],
      new ReplyError('ERR Client names cannot contain spaces, newlines or special characters.'),
    )
    assert.deepEqual(r[7], new Status('OK'))
    const id = r[8] as number
    assert.match(
      str(r[9]) as string,
      new RegExp(`^id=${id} addr=127\\.0\\.0\\.1:\\d+ .* name=worker-1 .*cmd=client\\|info`),
    )
    assert.match(str(r[10]) as string, /name=worker-1/)
    assert.equal(r[11], 17)
    const [getInfo, none] = r[12] as Reply[]
    assert.equal(str((getInfo as Reply[])[0]), 'get')
    assert.equal((getInfo as Reply[])[1], 2)
    assert.equal(none, null)
    const docs = r[13] as Reply[]
    assert.equal(str(docs[0]), 'get')
    assert.deepEqual((r[14] as Reply[]).map(str), [
      'maxmemory',
      '268435456',
      'maxmemory-policy',
      'allkeys-lru',
    ])
    assert.deepEqual(r[15], [], 'requirepass is never shown')
    assert.match(str(r[16]) as string, /^# Clients\r\nconnected_clients:\d+\r\nmaxclients:10000\r\n/)
    assert.doesNotMatch(str(r[16]) as string, /# Server/)
    const info = str(r[17]) as string
    for (const section of ['Server', 'Clients', 'Memory', 'Stats', 'Keyspace'])
      assert.match(info, new RegExp(`# ${section}\r\n`))
    assert.match(info, /total_commands_processed:\d+\r\n/)
    c.close()
  })

  test('verbatim replies (INFO) are bulk strings under RESP2 and `=` under RESP3', async () => {
    const c = await RawClient.open(port)
    c.write(Buffer.concat([cmd('HELLO', '3'), cmd('CLIENT', 'INFO')]))
    const [, info] = await c.read(2)
    assert.ok(info instanceof VerbatimReply && info.format === 'txt')
    c.close()
  })
})

describe('server auth', () => {
  test('requirepass: NOAUTH until AUTH or HELLO AUTH; wrong passwords get WRONGPASS', async () => {
    const { server, port } = await started({ requirepass: 's3cret' })
    try {
      const c = await RawClient.open(port)
      c.write(
        Buffer.concat([
          cmd('GET', 'k'),
          cmd('PING'),
          cmd('NOSUCH'),
          cmd('AUTH', 'wrong'),
          cmd('AUTH', 'default', 'wrong'),
          cmd('AUTH', 'other', 's3cret'),
          cmd('HELLO', '3'),
          cmd('AUTH', 's3cret'),
          cmd('GET', 'k'),
        ]),
      )
      assert.deepEqual(await c.read(9), [
        new ReplyError('NOAUTH Authentication required.'),
        new ReplyError('NOAUTH Authentication required.'),
        new ReplyError("ERR unknown command 'NOSUCH', with args beginning with: "),
        new ReplyError('WRONGPASS invalid username-password pair or user is disabled.'),
        new ReplyError('WRONGPASS invalid username-password pair or user is disabled.'),
        new ReplyError('WRONGPASS invalid username-password pair or user is disabled.'),
        new ReplyError(
          'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
        ),
        new Status('OK'),
        null,
      ])
      c.close()
      const h = await RawClient.open(port)
      h.write(Buffer.concat([cmd('HELLO', '3', 'AUTH', 'default', 's3cret'), cmd('GET', 'k')]))
      const [hello, get] = await h.read(2)
      assert.ok(hello instanceof MapReply)
      assert.equal(get, null)
      h.close()
      const q = await RawClient.open(port)
      q.write(cmd('QUIT'))
      assert.deepEqual(await q.read(1), [new Status('OK')])
      await q.closedPromise
    } finally {
      await server.close()
    }
  })

  test('requirepass: before AUTH, large requests are protocol errors; after AUTH they are fine', async () => {
    const { server, port } = await started({ requirepass: 'pw' })
    try {
      const big = 'v'.repeat(20000)
      const stranger = await RawClient.open(port)
      stranger.write(cmd('SET', 'k', big))
      assert.deepEqual(await stranger.read(1), [
        new ReplyError('ERR Protocol error: unauthenticated bulk length'),
      ])
      await stranger.closedPromise
      const member = await RawClient.open(port)
      member.write(Buffer.concat([cmd('AUTH', 'pw'), cmd('SET', 'k', big), cmd('GET', 'k')]))
      const [auth, set, get] = await member.read(3)
      assert.deepEqual([auth, set], [new Status('OK'), new Status('OK')])
      assert.equal(str(get), big)
      member.close()
    } finally {
      await server.close()
    }
  })

  test('without requirepass, AUTH <password> is an error as in Redis', async () => {
    const { server, port } = await started()
    try {
      const c = await RawClient.open(port)
      c.write(cmd('AUTH', 'x'))
      const [r] = await c.read(1)
      assert.ok(
        r instanceof ReplyError && r.message.startsWith('ERR AUTH <password> called without any password'),
      )
      c.close()
    } finally {
      await server.close()
    }
  })
})

describe('server limits and shutdown', () => {
  test('maxclients: one more client gets the Redis error and is closed; a freed place is reusable', async () => {
    const { server, port } = await started({ maxclients: 2 })
    try {
      const a = await RawClient.open(port)
      const b = await RawClient.open(port)
      a.write(cmd('PING'))
      b.write(cmd('PING'))
      await a.read(1)
      await b.read(1)
      const c = await RawClient.open(port)
      assert.deepEqual(await c.read(1), [new ReplyError('ERR max number of clients reached')])
      await c.closedPromise
      a.close()
      await a.closedPromise
      while (server.clientCount > 1) await new Promise((r) => setTimeout(r, 5))
      const d = await RawClient.open(port)
      d.write(cmd('PING'))
      assert.deepEqual(await d.read(1), [new Status('PONG')])
      b.close()
      d.close()
    } finally {
      await server.close()
    }
  })

  test('close(): answers what was read, closes clients, stops the data side, refuses new connections', async () => {
    const { server, data, port } = await started()
    const c = await RawClient.open(port)
    c.write(Buffer.concat([cmd('SET', 'x', '1'), cmd('GET', 'x')]))
    assert.deepEqual((await c.read(2)).map(str), [new Status('OK'), '1'])
    const idle = await RawClient.open(port)
    await server.close()
    await c.closedPromise
    await idle.closedPromise
    assert.equal(data.closed, true)
    assert.equal(server.address, null)
    await assert.rejects(
      new Promise((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port }, () => resolve(s))
        s.once('error', reject)
      }),
      /ECONNREFUSED/,
    )
    assert.equal(await server.close(), undefined, 'close() twice is fine')
  })

  test('a client that never reads its replies is paused, not buffered without bound', async () => {
    const { server, port } = await started()
    try {
      const c = await RawClient.open(port)
      c.socket.pause()
      const big = Buffer.alloc(64 * 1024, 'v')
      c.write(cmd('SET', 'big', big.toString()))
      const gets = Buffer.concat(Array.from({ length: 100 }, () => cmd('GET', 'big')))
      // Ten separate bursts of 100 GETs (6.4 MB of replies each): without backpressure all 64 MB would be
      // queued in the server; paused after the first burst, the rest waits in the kernel.
      for (let i = 0; i < 10; i++) {
        c.write(gets)
        await new Promise((r) => setTimeout(r, 30))
      }
      const probe = await RawClient.open(port)
      probe.write(cmd('CLIENT', 'LIST'))
      const list = str((await probe.read(1))[0]) as string
      const omem = Number(/ omem=(\d+) .*cmd=get/.exec(list)?.[1])
      assert.ok(omem > 0 && omem < 24 * 1024 * 1024, `queued reply bytes: ${omem}`)
      c.socket.resume()
      const replies = await c.read(1001)
      assert.equal(replies.length, 1001)
      assert.ok((replies[1000] as Buffer).equals(big))
      c.close()
      probe.close()
    } finally {
      await server.close()
    }
  })

  test('options are validated with the option named', () => {
    assert.throws(() => new NodeServer({ port: -1 }, tinyData()), /port/)
    assert.throws(() => new NodeServer({ maxclients: 0 }, tinyData()), /maxclients/)
    assert.throws(
      () => new NodeServer({ maxmemoryPolicy: 'lfu' as 'noeviction' }, tinyData()),
      /maxmemoryPolicy/,
    )
  })

  test('NULL_ARRAY and nested replies encode per protocol (sanity through the server)', async () => {
    const data = tinyData()
    const extra = {
      ...data,
      commands: [
        ...data.commands,
        {
          name: 'nullarr',
          arity: 1,
          flags: [],
          firstKey: 0,
          lastKey: 0,
          step: 0,
          summary: 'test',
          handler: (): Reply => NULL_ARRAY,
        },
      ],
    }
    const server = new NodeServer({ port: 0 }, extra)
    const { port } = await server.listen()
    try {
      const c = await RawClient.open(port)
      c.write(Buffer.concat([cmd('NULLARR'), cmd('HELLO', '3'), cmd('NULLARR')]))
      const [a, , b] = await c.read(3)
      assert.equal(a, NULL_ARRAY)
      assert.equal(b, null)
      c.close()
    } finally {
      await server.close()
    }
  })
})
