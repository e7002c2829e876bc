import { Rng } from '../spaces/base/rng.js';
import type { BackboneGenome } from '../spaces/types.js';
import type { Candidate } from '../search/types.js';
import { initBackend, type BackendChoice } from './backend.js';
import { Model } from './compile.js';
import { candidateLatency, type LatencyRuntime } from './latency.js';
import { loadTask, type TaskData, type TaskSpec } from './tasks/named.js';
import { Tokenizer, type TokenizerJSON, type TokenizerModel } from './tasks/tokenizer.js';
import { encodeTask, measureLatency, trainStandalone, type EncodedTask, type TrainConfig } from './train.js';
import type { EvalContext, EvalResult, Evaluator } from './types.js';

/**
 * Scores a candidate by training it from scratch for a short step budget and reading the dev
 * metric: the ground truth the cheaper evaluators are checked against. Everything it needs is plain
 * JSON (StandaloneConfig), so worker processes build the same evaluator from the same config.
 */
export interface StandaloneConfig {
  task: string | TaskSpec;
  /** Seed of the task's dev split, where one is drawn. */
  taskSeed: number;
  /** The run's tokenizer: trained once, saved with the run, shared by every worker. */
  tokenizer: TokenizerJSON;
  train: Partial<TrainConfig>;
  backend?: BackendChoice;
  /** Where the `latency` score is measured (default tfjs: the trained TF.js model). */
  latencyRuntime?: LatencyRuntime;
}

export const STANDALONE_SCORES = ['dev', 'test', 'latency', 'params', 'flops'];

export class StandaloneEvaluator implements Evaluator<BackboneGenome> {
  readonly name = 'standalone';
  readonly scoreNames = STANDALONE_SCORES;

  private constructor(
    readonly task: EncodedTask,
    private readonly cfg: StandaloneConfig,
  ) {}

  static async create(cfg: StandaloneConfig, log?: (m: string) => void): Promise<StandaloneEvaluator> {
    await initBackend(cfg.backend, { log });
    const data = loadTask(cfg.task, { seed: cfg.taskSeed });
    const task = encodeTask(data, { vocabSize: cfg.tokenizer.vocab.length, maxLen: cfg.train.maxLen ?? 64, tokenizer: Tokenizer.fromJSON(cfg.tokenizer) });
    return new StandaloneEvaluator(task, cfg);
  }

  async score(c: Candidate<BackboneGenome>, ctx: EvalContext, onStep?: (step: number, steps: number) => void): Promise<EvalResult> {
    const r = await trainStandalone(c.genome, this.task, { ...this.cfg.train, seed: ctx.seed }, { signal: ctx.signal, onStep: onStep && ((s) => onStep(s.step, s.steps)) });
    // TF.js: the trained model's latency, measured as training ends; another runtime measures the genome
    const latency = (this.cfg.latencyRuntime ?? 'tfjs') === 'tfjs' ? r.latencyMs : await this.latency(c);
    return { scores: { dev: r.dev.score, test: r.test.score, latency }, seconds: r.wallSeconds, devCorrect: r.devCorrect.join('') };
  }

  /** Forward latency of one example, from freshly initialised weights: no training needed. */
  async latency(c: Candidate<BackboneGenome>): Promise<number> {
    const shape = { vocabSize: this.task.tokenizer.vocabSize, maxLen: this.cfg.train.maxLen ?? 64, numClasses: this.task.numClasses };
    return candidateLatency(this.cfg.latencyRuntime, c.genome, shape, () => {
      const model = new Model(c.genome, shape, new Rng(0));
      try {
        return measureLatency(model, shape.maxLen);
      } finally {
        model.dispose();
      }
    });
  }
}

/** Train the run's tokenizer once, in the parent, so every worker encodes the same way. */
export function trainTokenizer(data: TaskData, vocabSize: number, model: TokenizerModel = 'wordlevel'): TokenizerJSON {
  const texts = data.train.pairs ? [...data.train.texts, ...data.train.pairs] : data.train.texts;
  return Tokenizer.train(texts, vocabSize, model).toJSON();
}
