// `rendezvous proxy --dashboard PORT`: the proxy serves the dashboard too; a taken port is named and nothing stays up.
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { createNode, type NodeServer } from '../../src/node/index.js'
import { eventually, startCli } from './helpers.js'

describe('rendezvous proxy --dashboard', () => {
  const nodes: NodeServer[] = []
  const servers: string[] = []

  before(async () => {
    for (let i = 0; i < 2; i++) {
      const node = createNode({ port: 0 })
      const { port } = await node.listen()
      nodes.push(node)
      servers.push('--server', `127.0.0.1:${port},id=n${i}`)
    }
  })

  after(async () => {
    await Promise.all(nodes.map((n) => n.close()))
  })

  it('serves the dashboard of the proxy and stops both on SIGINT', async () => {
    const p = startCli(['proxy', '--listen', '127.0.0.1:0', ...servers, '--dashboard', '0'])
    try {
      const url = await eventually('the dashboard banner', async () => {
        return /dashboard on (http:\/\/\S+)/.exec(p.output())?.[1]
      })
      const state = (await (await fetch(new URL('/api/state', url))).json()) as { servers: { id: string }[] }
      assert.deepEqual(state.servers.map((s) => s.id).sort(), ['n0', 'n1'])
      const page = await (await fetch(url)).text()
      assert.match(page, /<html/i)
      p.child.kill('SIGINT')
      assert.equal(await p.exited, 0, p.output())
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL')
    }
  })

  it('names the dashboard port when it is taken and leaves nothing running', async () => {
    const busy = createServer()
    await new Promise<void>((resolve) => busy.listen({ host: '127.0.0.1', port: 0 }, resolve))
    const taken = (busy.address() as { port: number }).port
    try {
      const p = startCli(['proxy', '--listen', '127.0.0.1:0', ...servers, '--dashboard', String(taken)])
      const code = await p.exited
      assert.notEqual(code, 0, p.output())
      assert.match(p.output(), new RegExp(`port ${taken} is already in use \\(proxy --dashboard\\)`))
    } finally {
      await new Promise<void>((resolve) => busy.close(() => resolve()))
    }
  })
})
