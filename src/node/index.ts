// The cache node's public API: create a node, and the types of its options and of what createNode returns.

export type { MaxmemoryPolicy, NodeOptions } from './options.js'
export { createNode, type NodeAddress, type NodeServer, type ServerStats } from './server.js'
