// The proxy's config file: JSON or a small YAML subset, parsed and checked with errors naming file and field.
import { readFile } from 'node:fs/promises'
import type { ServerConfig } from '../cluster/options.js'
import type { ProxyOptions } from './options.js'

/** What a config file holds: proxy options (documented in docs/proxy.md). */
export type ProxyConfig = Omit<ProxyOptions, 'log' | 'reload'>

type Scalar = string | number | boolean | null
type Value = Scalar | Value[] | { [key: string]: Value }

/** A config error: `<file>:<line>: message` or `<file>: <field>: message`. */
class ConfigError extends Error {
  override get name(): string {
    return 'ConfigError'
  }
}

/** Reads and checks a config file. Throws an Error naming the file and the bad field or line. */
export async function loadProxyConfig(file: string): Promise<ProxyConfig> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (e) {
    throw new ConfigError(`${file}: cannot read: ${e instanceof Error ? e.message : String(e)}`)
  }
  return parseProxyConfig(text, file)
}

/** Parses config text (JSON when it starts with `{`, else the YAML subset) and checks every field. */
export function parseProxyConfig(text: string, file = 'config'): ProxyConfig {
  let raw: Value
  if (text.trimStart().startsWith('{')) {
    try {
      raw = JSON.parse(text) as Value
    } catch (e) {
      throw new ConfigError(`${file}: invalid JSON: ${e instanceof Error ? e.message : String(e)}`)
    }
  } else {
    raw = parseYaml(text, file)
  }
  return check(raw, file)
}

// ---- the YAML subset --------------------------------------------------------------------------------------

interface Line {
  readonly no: number
  readonly indent: number
  readonly text: string
}

/**
 * Top-level `key: value` lines, and lists of scalars or of flat mappings:
 * ```
 * servers:
 *   - id: a
 *     port: 7001
 *   - 127.0.0.1:7002
 * ```
 * Comments start with `#` (at the start of a line or after a space, outside quotes).
 */
function parseYaml(text: string, file: string): Value {
  const lines: Line[] = []
  text.split(/\r?\n/).forEach((l, i) => {
    const body = stripComment(l)
    if (body.trim() === '') return
    if (/^\s*\t/.test(body)) throw new ConfigError(`${file}:${i + 1}: tabs are not allowed for indentation`)
    lines.push({ no: i + 1, indent: body.length - body.trimStart().length, text: body.trim() })
  })
  const out: { [key: string]: Value } = {}
  let i = 0
  while (i < lines.length) {
    const line = lines[i]!
    if (line.indent !== 0) throw new ConfigError(`${file}:${line.no}: unexpected indentation`)
    const [key, rest] = pair(line, file)
    if (key in out) throw new ConfigError(`${file}:${line.no}: ${key} is given twice`)
    i++
    if (rest !== '') {
      out[key] = scalar(rest)
      continue
    }
    // A list (or nothing) follows, indented.
    const items: Value[] = []
    while (i < lines.length && lines[i]!.indent > 0) {
      const item = lines[i]!
      if (!item.text.startsWith('- ') && item.text !== '-') {
        throw new ConfigError(`${file}:${item.no}: expected a list item '- ...' under ${key}`)
      }
      const first = item.text.slice(1).trim()
      i++
      if (!/^[A-Za-z_][\w-]*:(\s|$)/.test(first)) {
        items.push(scalar(first))
        continue
      }
      const map: { [key: string]: Value } = {}
      const fieldIndent = item.indent + (item.text.length - first.length)
      const [k0, v0] = pair({ ...item, text: first }, file)
      map[k0] = scalar(v0)
      while (i < lines.length && lines[i]!.indent === fieldIndent && !lines[i]!.text.startsWith('-')) {
        const [k, v] = pair(lines[i]!, file)
        if (k in map) throw new ConfigError(`${file}:${lines[i]!.no}: ${k} is given twice`)
        map[k] = scalar(v)
        i++
      }
      if (i < lines.length && lines[i]!.indent > item.indent && !lines[i]!.text.startsWith('-')) {
        throw new ConfigError(`${file}:${lines[i]!.no}: fields of a list item must line up`)
      }
      items.push(map)
    }
    out[key] = items
  }
  return out
}

