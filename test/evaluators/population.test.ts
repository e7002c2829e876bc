import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../evaluators/backend.js';
import { batchCheckpoint, latestBefore, PopulationTrainer } from '../../evaluators/supernet/population.js';
import { Supernet, tokenizerHash, type SupernetEvaluatorConfig } from '../../evaluators/supernet/supernet.js';
import { loadTask } from '../../evaluators/tasks/named.js';
import { encodeTask, type EncodedTask } from '../../evaluators/train.js';
import { Rng } from '../../spaces/base/rng.js';
import type { Candidate, Trial } from '../../search/types.js';
import { backboneSpace } from '../../spaces/backbone.js';
import type { BackboneGenome } from '../../spaces/types.js';

const FIX = join(import.meta.dirname, '../fixtures/train');
const MACRO = { layers: [1, 2] as [number, number], hidden: [16, 32], heads: [1, 2], convProbability: 0.3 };
const SPEC = { train: join(FIX, 'reviews.csv'), dev: join(FIX, 'reviews-dev.tsv'), textColumn: 'sentence', labelColumn: 'label' };
let task: EncodedTask;

beforeAll(async () => {
  await initBackend('wasm');
  task = encodeTask(loadTask(SPEC), { vocabSize: 60, maxLen: 16 });
});

/** A run folder with a freshly initialised base supernet in `supernet/`. */
async function runFolder(): Promise<{ folder: string; cfg: SupernetEvaluatorConfig }> {
  const folder = mkdtempSync(join(tmpdir(), 'opnas-pop-'));
  const tok = task.tokenizer.toJSON();
  const sn = Supernet.create({ macro: MACRO, vocabSize: tok.vocab.length, maxLen: 16, numClasses: task.numClasses }, new Rng(1));
  await sn.save(join(folder, 'supernet'), { tokenizer: tokenizerHash(tok) });
  sn.dispose();
  return { folder, cfg: { task: SPEC, taskSeed: 0, tokenizer: tok, macro: MACRO, maxLen: 16, checkpoint: join(folder, 'supernet'), score: {}, backend: 'wasm' } };
}

const space = backboneSpace(MACRO);
const rng = new Rng('population-test');
const cands: Candidate<BackboneGenome>[] = Array.from({ length: 6 }, () => {
  const genome = space.sample(rng);
  return { genome, id: space.id(genome), origin: 'sample' };
});
const trialsOf = (cs: Candidate<BackboneGenome>[], batch: number): Trial[] =>
  cs.map((c, i) => ({ index: i, batch, id: c.id, genome: c.genome, origin: 'sample', formula: '', status: 'ok', scores: {}, seconds: 0, cost: { params: 0, flops: 0 }, ops: [] }));
const bytes = (dir: string) => readFileSync(join(dir, 'weights.bin'));

describe('training the supernet on the population', () => {
  it('trains each batch from the one before, keeps only the latest, and reloads instead of retraining', async () => {
    const { folder, cfg } = await runFolder();
    const t = await PopulationTrainer.create({ folder, evaluator: cfg, train: { batchSize: 8 }, population: { stepsPerCandidate: 2 }, seed: 5 });
    const b0 = await t.prepare(0, cands.slice(0, 2), []);
    expect(b0).toBe(batchCheckpoint(folder, 0));
    expect(bytes(b0).equals(bytes(cfg.checkpoint))).toBe(false);
    const mtime = statSync(join(b0, 'weights.bin')).mtimeMs;
    expect(await t.prepare(0, cands.slice(0, 2), [])).toBe(b0); // re-entered (a resumed batch): loaded, not retrained
    expect(statSync(join(b0, 'weights.bin')).mtimeMs).toBe(mtime);
    expect(latestBefore(folder, cfg.checkpoint, 1)).toBe(b0);
    expect(latestBefore(folder, cfg.checkpoint, 0)).toBe(cfg.checkpoint);
    const b1 = await t.prepare(1, cands.slice(2, 4), trialsOf(cands.slice(0, 2), 0));
    expect(readdirSync(join(folder, 'supernet-batches'))).toEqual(['b000001']);
    const after1 = bytes(b1);
    const meta = JSON.parse(readFileSync(join(b1, 'supernet.json'), 'utf8')).meta;
    expect(meta).toMatchObject({ batch: 1, populationSteps: 4, tokenizer: tokenizerHash(cfg.tokenizer) });

    const want = bytes(await t.prepare(2, cands.slice(4, 6), trialsOf(cands.slice(0, 4), 0)));
    t.dispose();

    // the same run in another folder, its process killed before batch 2's checkpoint was saved:
    // a new process loads batch 1's checkpoint from disk and trains batch 2 to the same weights
    const { folder: f2, cfg: cfg2 } = await runFolder();
    const first = await PopulationTrainer.create({ folder: f2, evaluator: cfg2, train: { batchSize: 8 }, population: { stepsPerCandidate: 2 }, seed: 5 });
    await first.prepare(0, cands.slice(0, 2), []);
    expect(bytes(await first.prepare(1, cands.slice(2, 4), trialsOf(cands.slice(0, 2), 0))).equals(after1)).toBe(true);
    first.dispose();
    const second = await PopulationTrainer.create({ folder: f2, evaluator: cfg2, train: { batchSize: 8 }, population: { stepsPerCandidate: 2 }, seed: 5 });
    expect(bytes(await second.prepare(2, cands.slice(4, 6), trialsOf(cands.slice(0, 4), 0))).equals(want)).toBe(true);
    second.dispose();
  });

  it('holds one supernet at a time: no tensor grows over many batches', async () => {
    const { folder, cfg } = await runFolder();
    const t = await PopulationTrainer.create({ folder, evaluator: cfg, train: { batchSize: 8 }, population: { stepsPerCandidate: 1 }, seed: 5 });
    await t.prepare(0, cands.slice(0, 2), []);
    const live = tf.memory().numTensors;
    for (let b = 1; b < 6; b++) await t.prepare(b, cands.slice(b % 5, (b % 5) + 2), trialsOf(cands.slice(0, b), 0));
    expect(tf.memory().numTensors).toBe(live);
    t.dispose();
  });

  it('another seed or another population gives other weights', async () => {
    const { folder, cfg } = await runFolder();
    const a = await PopulationTrainer.create({ folder, evaluator: cfg, train: { batchSize: 8 }, population: { stepsPerCandidate: 2 }, seed: 5 });
    const wa = bytes(await a.prepare(0, cands.slice(0, 2), []));
    a.dispose();
    const { folder: f2, cfg: c2 } = await runFolder();
    const b = await PopulationTrainer.create({ folder: f2, evaluator: c2, train: { batchSize: 8 }, population: { stepsPerCandidate: 2 }, seed: 6 });
    expect(bytes(await b.prepare(0, cands.slice(0, 2), [])).equals(wa)).toBe(false);
    b.dispose();
    const { folder: f3, cfg: c3 } = await runFolder();
    const c = await PopulationTrainer.create({ folder: f3, evaluator: c3, train: { batchSize: 8 }, population: { stepsPerCandidate: 2 }, seed: 5 });
    expect(bytes(await c.prepare(0, cands.slice(2, 4), [])).equals(wa)).toBe(false);
    c.dispose();
  });
});
