// The floor of a Redis-protocol proxy written on Node's public net API: one connection per backend shared by all
// clients, each request's bytes forwarded as they came to the backend its key hashes to (FNV-1a, modulo the
// number of backends), backend writes gathered once per event-loop turn, replies matched in order and written back
// to each client in its request order. No command table, health, timeouts or placement beyond the modulo. The proxy
// bench runs it beside ours and nutcracker to show what Node's own socket layer costs a proxied request. Single-key
// commands only (GET, SET: redis-benchmark's traffic). Usage: node bench/proxy-floor.mjs PORT BACKEND_PORT...
import { connect, createServer } from 'node:net'

const [port, ...backendPorts] = process.argv.slice(2).map(Number)
const CR = 13

/** The end of the RESP value starting at `at` (a reply, or a request's multibulk), or -1 when incomplete. */
function end(buf, at) {
  if (at >= buf.length) return -1
  const type = buf[at]
  const eol = buf.indexOf(CR, at)
  if (eol < 0 || eol + 1 >= buf.length) return -1
  if (type === 0x2b || type === 0x2d || type === 0x3a) return eol + 2 // + - :
  const n = Number(buf.toString('latin1', at + 1, eol))
  if (type === 0x24) {
    // $: a bulk string, or $-1
    if (n < 0) return eol + 2
    const stop = eol + 2 + n + 2
    return stop <= buf.length ? stop : -1
  }
  // *: an array of n values
  let p = eol + 2
  for (let i = 0; i < n; i++) {
    p = end(buf, p)
    if (p < 0) return -1
  }
  return p
}

/** Offset and length of a request's second element (the key), given the request starts at `at`. */
function keyOf(buf, at) {
  let p = buf.indexOf(CR, at) + 2 // past *n
  p = buf.indexOf(CR, p) + 2 // past $len of the command name
  p = buf.indexOf(CR, p) + 2 // past the command name
  const eol = buf.indexOf(CR, p)
  const len = Number(buf.toString('latin1', p + 1, eol))
  return [eol + 2, len]
}

/**
 * Calls `each(buf, start, stop)` for every whole RESP value in `holder.rest` (what an earlier chunk left
 * incomplete) followed by `chunk`, and keeps the incomplete end in `holder.rest`.
 */
function values(holder, chunk, each) {
  const buf = holder.rest === null ? chunk : Buffer.concat([holder.rest, chunk])
  holder.rest = null
  let at = 0
  for (let stop = end(buf, at); stop >= 0; stop = end(buf, at)) {
    each(buf, at, stop)
    at = stop
  }
  if (at < buf.length) holder.rest = buf.subarray(at)
}

function fnv1a(buf, at, len) {
  let h = 0x811c9dc5
  for (let i = at; i < at + len; i++) h = Math.imul(h ^ buf[i], 0x01000193)
  return h >>> 0
}

class Client {
  constructor(socket) {
    this.socket = socket
    this.rest = null
    this.replies = []
    this.head = 0
  }
}

class Backend {
  constructor(p) {
    this.out = []
    this.waiting = [] // [client, slot] pairs, in the order requests were written
    this.rest = null
    this.socket = connect({ host: '127.0.0.1', port: p, noDelay: true })
    this.socket.on('data', (chunk) => this.onData(chunk))
  }
  onData(chunk) {
    values(this, chunk, (buf, at, stop) => {
      const [client, slot] = this.waiting.shift()
      client.replies[slot] = buf.subarray(at, stop)
      if (slot === client.head) dirty.add(client)
    })
    schedule()
  }
}

const backends = backendPorts.map((p) => new Backend(p))
const dirty = new Set()
let scheduled = false
function schedule() {
  if (scheduled) return
  scheduled = true
  setImmediate(flush)
}
function flush() {
  scheduled = false
  for (const b of backends) {
    if (b.out.length === 0) continue
    b.socket.write(b.out.length === 1 ? b.out[0] : Buffer.concat(b.out))
    b.out = []
  }
  for (const c of dirty) {
    const ready = []
    while (c.head < c.replies.length && c.replies[c.head] !== undefined) ready.push(c.replies[c.head++])
    if (c.head === c.replies.length) {
      c.replies = []
      c.head = 0
    }
    if (ready.length > 0) c.socket.write(ready.length === 1 ? ready[0] : Buffer.concat(ready))
  }
  dirty.clear()
}

createServer({ noDelay: true }, (socket) => {
  const c = new Client(socket)
  socket.on('data', (chunk) => {
    values(c, chunk, (buf, at, stop) => {
      const [k, len] = keyOf(buf, at)
      const b = backends[fnv1a(buf, k, len) % backends.length]
      b.out.push(buf.subarray(at, stop))
      b.waiting.push([c, c.replies.length])
      c.replies.push(undefined)
    })
    schedule()
  })
  socket.on('error', () => socket.destroy())
}).listen(port, '127.0.0.1')
