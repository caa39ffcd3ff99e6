// `rendezvous servers|add|remove|reweight` as child processes against a store-mode proxy over real redis-servers.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { createProxy, type RendezvousProxy } from '../../src/proxy/index.js'
import { haveRedis, type ServerProcess, startRedis } from '../cluster/servers.js'
import { run } from '../proxy/helpers.js'

const MAIN = join(import.meta.dirname, '../../src/cli/main.ts')
const KEYS = 3000

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs the CLI asynchronously: the proxy lives in this process and must keep serving meanwhile. */
function rendezvous(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const { RENDEZVOUS_PASSWORD: _, ...base } = process.env
  return run(process.execPath, ['--import', 'tsx', MAIN, ...args], { ...base, ...env })
}

function ok(r: Run, what: string): Run {
  assert.equal(r.code, 0, `${what} exited ${r.code}:\n${r.stdout}\n${r.stderr}`)
  return r
}

/** The membership as `rendezvous servers --json` prints it. */
async function membership(proxy: string): Promise<{ id: string; port: number; weight: string }[]> {
  const r = ok(await rendezvous(['servers', '--proxy', proxy, '--json']), 'servers --json')
  return (JSON.parse(r.stdout) as { servers: { id: string; port: number; weight: string }[] }).servers
}

const skip = haveRedis() ? false : 'redis-server is not installed'

