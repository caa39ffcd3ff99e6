// Finds a command's spec from the bytes of its name, without making a string of them (the node's and the
// proxy's dispatchers).
const BUCKETS = 256

/**
 * Command specs by name, matched case-insensitively (ASCII letters only, as Redis's strcasecmp) against the
 * raw bytes of a request's first argument. A Map keyed by strings would need a fresh string per request, and
 * V8 hashes a fresh string before it can look it up; here a lookup hashes the bytes once and compares them
 * with one or two candidates.
 */
export class CommandTable<S extends { readonly name: string }> {
  readonly #buckets: { name: Uint8Array; spec: S }[][] = Array.from({ length: BUCKETS }, () => [])

  /** @param specs the commands to add, as by {@link add} */
  constructor(specs: Iterable<S> = []) {
    for (const spec of specs) this.add(spec)
  }

  /** Adds `spec` under its name; throws if a command of that name is already in the table. */
  add(spec: S): void {
    const name = Buffer.from(spec.name.toLowerCase(), 'latin1')
    const bucket = this.#buckets[hashName(name)]!
    if (bucket.some((e) => equalFolded(name, e.name))) {
      throw new TypeError(`command '${spec.name}' is defined twice`)
    }
    bucket.push({ name, spec })
  }

  /** The spec whose name equals `name` up to ASCII case, or undefined. */
  find(name: Uint8Array): S | undefined {
    const bucket = this.#buckets[hashName(name)]!
    for (let i = 0; i < bucket.length; i++) {
      const e = bucket[i]!
      if (equalFolded(name, e.name)) return e.spec
    }
    return undefined
  }
}

/** ASCII lower case of one byte. */
function fold(c: number): number {
  return c >= 65 && c <= 90 ? c | 32 : c
}

/** A bucket from the length and the first and last bytes, case-folded. */
function hashName(b: Uint8Array): number {
  const n = b.length
  if (n === 0) return 0
  return (n * 31 + fold(b[0]!) * 7 + fold(b[n - 1]!)) & (BUCKETS - 1)
}

/** Whether `b` equals the lower-case `lower` up to ASCII case. */
function equalFolded(b: Uint8Array, lower: Uint8Array): boolean {
  const n = b.length
  if (n !== lower.length) return false
  for (let i = 0; i < n; i++) if (fold(b[i]!) !== lower[i]) return false
  return true
}
