// The floor of a Redis-protocol server written on Node's public net API: it reads, counts requests and writes fixed
// replies (+OK to SET, a 64-byte bulk string to GET, an empty array to anything else), with no decoder, keyspace or
// encoder. node-vs-redis runs it beside our node and redis-server to show what Node's own socket layer costs a
// request. It only understands redis-benchmark's traffic: `*` starts a request and appears nowhere else (keys are
// `key:` and digits, values are `x`s). Usage: node bench/resp-floor.mjs PORT
import { createServer } from 'node:net'

const port = Number(process.argv[2])
const OK = Buffer.from('+OK\r\n')
const BULK = Buffer.from(`$64\r\n${'x'.repeat(64)}\r\n`)
const EMPTY = Buffer.from('*0\r\n')
const STAR = 0x2a
// `*3\r\n$3\r\nSET`: the command's first letter is 8 bytes after the `*`.
const LETTER = 8

createServer({ noDelay: true }, (socket) => {
  /** The end of the previous chunk when it cut a request's first 9 bytes short. */
  let tail = null
  socket.on('data', (chunk) => {
    const data = tail === null ? chunk : Buffer.concat([tail, chunk])
    tail = null
    const replies = []
    let at = data.indexOf(STAR)
    while (at >= 0) {
      if (at + LETTER >= data.length) {
        tail = data.subarray(at)
        break
      }
      const letter = data[at + LETTER] | 0x20
      replies.push(letter === 0x73 ? OK : letter === 0x67 ? BULK : EMPTY)
      at = data.indexOf(STAR, at + 1)
    }
    if (replies.length === 1) socket.write(replies[0])
    else if (replies.length > 1) socket.write(Buffer.concat(replies))
  })
  socket.on('error', () => socket.destroy())
}).listen(port, '127.0.0.1')
