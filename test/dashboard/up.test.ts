// `rendezvous up` on ports already in use: a clear message naming the port, exit code 2, nothing left running.
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { startUp } from './helpers.js'

function occupy(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const a = server.address()
      resolve({ server, port: typeof a === 'object' && a !== null ? a.port : 0 })
    })
  })
}

describe('rendezvous up on ports in use', () => {
  let busy: { server: Server; port: number }

  before(async () => {
    busy = await occupy()
  })

  after(() => new Promise<void>((resolve) => busy.server.close(() => resolve())))

  it('names the proxy port when --port is taken, exits 2 and leaves nothing running', async () => {
    const p = startUp(['--port', String(busy.port), '--dashboard', '0'])
    const code = await p.exited
    assert.equal(code, 2, p.output())
    assert.match(p.output(), new RegExp(`port ${busy.port} is already in use \\(proxy --port\\)`))
    assert.doesNotMatch(p.output(), /dashboard +http/)
  })

  it('names the dashboard port when --dashboard is taken', async () => {
    const p = startUp(['--port', '0', '--dashboard', String(busy.port)])
    const code = await p.exited
    assert.equal(code, 2, p.output())
    assert.match(p.output(), new RegExp(`port ${busy.port} is already in use \\(dashboard --dashboard\\)`))
  })

  it('refuses a bad option with a message naming it', async () => {
    const p = startUp(['--nodes', 'lots', '--port', '0', '--dashboard', '0'])
    assert.equal(await p.exited, 2, p.output())
    assert.match(p.output(), /--nodes: expected an integer/)
  })
})
