// The proxy's public API: create a proxy, its options and stats, and its config file.
export { loadProxyConfig, type ProxyConfig, parseProxyConfig } from './config.js'
export type { ProxyOptions } from './options.js'
export { createProxy, type ProxyAddress, type ProxyStats, RendezvousProxy } from './server.js'
