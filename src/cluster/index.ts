// Public API of the cluster client: the Cluster, its backends, options, errors and observability.
export { RendezvousError } from '../errors.js'
export {
  type Backend,
  dumpWith,
  type Entry,
  isReplyError,
  ReplyError,
  restoreWith,
  type SetOptions,
} from './backend.js'
export {
  Cluster,
  type ClusterStats,
  channels,
  type ServerEvent,
  type ServerStats,
  type WriteOptions,
} from './cluster.js'
export { HEADER_BYTES, HybridClock, Kind, type Version } from './envelope.js'
export { ClusterError, type KeyFailure } from './errors.js'
export { Limiter } from './limiter.js'
export { MemoryBackend, type MemoryBackendOptions } from './memory.js'
export {
  Migration,
  type MigrationEvent,
  type MigrationOptions,
  type MigrationProgress,
  type MigrationReason,
  type MigrationResult,
  type MigrationStats,
  migrationChannels,
} from './migration.js'
export type { ClusterOptions, Loader, ResolvedServer, ServerConfig, Value } from './options.js'
export {
  isRawBackend,
  PipelinedBackend,
  type PipelinedBackendOptions,
  type RawBackend,
  type RawCallback,
} from './pipelined.js'
export { SingleFlight } from './singleflight.js'
