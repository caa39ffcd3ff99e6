// Server-side scripts that make migration copies write-if-newer on Redis/Valkey, shared by the RESP backends.
import { createHash } from 'node:crypto'
import { type Backend, dumpWith, type Entry, restoreWith } from './backend.js'

/** KEYS: the keys. Reply: value, PTTL, value, PTTL, ... (false for a missing key or another type). */
const DUMP = `local out = {}
for i, k in ipairs(KEYS) do
  local v = redis.pcall('GET', k)
  if type(v) == 'string' then
    out[2 * i - 1] = v
    out[2 * i] = redis.call('PTTL', k)
  else
    out[2 * i - 1] = false
    out[2 * i] = -2
  end
end
return out`

/**
 * KEYS: the keys; ARGV: value, ttl ms (0 = none) per key. Writes each unless the key holds bytes newer or equal
 * by compareStored (envelope.ts): version bytes 5..12 when the 0xD5 0x01 header is there (else version 0),
 * then the bytes. Compared byte by byte: Lua's string < follows the server's locale. Reply: 1/0 per key.
 */
const RESTORE = `local function hdr(s) return #s >= 16 and string.byte(s, 1) == 213 and string.byte(s, 2) == 1 end
local function cmp(a, b)
  local ha, hb = hdr(a), hdr(b)
  for j = 5, 12 do
    local x = ha and string.byte(a, j) or 0
    local y = hb and string.byte(b, j) or 0
    if x ~= y then return x < y and -1 or 1 end
  end
  if a == b then return 0 end
  for j = 1, math.min(#a, #b) do
    local x, y = string.byte(a, j), string.byte(b, j)
    if x ~= y then return x < y and -1 or 1 end
  end
  return #a < #b and -1 or 1
end
local out = {}
for i, k in ipairs(KEYS) do
  local v, ttl = ARGV[2 * i - 1], tonumber(ARGV[2 * i])
  local cur = redis.pcall('GET', k)
  if type(cur) == 'string' and cmp(v, cur) <= 0 then
    out[i] = 0
  else
    if ttl > 0 then redis.call('SET', k, v, 'PX', ttl) else redis.call('SET', k, v) end
    out[i] = 1
  end
end
return out`

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex')
const DUMP_SHA = sha1(DUMP)
const RESTORE_SHA = sha1(RESTORE)

/** Sends one command and resolves with its decoded reply; an error reply rejects with its message. */
export type Call = (args: ReadonlyArray<string | Buffer>) => Promise<unknown>

/**
 * `dump` and `restore` for a backend whose server may run Lua scripts: one script per batch (atomic per key on
 * the server), loaded with EVAL on NOSCRIPT. A server without scripting answers "unknown command" once; from then
 * on `restore` uses `RDV.RESTORE` (our node's own atomic write-if-newer), and a server with neither gets the
 * plain-command fallbacks of backend.ts (`restoreWith` is not atomic).
 */
export class Scripts {
  readonly #backend: Backend
  readonly #call: Call
  /** False once the server refused EVALSHA/EVAL. */
  #enabled = true
  /** False once the server refused RDV.RESTORE. */
  #native = true

  constructor(backend: Backend, call: Call) {
    this.#backend = backend
    this.#call = call
  }

  /** Runs a script by SHA, loading it with EVAL on NOSCRIPT; null when the server has no scripting. */
  async #run(sha: string, lua: string, keys: readonly string[], args: readonly (string | Buffer)[]) {
    if (!this.#enabled) return null
    try {
      try {
        return (await this.#call(['EVALSHA', sha, String(keys.length), ...keys, ...args])) as unknown[]
      } catch (e) {
        if (!String((e as Error).message).startsWith('NOSCRIPT')) throw e
        return (await this.#call(['EVAL', lua, String(keys.length), ...keys, ...args])) as unknown[]
      }
    } catch (e) {
      if (!/unknown command/i.test(String((e as Error).message))) throw e
      this.#enabled = false
      return null
    }
  }

  /** Values and remaining TTLs of `keys` (null for a missing key or another type). */
  async dump(keys: readonly string[]): Promise<(Entry | null)[]> {
    if (keys.length === 0) return []
    const reply = await this.#run(DUMP_SHA, DUMP, keys, [])
    if (reply === null) return dumpWith(this.#backend, keys)
    return keys.map((key, i) => {
      const value = reply[2 * i]
      const ttl = Number(reply[2 * i + 1])
      if (!Buffer.isBuffer(value) || ttl === -2) return null
      return { key, value, ttlMs: ttl < 0 ? 0 : Math.max(1, ttl) }
    })
  }

  /** Write-if-newer for each entry; true where it was written. */
  async restore(entries: readonly Entry[]): Promise<boolean[]> {
    if (entries.length === 0) return []
    const args: (string | Buffer)[] = []
    for (const e of entries) args.push(e.value, String(e.ttlMs))
    const reply = await this.#run(
      RESTORE_SHA,
      RESTORE,
      entries.map((e) => e.key),
      args,
    )
    if (reply !== null) return reply.map((n) => Number(n) === 1)
    if (this.#native) {
      const args: (string | Buffer)[] = ['RDV.RESTORE']
      for (const e of entries) args.push(e.key, e.value, String(e.ttlMs))
      try {
        return ((await this.#call(args)) as unknown[]).map((n) => Number(n) === 1)
      } catch (e) {
        if (!/unknown command/i.test(String((e as Error).message))) throw e
        this.#native = false
      }
    }
    return restoreWith(this.#backend, entries)
  }
}
