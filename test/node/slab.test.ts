// Slab: chunks by size class in pages, reused when freed, pages released when they empty.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { chunkBytes, SLAB_MAX, Slab } from '../../src/node/slab.js'
import { BY_REFERENCE } from '../../src/resp/encoder.js'

test('chunk sizes: 16-byte steps up to 1 KiB, then eight per doubling, never 12.5% over the value', () => {
  assert.deepEqual([0, 1, 16, 17, 64, 65, 1000, 1024, 1025, 2048, 2049, 5000, SLAB_MAX].map(chunkBytes), [
    16,
    16,
    16,
    32,
    64,
    80,
    1008,
    1024,
    1152,
    2048,
    2304,
    5120,
    SLAB_MAX,
  ])
  for (let n = 17; n <= SLAB_MAX; n++) {
    const c = chunkBytes(n)
    assert.ok(c >= n && c % 16 === 0 && (c - n < 16 || c - n <= n / 8), `${n} bytes in a ${c}-byte chunk`)
  }
})

test('a reply made from a chunk is copied by the reply writer, not passed by reference', () => {
  // GET replies with a view of its value's chunk; a later SET in the same pipeline may overwrite the chunk.
  assert.ok(SLAB_MAX < BY_REFERENCE)
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
