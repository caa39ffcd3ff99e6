// The placement core in a real browser: bundled for the browser platform (no Node built-ins can sneak in), run in
// Debian's chromium, it must place keys exactly as it does in Node.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { build } from 'esbuild'
import { chromium } from 'playwright-core'
import { HierarchicalRendezvous, Rendezvous } from '../../src/placement/index.js'
import { CHROMIUM, CHROMIUM_ARGS, haveChromium } from '../chromium.js'

const have = haveChromium()

const servers = [
  { id: 'a', weight: 1 },
  { id: 'b', weight: 2.5 },
  { id: 'ß-☃', weight: 1e-300 },
  { id: 'd', weight: 1e300, zone: 'z1' },
  ...Array.from({ length: 40 }, (_, i) => ({ id: `s${i}`, weight: 1 + (i % 3), zone: `z${i % 4}` })),
]
// Equal weights and mild weights: in the browser too these run on the SIMD picks (pick.wat).
const even = Array.from({ length: 50 }, (_, i) => `e${i}`)
const mild = Array.from({ length: 50 }, (_, i) => ({ id: `m${i}`, weight: 1 + (i % 3) }))
const keys = [...Array.from({ length: 500 }, (_, i) => `user:${i}`), '', 'é', '😀 key', 'x\ud800y']

test('placement in chromium agrees with Node', {
  skip: have ? false : `${CHROMIUM} not installed`,
}, async () => {
  const bundle = await build({
    entryPoints: ['src/placement/index.ts'],
    bundle: true,
    format: 'iife',
    globalName: 'RDV',
    platform: 'browser',
    write: false,
  })
  const code = bundle.outputFiles[0]!.text
  const profile = await mkdtemp(join(tmpdir(), 'rendezvous-placement-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
  })
  try {
    const page = await context.newPage()
    await page.setContent('<!doctype html><title>placement</title>')
    await page.addScriptTag({ content: code })
    const inBrowser = await page.evaluate(
      ({ servers, even, mild, keys }) => {
        const g = globalThis as unknown as { RDV: typeof import('../../src/placement/index.js') }
        const flat = new g.RDV.Rendezvous(servers)
        const hier = new g.RDV.HierarchicalRendezvous(servers, { groups: 16, memberships: 4 })
        const flatEven = new g.RDV.Rendezvous(even)
        const flatMild = new g.RDV.Rendezvous(mild)
        return keys.map((k) => [
          flat.pick(k),
          flat.pickN(k, 3),
          hier.pick(k),
          flat.pick(new TextEncoder().encode(k)),
          flatEven.pick(k),
          flatMild.pick(k),
        ])
      },
      { servers, even, mild, keys },
    )
    const flat = new Rendezvous(servers)
    const hier = new HierarchicalRendezvous(servers, { groups: 16, memberships: 4 })
    const flatEven = new Rendezvous(even)
    const flatMild = new Rendezvous(mild)
    const inNode = keys.map((k) => [
      flat.pick(k),
      flat.pickN(k, 3),
      hier.pick(k),
      flat.pick(new TextEncoder().encode(k)),
      flatEven.pick(k),
      flatMild.pick(k),
    ])
    assert.deepEqual(inBrowser, inNode)
  } finally {
    await context.close()
    await rm(profile, { recursive: true, force: true })
  }
})