function stripComment(line: string): string {
  let quote = ''
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (quote !== '') {
      if (c === quote) quote = ''
    } else if (c === '"' || c === "'") {
      quote = c
    } else if (c === '#' && (i === 0 || line[i - 1] === ' ' || line[i - 1] === '\t')) {
      return line.slice(0, i)
    }
  }
  return line
}

function pair(line: Line, file: string): [string, string] {
  const m = /^([A-Za-z_][\w-]*):(?:\s+(.*))?$/.exec(line.text)
  if (m === null) throw new ConfigError(`${file}:${line.no}: expected 'key: value', got '${line.text}'`)
  return [m[1]!, (m[2] ?? '').trim()]
}

function scalar(s: string): Value {
  if (s.length >= 2 && ((s[0] === '"' && s.endsWith('"')) || (s[0] === "'" && s.endsWith("'")))) {
    return s[0] === '"' ? (JSON.parse(s) as string) : s.slice(1, -1).replace(/''/g, "'")
  }
  if (s === 'true') return true
  if (s === 'false') return false
  if (s === 'null' || s === '~' || s === '') return null
  if (/^-?\d+$/.test(s)) return Number(s)
  return s
}

// ---- checking ---------------------------------------------------------------------------------------------

const FIELDS = new Set([
  'listen',
  'servers',
  'mode',
  'replicas',
  'writeConcern',
  'timeoutMs',
  'failureThreshold',
  'probeMinMs',
  'probeMaxMs',
  'hashTags',
  'requirepass',
  'allowFlush',
  'maxClients',
  'maxPendingPerClient',
])
const SERVER_FIELDS = new Set(['id', 'host', 'port', 'weight', 'zone', 'password'])

