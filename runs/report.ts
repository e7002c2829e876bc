import { fmtCount } from '../spaces/base/format.js';
import { latencyLabel, type LatencyRuntime } from '../evaluators/latency.js';
import { finalMaxParams, finalResult, type DevLead, type FinalConfig, type FinalResult, type MeanStd } from '../search/final.js';
import type { Trial, TrialStatus } from '../search/types.js';
import { OpnasError } from '../spaces/base/errors.js';
import { backboneFamily } from '../spaces/family.js';
import type { BackboneGenome } from '../spaces/types.js';
import { objectiveValue } from './pareto.js';
import { type RunFile, TRIAL_STATUSES } from './types.js';

/**
 * What `opnas show`, `opnas runs` and `opnas export` print: plain functions of a run file. Each
 * returns its data with a `text` rendering; the CLI prints `text`, or the rest for --json.
 */

/** The run's objectives from its config; the first is the primary one fitness is made from. */
export function runObjectives(run: RunFile): string[] {
  const o = run.config.objectives;
  return Array.isArray(o) && o.every((x) => typeof x === 'string') ? (o as string[]) : [];
}

/** Ok trials with a fitness, best first; equal fitness keeps the earlier trial first. */
export function rankTrials<G>(trials: readonly Trial<G>[]): Trial<G>[] {
  return trials
    .filter((t) => t.status === 'ok' && typeof t.fitness === 'number' && !Number.isNaN(t.fitness))
    .sort((a, b) => b.fitness! - a.fitness! || a.index - b.index);
}

/** The trial's primary objective value, else its fitness when the run names no objective. */
export function primaryScore(run: RunFile, t: Trial): number | undefined {
  const primary = runObjectives(run)[0];
  return primary === undefined ? t.fitness : objectiveValue(t, primary);
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}

/** Four significant digits, no trailing zeros; counts (params, FLOPs) as 1.47M. */
export function fmtScore(name: string, v: number | undefined): string {
  if (v === undefined) return '-';
  if (name === 'params' || name === 'flops') return fmtCount(v);
  return Number.isFinite(v) ? String(Number(v.toPrecision(4))) : String(v);
}

export function fmtDuration(seconds: number): string {
  if (!(seconds >= 0)) return '-';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(seconds / 86400)}d${String(Math.floor((seconds % 86400) / 3600)).padStart(2, '0')}h`;
}

function indent(text: string, by: string): string {
  return text
    .split('\n')
    .map((l) => by + l)
    .join('\n');
}

/** Columns padded to their widest cell, lines without trailing blanks. */
function table(rows: string[][], rightAlign: (col: number) => boolean): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) =>
    r
      .map((cell, c) => (rightAlign(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd(),
  );
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : what.endsWith('h') ? 'es' : 's'}`;
}

// ---- leaderboard ----

export interface LeaderboardRow {
  rank: number;
  index: number;
  id: string;
  fitness: number;
  /** Value per objective (undefined where the trial lacks it). */
  scores: Record<string, number | undefined>;
  params: number;
  flops: number;
  latency?: number;
  formula: string;
}

export interface Leaderboard {
  objectives: string[];
  /** How many trials are ranked (ok, with a fitness); rows holds the top of them. */
  ranked: number;
  rows: LeaderboardRow[];
  text: string;
}

export function leaderboard(run: RunFile, opts: { top?: number; objectives?: string[] } = {}): Leaderboard {
  const objectives = opts.objectives?.length ? opts.objectives : runObjectives(run);
  const ranked = rankTrials(run.trials);
  const rows: LeaderboardRow[] = ranked.slice(0, opts.top ?? 10).map((t, i) => ({
    rank: i + 1,
    index: t.index,
    id: t.id,
    fitness: t.fitness!,
    scores: Object.fromEntries(objectives.map((o) => [o, objectiveValue(t, o)])),
    params: t.cost.params,
    flops: t.cost.flops,
    ...(typeof t.scores.latency === 'number' ? { latency: t.scores.latency } : {}),
    formula: t.formula,
  }));
  return { objectives, ranked: ranked.length, rows, text: leaderboardText(run, objectives, ranked.length, rows) };
}

