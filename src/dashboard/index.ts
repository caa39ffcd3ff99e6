// The dashboard's public API: create a dashboard over a proxy or a cluster, its options and the data it serves.
export type { ApplyResult, DashboardOptions, MembershipChange } from './options.js'
export { createDashboard, Dashboard, type DashboardAddress } from './server.js'
export type { DashboardState, Health, MigrationView, ServerView } from './state.js'
export type { LookupRow, WhatIf } from './whatif.js'
