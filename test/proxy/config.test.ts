// The proxy's config file (JSON and the YAML subset), reload, and the `rendezvous proxy` command as a process.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { createNode } from '../../src/node/index.js'
import { parseProxyConfig } from '../../src/proxy/config.js'
import { createProxy } from '../../src/proxy/index.js'
import { cli, haveTool } from './helpers.js'

const YAML = `# a proxy
listen: 127.0.0.1:6400
mode: store
replicas: 2
timeoutMs: 250
requirepass: "s3cret # not a comment"
servers:
  - id: a
    host: 10.0.0.1
    port: 7001
    weight: 2
    zone: z1
    password: 'pw'
  - 127.0.0.1:7002 # shorthand
  - id: c
    port: 7003
`

describe('proxy config file', () => {
  test('the YAML subset and JSON give the same options', () => {
    const y = parseProxyConfig(YAML, 'p.yml')
    assert.deepEqual(y, {
      host: '127.0.0.1',
      port: 6400,
      mode: 'store',
      replicas: 2,
      timeoutMs: 250,
      requirepass: 's3cret # not a comment',
      servers: [
        { id: 'a', host: '10.0.0.1', port: 7001, weight: 2, zone: 'z1', password: 'pw' },
        { id: '127.0.0.1:7002', host: '127.0.0.1', port: 7002 },
        { id: 'c', host: '127.0.0.1', port: 7003 },
      ],
    })
    const j = parseProxyConfig(
      JSON.stringify({
        listen: '127.0.0.1:6400',
        mode: 'store',
        replicas: 2,
        timeoutMs: 250,
        requirepass: 's3cret # not a comment',
        servers: [
          { id: 'a', host: '10.0.0.1', port: 7001, weight: 2, zone: 'z1', password: 'pw' },
          '127.0.0.1:7002',
          { id: 'c', port: 7003 },
        ],
      }),
      'p.json',
    )
    assert.deepEqual(j, y)
  })

  test('errors name the file and the field or line', () => {
    const bad: Array<[string, RegExp]> = [
      [
        'servers:\n  - id: a\n    port: 99999\n',
        /^p\.yml: servers\[0\]\.port: expected an integer from 1 to 65535, got 99999$/,
      ],
      ['servers:\n  - 127.0.0.1:7001\nmode: fast\n', /^p\.yml: mode: expected cache or store, got "fast"$/],
      ['servers:\n  - 127.0.0.1:7001\ncolour: red\n', /^p\.yml: colour: unknown field/],
      ['servers:\n  - id: a\n    port: 1\n    prot: 2\n', /^p\.yml: servers\[0\]\.prot: unknown field/],
      ['listen 6400\n', /^p\.yml:1: expected 'key: value', got 'listen 6400'$/],
      ['servers:\n  - a:1\n  - a:1\n', /^p\.yml: servers\[1\]\.id: duplicate id "a:1"$/],
      ['mode: cache\n', /^p\.yml: servers: expected a non-empty list/],
      [
        'servers:\n  - 127.0.0.1:7001\nreplicas: 3\n',
        /^p\.yml: replicas: expected an integer from 1 to 1, got 3$/,
      ],
      [
        'listen: nowhere\nservers:\n  - 127.0.0.1:7001\n',
        /^p\.yml: listen: expected host:port, got "nowhere"$/,
      ],
    ]
    const message = (re: RegExp) => (e: unknown) => e instanceof Error && re.test(e.message)
    for (const [text, re] of bad) assert.throws(() => parseProxyConfig(text, 'p.yml'), message(re), text)
    assert.throws(() => parseProxyConfig('{"servers": [', 'p.json'), message(/^p\.json: invalid JSON/))
  })
})

describe('proxy reload', () => {
  test('membership changes live: a server added by reload receives its keys', async () => {
    const nodes = [createNode({ port: 0 }), createNode({ port: 0 }), createNode({ port: 0 })]
    const ports: number[] = []
    for (const n of nodes) ports.push((await n.listen()).port)
    const proxy = createProxy({
      port: 0,
      servers: ports.slice(0, 2).map((p, i) => ({ id: `n${i}`, port: p })),
    })
    const { port } = await proxy.listen()
    try {
      await proxy.reload({ servers: ports.map((p, i) => ({ id: `n${i}`, port: p })) })
      assert.deepEqual(proxy.cluster.liveServers.sort(), ['n0', 'n1', 'n2'])
      assert.equal(proxy.stats.reloads, 1)
      // Keys written now reach the new server too.
      const writes = Array.from({ length: 60 }, (_, i) =>
        proxy.cluster.route(`k${i}`, async (b) => b.set(`k${i}`, Buffer.from('v'))),
      )
      await Promise.all(writes)
      const owners = new Set(Array.from({ length: 60 }, (_, i) => proxy.cluster.ownerOf(`k${i}`)))
      assert.ok(owners.has('n2'))
      if (haveTool('redis-cli', 'redis-tools')) {
        assert.notEqual(await cli(ports[2]!, 'dbsize'), '0')
        assert.match(await cli(port, 'info', 'stats'), /reloads:1/)
      }
      // A change that needs a new cluster (the timeout) keeps the data path working.
      await proxy.reload({ servers: ports.map((p, i) => ({ id: `n${i}`, port: p })), timeoutMs: 800 })
      assert.equal(proxy.stats.reloads, 2)
      assert.equal(await proxy.cluster.get('k1'), 'v')
      assert.equal(proxy.stats.backendConnections, 3)
    } finally {
      await proxy.close()
      await Promise.all(nodes.map((n) => n.close()))
    }
  })
})

