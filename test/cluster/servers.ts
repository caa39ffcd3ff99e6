// Test helpers: real redis-server processes on free loopback ports, and our own node, started and stopped.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import dc from 'node:diagnostics_channel'
import { connect, createServer } from 'node:net'

/** A running server process. */
export interface ServerProcess {
  readonly port: number
  readonly proc: ChildProcess
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>
}

/** True when `redis-server` is on the PATH. Under CI a missing binary is an error, not a skip. */
export function haveRedis(): boolean {
  const ok = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0
  if (!ok && process.env.CI === 'true') {
    throw new Error('redis-server is not installed (apt-get install -y redis-server); required when CI=true')
  }
  return ok
}

/** A port that was free a moment ago (the OS picks it; a tiny race remains, retried by the caller). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address()
      const port = typeof a === 'object' && a !== null ? a.port : 0
      srv.close(() => resolve(port))
    })
  })
}

/** Starts `redis-server` on `port` (a free one when absent), without persistence, bound to loopback. */
export async function startRedis(port?: number, extra: string[] = []): Promise<ServerProcess> {
  for (let attempt = 0; ; attempt++) {
    const p = port ?? (await freePort())
    try {
      return await spawnRedis(p, extra)
    } catch (err) {
      if (port !== undefined || attempt >= 3) throw err
    }
  }
}

function spawnRedis(port: number, extra: string[]): Promise<ServerProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extra]
  const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  const kill = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGCONT') // a stopped process must run to die promptly on some systems
      proc.kill('SIGKILL')
    }
    await exited
  }
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => {
      void kill()
      reject(new Error(`redis-server on port ${port} did not start: ${out}`))
    }, 5000)
    proc.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer)
        resolve({ port, proc, kill })
      }
    })
    proc.once('exit', () => {
      clearTimeout(timer)
      reject(new Error(`redis-server on port ${port} exited: ${out}`))
    })
  })
}

/** Pauses for `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Resolves once something accepts connections on 127.0.0.1:`port`, trying every 50 ms for up to `ms`. */
export async function waitPort(port: number, ms = 10_000): Promise<void> {
  for (let i = 0; i * 50 < ms; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host: '127.0.0.1' }, () => {
        s.destroy()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    })
    if (ok) return
    await sleep(50)
  }
  throw new Error(`nothing listens on port ${port}`)
}

/** Resolves when `channel` publishes an event for server `id` (or rejects after `ms`). */
export function waitForEvent(channel: string, id: string, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const fn = (m: unknown) => {
      if ((m as { id: string }).id !== id) return
      dc.unsubscribe(channel, fn)
      clearTimeout(timer)
      resolve()
    }
    const timer = setTimeout(() => {
      dc.unsubscribe(channel, fn)
      reject(new Error(`no ${channel} for ${id} within ${ms} ms`))
    }, ms)
    dc.subscribe(channel, fn)
  })
}
