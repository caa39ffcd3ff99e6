// The node's data: a byte-accounted LRU keyspace with TTLs, maxmemory eviction, active expiry and INFO stats.
import { performance } from 'node:perf_hooks'
import { latin1Of } from '../buffers.js'
import { KeyIndex } from './keyindex.js'
import { chunkBytes, SLAB_MAX, Slab } from './slab.js'

// Unexported on purpose, so that V8 inlines the character read (see placement/hash.ts).
const charCodeAt = String.prototype.charCodeAt

/**
 * A string value as commands see it. Keys, hash fields and values are arbitrary bytes; keys and hash field names
 * are held as JavaScript strings in the `latin1` encoding (one char per byte, char codes 0-255, lossless both
 * ways), which V8 stores one byte per char. A key's value of up to {@link SLAB_MAX} (8 KiB), and a hash field's
 * value of up to {@link INLINE_MAX} (1 KiB), is stored as bytes in the keyspace's {@link Slab}, outside the V8
 * heap, and read back as such a string (or, for replies, as a view: {@link Keyspace.view},
 * {@link Keyspace.hashView}). Longer values are `Buffer`s, so that a large GET allocates nothing and no value
 * hits V8's maximum string length. A stored Buffer is never mutated in place, so a reply may hand it to the
 * socket without copying.
 */
export type StringValue = string | Buffer

/**
 * A hash value: fields (latin1 strings) to values, with its own byte count kept up to date by Keyspace. Read
 * its values through {@link Keyspace.hashGet}, {@link Keyspace.hashView} and {@link Keyspace.hashForEach};
 * change them only through {@link Keyspace.hashSet} and {@link Keyspace.hashDelete}.
 */
export class Hash {
  /**
   * Field name (latin1) to value: a handle of the keyspace's slab (a value of up to {@link INLINE_MAX} bytes,
   * stored after its length in 2 bytes) or a Buffer.
   */
  readonly fields = new Map<string, number | Buffer>()
  /** Accounted bytes of all fields (names, values and per-field overhead). */
  bytes = 0

  /** Number of fields. */
  get size(): number {
    return this.fields.size
  }
}

/** What a key holds. */
export type Value = StringValue | Hash

/** What a key holds, as TYPE names it. */
export type ValueType = 'string' | 'hash'

/** What a slot holds: a {@link Slab} handle (a short string value), a long string value, or a hash. */
type Stored = number | Buffer | Hash

/** Longest hash field value (in bytes) stored in the slab rather than as a Buffer. */
export const INLINE_MAX = 1024

/**
 * Accounted bytes per key beyond its key and value: its Map entry (about 30 bytes), its key and value array
 * cells (8 + 8), its expiry time (8), reference bit (4) and free-list link (4) in a typed array, plus their
 * growth slack.
 * Measured on Node 20 for 1,000,000 keys: 67 bytes per key. V8's garbage-collector headroom is not included.
 */
export const ENTRY_OVERHEAD = 68
/** Accounted bytes of a string besides its chars: V8's SeqOneByteString header (then rounded up to 8). */
export const STRING_OVERHEAD = 16
/** Accounted bytes of a Buffer besides its bytes: the Uint8Array object V8 allocates for it. */
export const BUFFER_OVERHEAD = 96
/** Accounted bytes of an empty hash: the Hash object and its Map's initial table. */
export const HASH_OVERHEAD = 160
/** Accounted bytes per hash field besides its name and value: its share of the Map's table. */
export const FIELD_OVERHEAD = 40

/** Scratch for a hash field value's 2-byte length. */
const LENGTH_PREFIX = Buffer.alloc(2)

/** Most keys {@link Keyspace.prefetch} loads ahead at once. */
export const PREFETCH_MAX = 32

/** Pass as `expireAt` to {@link Keyspace.set} to keep the key's current time to live (SET KEEPTTL). */
export const KEEP_TTL = -1

/** Redis's eviction policies that the node supports. */
export type MaxmemoryPolicy = 'allkeys-lru' | 'noeviction'

/** Options of {@link Keyspace}. */
export interface KeyspaceOptions {
  /**
   * Upper bound of the accounted bytes (see {@link Keyspace.usedMemory}); 0 means unlimited.
   * @default 0
   */
  maxmemory?: number
  /**
   * What to do when a write would go over `maxmemory`: evict least recently used keys, or refuse commands
   * flagged `denyoom` with Redis's OOM error.
   * @default 'noeviction'
   */
  maxmemoryPolicy?: MaxmemoryPolicy
  /**
   * The clock of key expiry, in milliseconds since the epoch. Inject a fake one in tests.
   * @default Date.now
   */
  now?: () => number
  /**
   * Source of randomness for RANDOMKEY, returning a number in [0, 1).
   * @default Math.random
   */
  random?: () => number
  /**
   * Active expiry cycles per second started by {@link Keyspace.start} (Redis's `hz`).
   * @default 10
   */
  hz?: number
  /**
   * Time budget of one active expiry cycle in milliseconds (Redis gives 25% of each `1000 / hz` period).
   * @default 25
   */
  activeExpireCycleMs?: number
  /**
   * Keys with a TTL looked at per round of an active expiry cycle; a cycle repeats rounds while more than
   * 25% of the sampled keys had expired.
   * @default 20
   */
  activeExpireSamples?: number
  /**
   * Longest string a command may create (APPEND, SETRANGE), like Redis's `proto-max-bulk-len`.
   * @default 536870912 (512 MB)
   */
  protoMaxBulkLen?: number
  /**
   * Most 64 KiB pages the slab of short values may hold; once they are full, a value that needs a new page is
   * stored as a Buffer of its own instead.
   * @default 524288 (32 GiB, the most that the slab's handles can name)
   */
  slabPages?: number
}