describe('rendezvous proxy (the command)', () => {
  test('logs where it listens, serves, reloads on SIGHUP, and exits cleanly on SIGTERM', async (t) => {
    if (!haveTool('redis-cli', 'redis-tools')) return t.skip('redis-cli is not installed')
    const nodes = [createNode({ port: 0 }), createNode({ port: 0 })]
    const ports: number[] = []
    for (const n of nodes) ports.push((await n.listen()).port)
    const dir = mkdtempSync(join(tmpdir(), 'rv-proxy-cli-'))
    const file = join(dir, 'proxy.yml')
    writeFileSync(file, `listen: 127.0.0.1:0\nservers:\n  - id: a\n    port: ${ports[0]}\n`)
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'proxy', '--config', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    proc.stdout.on('data', (c: Buffer) => {
      out += c.toString()
    })
    proc.stderr.on('data', (c: Buffer) => {
      out += c.toString()
    })
    const waitFor = async (re: RegExp) => {
      for (let i = 0; i < 200 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 50))
      assert.match(out, re)
    }
    try {
      await waitFor(/rendezvous proxy listening on 127\.0\.0\.1:(\d+)/)
      const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(out)![1])
      assert.equal(await cli(port, 'set', 'x', '1'), 'OK')
      writeFileSync(
        file,
        `listen: 127.0.0.1:0\nservers:\n  - id: a\n    port: ${ports[0]}\n  - id: b\n    port: ${ports[1]}\n`,
      )
      proc.kill('SIGHUP')
      await waitFor(/reload: added server "b"/)
      assert.match(await cli(port, 'info', 'backends'), /backend_b:/)
      assert.equal(await cli(port, 'proxy', 'reload'), 'OK')
      proc.kill('SIGTERM')
      const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)))
      assert.equal(code, 0, out)
      assert.match(out, /SIGTERM: shutting down/)
    } finally {
      if (proc.exitCode === null) proc.kill('SIGKILL')
      await Promise.all(nodes.map((n) => n.close()))
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('cache mode: a server added by reload is flushed first, so it cannot serve a value it held from before', async () => {
    const nodes = [createNode({ port: 0 }), createNode({ port: 0 })]
    const ports: number[] = []
    for (const n of nodes) ports.push((await n.listen()).port)
    const proxy = createProxy({ port: 0, mode: 'cache', servers: [{ id: 'n0', port: ports[0]! }] })
    await proxy.listen()
    try {
      // The newcomer already holds old values of keys that the cluster has since rewritten.
      const stale = createProxy({ port: 0, mode: 'cache', servers: [{ id: 'n1', port: ports[1]! }] })
      await stale.listen()
      for (let i = 0; i < 50; i++) await stale.cluster.set(`k${i}`, 'old')
      await stale.close()
      for (let i = 0; i < 50; i++) await proxy.cluster.set(`k${i}`, 'new')
      await proxy.reload({
        mode: 'cache',
        servers: [
          { id: 'n0', port: ports[0]! },
          { id: 'n1', port: ports[1]! },
        ],
      })
      const moved = Array.from({ length: 50 }, (_, i) => `k${i}`).filter(
        (k) => proxy.cluster.ownerOf(k) === 'n1',
      )
      assert.ok(moved.length > 0)
      for (const k of moved)
        assert.notEqual(await proxy.cluster.get(k), 'old', `${k} read a value from before`)
    } finally {
      await proxy.close()
      await Promise.all(nodes.map((n) => n.close()))
    }
  })

  test('cache mode: after a server joins, GET through the proxy finds keys on their previous owners (warm-up)', async () => {
    const nodes = [createNode({ port: 0 }), createNode({ port: 0 }), createNode({ port: 0 })]
    const ports: number[] = []
    for (const n of nodes) ports.push((await n.listen()).port)
    const servers = ports.map((p, i) => ({ id: `n${i}`, port: p }))
    const proxy = createProxy({ port: 0, mode: 'cache', servers: servers.slice(0, 2) })
    const { port } = await proxy.listen()
    const client = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0 })
    try {
      await client.connect()
      const keys = Array.from({ length: 200 }, (_, i) => `user:${i}`)
      for (const k of keys) await client.set(k, `value of ${k}`)
      await proxy.reload({ mode: 'cache', servers })
      const moved = keys.filter((k) => proxy.cluster.ownerOf(k) === 'n2')
      assert.ok(moved.length > 0 && proxy.cluster.warming)
      for (const k of moved)
        assert.equal(await client.get(k), `value of ${k}`, `${k} was lost to a cold miss`)
    } finally {
      client.disconnect()
      await proxy.close()
      await Promise.all(nodes.map((n) => n.close()))
    }
  })
})