function leaderboardText(run: RunFile, objectives: string[], ranked: number, rows: LeaderboardRow[]): string {
  if (rows.length === 0) return `run '${run.name}' has no ranked trials yet (${plural(run.trials.length, 'trial')}, none scored ok)`;
  const extra = ['params', 'flops', 'latency'].filter(
    (c) => !objectives.includes(c) && (c !== 'latency' || rows.some((r) => r.latency !== undefined)),
  );
  const header = ['rank', 'id', ...objectives, ...extra.map((c) => (c === 'flops' ? 'FLOPs/tok' : c))];
  const cells = rows.map((r) => [
    String(r.rank),
    shortId(r.id),
    ...objectives.map((o) => fmtScore(o, r.scores[o])),
    ...extra.map((c) => fmtScore(c, c === 'params' ? r.params : c === 'flops' ? r.flops : r.latency)),
  ]);
  const lines = table([header, ...cells], (c) => c === 0 || c >= 2);
  const out = [`top ${rows.length} of ${plural(ranked, 'ranked trial')} in run '${run.name}'`, lines[0]];
  rows.forEach((r, i) => out.push(lines[i + 1], indent(r.formula, '      ')));
  return out.join('\n');
}

// ---- lineage ----

export interface LineageStep {
  index: number;
  id: string;
  origin: Trial['origin'];
  status: TrialStatus;
  /** The primary objective value (undefined when not evaluated). */
  score?: number;
  fitness?: number;
  formula: string;
}

export interface Lineage {
  /** The trial first, then its parent, back to the root. */
  steps: LineageStep[];
  /** Set when the chain stops at a parent id no trial of this run has. */
  missingParent?: string;
  text: string;
}

/** A trial by id or unique id prefix; ok trials win over unevaluated ones with the same id. */
export function findTrial<G>(run: RunFile<G>, id: string): Trial<G> {
  const matches = run.trials.filter((t) => t.id.startsWith(id));
  const ids = [...new Set(matches.map((t) => t.id))];
  if (ids.length === 0) throw new OpnasError(`run '${run.name}' has no trial with id '${id}'`);
  if (ids.length > 1) throw new OpnasError(`id '${id}' is ambiguous in run '${run.name}': ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', ...' : ''}`);
  return matches.find((t) => t.status === 'ok') ?? matches[0];
}

/** The chain of parents from a trial (default: the best) back to the root sample. */
export function lineage(run: RunFile, id?: string): Lineage {
  let t: Trial | undefined;
  if (id === undefined) {
    t = rankTrials(run.trials)[0];
    if (!t) throw new OpnasError(`run '${run.name}' has no ranked trials yet, so no best trial to trace`);
  } else t = findTrial(run, id);
  const byId = new Map<string, Trial>();
  for (const x of run.trials) if (!byId.has(x.id) || (x.status === 'ok' && byId.get(x.id)!.status !== 'ok')) byId.set(x.id, x);
  const steps: LineageStep[] = [];
  const seen = new Set<string>();
  let missingParent: string | undefined;
  while (t && !seen.has(t.id)) {
    seen.add(t.id);
    steps.push({
      index: t.index,
      id: t.id,
      origin: t.origin,
      status: t.status,
      ...(t.status === 'ok' ? { score: primaryScore(run, t), fitness: t.fitness } : {}),
      formula: t.formula,
    });
    if (t.parent === undefined) break;
    const parent = byId.get(t.parent);
    if (!parent) missingParent = t.parent;
    t = parent;
  }
  return { steps, ...(missingParent ? { missingParent } : {}), text: lineageText(run, steps, missingParent) };
}

