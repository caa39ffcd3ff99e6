// A frozen backend (SIGSTOP) that comes back: stale reads through our proxy (must be 0) and through nutcracker.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { Redis } from 'ioredis'
import { createProxy } from '../../src/proxy/index.js'
import { freePort, haveRedis, type ServerProcess, sleep, startRedis, waitPort } from '../cluster/servers.js'
import { haveTool } from './helpers.js'

/** Starts nutcracker over `ports` (database 1, so our proxy's fence, a FLUSHDB of database 0, spares its keys). */
async function startNutcracker(dir: string, ports: number[]): Promise<{ port: number; proc: ChildProcess }> {
  const port = await freePort()
  const conf = join(dir, 'nutcracker.yml')
  writeFileSync(
    conf,
    [
      'pool:',
      `  listen: 127.0.0.1:${port}`,
      '  hash: fnv1a_64',
      '  distribution: ketama',
      '  redis: true',
      '  redis_db: 1',
      '  timeout: 300',
      '  auto_eject_hosts: true',
      '  server_failure_limit: 2',
      '  server_retry_timeout: 1000',
      '  servers:',
      ...ports.map((p, i) => `   - 127.0.0.1:${p}:1 s${i}`),
      '',
    ].join('\n'),
  )
  // Its stats port too is a free one: the default (22222) may be taken by another nutcracker on the machine.
  const stats = await freePort()
  const proc = spawn(
    'nutcracker',
    ['-c', conf, '-o', join(dir, 'nutcracker.log'), '-a', '127.0.0.1', '-s', String(stats)],
    { stdio: 'ignore' },
  )
  try {
    await waitPort(port, 5000)
  } catch {
    proc.kill('SIGKILL')
    throw new Error('nutcracker did not start')
  }
  return { port, proc }
}

interface KeyState {
  /** The last value whose write was acknowledged. */
  acked: string
  /** Values written after it whose outcome is unknown (the write failed or timed out). */
  unsure: Set<string>
}

async function writeRound(
  client: Redis,
  keys: string[],
  state: Map<string, KeyState>,
  value: string,
): Promise<number> {
  let ok = 0
  await Promise.all(
    keys.map(async (k) => {
      const s = state.get(k)!
      try {
        await client.set(k, value)
        s.acked = value
        s.unsure.clear()
        ok++
      } catch {
        s.unsure.add(value)
      }
    }),
  )
  return ok
}

async function countStale(client: Redis, keys: string[], state: Map<string, KeyState>) {
  let stale = 0
  let misses = 0
  let errors = 0
  for (const k of keys) {
    let v: string | null | undefined
    for (let attempt = 0; attempt < 3 && v === undefined; attempt++) {
      try {
        v = await client.get(k)
      } catch {
        await sleep(100)
      }
    }
    const s = state.get(k)!
    if (v === undefined) errors++
    else if (v === null) misses++
    else if (v !== s.acked && !s.unsure.has(v)) stale++
  }
  return { stale, misses, errors }
}

test('frozen backend: no stale read through our proxy; nutcracker over the same servers for comparison', async (t) => {
  if (!haveRedis()) return t.skip('redis-server is not installed')
  if (!haveTool('nutcracker', 'nutcracker', ['-V']))
    return t.skip('nutcracker is not installed (apt-get install nutcracker)')
  const dir = mkdtempSync(join(tmpdir(), 'rv-frozen-'))
  const servers: ServerProcess[] = []
  for (let i = 0; i < 3; i++) servers.push(await startRedis())
  const ports = servers.map((s) => s.port)
  let nut: { port: number; proc: ChildProcess }
  try {
    nut = await startNutcracker(dir, ports)
  } catch (e) {
    // The servers would keep this test process alive.
    await Promise.all(servers.map((s) => s.kill()))
    rmSync(dir, { recursive: true, force: true })
    throw e
  }
  const proxy = createProxy({
    port: 0,
    servers: ports.map((p, i) => ({ id: `s${i}`, port: p })),
    timeoutMs: 300,
    failureThreshold: 2,
    probeMinMs: 100,
    probeMaxMs: 400,
  })
  const { port } = await proxy.listen()
  const opts = {
    lazyConnect: true,
    enableReadyCheck: false,
    disableClientInfo: true,
    protocol: 2 as const,
    maxRetriesPerRequest: 0,
    commandTimeout: 2000,
  }
  const ours = new Redis({ ...opts, port })
  const theirs = new Redis({ ...opts, port: nut.port })
  ours.on('error', () => {})
  theirs.on('error', () => {})
  try {
    await ours.connect().catch((e: Error) => {
      throw new Error(`ours: ${e.message}`)
    })
    await theirs.connect().catch((e: Error) => {
      throw new Error(`nutcracker: ${e.message}`)
    })
    const keys = Array.from({ length: 300 }, (_, i) => `frozen:${i}`)
    const mine = new Map(keys.map((k) => [k, { acked: '', unsure: new Set<string>() }]))
    const nuts = new Map(keys.map((k) => [k, { acked: '', unsure: new Set<string>() }]))
    assert.equal(await writeRound(ours, keys, mine, 'v0'), keys.length)
    assert.equal(await writeRound(theirs, keys, nuts, 'v0'), keys.length)

    const frozen = servers[1]!
    frozen.proc.kill('SIGSTOP')
    for (let round = 1; round <= 4; round++) {
      await Promise.all([
        writeRound(ours, keys, mine, `v${round}`),
        writeRound(theirs, keys, nuts, `v${round}`),
      ])
      await sleep(250)
    }
    const during = proxy.stats.cluster.servers.find((s) => s.id === 's1')!
    assert.equal(during.up, false, 'our proxy marked the frozen server down')
    frozen.proc.kill('SIGCONT')

    // Wait until our proxy fenced the server and took it back, and past nutcracker's server_retry_timeout.
    const start = Date.now()
    while (!proxy.stats.cluster.servers.every((s) => s.up) && Date.now() - start < 10_000) await sleep(50)
    assert.ok(
      proxy.stats.cluster.servers.every((s) => s.up),
      'the server came back into our proxy',
    )
    await sleep(1500)

    const a = await countStale(ours, keys, mine)
    const b = await countStale(theirs, keys, nuts)
    console.log(
      `stale reads after a frozen backend came back (${keys.length} keys): ` +
        `rendezvous proxy ${a.stale} (misses ${a.misses}, errors ${a.errors}); ` +
        `nutcracker ${b.stale} (misses ${b.misses}, errors ${b.errors})`,
    )
    assert.equal(a.stale, 0, 'our proxy never serves a value older than the last acknowledged write')
    assert.ok(b.stale > 0, 'nutcracker serves stale values in this scenario (the test exercises it)')
  } finally {
    // A failed assertion may leave the server stopped: it could neither answer nor exit.
    servers[1]!.proc.kill('SIGCONT')
    ours.disconnect()
    theirs.disconnect()
    await proxy.close()
    nut.proc.kill('SIGKILL')
    await Promise.all(servers.map((s) => s.kill()))
    rmSync(dir, { recursive: true, force: true })
  }
})
