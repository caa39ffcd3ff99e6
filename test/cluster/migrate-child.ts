// Child process for the interrupted-migration test: adds a server (throttled) and prints progress until killed.
import { Cluster } from '../../src/cluster/index.js'

const ports = JSON.parse(process.argv[2] ?? '[]') as number[]
const cluster = new Cluster({
  servers: ports.slice(0, 3).map((port, i) => ({ id: `r${i}`, port })),
  mode: 'store',
  replicas: 2,
  timeoutMs: 2000,
  migrationRate: 10_000,
  migrationBatchSize: 500,
})
const m = cluster.addServer({ id: 'r3', port: ports[3]! })
m.on('progress', (p: { scanned: number; moved: number }) => {
  process.stdout.write(`scanned ${p.scanned} moved ${p.moved}\n`)
})
await m.done
await cluster.close()