function lineageText(run: RunFile, steps: LineageStep[], missingParent?: string): string {
  const primary = runObjectives(run)[0] ?? 'fitness';
  const cells = steps.map((s, i) => {
    const parent = steps[i + 1];
    const delta = s.score !== undefined && parent?.score !== undefined ? s.score - parent.score : undefined;
    return [
      `#${s.index}`,
      shortId(s.id),
      s.origin,
      s.status === 'ok' ? `${primary} ${fmtScore(primary, s.score)}` : s.status,
      delta === undefined ? '' : `(${delta >= 0 ? '+' : ''}${fmtScore(primary, delta)})`,
    ];
  });
  const root = steps[steps.length - 1];
  const head = `lineage of ${shortId(steps[0].id)}: ${plural(steps.length - 1, 'step')} back to its root ${root.origin}`;
  const out = [head, ...table(cells, () => false).map((l) => '  ' + l)];
  if (missingParent) out.push(`  (parent ${shortId(missingParent)} is not a trial of run '${run.name}')`);
  out.push('', 'best formula:', indent(steps[0].formula, '  '));
  return out.join('\n');
}

// ---- summary ----

export interface RunSummary {
  name: string;
  status: RunFile['status'];
  statusReason?: string;
  seed: number;
  space?: string;
  strategy?: string;
  evaluator?: string;
  objectives: string[];
  /** Backbone runs: which runtime measured the latency score (tfjs, onnx: evaluators/latency.ts). */
  latencyRuntime?: string;
  /** Backbone runs: the tokenizer candidates were scored with. */
  tokenizer?: string;
  /** Coarse-to-fine runs: the stage the strategy is in, and how many candidates the block stage takes. */
  coarse?: { stage: 1 | 2; stage1: number };
  /** Supernet runs with a distillation warm-up: its steps of the supernet's, and the teacher. */
  warmup?: { steps: number; of: number; teacher: string };
  trials: number;
  counts: Record<TrialStatus, number>;
  batches: number;
  /** Candidates of a batch asked but not yet evaluated. */
  pending: number;
  best?: { index: number; id: string; score?: number; fitness: number; formula: string };
  created: string;
  updated: string;
  /** Wall time from creation to the last save (includes any time the run was stopped). */
  seconds: number;
  /** Seconds spent evaluating, summed over trials. */
  evalSeconds: number;
  text: string;
}

export function summary(run: RunFile): RunSummary {
  const counts = Object.fromEntries(TRIAL_STATUSES.map((s) => [s, 0])) as Record<TrialStatus, number>;
  for (const t of run.trials) counts[t.status] = (counts[t.status] ?? 0) + 1;
  const top = rankTrials(run.trials)[0];
  // a hand-edited run.json may hold anything here: report what is a string, skip the rest
  const str = (k: 'space' | 'strategy' | 'evaluator') => {
    const v: unknown = run.config[k];
    return typeof v === 'string' ? v : undefined;
  };
  const s: Omit<RunSummary, 'text'> = {
    name: run.name,
    status: run.status,
    ...(run.statusReason ? { statusReason: run.statusReason } : {}),
    seed: run.seed,
    space: str('space'),
    strategy: str('strategy'),
    evaluator: str('evaluator'),
    objectives: runObjectives(run),
    ...(run.config.space === 'backbone' ? { latencyRuntime: run.config.latencyRuntime ?? 'tfjs', tokenizer: run.config.tokenizer ?? 'wordlevel' } : {}),
    ...coarseStage(run),
    ...warmupOf(run),
    trials: run.trials.length,
    counts,
    batches: run.nextBatch,
    pending: run.pending?.candidates.length ?? 0,
    ...(top ? { best: { index: top.index, id: top.id, score: primaryScore(run, top), fitness: top.fitness!, formula: top.formula } } : {}),
    created: run.created,
    updated: run.updated,
    seconds: Math.max(0, (Date.parse(run.updated) - Date.parse(run.created)) / 1000),
    evalSeconds: run.trials.reduce((a, t) => a + (t.seconds || 0), 0),
  };
  return { ...s, text: summaryText(s) };
}

