import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spaceOf } from '../spaces/registry.js';
import { OpnasError } from '../spaces/base/errors.js';
import type { Cost } from '../spaces/types.js';
import type { Scores } from '../search/types.js';
import { finalReport, rankTrials } from './report.js';
import type { RunFile } from './types.js';

/** `genome.json` of an exported trial; readGenomeFile unwraps it to `genome`. */
export interface ExportedGenome<G = unknown> {
  id: string;
  space: string;
  formula: string;
  scores: Scores;
  cost: Cost;
  genome: G;
  run: string;
  /** The search trial (absent for a final-stage baseline that no trial proposed). */
  trialIndex?: number;
  /** For the final stage's winner: what the stand-alone trainings scored, mean over seeds. */
  final?: { seeds: number; dev: number; test: number; baseline: boolean };
}

/**
 * Write a genome as `genome.json` and `formula.txt` in outDir: the trial ranked `rank` by search
 * score (1 = best), or, without a rank, the final stage's winner (the search's best when the run
 * has no complete final stage).
 */
export function exportTrial<G>(run: RunFile<G>, rank: number | undefined, outDir: string): { genome: string; formula: string } {
  return writeExport(outDir, chooseExport(run, rank));
}

/** What exportTrial writes: the trial ranked `rank`, or without a rank the final stage's winner (else rank 1). */
export function chooseExport<G>(run: RunFile<G>, rank: number | undefined): ExportedGenome<G> {
  const final = rank === undefined ? finalReport(run as RunFile, { leads: false }) : undefined;
  const w = final?.result.complete ? final.result.winner : undefined;
  if (w) {
    const out: ExportedGenome<G> = {
      id: w.id,
      space: 'backbone',
      formula: w.formula,
      scores: { dev: w.dev!.mean, test: w.test!.mean },
      cost: { params: w.cost.params, flops: w.cost.flops },
      genome: w.genome as G,
      run: run.name,
      ...(w.trial !== undefined ? { trialIndex: w.trial } : {}),
      final: { seeds: w.dev!.n, dev: w.dev!.mean, test: w.test!.mean, baseline: w.baseline },
    };
    return out;
  }
  rank ??= 1;
  const ranked = rankTrials(run.trials);
  if (ranked.length === 0) throw new OpnasError(`run '${run.name}' has no ranked trials yet: nothing to export`);
  if (!Number.isInteger(rank) || rank < 1 || rank > ranked.length) {
    throw new OpnasError(
      `rank ${rank} is out of range: run '${run.name}' has ${ranked.length} ranked trial${ranked.length === 1 ? '' : 's'} (1..${ranked.length})`,
    );
  }
  const t = ranked[rank - 1];
  const space = typeof run.config.space === 'string' ? run.config.space : spaceOf(t.genome);
  return {
    id: t.id,
    space,
    formula: t.formula,
    scores: t.scores,
    cost: { params: t.cost.params, flops: t.cost.flops },
    genome: t.genome,
    run: run.name,
    trialIndex: t.index,
  };
}

function writeExport<G>(outDir: string, out: ExportedGenome<G>): { genome: string; formula: string } {
  const dir = resolve(outDir);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new OpnasError(code === 'EEXIST' || code === 'ENOTDIR' ? `${dir} is a file, not a folder` : `cannot create ${dir} (${code})`);
  }
  if (!statSync(dir).isDirectory()) throw new OpnasError(`${dir} is a file, not a folder`);
  const paths = { genome: join(dir, 'genome.json'), formula: join(dir, 'formula.txt') };
  writeFileSync(paths.genome, JSON.stringify(out, null, 2) + '\n');
  writeFileSync(paths.formula, out.formula + '\n');
  return paths;
}
