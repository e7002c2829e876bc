import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spaceOf } from '../spaces/registry.js';
import { OpnasError } from '../spaces/errors.js';
import type { Cost } from '../spaces/types.js';
import type { Scores } from '../search/types.js';
import { rankTrials } from './report.js';
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
  trialIndex: number;
}

/** Write the trial ranked `rank` (1 = best) as `genome.json` and `formula.txt` in outDir. */
export function exportTrial<G>(run: RunFile<G>, rank: number, outDir: string): { genome: string; formula: string } {
  const ranked = rankTrials(run.trials);
  if (ranked.length === 0) throw new OpnasError(`run '${run.name}' has no ranked trials yet: nothing to export`);
  if (!Number.isInteger(rank) || rank < 1 || rank > ranked.length) {
    throw new OpnasError(
      `rank ${rank} is out of range: run '${run.name}' has ${ranked.length} ranked trial${ranked.length === 1 ? '' : 's'} (1..${ranked.length})`,
    );
  }
  const t = ranked[rank - 1];
  const dir = resolve(outDir);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new OpnasError(code === 'EEXIST' || code === 'ENOTDIR' ? `${dir} is a file, not a folder` : `cannot create ${dir} (${code})`);
  }
  if (!statSync(dir).isDirectory()) throw new OpnasError(`${dir} is a file, not a folder`);
  const space = typeof run.config.space === 'string' ? run.config.space : spaceOf(t.genome);
  const out: ExportedGenome<G> = {
    id: t.id,
    space,
    formula: t.formula,
    scores: t.scores,
    cost: { params: t.cost.params, flops: t.cost.flops },
    genome: t.genome,
    run: run.name,
    trialIndex: t.index,
  };
  const paths = { genome: join(dir, 'genome.json'), formula: join(dir, 'formula.txt') };
  writeFileSync(paths.genome, JSON.stringify(out, null, 2) + '\n');
  writeFileSync(paths.formula, t.formula + '\n');
  return paths;
}