/** The distillation warm-up of a supernet run, if it has one, and its teacher in words (no TF.js needed). */
function warmupOf(run: RunFile): { warmup?: RunSummary['warmup'] } {
  const sn = run.config.supernet;
  if (run.config.evaluator !== 'supernet' || !sn || !(sn.warmupSteps > 0)) return {};
  const of = sn.train?.steps ?? sn.warmupSteps;
  if (sn.teacherLogits) return { warmup: { steps: sn.warmupSteps, of, teacher: `soft labels from ${sn.teacherLogits}` } };
  // runs saved before the teacher was a search option used the default: bert-tiny, 2,000 steps
  if (!sn.teacher) return { warmup: { steps: sn.warmupSteps, of, teacher: 'bert-tiny trained 2000 steps' } };
  const g = sn.teacher.genome;
  const mixers = g.layers.map((l) => (l.mixer.type === 'conv' ? `conv k${l.mixer.kernel}` : 'attention'));
  const arch = `${g.layers.length} layers, hidden ${g.hidden}, ${g.heads} heads${g.pool && g.pool !== 'cls' ? `, ${g.pool} pooling` : ''} (${[...new Set(mixers)].join(', ')})`;
  const how = sn.teacher.patience ? `up to ${sn.teacher.steps} steps, to convergence (patience ${sn.teacher.patience})` : `${sn.teacher.steps} steps`;
  return { warmup: { steps: sn.warmupSteps, of, teacher: `a teacher of ${arch} trained ${how}${sn.teacher.lr !== undefined ? `, lr ${sn.teacher.lr}` : ''}` } };
}

/** Where a coarse-to-fine run stands (its saved strategy state says the stage). */
function coarseStage(run: RunFile): { coarse?: RunSummary['coarse'] } {
  if (run.config.strategy !== 'coarse-to-fine' || typeof run.config.budget !== 'number') return {};
  const st = (run.strategyState as { stage?: unknown } | null | undefined)?.stage;
  return { coarse: { stage: st === 2 ? 2 : 1, stage1: Math.ceil(run.config.budget / 2) } };
}

function summaryText(s: Omit<RunSummary, 'text'>): string {
  const primary = s.objectives[0] ?? 'fitness';
  const what = [s.space && `space ${s.space}`, s.strategy && `strategy ${s.strategy}`, s.evaluator && `evaluator ${s.evaluator}`]
    .filter(Boolean)
    .join(', ');
  const counts = TRIAL_STATUSES.filter((k) => s.counts[k] > 0).map((k) => `${s.counts[k]} ${k}`);
  const lines = [
    `run '${s.name}': ${s.status}${s.statusReason ? ` (${s.statusReason})` : ''}`,
    `  ${what ? what + ', ' : ''}seed ${s.seed}${s.objectives.length ? `, objectives ${s.objectives.join(', ')}` : ''}`,
    ...(s.latencyRuntime ? [`  latency measured with ${latencyLabel(s.latencyRuntime as LatencyRuntime)}, tokenizer ${s.tokenizer}`] : []),
    ...(s.coarse
      ? [`  coarse-to-fine: the blocks at one fixed shape for the first ${s.coarse.stage1} candidates (to a whole batch), then the shape around the best blocks; now ${s.coarse.stage === 1 ? 'searching the blocks' : 'searching the shape'}`]
      : []),
    ...(s.warmup ? [`  supernet: the first ${s.warmup.steps} of ${s.warmup.of} steps distilled from ${s.warmup.teacher}`] : []),
    `  ${plural(s.trials, 'trial')}${counts.length ? ` (${counts.join(', ')})` : ''} in ${plural(s.batches, 'batch')}${s.pending ? `, ${s.pending} pending` : ''}`,
    `  started ${s.created}, ${fmtDuration(s.seconds)} to the last save, ${fmtDuration(s.evalSeconds)} evaluating`,
  ];
  if (s.best) {
    lines.push(`  best: #${s.best.index} ${shortId(s.best.id)}  ${primary} ${fmtScore(primary, s.best.score)}`);
    lines.push(indent(s.best.formula, '    '));
  }
  return lines.join('\n');
}

