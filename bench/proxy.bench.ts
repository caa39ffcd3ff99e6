// Our proxy against nutcracker (twemproxy) over the same 3 redis-servers: redis-benchmark GET/SET and MGET. A third
// proxy, the floor (proxy-floor.mjs: raw forwarding on Node's net API, no command table, health or timeouts), shows
// what Node's own socket layer allows; it takes single-key commands only, so it sits out MGET.
// Environment: BENCH_N (requests per redis-benchmark run, default 200000), BENCH_ROUNDS (alternating rounds,
// default 5; the targets are judged on the median of the rounds' ratios).
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort, waitPort } from '../test/cluster/servers.js'
import { cpuMicros, pairedMedian } from './proc.js'

const run = promisify(execFile)
const N = Number(process.env.BENCH_N ?? 200_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)

for (const tool of ['redis-server', 'redis-benchmark', 'nutcracker']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
    console.log(
      `${tool} is not installed (apt-get install redis-server redis-tools nutcracker): skipping proxy`,
    )
    process.exit(process.env.CI === 'true' ? 1 : 0)
  }
}

/** The servers and proxies this bench started, with the end of what each printed to stderr. */
const children: Array<{ proc: ChildProcess; name: string; stderr: string }> = []
function start(cmd: string, args: string[]): ChildProcess {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  const child = { proc, name: [cmd, ...args].join(' '), stderr: '' }
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    child.stderr = (child.stderr + d).slice(-4096)
  })
  children.push(child)
  return proc
}

/** Throws, naming the process and what it printed, when a server or proxy of the bench has exited. */
function checkAlive(): void {
  for (const { proc, name, stderr } of children) {
    if (proc.exitCode === null && proc.signalCode === null) continue
    const how = proc.exitCode !== null ? `with code ${proc.exitCode}` : `on ${proc.signalCode}`
    throw new Error(
      `${name} exited ${how} during the bench${stderr === '' ? '' : `; its stderr:\n${stderr}`}`,
    )
  }
}

/**
 * Runs redis-benchmark against the proxy on `port` (process `pid`); returns requests per second by test name (CSV
 * output) and the proxy's CPU time per request over the run, in microseconds.
 */