describe('membership commands against a proxy', { skip }, () => {
  const servers: ServerProcess[] = []
  let proxy: RendezvousProxy
  let client: Redis
  let address: string
  const expected = new Map<string, string>()

  before(async () => {
    for (let i = 0; i < 5; i++) servers.push(await startRedis())
    proxy = createProxy({
      port: 0,
      mode: 'store',
      replicas: 2,
      timeoutMs: 2000,
      servers: servers.slice(0, 3).map((s, i) => ({ id: `s${i}`, port: s.port })),
    })
    const { port } = await proxy.listen()
    address = `127.0.0.1:${port}`
    client = new Redis({ port, lazyConnect: true, protocol: 2 })
    await client.connect()
    const pipe = client.pipeline()
    for (let i = 0; i < KEYS; i++) {
      const key = `user:${i}`
      const value = `value-${i}-${'x'.repeat(i % 50)}`
      expected.set(key, value)
      if (i % 10 === 0) pipe.set(key, value, 'EX', 3600)
      else pipe.set(key, value)
    }
    const failed = ((await pipe.exec()) ?? []).filter(([e]) => e !== null)
    assert.deepEqual(failed.slice(0, 3), [], `${failed.length} writes failed`)
  })

  after(async () => {
    client?.disconnect()
    await proxy?.close()
    await Promise.all(servers.map((s) => s.kill()))
  })

  /** Every key still reads back through the proxy with its value, and keys written with a TTL keep one. */
  async function everyKeyReadable(): Promise<void> {
    const keys = [...expected.keys()]
    const values = await client.mget(...keys)
    const wrong = keys.filter((k, i) => values[i] !== expected.get(k))
    assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} keys missing or wrong`)
    for (const i of [0, 10, 990, 2990]) {
      const ttl = await client.pttl(`user:${i}`)
      assert.ok(ttl > 0, `user:${i} lost its TTL (${ttl})`)
    }
    assert.equal(await client.pttl('user:1'), -1)
  }

  test('servers lists the membership', async () => {
    const list = await membership(address)
    assert.deepEqual(
      list.map((s) => [s.id, s.port, s.weight]),
      servers.slice(0, 3).map((s, i) => [`s${i}`, s.port, '1']),
    )
    const table = ok(await rendezvous(['servers', '--proxy', address]), 'servers').stdout
    assert.match(table, /^ID\s+ADDRESS\s+WEIGHT\s+ZONE\s+HEALTH$/m)
    assert.match(table, new RegExp(`^s0\\s+127\\.0\\.0\\.1:${servers[0]!.port}\\s+1\\s+-\\s+up$`, 'm'))
  })

  test('add waits for the migration, keeps every key, and the new server serves its share', async () => {
    const port = servers[3]!.port
    const r = ok(
      await rendezvous([
        'add',
        's3',
        `127.0.0.1:${port}`,
        '--weight',
        '2',
        '--zone',
        'z9',
        '--proxy',
        address,
      ]),
      'add',
    )
    assert.match(r.stdout, /add s3: done: scanned [\d,]+ keys, moved [\d,]+/)
    assert.doesNotMatch(r.stderr, /\r/, 'no carriage returns when stderr is not a terminal')
    const list = await membership(address)
    assert.deepEqual(
      list.map((s) => s.id),
      ['s0', 's1', 's2', 's3'],
    )
    assert.equal(list[3]!.weight, '2')
    await everyKeyReadable()
    const direct = new Redis({ port, lazyConnect: true })
    await direct.connect()
    try {
      assert.ok((await direct.dbsize()) > 0, 'the new server received keys')
    } finally {
      direct.disconnect()
    }
    const state = await client.call('PROXY', 'MIGRATION')
    assert.ok(Array.isArray(state))
    const m = Object.fromEntries(
      Array.from({ length: state.length / 2 }, (_, i) => [String(state[2 * i]), state[2 * i + 1]]),
    )
    assert.equal(m.state, 'done')
    assert.equal(m.op, 'add')
    assert.equal(m.server, 's3')
    assert.equal(m.errors, 0)
    assert.ok(Number(m.moved) > 0 && Number(m.bytes) > 0 && Number(m.total) > 0)
  })

  test('reweight moves keys and keeps every key', async () => {
    ok(await rendezvous(['reweight', 's1', '3', '--proxy', address]), 'reweight')
    assert.equal((await membership(address)).find((s) => s.id === 's1')!.weight, '3')
    await everyKeyReadable()
  })

  test('remove drains the server first and keeps every key', async () => {
    const r = ok(await rendezvous(['remove', 's0', '--proxy', address]), 'remove')
    assert.match(r.stdout, /remove s0: done/)
    assert.deepEqual(
      (await membership(address)).map((s) => s.id),
      ['s1', 's2', 's3'],
    )
    await everyKeyReadable()
  })

  test('--no-wait returns at once; the migration finishes in the proxy', async () => {
    const r = ok(
      await rendezvous(['add', 's4', `127.0.0.1:${servers[4]!.port}`, '--no-wait', '--proxy', address]),
      'add --no-wait',
    )
    assert.match(r.stdout, /add s4: started/)
    const m = proxy.cluster.migration
    if (m !== null) assert.equal((await m.done).status, 'done')
    await everyKeyReadable()
  })

  test('bad arguments fail with exit code 2, naming them', async () => {
    const cases: [string[], RegExp][] = [
      [['add', 'x', 'nonsense', '--proxy', address], /HOST:PORT: expected host:port, got "nonsense"/],
      [['add', 'x', '127.0.0.1:99999', '--proxy', address], /HOST:PORT: port must be from 1 to 65535/],
      [['add', 'x', '127.0.0.1:1', '--weight', 'heavy', '--proxy', address], /--weight: expected a positive/],
      [['add', 'x', '127.0.0.1:1', '--zone', '', '--proxy', address], /--zone: must not be empty/],
      [['reweight', 's1', '-1', '--proxy', address], /WEIGHT: expected a positive number, got "-1"/],
      [['reweight', 's1', '--proxy', address], /missing required argument 'weight'/],
      [['remove', '--proxy', address], /missing required argument 'id'/],
      [['remove', 's1', '--proxy', 'here'], /--proxy: expected host:port, got "here"/],
      [['servers', '--proxy', address, '--frobnicate'], /unknown option '--frobnicate'/],
      [['add', 's1', `127.0.0.1:${servers[0]!.port}`, '--proxy', address], /server "s1" is already a member/],
      [
        ['add', 'y', `127.0.0.1:${servers[1]!.port}`, '--proxy', address],
        new RegExp(`127\\.0\\.0\\.1:${servers[1]!.port} is already server "s1"`),
      ],
      [['remove', 'nobody', '--proxy', address], /no server "nobody" \(members: s1, s2, s3, s4\)/],
      [['reweight', 'nobody', '2', '--proxy', address], /no server "nobody"/],
    ]
    for (const [args, message] of cases) {
      const r = await rendezvous(args)
      assert.equal(r.code, 2, `rendezvous ${args.join(' ')}: exit ${r.code}\n${r.stderr}`)
      assert.match(r.stderr, message, `rendezvous ${args.join(' ')}`)
    }
    assert.deepEqual(
      (await membership(address)).map((s) => s.id),
      ['s1', 's2', 's3', 's4'],
      'nothing changed',
    )
  })

  test('an unreachable proxy fails with exit code 1, naming --proxy', async () => {
    const r = await rendezvous(['servers', '--proxy', '127.0.0.1:1'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /cannot reach the proxy at 127\.0\.0\.1:1 \(--proxy\)/)
  })
})

describe('membership commands against a proxy with requirepass', { skip }, () => {
  let server: ServerProcess
  let proxy: RendezvousProxy
  let address: string

  before(async () => {
    server = await startRedis()
    proxy = createProxy({ port: 0, requirepass: 'sesame', servers: [{ id: 'a', port: server.port }] })
    address = `127.0.0.1:${(await proxy.listen()).port}`
  })

  after(async () => {
    await proxy?.close()
    await server?.kill()
  })

  test('the PROXY commands follow the auth gate', async () => {
    const r = await rendezvous(['servers', '--proxy', address])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /the proxy requires a password: give --password or set RENDEZVOUS_PASSWORD/)
    const wrong = await rendezvous(['servers', '--proxy', address, '--password', 'open'])
    assert.equal(wrong.code, 1)
    assert.match(wrong.stderr, /the proxy refused the password \(--password or RENDEZVOUS_PASSWORD\)/)
    ok(await rendezvous(['servers', '--proxy', address, '--password', 'sesame']), '--password')
    const env = ok(
      await rendezvous(['servers', '--proxy', address], { RENDEZVOUS_PASSWORD: 'sesame' }),
      'env',
    )
    assert.match(env.stdout, /^a\s+127\.0\.0\.1:/m)
  })
})
