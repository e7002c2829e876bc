import type { Trial } from '../search/types.js';
import { runObjectives } from './report.js';
import type { RunFile } from './types.js';

/**
 * Every trial of a run as flat records, for `opnas trials`: CSV for spreadsheets and pandas, JSON
 * lines for scripts. Both hold the same fields, in run order.
 */

export interface TrialRecord {
  index: number;
  batch: number;
  id: string;
  status: Trial['status'];
  reason?: string;
  fitness?: number;
  scores: Record<string, number>;
  params?: number;
  flops?: number;
  formula: string;
  parent?: string;
  origin: Trial['origin'];
  seconds: number;
}

export function trialRecords(run: RunFile): TrialRecord[] {
  return run.trials.map((t) => ({
    index: t.index,
    batch: t.batch,
    id: t.id,
    status: t.status,
    reason: t.reason,
    fitness: t.fitness,
    scores: t.scores,
    params: t.cost?.params,
    flops: t.cost?.flops,
    formula: t.formula,
    parent: t.parent,
    origin: t.origin,
    seconds: t.seconds,
  }));
}

/** One JSON object a line, the genome included so a line can be fed back to opnas check. */
export function trialsJsonl(run: RunFile): string {
  return trialRecords(run)
    .map((r, i) => JSON.stringify({ ...r, genome: run.trials[i].genome }) + '\n')
    .join('');
}

/** The score names of a run: its objectives first, then the rest in name order; params and flops have their own columns. */
function scoreNames(run: RunFile): string[] {
  const all = new Set(run.trials.flatMap((t) => Object.keys(t.scores ?? {})).filter((s) => s !== 'params' && s !== 'flops'));
  const first = runObjectives(run).filter((o) => all.has(o));
  return [...first, ...[...all].filter((s) => !first.includes(s)).sort()];
}

/** RFC 4180 quoting (lines end in \\n): a field with a comma, quote or line break is quoted, its quotes doubled. */
function csvField(v: string | number | undefined): string {
  if (v === undefined) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A header row, then a row per trial; each score is a `score_NAME` column, empty where a trial lacks it. */
export function trialsCsv(run: RunFile): string {
  const scores = scoreNames(run);
  const header = ['index', 'batch', 'id', 'status', 'reason', 'fitness', ...scores.map((s) => `score_${s}`), 'params', 'flops', 'formula', 'parent', 'origin', 'seconds'];
  const rows = trialRecords(run).map((r) => [r.index, r.batch, r.id, r.status, r.reason, r.fitness, ...scores.map((s) => r.scores?.[s]), r.params, r.flops, r.formula, r.parent, r.origin, r.seconds]);
  return [header, ...rows].map((row) => row.map(csvField).join(',') + '\n').join('');
}
