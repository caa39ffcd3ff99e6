// The SIMD picks of pick.wat and the WebAssembly memory that holds the tables they read. Optional: where
// WebAssembly, its SIMD or compiling code at run time is not available, `simd` is null and tables pick in
// JavaScript alone, with the same results.
import { PICK_WASM } from './pick-wasm.js'

/** The little of the WebAssembly API used here (the ES library this package compiles against has none). */
interface Wasm {
  validate(bytes: Uint8Array): boolean
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object, imports: object) => { readonly exports: unknown }
}
interface WasmMemory {
  readonly buffer: ArrayBuffer
  grow(pages: number): number
}

interface PickExports {
  readonly memory: WasmMemory
  uniform(ka: number, sa: number, n: number): number
  group(ka: number, sa: number, n: number): number
  weighted(ka: number, sa: number, iw: number, n: number, tight: number, kt: number): number
  lanes(ka: number, sa: number, ix: number, liw: number, kt: number, full: number, rows: number): number
  close(ka: number, sa: number, iw: number, kt: number, n: number, out: number, cap: number): number
}

/** Byte offset and size of a block of the shared memory. */
interface Block {
  offset: number
  bytes: number
}

/** Bytes a block may be read past its end (the last vector of four lanes). */
const OVERREAD = 16
/** Where in the memory `close` writes its candidates (after the 48 bytes of scratch for `lanes`), and how many. */
const CLOSE_OUT = 48
const CLOSE_CAP = 64
/** Bytes at the start of the memory that pick.wat uses as scratch. */
const SCRATCH = CLOSE_OUT + 4 * CLOSE_CAP
const PAGE = 65536

/**
 * The compiled picks and one memory shared by every table, carved into blocks: first fit from a list of free
 * blocks, else from the end (growing the memory). A table's blocks return to the list when the table is
 * garbage-collected.
 */
export class Simd {
  readonly uniform: (ka: number, sa: number, n: number) => number
  readonly group: (ka: number, sa: number, n: number) => number
  readonly weighted: (ka: number, sa: number, iw: number, n: number, tight: number, kt: number) => number
  readonly lanes: (
    ka: number,
    sa: number,
    ix: number,
    liw: number,
    kt: number,
    full: number,
    rows: number,
  ) => number
  readonly #close: PickExports['close']
  readonly #memory: WasmMemory
  #end = SCRATCH
  /** Free blocks, sorted by offset, never adjacent (freeing merges neighbours). */
  readonly #free: Block[] = []
  readonly #registry =
    typeof FinalizationRegistry === 'function'
      ? new FinalizationRegistry<Block[]>((blocks) => {
          for (const b of blocks) this.#release(b)
        })
      : null

  constructor(exports: PickExports) {
    this.uniform = exports.uniform
    this.group = exports.group
    this.weighted = exports.weighted
    this.lanes = exports.lanes
    this.#close = exports.close
    this.#memory = exports.memory
  }

  /**
   * For a key the weighted pick over n servers (digests at `sa`, factors at `iw`, steps at `kt`) cannot decide:
   * the offsets in [0, n) of the servers that may still win, ascending (the winner is among them), or null when
   * there are too many to be worth it. The view is valid until the next call.
   */
  close(ka: number, sa: number, iw: number, kt: number, n: number): Int32Array | null {
    const count = this.#close(ka, sa, iw, kt, n, CLOSE_OUT, CLOSE_CAP)
    return count < 0 ? null : new Int32Array(this.#memory.buffer, CLOSE_OUT, count)
  }

  /** Bytes in use and free within the memory, for tests. */
  get usage(): { end: number; free: number } {
    return { end: this.#end, free: this.#free.reduce((a, b) => a + b.bytes, 0) }
  }

  /**
   * Copies `values` (i32 or f32) into a new block and returns its byte offset, or -1 when the memory cannot
   * grow. The block is freed when `owner` is garbage-collected.
   */
  store(owner: object, values: Int32Array | Float32Array): number {
    const bytes = (values.byteLength + OVERREAD + 15) & ~15
    const offset = this.#allocate(bytes)
    if (offset < 0) return -1
    const view = values instanceof Int32Array ? Int32Array : Float32Array
    new view(this.#memory.buffer, offset, values.length).set(values)
    this.#registry?.register(owner, [{ offset, bytes }])
    return offset
  }

  #allocate(bytes: number): number {
    const free = this.#free
    for (let i = 0; i < free.length; i++) {
      const b = free[i]!
      if (b.bytes < bytes) continue
      const offset = b.offset
      if (b.bytes === bytes) free.splice(i, 1)
      else {
        b.offset += bytes
        b.bytes -= bytes
      }
      return offset
    }
    const offset = this.#end
    const need = offset + bytes - this.#memory.buffer.byteLength
    if (need > 0) {
      try {
        this.#memory.grow(Math.ceil(need / PAGE))
      } catch {
        return -1
      }
    }
    this.#end += bytes
    return offset
  }

  #release(block: Block): void {
    const free = this.#free
    let i = 0
    while (i < free.length && free[i]!.offset < block.offset) i++
    free.splice(i, 0, { ...block })
    // Merge with the next block, then with the previous one; a block at the end returns to the end.
    const next = free[i + 1]
    if (next !== undefined && free[i]!.offset + free[i]!.bytes === next.offset) {
      free[i]!.bytes += next.bytes
      free.splice(i + 1, 1)
    }
    const prev = free[i - 1]
    if (prev !== undefined && prev.offset + prev.bytes === free[i]!.offset) {
      prev.bytes += free[i]!.bytes
      free.splice(i, 1)
      i--
    }
    const last = free[i]!
    if (last.offset + last.bytes === this.#end) {
      this.#end = last.offset
      free.splice(i, 1)
    }
  }
}

function instantiate(): Simd | null {
  try {
    const wasm = (globalThis as { WebAssembly?: Wasm }).WebAssembly
    if (typeof wasm !== 'object' || typeof atob !== 'function') return null
    const text = atob(PICK_WASM)
    const bytes = new Uint8Array(text.length)
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i)
    // validate() is false where SIMD is missing; compiling throws where run-time code is not allowed.
    if (!wasm.validate(bytes)) return null
    const instance = new wasm.Instance(new wasm.Module(bytes), {})
    return new Simd(instance.exports as unknown as PickExports)
  } catch {
    return null
  }
}

/** The SIMD picks, or null where they are not available. */
export const simd: Simd | null = instantiate()

let enabled = simd !== null

/** Whether tables built from now on use the SIMD picks (always false where they are not available). */
export function simdEnabled(): boolean {
  return enabled
}

/** Turns the SIMD picks off (or back on, where available) for tables built from now on: for tests and benchmarks. */
export function setSimdEnabled(on: boolean): void {
  enabled = on && simd !== null
}
