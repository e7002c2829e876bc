import type { LatencyRuntime } from '../evaluators/latency.js';
import { saveModelFolder, weightsOf, type ModelConfigFile } from '../evaluators/model-dir/folder.js';
import type { NamedTensor } from '../evaluators/model-dir/safetensors.js';
import { loadTask, taskFileSpec } from '../evaluators/tasks/named.js';
import { Tokenizer, type TokenizerJSON } from '../evaluators/tasks/tokenizer.js';
import { DEFAULT_TRAIN, encodeTask, trainStandalone, type StepInfo, type TrainConfig, type TrainResult } from '../evaluators/train.js';
import { OpnasError } from '../spaces/base/errors.js';
import type { BackboneGenome } from '../spaces/types.js';
import { chooseExport } from './export.js';
import { lineage } from './report.js';
import { finalTrainConfig } from './session.js';
import type { RunFile } from './types.js';

/**
 * A run's winner as a model folder: the genome exportTrial would write (the final stage's winner,
 * or the trial ranked `rank`) trained as `opnas train` trains (the run's final-stage settings,
 * seed 0) on the run's task, then written by writeModelFolder. The final stage keeps scores, not
 * weights, so this trains once more; with seed 0 it is the final stage's seed-0 training.
 */
export async function exportModel(
  run: RunFile,
  rank: number | undefined,
  outDir: string,
  hooks: { onStep?: (s: StepInfo) => void; log?: (msg: string) => void; latency?: LatencyRuntime[] } = {},
): Promise<{ dir: string; config: ModelConfigFile; result: TrainResult }> {
  const chosen = chooseExport(run, rank);
  if (chosen.space !== 'backbone') throw new OpnasError(`run '${run.name}' searched the ${chosen.space} space: only backbone genomes are models that classify text`);
  const genome = chosen.genome as BackboneGenome;
  const c = run.config;
  const train: Partial<TrainConfig> = { ...DEFAULT_TRAIN, ...finalTrainConfig(c), seed: 0 };
  const data = loadTask(c.task, { seed: c.taskSeed });
  // the run's own tokenizer (the one its candidates and final stage were scored with)
  const saved = run.extra?.tokenizer as TokenizerJSON | undefined;
  const task = encodeTask(data, { vocabSize: c.vocabSize, maxLen: train.maxLen!, ...(saved ? { tokenizer: Tokenizer.fromJSON(saved) } : { tokenizerModel: c.tokenizer }) });
  hooks.log?.(`training ${chosen.formula.split('\n')[0]} on ${data.name}: ${train.steps} steps at most, seed 0`);
  let weights: Map<string, NamedTensor> | undefined;
  const result = await trainStandalone(genome, task, train, { onStep: hooks.onStep, onTrained: (m) => (weights = weightsOf(m.params)) });
  let line: string[] | undefined;
  if (chosen.trialIndex !== undefined) {
    try {
      line = lineage(run, chosen.id).steps.map((s) => `#${s.index} ${s.origin} ${s.id.slice(0, 8)}`);
    } catch {
      line = undefined; // a baseline no trial proposed has no lineage
    }
  }
  const config = await saveModelFolder(outDir, {
    genome,
    weights: weights!,
    tokenizer: task.tokenizer,
    maxLen: train.maxLen!,
    task: { name: data.name, metric: task.metric, labelNames: task.labelNames, labelMap: data.labelMap, pair: data.train.pairs !== undefined, sources: data.sources, file: taskFileSpec(c.task) },
    seed: 0,
    train,
    result,
    origin: {
      run: run.name,
      genome_id: chosen.id,
      ...(chosen.trialIndex !== undefined ? { trial: chosen.trialIndex } : {}),
      ...(chosen.final ? { final_stage: `mean over ${chosen.final.seeds} seeds: dev ${chosen.final.dev.toFixed(4)}, test ${chosen.final.test.toFixed(4)}${chosen.final.baseline ? ' (the reference baseline won)' : ''}` } : { search_scores: chosen.scores }),
      ...(line ? { lineage: line.join(' <- ') } : {}),
    },
  }, { also: hooks.latency });
  return { dir: outDir, config, result };
}
