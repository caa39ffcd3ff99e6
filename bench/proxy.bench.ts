// Our proxy against nutcracker (twemproxy) over the same 3 redis-servers: redis-benchmark GET/SET and MGET.
// Environment: BENCH_N (requests per redis-benchmark run, default 200000), BENCH_ROUNDS (alternating rounds,
// best kept, default 3).
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort, waitPort } from '../test/cluster/servers.js'

const run = promisify(execFile)
const N = Number(process.env.BENCH_N ?? 200_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)

for (const tool of ['redis-server', 'redis-benchmark', 'nutcracker']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
    console.log(
      `${tool} is not installed (apt-get install redis-server redis-tools nutcracker): skipping proxy`,
    )
    process.exit(process.env.CI === 'true' ? 1 : 0)
  }
}

const children: ChildProcess[] = []
function start(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { stdio: 'ignore' })
  children.push(c)
  return c
}

/** Runs redis-benchmark; returns requests per second by test name (CSV output). */
async function bench(port: number, args: string[]): Promise<Map<string, number>> {
  const { stdout } = await run(
    'redis-benchmark',
    ['-p', String(port), '-c', '50', '-n', String(N), '--csv', ...args],
    {
      maxBuffer: 16 * 1024 * 1024,
    },
  )
  const out = new Map<string, number>()
  for (const line of stdout.split('\n')) {
    const m = /^"([^"]+)","([\d.]+)"/.exec(line)
    if (m !== null) out.set(m[1]!.split(' ')[0]!, Number(m[2]))
  }
  return out
}

const dir = mkdtempSync(join(tmpdir(), 'rv-proxy-bench-'))
try {
  const redisPorts = [await freePort(), await freePort(), await freePort()]
  for (const p of redisPorts)
    start('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'])
  for (const p of redisPorts) await waitPort(p)

  const nutPort = await freePort()
  const conf = join(dir, 'nutcracker.yml')
  writeFileSync(
    conf,
    [
      'pool:',
      `  listen: 127.0.0.1:${nutPort}`,
      '  hash: fnv1a_64',
      '  distribution: ketama',
      '  redis: true',
      '  timeout: 1000',
      '  servers:',
      ...redisPorts.map((p, i) => `   - 127.0.0.1:${p}:1 s${i}`),
      '',
    ].join('\n'),
  )
  start('nutcracker', ['-c', conf, '-o', join(dir, 'nutcracker.log')])

  const ourPort = await freePort()
  const cliArgs = [
    'proxy',
    '--listen',
    `127.0.0.1:${ourPort}`,
    ...redisPorts.flatMap((p, i) => ['--server', `127.0.0.1:${p},id=s${i}`]),
  ]
  if (existsSync('dist/cli/main.js')) start(process.execPath, ['dist/cli/main.js', ...cliArgs])
  else start(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...cliArgs])
  await waitPort(nutPort)
  await waitPort(ourPort)

  const mget = ['MGET', ...Array.from({ length: 10 }, () => 'key:__rand_int__')]
  const cases: Array<[label: string, args: string[], tests: string[]]> = [
    ['-P 1', ['-r', '100000', '-d', '64', '-t', 'get,set', '-P', '1'], ['SET', 'GET']],
    ['-P 16', ['-r', '100000', '-d', '64', '-t', 'get,set', '-P', '16'], ['SET', 'GET']],
    ['-P 1', ['-r', '100000', '-P', '1', ...mget], ['MGET']],
    ['-P 16', ['-r', '100000', '-P', '16', ...mget], ['MGET']],
  ]
  console.log(`redis-benchmark -c 50 -n ${N} over 3 redis-servers; requests per second (best of ${ROUNDS})`)
  const rows: string[][] = [['test', 'pipeline', 'nutcracker', 'rendezvous', 'ratio']]
  for (const [label, args, tests] of cases) {
    const best = { nut: new Map<string, number>(), ours: new Map<string, number>() }
    for (let r = 0; r < ROUNDS; r++) {
      for (const [who, port] of [
        ['nut', nutPort],
        ['ours', ourPort],
      ] as const) {
        const res = await bench(port, args)
        for (const t of tests) best[who].set(t, Math.max(best[who].get(t) ?? 0, res.get(t) ?? 0))
      }
    }
    for (const t of tests) {
      const a = best.nut.get(t) ?? 0
      const b = best.ours.get(t) ?? 0
      rows.push([
        t === 'MGET' ? 'MGET (10 keys)' : t,
        label,
        a.toFixed(0),
        b.toFixed(0),
        a > 0 ? `${(b / a).toFixed(2)}x` : 'n/a',
      ])
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  for (const r of rows)
    console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '))
  console.log('targets: ratio >= 1.0x at -P 1 and >= 0.8x at -P 16 (GET/SET)')
} finally {
  for (const c of children) c.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
}
