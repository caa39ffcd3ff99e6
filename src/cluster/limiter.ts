// A counting semaphore: at most `max` async tasks run at once, the rest wait in FIFO order.

/** Caps concurrency: `run(fn)` starts `fn` when fewer than `max` tasks run, otherwise queues it. */
export class Limiter {
  readonly max: number
  #active = 0
  readonly #queue: Array<() => void> = []

  /** @param max most tasks running at once: a positive integer or `Infinity`. */
  constructor(max: number) {
    if (!(max === Number.POSITIVE_INFINITY || (Number.isInteger(max) && max > 0))) {
      throw new TypeError(`Limiter: max must be a positive integer or Infinity, got ${max}`)
    }
    this.max = max
  }

  /** Tasks running now. */
  get active(): number {
    return this.#active
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#queue.length
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#active >= this.max) await new Promise<void>((resolve) => this.#queue.push(resolve))
    else this.#active++
    try {
      return await fn()
    } finally {
      // Hand the slot straight to the next waiter (the count stays the same), or free it.
      const next = this.#queue.shift()
      if (next !== undefined) next()
      else this.#active--
    }
  }
}