async function bench(
  port: number,
  pid: number,
  args: string[],
  requests: number,
): Promise<{ rps: Map<string, number>; cpu: number }> {
  checkAlive()
  const cpu0 = cpuMicros(pid)
  // A process that died mid-run makes redis-benchmark fail: say which one, rather than how the client failed.
  const { stdout } = await run(
    'redis-benchmark',
    ['-p', String(port), '-c', '50', '-n', String(N), '--csv', ...args],
    { maxBuffer: 16 * 1024 * 1024 },
  ).finally(checkAlive)
  const cpu = (cpuMicros(pid) - cpu0) / requests
  const rps = new Map<string, number>()
  for (const line of stdout.split('\n')) {
    const m = /^"([^"]+)","([\d.]+)"/.exec(line)
    if (m !== null) rps.set(m[1]!.split(' ')[0]!, Number(m[2]))
  }
  return { rps, cpu }
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
  // A free stats port: the default (22222) may be taken by another nutcracker on the machine.
  const nut = start('nutcracker', [
    '-c',
    conf,
    '-o',
    join(dir, 'nutcracker.log'),
    '-a',
    '127.0.0.1',
    '-s',
    String(await freePort()),
  ])

  const ourPort = await freePort()
  const cliArgs = [
    'proxy',
    '--listen',
    `127.0.0.1:${ourPort}`,
    ...redisPorts.flatMap((p, i) => ['--server', `127.0.0.1:${p},id=s${i}`]),
  ]
  const ours = existsSync('dist/cli/main.js')
    ? start(process.execPath, ['dist/cli/main.js', ...cliArgs])
    : start(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...cliArgs])
  const floorPort = await freePort()
  const floor = start(process.execPath, [
    'bench/proxy-floor.mjs',
    String(floorPort),
    ...redisPorts.map(String),
  ])
  await waitPort(nutPort)
  await waitPort(ourPort)
  await waitPort(floorPort)
  const proxies = [
    { who: 'nut', port: nutPort, pid: nut.pid! },
    { who: 'ours', port: ourPort, pid: ours.pid! },
    { who: 'floor', port: floorPort, pid: floor.pid! },
  ] as const
  type Who = (typeof proxies)[number]['who']

  const mget = ['MGET', ...Array.from({ length: 10 }, () => 'key:__rand_int__')]
  const cases: Array<[label: string, args: string[], tests: string[]]> = [
    ['-P 1', ['-r', '100000', '-d', '64', '-t', 'get,set', '-P', '1'], ['SET', 'GET']],
    ['-P 16', ['-r', '100000', '-d', '64', '-t', 'get,set', '-P', '16'], ['SET', 'GET']],
    ['-P 1', ['-r', '100000', '-P', '1', ...mget], ['MGET']],
    ['-P 16', ['-r', '100000', '-P', '16', ...mget], ['MGET']],
  ]
  console.log(
    `redis-benchmark -c 50 -n ${N} over 3 redis-servers, ${ROUNDS} alternating rounds; req/s: best round; ` +
      "ratios: median over rounds of the two proxies' ratio in that round (best/best beside it)",
  )
  const rows: string[][] = [
    [
      'test',
      'pipeline',
      'nutcracker',
      'rendezvous',
      'ratio',
      'best/best',
      'node floor',
      'floor/nut',
      'cpu us/req nut, ours, floor',
    ],
  ]
  for (const [label, args, tests] of cases) {
    const runners = proxies.filter((p) => p.who !== 'floor' || !tests.includes('MGET'))
    const best: Record<Who, Map<string, number>> = { nut: new Map(), ours: new Map(), floor: new Map() }
    const all: Record<Who, Map<string, number[]>> = { nut: new Map(), ours: new Map(), floor: new Map() }
    const cpus: Record<Who, number[]> = { nut: [], ours: [], floor: [] }
    for (let r = 0; r < ROUNDS; r++) {
      // Rotate who goes first so that a noisy neighbour on the machine hurts all alike.
      for (let i = 0; i < runners.length; i++) {
        const { who, port, pid } = runners[(r + i) % runners.length]!
        const res = await bench(port, pid, args, N * tests.length)
        cpus[who].push(res.cpu)
        for (const t of tests) {
          best[who].set(t, Math.max(best[who].get(t) ?? 0, res.rps.get(t) ?? 0))
          all[who].set(t, [...(all[who].get(t) ?? []), res.rps.get(t) ?? 0])
        }
      }
    }
    const median = (xs: number[]) =>
      xs.length === 0 ? 'n/a' : [...xs].sort((a, b) => a - b)[xs.length >> 1]!.toFixed(1)
    for (const t of tests) {
      const [a, b, f] = (['nut', 'ours', 'floor'] as const).map((w) => best[w].get(t) ?? 0)
      const rounds = (w: Who) => all[w].get(t) ?? []
      rows.push([
        t === 'MGET' ? 'MGET (10 keys)' : t,
        label,
        a!.toFixed(0),
        b!.toFixed(0),
        a! > 0 ? `${pairedMedian(rounds('ours'), rounds('nut')).toFixed(2)}x` : 'n/a',
        a! > 0 ? `${(b! / a!).toFixed(2)}x` : 'n/a',
        f! > 0 ? f!.toFixed(0) : 'n/a',
        a! > 0 && f! > 0 ? `${pairedMedian(rounds('floor'), rounds('nut')).toFixed(2)}x` : 'n/a',
        `${median(cpus.nut)}, ${median(cpus.ours)}, ${median(cpus.floor)}`,
      ])
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  for (const r of rows)
    console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '))
  console.log('targets: ratio (median over rounds) >= 1.0x at -P 1 and >= 0.8x at -P 16 (GET, SET and MGET)')
  console.log(
    "node floor: raw forwarding on Node's net API, no command table, health or timeouts (bench/proxy-floor.mjs); " +
      'cpu: the proxy process only, all threads, over both tests of a run',
  )
} finally {
  for (const c of children) c.proc.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
}