// ---- run list ----

/** One line of `opnas runs`; corrupt runs are listed with their problem instead of their numbers. */
export interface RunListing {
  name: string;
  status?: RunFile['status'];
  /** Trials scored ok. */
  trials?: number;
  /** The best trial's primary objective value. */
  best?: number;
  objective?: string;
  updated?: string;
  /** Seconds since the last save. */
  age?: number;
  /** The process holding the run, when one does. */
  inUseBy?: number;
  corrupt?: string;
}

export function runsTable(runs: readonly RunListing[]): string {
  if (runs.length === 0) return 'no runs';
  const rows = runs.map((r) =>
    r.corrupt
      ? [r.name, 'corrupt', '', '', '', r.corrupt]
      : [
          r.name,
          r.status ?? '-',
          String(r.trials ?? 0),
          r.best === undefined ? '-' : `${r.objective ?? 'fitness'} ${fmtScore(r.objective ?? '', r.best)}`,
          r.age === undefined ? '-' : `${fmtDuration(r.age)} ago`,
          r.inUseBy ? `in use by process ${r.inUseBy}` : '',
        ],
  );
  return table([['name', 'status', 'trials', 'best', 'updated', ''], ...rows], (c) => c === 2).join('\n');
}

// ---- final stage ----

export interface FinalReport {
  result: FinalResult;
  seeds: number;
  text: string;
}

/**
 * The final-stage table of a run that has one: mean ± std over seeds, the winner against the baseline
 * (`leads` false: without the example-by-example comparison, for callers that only need the winner).
 */
