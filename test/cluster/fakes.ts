// Test helpers: a backend wrapper that can fail or hang on demand and counts calls, and a fake clock.
import type { Backend, SetOptions } from '../../src/cluster/backend.js'
import { MemoryBackend } from '../../src/cluster/memory.js'

/** A clock the test moves by hand. */
export class FakeClock {
  now = 1_700_000_000_000
  readonly fn = () => this.now
  advance(ms: number): void {
    this.now += ms
  }
}

/** A MemoryBackend that fails (`'fail'`), never answers (`'hang'`) or works (`'ok'`), counting every call. */
export class Flaky implements Backend {
  readonly id: string
  readonly inner: MemoryBackend
  mode: 'ok' | 'fail' | 'hang' = 'ok'
  readonly calls = new Map<string, number>()
  total = 0

  constructor(id: string, clock: () => number) {
    this.id = id
    this.inner = new MemoryBackend(id, { clock })
  }

  count(method: string): number {
    return this.calls.get(method) ?? 0
  }

  #do<T>(method: string, fn: () => Promise<T>): Promise<T> {
    this.total++
    this.calls.set(method, this.count(method) + 1)
    if (this.mode === 'fail') return Promise.reject(new Error(`${this.id}: connection refused`))
    if (this.mode === 'hang') return new Promise<T>(() => {})
    return fn()
  }

  get(key: string) {
    return this.#do('get', () => this.inner.get(key))
  }
  mget(keys: readonly string[]) {
    return this.#do('mget', () => this.inner.mget(keys))
  }
  set(key: string, value: Buffer, options?: SetOptions) {
    return this.#do('set', () => this.inner.set(key, value, options))
  }
  mset(entries: ReadonlyArray<readonly [key: string, value: Buffer, options?: SetOptions]>) {
    return this.#do('mset', () => this.inner.mset(entries))
  }
  del(keys: readonly string[]) {
    return this.#do('del', () => this.inner.del(keys))
  }
  incrBy(key: string, by: number) {
    return this.#do('incrBy', () => this.inner.incrBy(key, by))
  }
  exists(keys: readonly string[]) {
    return this.#do('exists', () => this.inner.exists(keys))
  }
  pexpire(key: string, ttlMs: number) {
    return this.#do('pexpire', () => this.inner.pexpire(key, ttlMs))
  }
  pttl(key: string) {
    return this.#do('pttl', () => this.inner.pttl(key))
  }
  scan(cursor: string, count: number) {
    return this.#do('scan', () => this.inner.scan(cursor, count))
  }
  flush() {
    return this.#do('flush', () => this.inner.flush())
  }
  ping() {
    return this.#do('ping', () => this.inner.ping())
  }
  close() {
    return this.inner.close()
  }
}
