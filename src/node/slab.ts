// Off-heap storage of the keyspace's string values up to 8 KiB: chunks of a few sizes in 64 KiB pages.
//
// Why: a value held as a JavaScript string is a heap object that outlives the young generation, so every SET
// made V8's scavenger copy its value twice (to the survivor space, then to the old space) and left the old one
// for the mark-compactor. Measured on `redis-benchmark -P 16 -t set`: storing a constant instead of each value
// raised a node from 0.63x to 0.79x of redis-server, and this slab to 0.7-1.2x. Here a value is bytes in a page
// that the garbage collector never looks into, and the keyspace holds a small integer (a V8 Smi, which is not an
// object either).
import { copy, latin1Between, latin1Write, viewOf } from '../buffers.js'

/** Chunk sizes up to 1 KiB are multiples of this many bytes (as jemalloc's, under Redis, are in this range). */
export const SLAB_STEP = 16
/**
 * Longest value, in bytes, that goes to the slab; longer values are Buffers of their own. Below the reply
 * writer's BY_REFERENCE (16 KiB), so that a reply made from a chunk is copied before anything can change it.
 */
export const SLAB_MAX = 8 * 1024
const PAGE_BYTES = 64 * 1024
/** Bits of a handle that number the chunk within its page (a page has at most 4096 chunks, of 16 bytes). */
const CHUNK_BITS = 12
const CHUNK_MASK = (1 << CHUNK_BITS) - 1
/** Page numbers stay below this, so that a handle stays a 31-bit Smi: 512Ki pages, 32 GiB of values. */
const MAX_PAGES = 2 ** (31 - CHUNK_BITS)

/**
 * The chunk size that holds `length` bytes (0 <= length <= SLAB_MAX): the next multiple of 16 bytes up to
 * 1 KiB, then eight sizes per doubling (1152, 1280, ... 2048, 2304, ...), so that a chunk wastes at most
 * 15 bytes or 12.5% of its value.
 */
export function chunkBytes(length: number): number {
  if (length <= 1024) return length <= SLAB_STEP ? SLAB_STEP : (length + SLAB_STEP - 1) & ~(SLAB_STEP - 1)
  // The largest power of two not above an eighth of the size.
  const step = 1 << (28 - Math.clz32(length - 1))
  return (length + step - 1) & ~(step - 1)
}

/** One page: chunks of one size, handed out from its free list, else from its never-used end. */
class Page {
  readonly bytes: Buffer
  readonly memory: ArrayBuffer
  /** The same memory as 32-bit words: a free chunk's first word links to the next free chunk (-1 ends). */
  readonly words: Int32Array
  readonly size: number
  readonly count: number
  live = 0
  free = -1
  fresh = 0
  /** Where the page is in its class's list of pages with room, -1 when it is full (not listed). */
  pos = -1

  constructor(size: number) {
    this.memory = new ArrayBuffer(PAGE_BYTES)
    this.bytes = Buffer.from(this.memory)
    this.words = new Int32Array(this.memory)
    this.size = size
    this.count = Math.floor(PAGE_BYTES / size)
  }
}

/**
 * Chunks for byte strings of up to {@link SLAB_MAX} bytes, named by handles: non-negative integers below 2^31.
 * A chunk has the size {@link chunkBytes} gives for its string's length, which the caller keeps. Chunks of one
 * size share pages; a page whose last chunk is freed is released unless it is its size's only page with room,
 * so memory follows what is stored rather than its peak.
 */
export class Slab {
  /** Pages by number; null where a released page's number waits in #spare for reuse. */
  #pages: (Page | null)[] = []
  #spare: number[] = []
  /** Per chunk size (index = size / SLAB_STEP): numbers of its pages with a free chunk, the last one used first. */
  #room: number[][] = Array.from({ length: SLAB_MAX / SLAB_STEP + 1 }, () => [])
  #bytes = 0
  readonly #maxPages: number

  /** @param maxPages most pages held at once. @default 524288 (32 GiB, the most that handles can name) */
  constructor(maxPages = MAX_PAGES) {
    if (!Number.isSafeInteger(maxPages) || maxPages < 1) {
      throw new TypeError(`slabPages must be a positive integer, got ${String(maxPages)}`)
    }
    this.#maxPages = Math.min(maxPages, MAX_PAGES)
  }