export function finalReport(run: RunFile, o: { leads?: boolean } = {}): FinalReport | undefined {
  if (!run.final) return undefined;
  const seeds = (run.config.final as { seeds?: number } | undefined)?.seeds ?? 1;
  const result = finalResult(run.final, seeds, o);
  const pct = (m?: MeanStd) => (m ? `${(100 * m.mean).toFixed(2)} ± ${(100 * m.std).toFixed(2)}` : '-');
  // a spread final stage says each finalist's family (the slots went first to the families the baseline is not)
  const spread = (run.config.final as { spread?: boolean } | undefined)?.spread === true;
  const header = ['', 'id', ...(spread ? ['family'] : []), 'dev (mean ± std)', 'test (mean ± std)', 'seeds', 'params', 'FLOPs/tok', 'latency', 'search'];
  const cells = result.rows.map((r) => [
    r === result.winner ? '*' : '',
    shortId(r.id) + (r.baseline ? ' baseline' : r.reference ? ' reference' : ''),
    ...(spread ? [backboneFamily(r.genome as BackboneGenome)] : []),
    pct(r.dev),
    pct(r.test),
    `${r.dev?.n ?? 0}/${seeds}${r.failed ? ` (${r.failed} failed)` : ''}`,
    fmtCount(r.cost.params),
    fmtCount(r.cost.flops),
    r.latency === undefined ? '-' : `${r.latency.toFixed(2)} ms`,
    r.searchFitness === undefined ? '-' : fmtScore('dev', r.searchFitness),
  ]);
  const done = run.final.runs.length;
  const total = run.final.finalists.length * seeds;
  const lines = screenLines(run.final);
  if (!run.final.finalists.length) return { result, seeds, text: lines.join('\n') }; // still screening
  const dropout = run.config.final?.train?.dropout ?? 0;
  const final = (run.config.final ?? {}) as Pick<FinalConfig, 'maxParams'>;
  const cap = result.baseline ? finalMaxParams(final, result.baseline.cost.params) : undefined;
  const limit = cap === undefined ? '' : `; search candidates of at most ${fmtCount(cap)}${final.maxParams === 'baseline' ? " (the baseline's)" : ''} parameters`;
  lines.push(
    `final stage: ${result.rows.length} finalists trained stand-alone, ${seeds} seed${seeds === 1 ? '' : 's'} each${dropout > 0 ? ` with dropout ${dropout}` : ''} (${done}/${total} trainings done); chosen by mean dev, test never used; latency measured with ${latencyLabel(run.config.latencyRuntime)}${limit}${spread ? '; finalists spread over families' : ''}`,
    ...table([header, ...cells], (c) => !['', 'id', 'family', 'seeds'].includes(header[c])).map((l) => '  ' + l),
  );
  const w = result.winner;
  const b = result.baseline;
  if (w && result.complete) {
    lines.push(
      w.baseline
        ? `winner: the baseline itself (no candidate beat it on dev)`
        : w.reference && w.trial === undefined
          ? `winner: ${shortId(w.id)}, a known-good reference (no searched candidate beat it on dev)`
          : `winner: ${shortId(w.id)}${w.reference ? ' (the search scored it; it is also a known-good reference)' : ''}`,
    );
    if (!w.baseline && b?.dev && b.test && w.test)
      lines.push(`  vs baseline: dev ${signed(100 * (w.dev!.mean - b.dev.mean))}, test ${signed(100 * (w.test.mean - b.test.mean))} points, params ${fmtCount(w.cost.params)} vs ${fmtCount(b.cost.params)}`);
    const l = result.lead;
    if (l) lines.push(`  dev accuracy, example by example: ${leadFigures(l)}${l.low > 0 ? '' : ': within what another sample of dev examples could reverse'}`);
    const u = result.runnerUp;
    if (u)
      lines.push(
        `  the next best, ${shortId(u.id)}, against it, example by example: dev accuracy ${leadFigures(u.lead)}${u.lead.high < 0 ? '' : ': within what another sample of dev examples could reverse'}`,
      );
    lines.push(indent(w.formula, '    '));
  }
  return { result, seeds, text: lines.join('\n') };
}

/** The screening rung's table (one short training per candidate; '>' marks those that went on). */
function screenLines(final: NonNullable<RunFile['final']>): string[] {
  const sc = final.screen;
  if (!sc) return [];
  const on = new Set(final.finalists.map((f) => f.id));
  const byId = new Map(sc.runs.map((r) => [r.id, r]));
  const header = ['', 'id', 'screen dev', 'params', 'search'];
  const cells = sc.candidates.map((c) => {
    const r = byId.get(c.id);
    return [
      on.has(c.id) ? '>' : '',
      shortId(c.id),
      !r ? '-' : r.status === 'ok' ? `${(100 * r.dev!).toFixed(2)}` : 'failed',
      fmtCount(c.cost.params),
      c.searchFitness === undefined ? '-' : fmtScore('dev', c.searchFitness),
    ];
  });
  return [
    `screening: ${sc.candidates.length} candidates trained once (seed 0, ${sc.steps} steps), ${sc.runs.length}/${sc.candidates.length} done; '>' went on to the final stage`,
    ...table([header, ...cells], (c) => c >= 2).map((l) => '  ' + l),
  ];
}

/** A signed figure with two decimals: +1.05, -0.45. */
export function signed(x: number): string {
  return `${x >= 0 ? '+' : ''}${x.toFixed(2)}`;
}

/** A DevLead's figures: "+1.05 points, 95% bootstrap interval -0.45 to +2.60 over the 1000 dev examples". */
export function leadFigures(l: DevLead): string {
  return `${signed(l.points)} points, 95% bootstrap interval ${signed(l.low)} to ${signed(l.high)} over the ${l.n} dev examples`;
}
