// The dashboard's JSON API, /metrics and page over an in-process cluster of memory backends.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Cluster } from '../../src/cluster/cluster.js'
import { MemoryBackend } from '../../src/cluster/memory.js'
import { createDashboard, type Dashboard, type DashboardState } from '../../src/dashboard/index.js'
import { PAGE_CSS, PAGE_HTML, PAGE_JS } from '../../src/dashboard/page.js'
import type { WhatIf } from '../../src/dashboard/whatif.js'

const KEYS = Array.from({ length: 400 }, (_, i) => `user:${i}`)
const servers = [{ id: 'a' }, { id: 'b', weight: 2, zone: 'z2' }, { id: 'c' }]

describe('dashboard API', () => {
  let cluster: Cluster
  let dashboard: Dashboard
  let base: string

  before(async () => {
    cluster = new Cluster({
      servers,
      mode: 'store',
      replicas: 1,
      backendFactory: (s) => new MemoryBackend(s.id),
    })
    for (const k of KEYS) await cluster.set(k, `v-${k}`)
    dashboard = createDashboard({ cluster, servers, port: 0, intervalMs: 50 })
    base = (await dashboard.listen()).url
  })

  after(async () => {
    await dashboard.close()
    await cluster.close()
  })

  const get = async (path: string) => {
    const r = await fetch(new URL(path, base))
    return { status: r.status, headers: r.headers, body: (await r.text()) as string }
  }
  const post = async (path: string, body: unknown, raw = false) => {
    const r = await fetch(new URL(path, base), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: raw ? (body as string) : JSON.stringify(body),
    })
    return { status: r.status, json: (await r.json()) as Record<string, unknown> }
  }

  it('reports every server with its weight, zone, health and keys, and the totals', async () => {
    const s = JSON.parse((await get('/api/state')).body) as DashboardState
    assert.deepEqual(
      s.servers.map((x) => [x.id, x.weight, x.zone, x.health, x.member]),
      [
        ['a', 1, null, 'up', true],
        ['b', 2, 'z2', 'up', true],
        ['c', 1, null, 'up', true],
      ],
    )
    for (const x of s.servers) {
      assert.equal(x.keys, KEYS.filter((k) => cluster.ownerOf(k) === x.id).length, x.id)
    }
    assert.equal(s.totals.keys, KEYS.length)
    assert.equal(s.totals.live, 3)
    assert.equal(s.mode, 'store')
    assert.equal(s.epoch, cluster.epoch)
    assert.equal(s.servers.find((x) => x.id === 'b')!.expectedShare, 0.5)
  })

  it('previews a removal on scanned keys: only the removed server loses keys, as many as it owns', async () => {
    const r = await post('/api/whatif', { op: 'remove', id: 'b' })
    assert.equal(r.status, 200)
    const w = r.json as unknown as WhatIf
    assert.equal(w.sample.source, 'scanned')
    assert.equal(w.sample.keys, KEYS.length)
    const owned = KEYS.filter((k) => cluster.ownerOf(k) === 'b').length
    assert.equal(w.moved.keys, owned)
    assert.equal(w.moved.betweenUntouched, 0)
    assert.ok(w.moved.flows.every((f) => f.from === 'b' && f.to !== 'b'))
    assert.equal(w.moved.estimated, owned)
    const b = w.servers.find((x) => x.id === 'b')!
    assert.equal(b.shareAfter, 0)
    assert.equal(b.expectedAfter, 0)
    assert.equal(w.servers.find((x) => x.id === 'a')!.expectedAfter, 0.5)
  })

  it('previews an addition and a re-weight: keys move only to, or only from, the touched server', async () => {
    const add = (await post('/api/whatif', { op: 'add', id: 'd', weight: 1 })).json as unknown as WhatIf
    assert.ok(add.moved.keys > 0)
    assert.ok(add.moved.flows.every((f) => f.to === 'd'))
    const up = (await post('/api/whatif', { op: 'reweight', id: 'a', weight: 3 })).json as unknown as WhatIf
    assert.ok(up.moved.flows.every((f) => f.to === 'a'))
    const down = (await post('/api/whatif', { op: 'reweight', id: 'b', weight: '0.5' }))
      .json as unknown as WhatIf
    assert.ok(down.moved.flows.every((f) => f.from === 'b'))
  })

  it('answers bad input with 400 and the field at fault', async () => {
    const cases: [unknown, string][] = [
      [{ op: 'explode', id: 'a' }, 'op'],
      [{ op: 'remove' }, 'id'],
      [{ op: 'remove', id: 'zz' }, 'id'],
      [{ op: 'add', id: 'a' }, 'id'],
      [{ op: 'reweight', id: 'a' }, 'weight'],
      [{ op: 'reweight', id: 'a', weight: -1 }, 'weight'],
      [{ op: 'add', id: 'd', port: 70000 }, 'port'],
      [[1, 2], 'body'],
    ]
    for (const [body, field] of cases) {
      for (const path of ['/api/whatif', '/api/apply']) {
        const r = await post(path, body)
        assert.equal(r.status, 400, `${path} ${JSON.stringify(body)}`)
        assert.equal(r.json.field, field, `${path} ${JSON.stringify(body)}: ${String(r.json.error)}`)
        assert.match(String(r.json.error), new RegExp(`^${field}: `))
      }
    }
    const bad = await post('/api/whatif', '{not json', true)
    assert.equal(bad.status, 400)
    assert.equal(bad.json.field, 'body')
    const noKey = await get('/api/lookup')
    assert.equal(noKey.status, 400)
    assert.equal(JSON.parse(noKey.body).field, 'key')
    assert.equal((await get('/api/nothing')).status, 404)
    assert.equal((await get('/api/apply')).status, 405)
  })

  it('looks a key up: its ranking by score, its owner, and which servers hold it', async () => {
    const key = 'user:7'
    const r = await get(`/api/lookup?key=${encodeURIComponent(key)}`)
    assert.equal(r.status, 200)
    const j = JSON.parse(r.body) as {
      owner: string
      ranking: { id: string; rank: number; score: number; owner: boolean; holds: boolean }[]
    }
    assert.equal(j.owner, cluster.ownerOf(key))
    assert.equal(j.ranking[0]!.id, j.owner)
    assert.deepEqual(
      j.ranking.map((x) => x.rank),
      [1, 2, 3],
    )
    for (let i = 1; i < j.ranking.length; i++) assert.ok(j.ranking[i - 1]!.score >= j.ranking[i]!.score)
    assert.deepEqual(
      j.ranking.filter((x) => x.holds).map((x) => x.id),
      [j.owner],
    )
    const tagged = JSON.parse((await get(`/api/lookup?key=${encodeURIComponent('{user:7}:cart')}`)).body)
    assert.equal(tagged.route, 'user:7')
    assert.equal(tagged.owner, j.owner)
  })

  it('serves /metrics in Prometheus text format with the same figures', async () => {
    const r = await get('/metrics')
    assert.equal(r.status, 200)
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain/)
    assert.match(r.body, /^# TYPE rendezvous_server_keys gauge$/m)
    assert.match(r.body, new RegExp(`^rendezvous_cluster_keys ${KEYS.length}$`, 'm'))
    assert.match(r.body, /^rendezvous_server_weight\{server="b"\} 2$/m)
    assert.match(r.body, /^rendezvous_server_up\{server="a"\} 1$/m)
    assert.match(r.body, /^# TYPE rendezvous_server_requests_total counter$/m)
  })

  it('serves a self-contained page: same-origin assets only, a strict CSP, no HTML built from data', async () => {
    const r = await get('/')
    assert.equal(r.status, 200)
    assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'none'; script-src 'self'/)
    for (const text of [PAGE_HTML, PAGE_CSS, PAGE_JS]) {
      assert.doesNotMatch(text, /https?:\/\//, 'no external URL')
      assert.doesNotMatch(text, /@import|url\(/, 'no external style resources')
    }
    assert.doesNotMatch(PAGE_JS, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/)
    assert.equal((await get('/app.js')).body, PAGE_JS)
  })

  it('applies a removal through the migration API: keys drain and the server leaves', async () => {
    const r = await post('/api/apply', { op: 'remove', id: 'c' })
    assert.equal(r.status, 200, String(r.json.error))
    const m = r.json.migration as { id: number; reason: string; server: string }
    assert.equal(m.reason, 'leave')
    assert.equal(m.server, 'c')
    assert.deepEqual(cluster.servers, ['a', 'b'])
    await cluster.migration?.done
    const s = await dashboard.state()
    assert.deepEqual(
      s.servers.map((x) => x.id),
      ['a', 'b'],
    )
    const done = s.migrations.find((x) => x.id === m.id)!
    assert.equal(done.status, 'done')
    assert.equal(done.percent, 100)
    assert.equal(s.totals.keys, KEYS.length)
    for (const k of KEYS) assert.equal(await cluster.get(k), `v-${k}`)
    const again = await post('/api/apply', { op: 'remove', id: 'c' })
    assert.equal(again.status, 400)
    assert.equal(again.json.field, 'id')
  })
})
