export { RunStore, runsDir, listRuns } from './store.js';
export { leaderboard, lineage, summary } from './report.js';
export { paretoFront, dominates } from './pareto.js';
export { exportTrial } from './export.js';
export { startSearch, resumeSearch, DEFAULT_SEARCH, type SearchConfig } from './session.js';
export type { RunFile, RunStatus } from './types.js';
