// Redis's glob-style pattern matching (stringmatchlen in util.c), ported rule for rule, for KEYS and SCAN MATCH.

/**
 * Whether `str` matches the Redis glob `pattern`. Both are byte strings held as latin1 strings (one char per
 * byte). Rules, as Redis: `*` any run of bytes, `?` one byte, `[abc]` `[^abc]` `[a-z]` classes (reversed
 * ranges allowed, `\` escapes inside a class, an unterminated class ends at the pattern's end), `\x` the byte
 * x literally; everything else matches itself. Case-sensitive.
 */
export function globMatch(pattern: string, str: string): boolean {
  const skip = { longer: false }
  return match(pattern, 0, str, 0, skip, 0)
}

// Mirrors stringmatchlen_impl: `p`/`s` are positions, `skip.longer` stops hopeless retries of a `*` (once a
// later `*` failed against every suffix, earlier ones cannot succeed either), `nesting` bounds recursion.
function match(
  pat: string,
  p: number,
  str: string,
  s: number,
  skip: { longer: boolean },
  nesting: number,
): boolean {
  if (nesting > 1000) return false
  const plen = pat.length
  const slen = str.length
  // C's NUL terminator: reading at the end yields 0.
  const at = (i: number): number => (i < plen ? pat.charCodeAt(i) : 0)
  while (p < plen && s < slen) {
    const c = pat.charCodeAt(p)
    if (c === 0x2a /* * */) {
      while (p + 1 < plen && pat.charCodeAt(p + 1) === 0x2a) p++
      if (p + 1 === plen) return true
      while (s < slen) {
        if (match(pat, p + 1, str, s, skip, nesting + 1)) return true
        if (skip.longer) return false
        s++
      }
      skip.longer = true
      return false
    }
    if (c === 0x3f /* ? */) {
      s++
    } else if (c === 0x5b /* [ */) {
      p++
      const not = at(p) === 0x5e /* ^ */
      if (not) p++
      let matched = false
      const ch = str.charCodeAt(s)
      for (;;) {
        const pc = at(p)
        if (pc === 0x5c /* \ */ && plen - p >= 2) {
          p++
          if (pat.charCodeAt(p) === ch) matched = true
        } else if (pc === 0x5d /* ] */ && p < plen) {
          break
        } else if (p >= plen) {
          p--
          break
        } else if (plen - p >= 3 && pat.charCodeAt(p + 1) === 0x2d /* - */) {
          let start = pc
          let end = pat.charCodeAt(p + 2)
          if (start > end) {
            const t = start
            start = end
            end = t
          }
          p += 2
          if (ch >= start && ch <= end) matched = true
        } else if (pc === ch) {
          matched = true
        }
        p++
      }
      if (not) matched = !matched
      if (!matched) return false
      s++
    } else {
      if (c === 0x5c /* \ */ && plen - p >= 2) p++
      if (pat.charCodeAt(p) !== str.charCodeAt(s)) return false
      s++
    }
    p++
    if (s === slen) {
      while (p < plen && pat.charCodeAt(p) === 0x2a) p++
      break
    }
  }
  return p === plen && s === slen
}
