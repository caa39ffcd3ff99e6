// Slab: chunks by size class in pages, reused when freed, pages released when they empty.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { chunkBytes, SLAB_MAX, Slab } from '../../src/node/slab.js'

test('chunk sizes are multiples of 16 bytes, at least 16, up to SLAB_MAX', () => {
  assert.deepEqual([0, 1, 16, 17, 64, 65, SLAB_MAX].map(chunkBytes), [16, 16, 16, 32, 64, 80, SLAB_MAX])
})

test('chunks of a page never overlap, and a freed chunk is handed out again', () => {
  const slab = new Slab()
  const handles = Array.from({ length: 5000 }, (_, i) => {
    const h = slab.alloc(30)
    slab.write(h, Buffer.alloc(30, i & 255))
    return h
  })
  assert.equal(new Set(handles).size, handles.length)
  for (const [i, h] of handles.entries()) assert.deepEqual(slab.view(h, 30), Buffer.alloc(30, i & 255))
  slab.free(handles[1234]!)
  assert.equal(slab.alloc(20), handles[1234], 'the same size class reuses the freed chunk first')
  for (const h of handles) assert.ok(Number.isInteger(h) && h >= 0 && h < 2 ** 31, `handle ${h} is a Smi`)
})

test('memory follows what is stored: emptied pages are released, one per size is kept for reuse', () => {
  const slab = new Slab()
  const big = Array.from({ length: 10_000 }, () => slab.alloc(100)) // 112-byte chunks: 585 per 64 KiB page
  const small = Array.from({ length: 100 }, () => slab.alloc(10))
  const full = slab.pageBytes
  assert.equal(full, (Math.ceil(10_000 / 585) + 1) * 65536)
  for (const h of big) slab.free(h)
  assert.equal(slab.pageBytes, 2 * 65536, 'one page kept for 112-byte chunks, one in use for 16-byte ones')
  for (const h of small) slab.free(h)
  assert.equal(slab.pageBytes, 2 * 65536)
  // Released page numbers are reused: handles stay small.
  const again = Array.from({ length: 10_000 }, () => slab.alloc(100))
  assert.equal(slab.pageBytes, full)
  assert.ok(Math.max(...again) < Math.max(...big) + 4096)
  slab.clear()
  assert.equal(slab.pageBytes, 0)
})
