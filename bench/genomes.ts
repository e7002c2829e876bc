/** Section 3 of `npm run bench`: training throughput of genomes other than the baseline. */
import { backboneCost, backboneSpace, bertBaseline, renderMixer } from '../spaces/backbone.js';
import { Rng } from '../spaces/base/rng.js';
import { renderFfnGenome } from '../spaces/ffn-tree.js';
import { DEFAULT_MACRO } from '../spaces/macro.js';
import type { BackboneGenome } from '../spaces/types.js';
import { CLASSES, SEQ, Trainer, VOCAB, fmt, fmtInt, log, median, table } from './common.js';

export interface GenomeRow {
  name: string;
  formula: string;
  layers: number;
  params: number;
  flopsPerToken: number;
  tps: number[];
  error?: string;
}

function describeGenome(g: BackboneGenome): string {
  return g.layers.map((l, i) => `L${i}: ${renderMixer(l.mixer)} ; ffn ${renderFfnGenome(l.ffn)}`).join('<br>');
}

function genomeSet(): { name: string; genome: BackboneGenome }[] {
  const base = bertBaseline(2, 128, 2);
  const conv: BackboneGenome = { ...structuredClone(base), layers: base.layers.map((l) => ({ ...structuredClone(l), mixer: { type: 'conv', kernel: 7 } })) };
  const space = backboneSpace({ ...DEFAULT_MACRO, hidden: [128] });
  const rng = new Rng('bench-genomes');
  const sampled = [0, 1, 2].map((i) => ({ name: `sampled #${i + 1}`, genome: space.sample(rng) }));
  return [{ name: 'BERT baseline 2L', genome: base }, { name: 'conv mixer k=7, 2L', genome: conv }, ...sampled];
}

export function genomeThroughput(rounds: number, steps: number, warmup: number): GenomeRow[] {
  const set = genomeSet();
  const trainers = new Map<number, Trainer>();
  const rows: GenomeRow[] = set.map(({ name, genome }) => {
    const cost = backboneCost(genome, { seqLen: SEQ, vocabSize: VOCAB, numClasses: CLASSES });
    return { name, formula: `${genome.hidden}/${genome.heads}h<br>${describeGenome(genome)}`, layers: genome.layers.length, params: NaN, flopsPerToken: cost.flops, tps: [] };
  });
  try {
    // round-robin: every genome sees the same stretch of machine conditions
    for (let r = 0; r < rounds; r++) {
      set.forEach(({ genome }, i) => {
        const row = rows[i];
        if (row.error) return;
        try {
          let t = trainers.get(i);
          if (!t) {
            t = new Trainer(genome);
            trainers.set(i, t);
            row.params = t.model.paramCount();
          }
          const m = t.measure(steps, r === 0 ? warmup : 1);
          row.tps.push(m.tokensPerSecond);
          log(`genome ${row.name} round ${r + 1}/${rounds}: ${fmtInt(m.tokensPerSecond)} tok/s`);
        } catch (e) {
          row.error = String((e as Error)?.message ?? e).split('\n')[0];
          log(`genome ${row.name}: ${row.error}`);
        }
      });
    }
  } finally {
    for (const t of trainers.values()) t.dispose();
  }
  return rows;
}

export function renderGenomes(genomes: GenomeRow[]): string[] {
  const out: string[] = [];
  out.push('## 3. The fast path is not baseline-only: other genomes (hidden 128)', '');
  out.push(
    `Same setting as section 1 (opnas side only). Sampled genomes: \`backboneSpace({...DEFAULT_MACRO, hidden: [128]}).sample(new Rng('bench-genomes'))\`, ` +
      'three consecutive draws (depth 1–4, heads 1/2/4, each layer an attention graph or, with probability 0.3, a conv mixer). ' +
      'Round-robin over the models, median of the rounds. GFLOP/s ≈ 3 × forward FLOPs/token × tokens/s (analytic `backboneCost`).',
    '',
  );
  const baseTps = median(genomes[0]?.tps ?? []);
  out.push(
    table(
      ['genome', 'layers', 'params', 'fwd FLOPs/token', 'tok/s', 'rounds (tok/s)', '≈ GFLOP/s', 'tok/s vs baseline', 'hidden/heads, layers (formulas)'],
      genomes.map((g) => {
        const tps = median(g.tps);
        return [
          g.name,
          g.layers,
          fmtInt(g.params),
          fmtInt(g.flopsPerToken),
          g.error ? `failed: ${g.error}` : fmtInt(tps),
          g.tps.map(fmtInt).join(', '),
          g.error ? '' : fmt((3 * g.flopsPerToken * tps) / 1e9, 2),
          g.error ? '' : `${fmt(tps / baseTps, 2)}×`,
          g.formula,
        ];
      }),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
    ),
    '',
  );
  return out;
}