function check(raw: Value, file: string): ProxyConfig {
  const fail = (field: string, msg: string): never => {
    throw new ConfigError(`${file}: ${field}: ${msg}`)
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    fail('(top)', 'expected a mapping of fields')
  const o = raw as { [key: string]: Value }
  for (const k of Object.keys(o)) {
    if (!FIELDS.has(k)) fail(k, `unknown field (known: ${[...FIELDS].join(', ')})`)
  }
  const int = (field: string, v: Value, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      fail(field, `expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`)
    }
    return v as number
  }
  const str = (field: string, v: Value): string => {
    if (typeof v !== 'string' || v === '')
      fail(field, `expected a non-empty string, got ${JSON.stringify(v)}`)
    return v as string
  }
  const bool = (field: string, v: Value): boolean => {
    if (typeof v !== 'boolean') fail(field, `expected true or false, got ${JSON.stringify(v)}`)
    return v as boolean
  }
  const out: { -readonly [K in keyof ProxyConfig]: ProxyConfig[K] } = { servers: [] }
  if (o.listen !== undefined) {
    const { host, port } = parseAddress(str('listen', o.listen), 'listen', file, true)
    out.host = host
    out.port = port
  }
  if (!Array.isArray(o.servers) || o.servers.length === 0) {
    fail('servers', 'expected a non-empty list of servers (id, host, port, weight, zone, password)')
  }
  const servers: ServerConfig[] = []
  ;(o.servers as Value[]).forEach((s, i) => {
    const at = `servers[${i}]`
    if (typeof s === 'string') {
      const { host, port } = parseAddress(s, at, file, false)
      servers.push({ id: `${host}:${port}`, host, port })
      return
    }
    if (s === null || typeof s !== 'object' || Array.isArray(s)) fail(at, 'expected host:port or a mapping')
    const m = s as { [key: string]: Value }
    for (const k of Object.keys(m)) {
      if (!SERVER_FIELDS.has(k)) fail(`${at}.${k}`, `unknown field (known: ${[...SERVER_FIELDS].join(', ')})`)
    }
    const host = m.host === undefined ? '127.0.0.1' : str(`${at}.host`, m.host)
    const port = int(`${at}.port`, m.port ?? null, 1, 65535)
    const server: { -readonly [K in keyof ServerConfig]: ServerConfig[K] } = {
      id:
        m.id === undefined
          ? `${host}:${port}`
          : str(`${at}.id`, typeof m.id === 'number' ? String(m.id) : m.id),
      host,
      port,
    }
    if (m.weight !== undefined && m.weight !== null) {
      if (typeof m.weight !== 'number' || !(m.weight > 0) || !Number.isFinite(m.weight)) {
        fail(`${at}.weight`, `expected a positive number, got ${JSON.stringify(m.weight)}`)
      }
      server.weight = m.weight as number
    }
    if (m.zone !== undefined && m.zone !== null) server.zone = str(`${at}.zone`, m.zone)
    if (m.password !== undefined && m.password !== null) server.password = str(`${at}.password`, m.password)
    servers.push(server)
  })
  const ids = new Set<string>()
  servers.forEach((s, i) => {
    if (ids.has(s.id)) fail(`servers[${i}].id`, `duplicate id "${s.id}"`)
    ids.add(s.id)
  })
  out.servers = servers
  if (o.mode !== undefined) {
    if (o.mode !== 'cache' && o.mode !== 'store')
      fail('mode', `expected cache or store, got ${JSON.stringify(o.mode)}`)
    out.mode = o.mode as 'cache' | 'store'
  }
  if (o.replicas !== undefined) out.replicas = int('replicas', o.replicas, 1, servers.length)
  if (o.writeConcern !== undefined) {
    const w = o.writeConcern
    if (w !== 'all' && w !== 'majority' && typeof w !== 'number') {
      fail('writeConcern', `expected all, majority or a number, got ${JSON.stringify(w)}`)
    }
    out.writeConcern =
      typeof w === 'number' ? int('writeConcern', w, 1, servers.length) : (w as 'all' | 'majority')
  }
  if (o.timeoutMs !== undefined) out.timeoutMs = int('timeoutMs', o.timeoutMs, 1)
  if (o.failureThreshold !== undefined) out.failureThreshold = int('failureThreshold', o.failureThreshold, 1)
  if (o.probeMinMs !== undefined) out.probeMinMs = int('probeMinMs', o.probeMinMs, 1)
  if (o.probeMaxMs !== undefined) out.probeMaxMs = int('probeMaxMs', o.probeMaxMs, 1)
  if (o.hashTags !== undefined) out.hashTags = bool('hashTags', o.hashTags)
  if (o.requirepass !== undefined && o.requirepass !== null)
    out.requirepass = str('requirepass', o.requirepass)
  if (o.allowFlush !== undefined) out.allowFlush = bool('allowFlush', o.allowFlush)
  if (o.maxClients !== undefined) out.maxClients = int('maxClients', o.maxClients, 1)
  if (o.maxPendingPerClient !== undefined) {
    out.maxPendingPerClient = int('maxPendingPerClient', o.maxPendingPerClient, 1)
  }
  return out
}

/**
 * Parses `host:port` (`[v6]:port` for IPv6; a bare port means 127.0.0.1). Errors name `field` and `file`.
 * With `allowZero`, port 0 (pick a free one) is accepted.
 */
export function parseAddress(
  text: string,
  field: string,
  file: string | null,
  allowZero: boolean,
): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text) ?? /^()()(\d+)$/.exec(text)
  const where = file === null ? field : `${file}: ${field}`
  if (m === null) throw new ConfigError(`${where}: expected host:port, got "${text}"`)
  const host = m[1] || m[2] || '127.0.0.1'
  const port = Number(m[3])
  if (!Number.isSafeInteger(port) || port < (allowZero ? 0 : 1) || port > 65535) {
    throw new ConfigError(`${where}: port must be from ${allowZero ? 0 : 1} to 65535, got "${m[3]}"`)
  }
  return { host, port }
}
