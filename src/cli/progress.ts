// A progress line on stderr for long CLI commands: redrawn in place on a terminal, plain lines (or none) otherwise.

/** The stream a {@link ProgressLine} writes to (`process.stderr`, or a fake in tests). */
export interface ProgressStream {
  readonly isTTY?: boolean
  write(text: string): unknown
}

/** Options of {@link ProgressLine}. */
export interface ProgressOptions {
  /** Where to draw. @default process.stderr */
  readonly stream?: ProgressStream
  /** Nothing is drawn until this long after creation, in ms, so short runs stay silent. @default 500 */
  readonly delayMs?: number
  /** Least time between two redraws on a terminal, in ms. @default 100 */
  readonly redrawMs?: number
  /**
   * When the stream is not a terminal: write the text as a plain line at most this often, in ms (logs and pipes
   * never see carriage returns); null to write nothing.
   * @default null
   */
  readonly lineEveryMs?: number | null
  /** Clock in ms. @default performance.now */
  readonly now?: () => number
}

/**
 * One status line. On a terminal it is redrawn in place (`\r`, erase line) and erased by {@link done}; on
 * anything else it is written as a plain line every `lineEveryMs`, or not at all.
 */
export class ProgressLine {
  readonly #stream: ProgressStream
  readonly #tty: boolean
  readonly #delayMs: number
  readonly #everyMs: number | null
  readonly #now: () => number
  readonly #start: number
  #last = Number.NEGATIVE_INFINITY
  #drawn = false

  constructor(options: ProgressOptions = {}) {
    this.#stream = options.stream ?? process.stderr
    this.#tty = this.#stream.isTTY === true
    this.#delayMs = options.delayMs ?? 500
    this.#everyMs = this.#tty ? (options.redrawMs ?? 100) : (options.lineEveryMs ?? null)
    this.#now = options.now ?? (() => performance.now())
    this.#start = this.#now()
  }

  /** True when anything will ever be drawn (a terminal, or plain lines asked for). */
  get active(): boolean {
    return this.#everyMs !== null
  }

  /**
   * Shows `text` now if the delay has passed and the last draw is old enough (`force` skips both checks). A
   * function is only called when the line is drawn.
   */
  update(text: string | (() => string), force = false): void {
    if (this.#everyMs === null) return
    const now = this.#now()
    if (!force && (now - this.#start < this.#delayMs || now - this.#last < this.#everyMs)) return
    this.#last = now
    this.#drawn = true
    const t = typeof text === 'function' ? text() : text
    this.#stream.write(this.#tty ? `\r\x1b[2K${t}` : `${t}\n`)
  }

  /** Erases the line on a terminal (so the next output starts clean); nothing otherwise. */
  done(): void {
    if (this.#tty && this.#drawn) this.#stream.write('\r\x1b[2K')
    this.#drawn = false
  }
}

/** `[#######.......]  42%` for a fraction from 0 to 1. */
export function bar(fraction: number, width = 30): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0))
  const fill = Math.round(f * width)
  return `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(f * 100).toFixed(0).padStart(3)}%`
}

/** A duration for humans: `42s`, `3m05s`, `1h02m`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`
}