  /** Bytes of all pages held (what the slab costs the process). */
  get pageBytes(): number {
    return this.#bytes
  }

  /**
   * A chunk for a string of `length` bytes (0 <= length <= SLAB_MAX), its content undefined until written; or
   * -1 when a new page is needed and the slab already has its most (32 GiB): the caller stores the string
   * elsewhere.
   */
  alloc(length: number): number {
    const size = chunkBytes(length)
    const room = this.#room[size / SLAB_STEP]!
    const n = room.length > 0 ? room[room.length - 1]! : this.#newPage(size, room)
    if (n < 0) return -1
    const page = this.#pages[n]!
    let chunk = page.free
    if (chunk >= 0) page.free = page.words[(chunk * page.size) >> 2]!
    else chunk = page.fresh++
    page.live++
    if (page.free < 0 && page.fresh === page.count) {
      room.pop()
      page.pos = -1
    }
    return n * (CHUNK_MASK + 1) + chunk
  }

  /** Frees a chunk from {@link alloc}; its handle must not be used again. */
  free(handle: number): void {
    const n = handle >>> CHUNK_BITS
    const page = this.#pages[n]!
    const chunk = handle & CHUNK_MASK
    page.words[(chunk * page.size) >> 2] = page.free
    page.free = chunk
    page.live--
    const room = this.#room[page.size / SLAB_STEP]!
    if (page.pos === -1) {
      page.pos = room.length
      room.push(n)
    }
    if (page.live === 0 && room.length > 1) {
      // Swap the last page with room into this one's place, then drop this one.
      const last = room.pop()!
      if (last !== n) {
        room[page.pos] = last
        this.#pages[last]!.pos = page.pos
      }
      this.#pages[n] = null
      this.#spare.push(n)
      this.#bytes -= PAGE_BYTES
    }
  }

  /** Writes `source` into a chunk from byte `at` (it must fit). */
  write(handle: number, source: Uint8Array, at = 0): void {
    const page = this.#pages[handle >>> CHUNK_BITS]!
    copy.call(source, page.bytes, (handle & CHUNK_MASK) * page.size + at)
  }

  /** Writes the latin1 string `s` into a chunk from byte `at` (it must fit). */
  writeLatin1(handle: number, s: string, at = 0): void {
    const page = this.#pages[handle >>> CHUNK_BITS]!
    latin1Write(page.bytes, s, (handle & CHUNK_MASK) * page.size + at, s.length)
  }

  /** `length` bytes of a chunk from byte `at`, as a view: valid until the chunk is freed. */
  view(handle: number, length: number, at = 0): Buffer {
    const page = this.#pages[handle >>> CHUNK_BITS]!
    return viewOf(page.memory, (handle & CHUNK_MASK) * page.size + at, length)
  }

  /** `length` bytes of a chunk from byte `at`, as a latin1 string (a copy). */
  latin1(handle: number, length: number, at = 0): string {
    const page = this.#pages[handle >>> CHUNK_BITS]!
    const start = (handle & CHUNK_MASK) * page.size + at
    return latin1Between(page.bytes, start, start + length)
  }

  /** Byte `i` of a chunk (loads its memory, for a prefetch). */
  byteAt(handle: number, i: number): number {
    const page = this.#pages[handle >>> CHUNK_BITS]!
    return page.bytes[(handle & CHUNK_MASK) * page.size + i]!
  }

  /** Frees every chunk and page. */
  clear(): void {
    this.#pages = []
    this.#spare = []
    for (const room of this.#room) room.length = 0
    this.#bytes = 0
  }

  #newPage(size: number, room: number[]): number {
    const n = this.#spare.length > 0 ? this.#spare.pop()! : this.#pages.length
    if (n >= this.#maxPages) return -1
    const page = new Page(size)
    if (n === this.#pages.length) this.#pages.push(page)
    else this.#pages[n] = page
    page.pos = room.length
    room.push(n)
    this.#bytes += PAGE_BYTES
    return n
  }
}