/** Counters of a keyspace, as INFO reports them. */
export interface KeyspaceStats {
  /** Reads that found their key (INFO `keyspace_hits`). */
  hits: number
  /** Reads that did not (INFO `keyspace_misses`). */
  misses: number
  /** Keys deleted because their TTL passed, lazily or by the active cycle (INFO `expired_keys`). */
  expiredKeys: number
  /** Keys evicted to stay under maxmemory (INFO `evicted_keys`). */
  evictedKeys: number
  /** Active expiry cycles that stopped on their time budget (INFO `expired_time_cap_reached_count`). */
  expiredTimeCapReachedCount: number
  /** Active expiry cycles run. */
  activeExpireCycles: number
}

/** Accounted bytes of a string held on the V8 heap (a key, a hash field or its value). */
export function stringBytes(v: StringValue): number {
  return typeof v === 'string' ? (STRING_OVERHEAD + v.length + 7) & ~7 : BUFFER_OVERHEAD + v.length
}

/** Accounted bytes of a key's value: its slab chunk when short, else its Buffer or hash. */
export function valueBytes(v: Value): number {
  if (v instanceof Hash) return HASH_OVERHEAD + v.bytes
  return v.length <= SLAB_MAX ? chunkBytes(v.length) : BUFFER_OVERHEAD + v.length
}

/** Accounted bytes of a whole entry: per-entry overhead, key and value. */
export function entryBytes(key: string, v: Value): number {
  return ENTRY_OVERHEAD + stringBytes(key) + valueBytes(v)
}

/** Accounted bytes of a hash field's value of `length` bytes: its slab chunk (with the length), or a Buffer. */
export function fieldValueBytes(length: number): number {
  return length <= INLINE_MAX ? chunkBytes(length + 2) : BUFFER_OVERHEAD + length
}

/** The key (or field) for raw bytes: their latin1 string. */
export function keyOf(buf: Buffer): string {
  return latin1Of(buf)
}

/** The bytes of a string value, as a reply. A stored Buffer is returned as is (it is never mutated). */
export function bytesOf(v: StringValue): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'latin1') : v
}

/** Redis's `bytesToHuman`: 1023B, 1.00K, 1.50M, ... */
export function bytesToHuman(n: number): string {
  const units = ['K', 'M', 'G', 'T', 'P']
  if (n < 1024) return `${n}B`
  let d = n / 1024
  for (const u of units) {
    if (d < 1024 || u === 'P') return `${d.toFixed(2)}${u}`
    d /= 1024
  }
  return `${n}B`
}

/**
 * The keyspace of a node (Redis's db0).
 *
 * Layout: a {@link KeyIndex} from key to slot number, and per-slot storage: the key and the value in two arrays, the
 * absolute expiry time (0 = none) and a reference bit in one typed array. A key keeps its slot for its whole
 * life and freed slots are reused (a free list threaded through the slots), which gives SCAN a stable,
 * stateless cursor (see {@link Keyspace.scan}). Eviction approximates LRU with the CLOCK algorithm (see
 * `#victim`), so that an access sets one number instead of relinking a list. Slots with a TTL are also in a
 * Set that the active expiry cycle walks round-robin. Byte accounting is a running total of
 * {@link entryBytes} (hashes adjust it per field).
 *
 * Why not the `lru-cache` package: it was the first implementation (key to slot, with its `size`
 * accounting), and measurement showed it cannot meet the memory target. Loading 1,000,000 keys with
 * 64-byte values through the server left the process at 440 MB RSS against redis-server's 184 MB (target:
 * at most 2x), because lru-cache without `max` keeps five plain growable arrays per entry (key, value, next,
 * prev, size) whose growth copies stay in the V8 heap, on top of this class's own per-slot data. Typed
 * arrays for the numeric per-slot data live outside the V8 heap and are freed at once when they grow.
 *
 * Expiry follows Redis: a key whose expiry time is T is alive while now <= T, and never seen after.
 */
