// The proxy's public API: create a proxy, its options and stats, its config file, and its backend connection.
export {
  isRawBackend,
  PipelinedBackend,
  type PipelinedBackendOptions,
  type RawBackend,
} from './backend.js'
export { loadProxyConfig, type ProxyConfig, parseProxyConfig } from './config.js'
export type { ProxyOptions } from './options.js'
export { createProxy, type ProxyAddress, type ProxyStats, RendezvousProxy } from './server.js'
