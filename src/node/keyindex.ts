// The keyspace's index from key to slot: an open-addressing hash table in one typed array.
import { fmix32i, stepA, tailA } from '../placement/hash.js'

// Unexported on purpose, so that V8 inlines the character read (see placement/hash.ts).
const charCodeAt = String.prototype.charCodeAt

const MIN_BUCKETS = 1024

/**
 * Maps each stored key to its slot in the {@link Keyspace}. The keys themselves stay in the keyspace's slot
 * array (passed in), so the table holds only numbers: one Int32Array of (hash, slot + 1) pairs, probed
 * linearly, at most half full, with backward-shift deletion (no tombstones).
 *
 * Why not a `Map<string, number>`: every command makes a fresh key string from the request bytes, and V8 looks
 * a fresh string up in its global string table before it searches a Map. With 100,000 keys that made
 * `Map.get` about 500 ns against about 150 ns for this table (one probe reads the stored hash beside the slot,
 * so a key string is compared only when the full 32-bit hashes match). It also takes 8 to 16 bytes per key
 * against the Map's 30 or so.
 *
 * The hash is MurmurHash3 x86_32 over the key's char codes (latin1 strings: one byte each) with a seed drawn
 * per table, so keys that collide cannot be prepared in advance from the source alone.
 */
export class KeyIndex {
  #table: Int32Array
  #mask: number
  #size = 0
  readonly #keys: readonly (string | undefined)[]
  readonly #seed: number

  /** @param keys the keyspace's slot array: `keys[slot]` is the key stored in `slot` */
  constructor(keys: readonly (string | undefined)[], seed = (Math.random() * 2 ** 32) | 0) {
    this.#keys = keys
    this.#seed = seed
    this.#table = new Int32Array(2 * MIN_BUCKETS)
    this.#mask = MIN_BUCKETS - 1
  }

  /** Number of keys. */
  get size(): number {
    return this.#size
  }

