// End to end in a real browser: `rendezvous up` as a child process, Debian's chromium driven by playwright-core.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import { CHROMIUM, CHROMIUM_ARGS, haveChromium } from '../chromium.js'
import { eventually, startUp, type UpProcess, waitForBanner } from './helpers.js'

const KEYS = 600
const SCREENSHOT = process.env.UPDATE_SCREENSHOT === '1'

const have = haveChromium()

describe('dashboard in chromium', {
  skip: have ? false : `${CHROMIUM} not installed (apt-get install -y chromium)`,
}, () => {
  let up: UpProcess
  let ports: { proxy: number; dashboard: string }
  let profile: string
  let context: BrowserContext
  let page: Page
  let redis: Redis

  before(async () => {
    up = startUp(['--port', '0', '--dashboard', '0', '--nodes', '3', '--mode', 'store'])
    ports = await waitForBanner(up)
    profile = await mkdtemp(join(tmpdir(), 'rendezvous-chromium-'))
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      headless: true,
      viewport: { width: 1360, height: 1000 },
    })
    page = await context.newPage()
    redis = new Redis({ host: '127.0.0.1', port: ports.proxy, lazyConnect: true, maxRetriesPerRequest: 1 })
    await redis.connect()
  })

  after(async () => {
    redis?.disconnect()
    await context?.close()
    if (profile !== undefined) await rm(profile, { recursive: true, force: true })
    if (up !== undefined && up.child.exitCode === null && up.child.signalCode === null) {
      up.child.kill('SIGKILL')
      await up.exited
    }
  })

  const text = (selector: string) => page.locator(selector).first().textContent({ timeout: 30_000 })

  it('shows the servers, key counts as keys are written, a preview, a removal to completion, then stops cleanly', async () => {
    await page.goto(ports.dashboard)
    const rows = page.locator('#servers tr[data-server]')
    await rows.nth(2).waitFor({ timeout: 30_000 })
    assert.deepEqual(await rows.evaluateAll((trs) => trs.map((t) => t.getAttribute('data-server'))), [
      'node-1',
      'node-2',
      'node-3',
    ])
    assert.equal(await text('#mode'), 'store mode')
    assert.equal(await text('#total-keys'), '0')

    // Keys written through the proxy show up on the page.
    const pipe = redis.pipeline()
    for (let i = 0; i < KEYS; i++) pipe.set(`user:${i}`, `value ${i}`)
    await pipe.exec()
    await page.locator('#total-keys', { hasText: /^600$/ }).waitFor({ timeout: 30_000 })
    const perServer = await page
      .locator('#servers td[data-field="keys"]')
      .evaluateAll((tds) => tds.map((td) => Number((td.textContent ?? '').replace(/,/g, ''))))
    assert.equal(perServer.length, 3)
    // Store mode keeps 2 copies of each key, on two distinct servers.
    assert.equal(
      perServer.reduce((a, b) => a + b, 0),
      2 * KEYS,
    )

    // Reads through the proxy: every key is found (hit rates appear on the page).
    assert.equal(
      (await redis.mget(...Array.from({ length: KEYS }, (_, i) => `user:${i}`))).filter((v) => v !== null)
        .length,
      KEYS,
    )
    await page.locator('#total-hits', { hasText: '%' }).waitFor({ timeout: 30_000 })

    // A lookup shows the ranking and who holds the key.
    await page.fill('#lk-key', 'user:42')
    await page.click('#lk-go')
    await page.locator('#lk-owner').waitFor()
    const holders = await page.locator('#lk-result td[data-field="holds"].yes').count()
    assert.equal(holders, 2)

    // Preview the removal of node-2.
    await page.click('button[data-op="remove"]')
    await page.selectOption('#wi-server', 'node-2')
    await page.click('#wi-preview')
    await page.locator('#wi-summary').waitFor({ timeout: 30_000 })
    const flows = await page.locator('#wi-result .flow').allTextContents()
    assert.ok(flows.length > 0)
    for (const f of flows) assert.match(f, /^node-2\s+→\s+node-[13]/)
    if (SCREENSHOT) {
      await page.screenshot({
        path: fileURLToPath(new URL('../../docs/dashboard.png', import.meta.url)),
        fullPage: true,
      })
    }

    // Apply it: the migration runs to completion and node-2 leaves the table.
    await page.click('#wi-apply')
    await page.locator('#wi-message.ok').waitFor({ timeout: 30_000 })
    await page.locator('#migrations .mig[data-status="done"]').waitFor({ timeout: 60_000 })
    await page.locator('#servers tr[data-server="node-2"]').waitFor({ state: 'detached', timeout: 60_000 })
    assert.match((await text('#migrations .mig[data-status="done"]')) ?? '', /Removing node-2.*100%/)
    assert.equal(await rows.count(), 2)
    await page.locator('#total-keys', { hasText: /^600$/ }).waitFor({ timeout: 30_000 })
    const values = await redis.mget(...Array.from({ length: KEYS }, (_, i) => `user:${i}`))
    assert.deepEqual(
      values,
      Array.from({ length: KEYS }, (_, i) => `value ${i}`),
    )

    // Keys are user input: shown as text, never interpreted as HTML.
    const evil = '<img src=x onerror="window.__pwned=1">'
    await page.fill('#lk-key', evil)
    await page.click('#lk-go')
    await page.locator('#lk-shown', { hasText: 'onerror' }).waitFor()
    assert.equal(await text('#lk-shown'), evil)
    assert.equal(await page.locator('#lk-result img').count(), 0)
    assert.equal(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined)

    // Ctrl-C stops everything and exits 0.
    redis.disconnect()
    up.child.kill('SIGINT')
    assert.equal(await up.exited, 0, up.output())
    assert.match(up.output(), /rendezvous up: stopped/)
    await eventually('the dashboard to stop answering', async () => {
      try {
        await fetch(ports.dashboard)
        return undefined
      } catch {
        return true
      }
    })
  })
})
