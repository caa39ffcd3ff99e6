// `rendezvous node` as a process: option errors name the option, it logs where it listens, SIGTERM is graceful.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { describe, test } from 'node:test'
import { parseSize } from '../../src/cli/node.js'
import { encodeCommand } from '../../src/resp/encoder.js'
import { Status } from '../../src/resp/reply.js'
import { RawClient } from './server-helpers.js'

function cli(...args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

async function output(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d) => {
    stdout += d
  })
  child.stderr?.on('data', (d) => {
    stderr += d
  })
  const [code] = (await once(child, 'exit')) as [number | null]
  return { code, stdout, stderr }
}

describe('rendezvous node (CLI)', () => {
  test('parseSize reads redis.conf sizes', () => {
    assert.equal(parseSize('256mb'), 256 * 1024 * 1024)
    assert.equal(parseSize('1GB'), 1024 ** 3)
    assert.equal(parseSize('1k'), 1000)
    assert.equal(parseSize('123'), 123)
    assert.equal(parseSize('0'), 0)
    assert.equal(parseSize('abc'), null)
    assert.equal(parseSize('1.5mb'), null)
    assert.equal(parseSize('-1'), null)
  })

  test('a bad option is reported with its name and a non-zero exit', async () => {
    const [bad, policy, port] = await Promise.all([
      output(cli('node', '--maxmemory', 'abc')),
      output(cli('node', '--maxmemory-policy', 'lfu')),
      output(cli('node', '--port', '70000')),
    ])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /--maxmemory: expected a size like 256mb, got "abc"/)
    assert.match(policy.stderr, /--maxmemory-policy: expected allkeys-lru or noeviction, got "lfu"/)
    assert.match(port.stderr, /--port: expected an integer from 0 to 65535, got "70000"/)
  })

  test('logs where it listens, serves, and shuts down gracefully on SIGTERM', async () => {
    const child = cli('node', '--port', '0', '--maxmemory', '16mb')
    const result = output(child)
    let log = ''
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout?.on('data', (d) => {
        log += d
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(log)
        if (m) resolve(Number(m[1]))
      })
      child.once('exit', () => reject(new Error(`exited early: ${log}`)))
    })
    const c = await RawClient.open(port)
    c.write(Buffer.concat([encodeCommand(['SET', 'k', 'v']), encodeCommand(['CONFIG', 'GET', 'maxmemory'])]))
    const [ok, config] = await c.read(2)
    assert.deepEqual(ok, new Status('OK'))
    assert.deepEqual((config as Buffer[]).map(String), ['maxmemory', String(16 * 1024 * 1024)])
    child.kill('SIGTERM')
    await c.closedPromise
    const { code, stdout } = await result
    assert.equal(code, 0)
    assert.match(stdout, /SIGTERM: shutting down/)
    assert.match(stdout, /rendezvous node closed/)
  })
})
