// Request coalescing: concurrent calls for one key share a single execution (groupcache's singleflight).

/**
 * Runs at most one call per key at a time; callers that arrive while it runs get the same promise.
 * Nothing is cached: once the call settles, the next caller starts a new one. Errors are shared the same way
 * (every waiter of a failed call sees its error) and are not remembered afterwards.
 */
export class SingleFlight<K, V> {
  readonly #calls = new Map<K, Promise<V>>()

  /** Number of calls in flight. */
  get size(): number {
    return this.#calls.size
  }

  /** True when a call for `key` is in flight (the next `do` will join it). */
  has(key: K): boolean {
    return this.#calls.has(key)
  }

  /**
   * Detaches the call in flight for `key`, if any: it still settles for those already waiting, but later
   * callers start a new one (use after a write, so that no reader joins a read that began before it).
   */
  forget(key: K): void {
    this.#calls.delete(key)
  }

  /**
   * The result of `fn()`, shared with every concurrent caller for `key`. `shared` is true when this caller
   * joined a call already in flight rather than starting it.
   */
  do(key: K, fn: () => Promise<V>): { promise: Promise<V>; shared: boolean } {
    const running = this.#calls.get(key)
    if (running !== undefined) return { promise: running, shared: true }
    // Start the call, then remove it once settled. The removal runs before any waiter's continuation, since it
    // is attached first, so a caller resumed by the result that calls `do` again starts a fresh call.
    const promise = (async () => fn())()
    this.#calls.set(key, promise)
    const forget = () => {
      if (this.#calls.get(key) === promise) this.#calls.delete(key)
    }
    promise.then(forget, forget)
    return { promise, shared: false }
  }
}