export class Keyspace {
  #keys: (string | undefined)[] = []
  /** Scratch of {@link prefetch}: each key's slot, and the sum of what it loaded. */
  readonly #ahead = new Int32Array(PREFETCH_MAX)
  #aheadSum = 0
  #index = new KeyIndex(this.#keys)
  /** Each slot's value: a {@link Slab} handle (short strings), a Buffer (long ones) or a Hash. */
  #vals: (Stored | undefined)[] = []
  readonly #slab: Slab
  // Per-slot numbers, interleaved so that one slot's fit in 16 bytes (one cache line): its expiry time at
  // #exp[2 * slot], its reference bit (1 = accessed since the clock hand last passed) at #meta[4 * slot + 2],
  // and at #meta[4 * slot + 3] the length of its value when that is in the slab, or the next free slot when
  // the slot is free.
  #exp = new Float64Array(0)
  #meta = new Int32Array(0)
  /** The clock hand: the next slot eviction looks at. */
  #hand = 0
  #capacity = 0
  #slots = 0 // slots ever used (the SCAN cursor space): [0, #slots)
  #freeHead = -1
  #used = 0
  #volatile = new Set<number>()
  #sampler: Iterator<number> | undefined
  #now: () => number
  #random: () => number
  #maxmemory: number
  #policy: MaxmemoryPolicy
  #hz: number
  #cycleMs: number
  #samples: number
  #protoMaxBulkLen: number
  #timer: ReturnType<typeof setInterval> | undefined
  #peak = 0
  #avgTtl = 0
  #stalePerc = 0
  readonly #stats: KeyspaceStats = {
    hits: 0,
    misses: 0,
    expiredKeys: 0,
    evictedKeys: 0,
    expiredTimeCapReachedCount: 0,
    activeExpireCycles: 0,
  }

  constructor(options: KeyspaceOptions = {}) {
    const {
      maxmemory = 0,
      maxmemoryPolicy = 'noeviction',
      now = Date.now,
      random = Math.random,
      hz = 10,
      activeExpireCycleMs = 25,
      activeExpireSamples = 20,
      protoMaxBulkLen = 512 * 1024 * 1024,
      slabPages,
    } = options
    if (typeof now !== 'function') throw new TypeError('now must be a function returning milliseconds')
    if (typeof random !== 'function') throw new TypeError('random must be a function returning [0, 1)')
    if (!(hz > 0 && hz <= 500)) throw new TypeError(`hz must be in (0, 500], got ${hz}`)
    if (!(activeExpireCycleMs > 0)) throw new TypeError('activeExpireCycleMs must be positive')
    if (!Number.isInteger(activeExpireSamples) || activeExpireSamples < 1) {
      throw new TypeError('activeExpireSamples must be a positive integer')
    }
    if (!Number.isSafeInteger(protoMaxBulkLen) || protoMaxBulkLen < 1) {
      throw new TypeError('protoMaxBulkLen must be a positive integer')
    }
    this.#now = now
    this.#random = random
    this.#maxmemory = 0
    this.#policy = 'noeviction'
    this.#hz = hz
    this.#cycleMs = activeExpireCycleMs
    this.#samples = activeExpireSamples
    this.#protoMaxBulkLen = protoMaxBulkLen
    this.#slab = new Slab(slabPages)
    this.maxmemory = maxmemory
    this.maxmemoryPolicy = maxmemoryPolicy
  }

  /** The memory limit in accounted bytes (0 = unlimited). Setting it evicts at once under `allkeys-lru`. */
  get maxmemory(): number {
    return this.#maxmemory
  }

  set maxmemory(bytes: number) {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      throw new TypeError(`maxmemory must be a non-negative integer of bytes, got ${bytes}`)
    }
    this.#maxmemory = bytes
    this.#evict()
  }

  /** The eviction policy. */
  get maxmemoryPolicy(): MaxmemoryPolicy {
    return this.#policy
  }

  set maxmemoryPolicy(policy: MaxmemoryPolicy) {
    if (policy !== 'allkeys-lru' && policy !== 'noeviction') {
      throw new TypeError(`maxmemoryPolicy must be 'allkeys-lru' or 'noeviction', got ${String(policy)}`)
    }
    this.#policy = policy
    this.#evict()
  }

  /** Longest string a command may create, in bytes (`protoMaxBulkLen`). */
  get protoMaxBulkLen(): number {
    return this.#protoMaxBulkLen
  }

  /** The expiry clock (milliseconds). */
  now(): number {
    return this.#now()
  }

  /** Number of keys, including expired keys not reclaimed yet (as Redis's DBSIZE). */
  get size(): number {
    return this.#index.size
  }

  /** Number of keys with a TTL. */
  get volatileCount(): number {
    return this.#volatile.size
  }

  /** Accounted bytes of all entries (keys, values and per-entry overhead): INFO `used_memory`. */
  get usedMemory(): number {
    return this.#used
  }

  /** Bytes of the slab pages that hold the short string values (allocated, whether used or free). */
  get slabBytes(): number {
    return this.#slab.pageBytes
  }

  /** The counters (live object, read-only to callers). */
  get stats(): Readonly<KeyspaceStats> {
    return this.#stats
  }

  // --- slots and their access bits ---

  #grow(): void {
    const capacity = Math.max(1024, this.#capacity * 2)
    const exp = new Float64Array(2 * capacity)
    exp.set(this.#exp)
    this.#exp = exp
    this.#meta = new Int32Array(exp.buffer)
    this.#capacity = capacity
  }

  #allocSlot(): number {
    const free = this.#freeHead
    if (free >= 0) {
      this.#freeHead = this.#meta[4 * free + 3]!
      return free
    }
    if (this.#slots === this.#capacity) this.#grow()
    const slot = this.#slots++
    this.#keys.push(undefined)
    this.#vals.push(undefined)
    return slot
  }

  /**
   * Loads what looking up some keys will read, every key's first before any key's second: the bucket, the
   * stored key, its expiry and reference bit, and the value. Run over the keys of a pipeline before its
   * commands, it lets their cache misses overlap instead of following one another (the misses are most of a
   * lookup once the keys outgrow the CPU's caches). Keys are the latin1 strings of byte ranges of `bytes`:
   * `ranges[2 * i]` to `ranges[2 * i + 1]` for i below `count` (at most {@link PREFETCH_MAX} are used). Reads
   * only: nothing observable changes.
   */
  prefetch(bytes: Uint8Array, ranges: Int32Array, count: number): void {
    const slots = this.#ahead
    const n = Math.min(count, PREFETCH_MAX)
    const index = this.#index
    for (let i = 0; i < n; i++) {
      slots[i] = index.slotOfHash(index.hashOfBytes(bytes, ranges[2 * i]!, ranges[2 * i + 1]!))
    }
    const keys = this.#keys
    const vals = this.#vals
    const meta = this.#meta
    let sum = 0
    for (let i = 0; i < n; i++) {
      const slot = slots[i]!
      if (slot < 0) continue
      // A string's chars may run past the cache line of its header: its last char is read too.
      const key = keys[slot]
      if (key !== undefined && key.length > 0) sum += charCodeAt.call(key, key.length - 1)
      sum += meta[4 * slot + 2]!
    }
    for (let i = 0; i < n; i++) {
      const slot = slots[i]!
      if (slot < 0) continue
      const v = vals[slot]
      // The last byte: a value may run past the cache line of its first.
      if (typeof v === 'number') sum += this.#slab.byteAt(v, Math.max(0, meta[4 * slot + 3]! - 1))
    }
    // Kept, so that the compiler cannot drop the loads as unused.
    this.#aheadSum = (this.#aheadSum + sum) | 0
  }

  /** Records an access to `slot`: it gets a second chance when the clock hand comes by. */
  #touch(slot: number): void {
    this.#meta[4 * slot + 2] = 1
  }

  /** The slot of a key, given as its string or its bytes (no string made), or -1. */
  #slotOf(key: string | Buffer): number {
    return typeof key === 'string' ? this.#index.get(key) : this.#index.getBytes(key, 0, key.length)
  }

  // Lookup of a live slot: -1 when missing or expired (an expired key is deleted on the spot).
  #find(key: string | Buffer, touch: boolean): number {
    const slot = this.#slotOf(key)
    if (slot < 0) return -1
    const at = this.#exp[2 * slot]!
    if (at !== 0 && this.#now() > at) {
      this.#remove(this.#keys[slot]!, slot)
      this.#stats.expiredKeys++
      return -1
    }
    if (touch) this.#touch(slot)
    return slot
  }

  /** Deletes the entry in `slot`; its value's memory is freed unless `keep` (the value moves: RENAME). */
  #remove(key: string, slot: number, keep = false): void {
    this.#index.delete(key)
    this.#used -= this.#entryBytesAt(key, slot)
    if (!keep) this.#free(this.#vals[slot]!)
    this.#keys[slot] = undefined
    this.#vals[slot] = undefined
    if (this.#exp[2 * slot] !== 0) {
      this.#exp[2 * slot] = 0
      this.#volatile.delete(slot)
    }
    this.#meta[4 * slot + 3] = this.#freeHead
    this.#freeHead = slot
  }

  /**
   * Read lookup (Redis's lookupKeyRead): the live value or undefined, counting a hit or a miss.
   * @param touch - false to leave the LRU order alone (Redis's LOOKUP_NOTOUCH).
   */
  read(key: string, touch = true): Value | undefined {
    const slot = this.#readSlot(key, touch)
    return slot < 0 ? undefined : this.#valueAt(slot)
  }

  /**
   * {@link read} for a reply: a short string value comes as a view of its stored bytes instead of a copy,
   * valid only until the keyspace next changes (a reply is written out before that). The key may be given as
   * its bytes (a command's argument), which saves making its string.
   */
  view(key: string | Buffer): Buffer | Hash | undefined {
    const slot = this.#readSlot(key, true)
    if (slot < 0) return undefined
    const v = this.#vals[slot]!
    return typeof v === 'number' ? this.#slab.view(v, this.#meta[4 * slot + 3]!) : v
  }

  #readSlot(key: string | Buffer, touch: boolean): number {
    const slot = this.#find(key, touch)
    if (slot < 0) this.#stats.misses++
    else this.#stats.hits++
    return slot
  }

  /** Write lookup (Redis's lookupKeyWrite): the live value or undefined; touches, counts nothing. */
  get(key: string): Value | undefined {
    const slot = this.#find(key, true)
    return slot < 0 ? undefined : this.#valueAt(slot)
  }

  /**
   * Frees what a stored value holds in the slab. A hash is emptied too: a command still holding it (an HSET
   * whose hash was evicted by its own earlier field) then starts it afresh instead of storing freed chunks.
   */
  #free(v: Stored): void {
    if (typeof v === 'number') {
      this.#slab.free(v)
    } else if (v instanceof Hash) {
      for (const f of v.fields.values()) if (typeof f === 'number') this.#slab.free(f)
      v.fields.clear()
      v.bytes = 0
    }
  }

  /** A slot's value as commands see it: a slab value is read out as a latin1 string. */
  #valueAt(slot: number): Value {
    const v = this.#vals[slot]!
    return typeof v === 'number' ? this.#slab.latin1(v, this.#meta[4 * slot + 3]!) : v
  }

  /** Accounted bytes of a slot's entry (see {@link entryBytes}). */
  #entryBytesAt(key: string, slot: number): number {
    const v = this.#vals[slot]!
    const bytes =
      typeof v === 'number'
        ? chunkBytes(this.#meta[4 * slot + 3]!)
        : v instanceof Hash
          ? HASH_OVERHEAD + v.bytes
          : BUFFER_OVERHEAD + v.length
    return ENTRY_OVERHEAD + stringBytes(key) + bytes
  }

  /** Whether the key is alive, without counting or touching. */
  has(key: string): boolean {
    return this.#find(key, false) >= 0
  }

  /**
   * Stores a value. A string or Buffer of up to {@link SLAB_MAX} bytes is copied into the slab; a longer
   * Buffer is kept as it is, so the caller must not change it afterwards (see {@link setCopy}).
   * @param expireAt - absolute expiry time in ms; 0 (default) removes any TTL; {@link KEEP_TTL} keeps it.
   *   A time already past is stored as is, and the key is then never seen again (as Redis does).
   */
  set(key: string, value: Value, expireAt = 0): void {
    this.#store(key, value, expireAt)
  }

  /**
   * {@link set} of a copy of `bytes`, which the caller may reuse (a command's argument, a view of its input).
   * The key may be given as its bytes, which saves making its string unless the key is new.
   */
  setCopy(key: string | Buffer, bytes: Buffer, expireAt = 0): void {
    this.#store(key, bytes.length > SLAB_MAX ? Buffer.from(bytes) : bytes, expireAt)
  }

  #store(key: string | Buffer, value: Value, expireAt: number): void {
    const slot = this.#claim(key)
    // The old value's chunk, if any (undefined for a new key): reused when the new value needs the same size,
    // as an overwrite of a cache entry usually does, else freed.
    const old = this.#vals[slot]
    const slab = this.#slab
    if (value instanceof Hash) {
      if (old !== undefined && old !== value) this.#free(old)
      this.#vals[slot] = value
    } else {
      const n = value.length
      let handle = -1
      if (n <= SLAB_MAX) {
        if (typeof old === 'number' && chunkBytes(this.#meta[4 * slot + 3]!) === chunkBytes(n)) {
          handle = old
        } else {
          if (old !== undefined) this.#free(old)
          handle = slab.alloc(n)
        }
      } else if (old !== undefined) {
        this.#free(old)
      }
      if (handle >= 0) {
        if (typeof value === 'string') slab.writeLatin1(handle, value)
        else slab.write(handle, value)
        this.#vals[slot] = handle
        this.#meta[4 * slot + 3] = n
      } else {
        // A long value, or a short one while the slab is full: a Buffer of its own (a private copy when short:
        // setCopy copies only long ones).
        this.#vals[slot] =
          typeof value === 'string'
            ? Buffer.from(value, 'latin1')
            : n <= SLAB_MAX
              ? Buffer.from(value)
              : value
      }
    }
    this.#settle(slot, expireAt)
  }

  /** Accounts the value just put in `slot` (by {@link #claim} and a store), sets its expiry and evicts. */
  #settle(slot: number, expireAt: number): void {
    this.#used += this.#entryBytesAt(this.#keys[slot]!, slot)
    if (expireAt !== KEEP_TTL) this.#setExp(slot, expireAt)
    if (this.#maxmemory !== 0) this.#evict()
  }

  /**
   * The slot that `key` is about to be stored in: a new one, or the key's own with its old value still in it
   * but no longer accounted. An expired key being overwritten is first expired (as Redis's lookupKeyWrite
   * does): no TTL to keep.
   */
  #claim(key: string | Buffer): number {
    let slot = this.#slotOf(key)
    if (slot < 0) {
      const name = typeof key === 'string' ? key : keyOf(key)
      slot = this.#allocSlot()
      this.#keys[slot] = name
      this.#index.add(name, slot)
      this.#meta[4 * slot + 2] = 0 // not referenced yet: a new key comes after the keys in use
      return slot
    }
    this.#used -= this.#entryBytesAt(this.#keys[slot]!, slot)
    this.#touch(slot)
    const at = this.#exp[2 * slot]!
    if (at !== 0 && this.#now() > at) {
      this.#stats.expiredKeys++
      this.#setExp(slot, 0)
    }
    return slot
  }

  #setExp(slot: number, at: number): void {
    const old = this.#exp[2 * slot]!
    if (old === at) return
    this.#exp[2 * slot] = at
    if (at === 0) this.#volatile.delete(slot)
    else if (old === 0) this.#volatile.add(slot)
  }

  /** Deletes a live key; false when it was missing (or had expired). */
  delete(key: string): boolean {
    const slot = this.#find(key, false)
    if (slot < 0) return false
    this.#remove(key, slot)
    return true
  }

  /** Absolute expiry time in ms of a live key, 0 when it has none, -1 when the key is missing. */
  expireAt(key: string): number {
    const slot = this.#find(key, false)
    return slot < 0 ? -1 : this.#exp[2 * slot]!
  }

  /**
   * Sets the absolute expiry time of a live key; a time not after now deletes the key (Redis's
   * checkAlreadyExpired). Returns false when the key is missing.
   */
  setExpire(key: string, at: number): boolean {
    const slot = this.#find(key, true)
    if (slot < 0) return false
    if (at <= this.#now()) this.#remove(key, slot)
    else this.#setExp(slot, at)
    return true
  }

  /** Removes the TTL of a live key; true when there was one. */
  persist(key: string): boolean {
    const slot = this.#find(key, true)
    if (slot < 0 || this.#exp[2 * slot] === 0) return false
    this.#setExp(slot, 0)
    return true
  }

  /** Moves a live key's value and TTL to another name (overwriting it). False when `from` is missing. */
  rename(from: string, to: string): boolean {
    const slot = this.#find(from, true)
    if (slot < 0) return false
    if (from === to) return true
    // The value moves as it is stored: no copy, and a hash keeps its chunks.
    const value = this.#vals[slot]!
    const length = this.#meta[4 * slot + 3]!
    const at = this.#exp[2 * slot]!
    this.#remove(from, slot, true)
    const dest = this.#claim(to)
    const old = this.#vals[dest]
    if (old !== undefined) this.#free(old)
    this.#vals[dest] = value
    if (typeof value === 'number') this.#meta[4 * dest + 3] = length
    this.#settle(dest, at)
    return true
  }

  /**
   * Sets a hash field to a copy of `value` (the caller may reuse it), keeping the key's accounting; true when
   * the field is new.
   */
  hashSet(key: string, hash: Hash, field: string, value: Buffer | string): boolean {
    const old = hash.fields.get(field)
    let delta = 0
    if (old !== undefined) {
      delta -= this.#fieldBytes(field, old)
      if (typeof old === 'number') this.#slab.free(old)
    }
    const n = value.length
    const handle = n <= INLINE_MAX ? this.#slab.alloc(n + 2) : -1
    let stored: number | Buffer
    if (handle >= 0) {
      LENGTH_PREFIX[0] = n & 255
      LENGTH_PREFIX[1] = n >>> 8
      this.#slab.write(handle, LENGTH_PREFIX)
      if (typeof value === 'string') this.#slab.writeLatin1(handle, value, 2)
      else this.#slab.write(handle, value, 2)
      stored = handle
    } else {
      // A long value, or a short one while the slab is full: a private copy.
      stored = typeof value === 'string' ? Buffer.from(value, 'latin1') : Buffer.from(value)
    }
    hash.fields.set(field, stored)
    delta += this.#fieldBytes(field, stored)
    this.#hashChanged(key, hash, delta)
    return old === undefined
  }

  /** Accounted bytes of a stored hash field (see {@link fieldValueBytes}). */
  #fieldBytes(field: string, v: number | Buffer): number {
    const value = typeof v === 'number' ? chunkBytes(this.#fieldLength(v) + 2) : BUFFER_OVERHEAD + v.length
    return FIELD_OVERHEAD + stringBytes(field) + value
  }

  /** A hash field's value, as a latin1 string when short (a copy), else its Buffer; undefined when missing. */
  hashGet(hash: Hash, field: string): StringValue | undefined {
    const v = hash.fields.get(field)
    if (typeof v !== 'number') return v
    return this.#slab.latin1(v, this.#fieldLength(v), 2)
  }

  /** {@link hashGet} for a reply: a view of the stored bytes, valid until the keyspace next changes. */
  hashView(hash: Hash, field: string): Buffer | undefined {
    const v = hash.fields.get(field)
    return typeof v === 'number' ? this.#slab.view(v, this.#fieldLength(v), 2) : v
  }

  /** Calls `visit` with every field of a hash and a view of its value (valid until the keyspace next changes). */
  hashForEach(hash: Hash, visit: (field: string, value: Buffer) => void): void {
    for (const [f, v] of hash.fields) {
      visit(f, typeof v === 'number' ? this.#slab.view(v, this.#fieldLength(v), 2) : v)
    }
  }

  /** The length of a field value stored in the slab under `handle` (its first two bytes). */
  #fieldLength(handle: number): number {
    return this.#slab.byteAt(handle, 0) | (this.#slab.byteAt(handle, 1) << 8)
  }

  /** Deletes a hash field; the key goes when its last field does. True when the field existed. */
  hashDelete(key: string, hash: Hash, field: string): boolean {
    const old = hash.fields.get(field)
    if (old === undefined) return false
    const bytes = this.#fieldBytes(field, old)
    hash.fields.delete(field)
    if (typeof old === 'number') this.#slab.free(old)
    if (hash.fields.size === 0) {
      const slot = this.#index.get(key)
      if (slot >= 0 && this.#vals[slot] === hash) this.#remove(key, slot)
      hash.bytes = 0
      return true
    }
    this.#hashChanged(key, hash, -bytes)
    return true
  }

  // Accounts a hash's change of size; stores the hash under `key` if it is not stored there yet (new hash).
  #hashChanged(key: string, hash: Hash, delta: number): void {
    const slot = this.#index.get(key)
    if (slot >= 0 && this.#vals[slot] === hash) {
      hash.bytes += delta
      this.#used += delta
      this.#touch(slot)
      if (this.#maxmemory !== 0) this.#evict()
    } else {
      hash.bytes += delta
      this.set(key, hash, 0)
    }
  }

  /** Deletes every key (FLUSHALL). Counters are kept, as Redis keeps them. */
  clear(): void {
    this.#keys = []
    this.#index = new KeyIndex(this.#keys)
    this.#vals = []
    this.#slab.clear()
    this.#exp = new Float64Array(0)
    this.#meta = new Int32Array(0)
    this.#capacity = 0
    this.#slots = 0
    this.#freeHead = -1
    this.#hand = 0
    this.#used = 0
    this.#volatile = new Set()
    this.#sampler = undefined
    this.#avgTtl = 0
  }

  /**
   * Walks up to `count` live keys from `cursor`, calling `visit` for each; returns the next cursor, 0 when
   * the walk is complete.
   *
   * The cursor is a slot number. A key keeps its slot from insertion to deletion, slots are visited in
   * increasing order, and the slot array never shrinks except on FLUSHALL; so every key that is present
   * for the whole scan is returned exactly once, whatever is added or deleted meanwhile (keys added during
   * the scan may or may not be returned; a slot freed and reused during the scan may return a new key).
   * A Redis-style reverse-binary cursor is not needed because the slot array grows at its end only.
   * At most `10 * count` empty slots are stepped over per call, like Redis's bound on empty buckets.
   */
  scan(cursor: number, count: number, visit: (key: string, type: ValueType) => void): number {
    const keys = this.#keys
    const end = keys.length
    let slot = cursor
    let found = 0
    let budget = count * 10
    while (slot < end && found < count && budget > 0) {
      const key = keys[slot]
      if (key !== undefined && this.#find(key, false) === slot) {
        visit(key, this.#vals[slot] instanceof Hash ? 'hash' : 'string')
        found++
      } else {
        budget--
      }
      slot++
    }
    return slot >= end ? 0 : slot
  }

  /** Calls `visit` for every live key (KEYS); expired keys met on the way are deleted. */
  forEach(visit: (key: string, type: ValueType) => void): void {
    const keys = this.#keys
    for (let slot = 0; slot < keys.length; slot++) {
      const key = keys[slot]
      if (key !== undefined && this.#find(key, false) === slot) {
        visit(key, this.#vals[slot] instanceof Hash ? 'hash' : 'string')
      }
    }
  }

  /** A random live key, or undefined when there is none (RANDOMKEY). */
  randomKey(): string | undefined {
    const keys = this.#keys
    const n = keys.length
    if (this.#index.size === 0) return undefined
    // Random probes first (fast while the slot array is dense), then a walk from a random slot.
    for (let i = 0; i < 100; i++) {
      const slot = Math.floor(this.#random() * n)
      const key = keys[slot]
      if (key !== undefined && this.#find(key, false) === slot) return key
      if (this.#index.size === 0) return undefined
    }
    const start = Math.floor(this.#random() * n)
    for (let i = 0; i < n; i++) {
      const slot = (start + i) % n
      const key = keys[slot]
      if (key !== undefined && this.#find(key, false) === slot) return key
    }
    return undefined
  }

  /**
   * Whether a `denyoom` command must be refused with Redis's OOM error: under `allkeys-lru` it first
   * evicts (as Redis does before every command), so it answers true only when nothing is left to evict.
   */
  overLimit(): boolean {
    if (this.#maxmemory === 0) return false
    this.#evict()
    return this.#used > this.#maxmemory
  }

  // Evicts keys not used lately (see #victim) until under maxmemory (allkeys-lru only).
  #evict(): void {
    if (this.#used > this.#peak) this.#peak = this.#used
    if (this.#maxmemory === 0 || this.#policy !== 'allkeys-lru') return
    while (this.#used > this.#maxmemory && this.#index.size > 0) {
      const slot = this.#victim()
      this.#remove(this.#keys[slot]!, slot)
      this.#stats.evictedKeys++
    }
  }

  // LRU approximated by the CLOCK algorithm (second chance): a hand sweeps the slots in order; a slot accessed
  // since the hand last passed loses its reference bit and is kept, the first one not accessed is evicted.
  // Evicted slots are reused first (the free list is last in, first out), so new keys land just behind the
  // hand and are the last it reaches. An exact LRU list would cost two more cache misses on every access (its
  // neighbours' links); the hand costs about one slot visit per eviction, in memory order.
  #victim(): number {
    const n = this.#slots
    const meta = this.#meta
    for (;;) {
      const slot = this.#hand
      this.#hand = slot + 1 === n ? 0 : slot + 1
      if (this.#keys[slot] === undefined) continue
      if (meta[4 * slot + 2] === 0) return slot
      meta[4 * slot + 2] = 0
    }
  }

  /**
   * One active expiry cycle (Redis's activeExpireCycle, slow kind): repeatedly samples
   * `activeExpireSamples` keys with a TTL (round-robin over the keys with a TTL, so every such key is seen
   * within a few cycles), deletes the expired ones, and goes on while more than 25% of a sample had expired
   * and the time budget `activeExpireCycleMs` lasts. Returns how many keys it deleted.
   */
  activeExpireCycle(): number {
    const started = performance.now()
    const volatile = this.#volatile
    let totalSampled = 0
    let totalExpired = 0
    let ttlSum = 0
    let ttlSamples = 0
    let rounds = 0
    this.#stats.activeExpireCycles++
    for (;;) {
      if (volatile.size === 0) {
        this.#avgTtl = 0
        break
      }
      const now = this.#now()
      const n = Math.min(volatile.size, this.#samples)
      let sampled = 0
      let expired = 0
      while (sampled < n) {
        let next = this.#sampler?.next()
        if (next === undefined || next.done) {
          this.#sampler = volatile.values()
          next = this.#sampler.next()
          if (next.done) break
        }
        const slot = next.value
        sampled++
        const at = this.#exp[2 * slot]!
        if (at !== 0 && now > at) {
          this.#remove(this.#keys[slot]!, slot)
          this.#stats.expiredKeys++
          expired++
        } else if (at !== 0) {
          ttlSum += at - now
          ttlSamples++
        }
      }
      totalSampled += sampled
      totalExpired += expired
      rounds++
      if (expired * 4 <= sampled) break
      if ((rounds & 15) === 0 && performance.now() - started > this.#cycleMs) {
        this.#stats.expiredTimeCapReachedCount++
        break
      }
    }
    if (ttlSamples > 0) {
      const avg = ttlSum / ttlSamples
      this.#avgTtl = this.#avgTtl === 0 ? avg : (this.#avgTtl / 50) * 49 + avg / 50
    }
    if (totalSampled > 0) this.#stalePerc = (totalExpired / totalSampled) * 0.05 + this.#stalePerc * 0.95
    return totalExpired
  }

  /** Starts running {@link activeExpireCycle} `hz` times a second; the timer never keeps the process alive. */
  start(): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => this.activeExpireCycle(), Math.max(1, Math.round(1000 / this.#hz)))
    this.#timer.unref()
  }

  /** Stops the active expiry timer. */
  stop(): void {
    if (this.#timer === undefined) return
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** INFO `# Memory` section (ends with \r\n). */
  infoMemory(): string {
    const used = this.#used
    if (used > this.#peak) this.#peak = used
    const rss = process.memoryUsage.rss()
    return (
      '# Memory\r\n' +
      `used_memory:${used}\r\n` +
      `used_memory_human:${bytesToHuman(used)}\r\n` +
      `used_memory_rss:${rss}\r\n` +
      `used_memory_rss_human:${bytesToHuman(rss)}\r\n` +
      `used_memory_peak:${this.#peak}\r\n` +
      `used_memory_peak_human:${bytesToHuman(this.#peak)}\r\n` +
      `maxmemory:${this.#maxmemory}\r\n` +
      `maxmemory_human:${bytesToHuman(this.#maxmemory)}\r\n` +
      `maxmemory_policy:${this.#policy}\r\n`
    )
  }

  /**
   * INFO `# Stats` section (ends with \r\n).
   * @param before - lines the server puts first, e.g. `[['total_commands_processed', 42]]`.
   */
  infoStats(before: ReadonlyArray<readonly [string, string | number]> = []): string {
    const s = this.#stats
    let out = '# Stats\r\n'
    for (const [k, v] of before) out += `${k}:${v}\r\n`
    return (
      out +
      `expired_keys:${s.expiredKeys}\r\n` +
      `expired_stale_perc:${(this.#stalePerc * 100).toFixed(2)}\r\n` +
      `expired_time_cap_reached_count:${s.expiredTimeCapReachedCount}\r\n` +
      `evicted_keys:${s.evictedKeys}\r\n` +
      `keyspace_hits:${s.hits}\r\n` +
      `keyspace_misses:${s.misses}\r\n`
    )
  }

  /** INFO `# Keyspace` section (ends with \r\n); the db0 line only when there are keys, as in Redis. */
  infoKeyspace(): string {
    const keys = this.#index.size
    const expires = this.#volatile.size
    if (keys === 0 && expires === 0) return '# Keyspace\r\n'
    return `# Keyspace\r\ndb0:keys=${keys},expires=${expires},avg_ttl=${Math.floor(this.#avgTtl)}\r\n`
  }

  /**
   * The Memory, Stats and Keyspace sections of INFO, each ending with \r\n and separated by an empty line
   * (\r\n) as Redis separates sections.
   * @param statsBefore - lines the server puts first in `# Stats` (see {@link infoStats}).
   */
  infoSections(statsBefore: ReadonlyArray<readonly [string, string | number]> = []): string {
    return `${this.infoMemory()}\r\n${this.infoStats(statsBefore)}\r\n${this.infoKeyspace()}`
  }
}
