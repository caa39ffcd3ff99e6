// Public API of the placement core: zero dependencies, runs in Node, browsers and edge runtimes.
export { RendezvousError } from '../errors.js'
export {
  type Balance,
  balance,
  expectedShares,
  type Movement,
  movement,
  optimalMoveFraction,
  summarize,
  touchedServers,
} from './analysis.js'
export { type Loads, pickBounded } from './bounded.js'
export { digest, type Key } from './hash.js'
export { type HierarchicalOptions, HierarchicalRendezvous } from './hierarchical.js'
export { type Placement, Rendezvous } from './rendezvous.js'
export type { Server, ServerInput, ServerSpec } from './server.js'