  /** The table's hash of a key (tests override it to make keys collide). */
  hashOf(key: string): number {
    return hashKey(key, this.#seed)
  }

  /** {@link hashOf} of the key whose latin1 string is `bytes[start, end)`, from the bytes themselves. */
  hashOfBytes(bytes: Uint8Array, start: number, end: number): number {
    return hashBytes(bytes, start, end, this.#seed)
  }

  /**
   * The slot of the first of the (at most four) buckets from the home bucket of hash `h` that holds that hash,
   * or -1. A load ahead of a lookup (see Keyspace.prefetch), not a lookup: the slot may hold another key with
   * the same hash, and a key further along its run is not found. A key that is absent then costs no loads of
   * other keys' data (following the home bucket's slot whatever its hash made a pipeline of misses 1.4x slower).
   */
  slotOfHash(h: number): number {
    const t = this.#table
    const mask = this.#mask
    for (let i = h & mask, n = 0; n < 4; i = (i + 1) & mask, n++) {
      const s = t[2 * i + 1]!
      if (s === 0) return -1
      if (t[2 * i] === h) return s - 1
    }
    return -1
  }

  /** The slot of `key`, or -1 when it is absent. */
  get(key: string): number {
    const i = this.#bucket(key)
    return i < 0 ? -1 : this.#table[2 * i + 1]! - 1
  }

  /**
   * {@link get} of the key whose latin1 string is `bytes[start, end)`, without making that string: the hash is
   * read from the bytes and a stored key is compared with them char by char.
   */
  getBytes(bytes: Uint8Array, start: number, end: number): number {
    const t = this.#table
    const mask = this.#mask
    const h = this.hashOfBytes(bytes, start, end)
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const s = t[2 * i + 1]!
      if (s === 0) return -1
      if (t[2 * i] === h && sameKey(this.#keys[s - 1]!, bytes, start, end)) return s - 1
    }
  }

  /** The bucket holding `key`, or -1 when it is absent. */
  #bucket(key: string): number {
    const t = this.#table
    const mask = this.#mask
    const h = this.hashOf(key)
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const s = t[2 * i + 1]!
      if (s === 0) return -1
      if (t[2 * i] === h && this.#keys[s - 1] === key) return i
    }
  }

  /** Adds `key` at `slot`; the key must be absent (check with {@link get} first). */
  add(key: string, slot: number): void {
    if (2 * (this.#size + 1) > this.#mask + 1) this.#resize(2 * (this.#mask + 1))
    this.#insert(this.hashOf(key), slot + 1)
    this.#size++
  }

  /** Removes `key`; returns its slot, or -1 when it was absent. */
  delete(key: string): number {
    let i = this.#bucket(key)
    if (i < 0) return -1
    const t = this.#table
    const mask = this.#mask
    const slot = t[2 * i + 1]! - 1
    // Backward-shift deletion: pull later entries of the probe run into the hole when their home bucket
    // allows it, so that no lookup ever stops early at it.
    for (let j = (i + 1) & mask; t[2 * j + 1] !== 0; j = (j + 1) & mask) {
      const home = t[2 * j]! & mask
      // Entry j may move to hole i when its home is not cyclically within (i, j].
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        t[2 * i] = t[2 * j]!
        t[2 * i + 1] = t[2 * j + 1]!
        i = j
      }
    }
    t[2 * i] = 0
    t[2 * i + 1] = 0
    this.#size--
    const buckets = this.#mask + 1
    if (buckets > MIN_BUCKETS && 8 * this.#size < buckets) this.#resize(buckets / 2)
    return slot
  }

  #insert(h: number, slotPlusOne: number): void {
    const t = this.#table
    const mask = this.#mask
    let i = h & mask
    while (t[2 * i + 1] !== 0) i = (i + 1) & mask
    t[2 * i] = h
    t[2 * i + 1] = slotPlusOne
  }

  #resize(buckets: number): void {
    const old = this.#table
    this.#table = new Int32Array(2 * buckets)
    this.#mask = buckets - 1
    for (let i = 0; i < old.length; i += 2) if (old[i + 1] !== 0) this.#insert(old[i]!, old[i + 1]!)
  }
}

/** Whether `key` is the latin1 string of `bytes[start, end)`. */
function sameKey(key: string, bytes: Uint8Array, start: number, end: number): boolean {
  if (key.length !== end - start) return false
  for (let i = 0; i < key.length; i++) if (charCodeAt.call(key, i) !== bytes[start + i]) return false
  return true
}

/** {@link hashKey} of the latin1 string of `bytes[start, end)`, read from the bytes. */
export function hashBytes(bytes: Uint8Array, start: number, end: number, seed: number): number {
  let h = seed
  let i = start
  for (; i + 4 <= end; i += 4) {
    h = stepA(h, bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24))
  }
  let k = 0
  for (let shift = 0; i < end; i++, shift += 8) k |= bytes[i]! << shift
  const n = end - start
  if ((n & 3) !== 0) h = tailA(h, k)
  return fmix32i(h ^ n)
}

/** MurmurHash3 x86_32 of a string's char codes (one byte each for latin1 strings), with `seed`. */
export function hashKey(key: string, seed: number): number {
  let h = seed
  const n = key.length
  let i = 0
  for (; i + 4 <= n; i += 4) {
    const k =
      (charCodeAt.call(key, i) & 0xff) |
      ((charCodeAt.call(key, i + 1) & 0xff) << 8) |
      ((charCodeAt.call(key, i + 2) & 0xff) << 16) |
      (charCodeAt.call(key, i + 3) << 24)
    h = stepA(h, k)
  }
  let k = 0
  for (let shift = 0; i < n; i++, shift += 8) k |= (charCodeAt.call(key, i) & 0xff) << shift
  if ((n & 3) !== 0) h = tailA(h, k)
  return fmix32i(h ^ n)
}
