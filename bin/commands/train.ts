import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { saveWeights } from '../../evaluators/checkpoint.js';
import { saveModelFolder, weightsOf } from '../../evaluators/model-dir/folder.js';
import type { NamedTensor } from '../../evaluators/model-dir/safetensors.js';
import type { CommandModule } from 'yargs';
import { initBackend, type BackendChoice } from '../../evaluators/backend.js';
import { backendOption, dropoutRate, nonNegativeInt, positiveInt } from '../options.js';
import { DEFAULT_TRAIN, encodeTask, trainStandalone, type TrainConfig, type TrainResult } from '../../evaluators/train.js';
import { BASELINES } from '../../spaces/backbone.js';
import { OpnasError } from '../../spaces/base/errors.js';
import { checkOutDir } from '../out-dir.js';
import { resolveArch } from '../teacher-options.js';
import { fmtCount } from '../../spaces/base/format.js';
import { note, print } from '../output.js';
import { makeBar, progressEnabled } from '../progress.js';
import { loadTaskFrom, taskOptions, taskSpecFrom, type TaskArgs } from '../task-options.js';
import { taskFileSpec } from '../../evaluators/tasks/named.js';
import { checkTokenizerModel } from '../../evaluators/tasks/tokenizer.js';
import { LATENCY_RUNTIMES } from '../../evaluators/latency.js';

interface Args extends TaskArgs {
  arch?: string;
  baseline?: string;
  steps: number;
  seed: number;
  'batch-size': number;
  lr: number;
  'max-len': number;
  'vocab-size': number;
  'eval-every': number;
  patience: number;
  bucket: boolean;
  dropout: number;
  backend?: BackendChoice;
  json?: boolean;
  quiet?: boolean;
  out?: string;
  force?: boolean;
  tokenizer: string;
  'browser-latency'?: boolean;
}


export function resultTable(r: TrainResult, metric: string): string {
  const pct = (x: number) => (100 * x).toFixed(2);
  const row = (name: 'accuracy' | 'f1' | 'mcc') =>
    `${(name === metric ? `${name} *` : name).padEnd(10)} ${pct(r.dev[name]).padStart(8)}  ${pct(r.test[name]).padStart(8)}`;
  return [
    `               dev      test`,
    row('accuracy'),
    row('f1'),
    row('mcc'),
    `(* the task's metric)`,
    ``,
    `params ${fmtCount(r.params)}   FLOPs/token ${fmtCount(r.flopsPerToken)}   latency ${r.latencyMs.toFixed(2)} ms/example`,
    `steps ${r.steps} (best at ${r.bestStep}${r.stoppedEarly ? ', stopped early' : ''})   ${r.wallSeconds.toFixed(1)} s   ${Math.round(r.tokensPerSecond)} tokens/s   padding ${(100 * r.paddingFraction).toFixed(1)}%`,
  ].join('\n');
}

export const trainCommand: CommandModule<object, Args> = {
  builder: (y) =>
    taskOptions(
      backendOption(y)
        .positional('arch', { type: 'string', describe: 'genome JSON file, or a baseline name' })
        .option('baseline', { type: 'string', describe: `a named baseline (${Object.keys(BASELINES).join(', ')})` })
        .option('steps', { type: 'number', default: DEFAULT_TRAIN.steps, describe: 'optimizer steps at most' })
        .option('seed', { alias: 's', type: 'number', default: DEFAULT_TRAIN.seed, describe: 'random seed' })
        .option('batch-size', { type: 'number', default: DEFAULT_TRAIN.batchSize, describe: 'examples per training step' })
        .option('lr', { type: 'number', default: DEFAULT_TRAIN.lr, describe: 'peak learning rate (AdamW, linear warm-up and decay)' })
        .option('max-len', { type: 'number', default: DEFAULT_TRAIN.maxLen, describe: 'longest sequence in tokens' })
        .option('vocab-size', { type: 'number', default: 8192, describe: 'tokenizer vocabulary, trained on the task' })
        .option('tokenizer', { type: 'string', default: 'wordlevel', describe: 'tokenizer trained on the task: wordlevel (one id per word, unseen words [UNK]) or wordpiece (## sub-words, so unseen words become pieces)' })
        .option('eval-every', { type: 'number', default: DEFAULT_TRAIN.evalEvery, describe: 'dev evaluation interval in steps' })
        .option('patience', { type: 'number', default: DEFAULT_TRAIN.patience, describe: 'evaluations without improvement before stopping (0: never)' })
        .option('dropout', { type: 'number', default: DEFAULT_TRAIN.dropout, describe: 'hidden dropout rate while training (BERT: 0.1): embeddings, each mixer and FFN output, the pooled summary' })
        .option('bucket', { type: 'boolean', default: true, describe: 'length-bucketed batches (--no-bucket to pad every batch to --max-len)' })
        .option('quiet', { type: 'boolean', describe: 'no progress output' })
        .option('out', { type: 'string', describe: 'save the trained model folder here (config.json, tokenizer.json, model.safetensors, model.onnx, README.md; checked before training) for opnas predict and other tools' })
        .option('force', { type: 'boolean', describe: 'overwrite an existing, non-empty --out folder' })
        .option('browser-latency', { type: 'boolean', describe: "with --out: also measure model.onnx's forward latency in headless Chromium with ONNX Runtime Web, into config.json and the model card (needs chromium; CHROMIUM_PATH names another)" }),
    ) as never,
  handler: async (argv) => {
    const { name, genome } = resolveArch(argv.arch, argv.baseline);
    const cfg: Partial<TrainConfig> = {
      steps: positiveInt('steps', argv.steps),
      seed: argv.seed,
      batchSize: positiveInt('batch-size', argv['batch-size']),
      lr: argv.lr,
      maxLen: positiveInt('max-len', argv['max-len']),
      evalEvery: nonNegativeInt('eval-every', argv['eval-every']),
      patience: nonNegativeInt('patience', argv.patience),
      bucket: argv.bucket,
      dropout: dropoutRate('dropout', argv.dropout),
    };
    if (!(argv.lr > 0)) throw new OpnasError(`--lr must be positive, got ${argv.lr}`);
    if (!Number.isFinite(argv.seed)) throw new OpnasError(`--seed must be a number, got ${argv.seed}`);
    const tokenizerModel = checkTokenizerModel(argv.tokenizer);
    // [CLS] text [SEP], or [CLS] a [SEP] b [SEP] for pairs
    const minLen = argv['pair-column'] !== undefined ? 3 : 2;
    if (cfg.maxLen! < minLen) throw new OpnasError(`--max-len must be at least ${minLen} (room for the special tokens), got ${cfg.maxLen}`);
    // the output folder is checked before hours go into training, not after
    if (argv.out !== undefined) checkOutDir('out', argv.out, argv.force);
    if (argv['browser-latency']) {
      if (argv.out === undefined) throw new OpnasError('--browser-latency measures the saved model: give --out DIR');
      await LATENCY_RUNTIMES.browser.ready();
    }
    const log = argv.quiet ? () => {} : note;
    // Read and encode the data before starting a backend, so bad input fails fast and alone.
    const data = loadTaskFrom(argv);
    const task = encodeTask(data, { vocabSize: positiveInt('vocab-size', argv['vocab-size']), maxLen: cfg.maxLen!, tokenizerModel });
    await initBackend(argv.backend, { log });
    log(`task ${data.name}: ${task.train.seqs.length} train / ${task.dev.seqs.length} dev / ${task.test.seqs.length} test, ${task.numClasses} classes, metric ${task.metric}`);
    const bar = makeBar('train |{bar}| {value}/{total} steps | loss {loss} | {tps} tok/s | dev {dev} | ETA {eta_formatted}', progressEnabled(argv.quiet));
    bar?.start(cfg.steps!, 0, { loss: '-', tps: '-', dev: '-' });
    let dev = '-';
    let weights: Map<string, NamedTensor> | undefined;
    const result = await trainStandalone(genome, task, cfg, {
      onStep: (s) => {
        if (s.devScore !== undefined) dev = (100 * s.devScore).toFixed(2);
        bar?.update(s.step, { loss: s.loss.toFixed(4), tps: Math.round(s.tokensPerSecond), dev });
        if (!bar && s.devScore !== undefined) log(`step ${s.step}/${s.steps}  loss ${s.loss.toFixed(4)}  dev ${dev}`);
      },
      onTrained: argv.out
        ? (model) => {
            saveWeights(model.params, argv.out!);
            weights = weightsOf(model.params);
          }
        : undefined,
    });
    bar?.stop();
    const record = { arch: name, task: data.name, metric: task.metric, tokenizer: tokenizerModel, config: { ...DEFAULT_TRAIN, ...cfg }, ...result };
    if (argv.out) {
      writeFileSync(join(argv.out, 'genome.json'), JSON.stringify(genome, null, 1));
      writeFileSync(join(argv.out, 'result.json'), JSON.stringify(record, null, 2));
      const saved = await saveModelFolder(argv.out, {
        genome,
        weights: weights!,
        tokenizer: task.tokenizer,
        maxLen: cfg.maxLen!,
        task: { name: data.name, metric: task.metric, labelNames: task.labelNames, labelMap: data.labelMap, pair: data.train.pairs !== undefined, sources: data.sources, file: taskFileSpec(taskSpecFrom(argv)) },
        seed: argv.seed,
        train: record.config,
        result,
        origin: { architecture: name },
      }, { also: argv['browser-latency'] ? ['browser'] : [] });
      for (const l of saved.cost?.latency ?? []) if (l.runtime !== 'tfjs') log(`${l.label} latency of model.onnx: ${l.ms.toFixed(2)} ms/example (${l.how})`);
      if (saved.cost?.latency_note) log(saved.cost.latency_note);
      log(`saved the model folder (config.json, tokenizer.json, model.safetensors, model.onnx, pytorch/model.py, README.md; also genome.json, weights.bin, result.json) in ${argv.out}`);
    }
    if (argv.json) return print(JSON.stringify(record, null, 2));
    print(`${name} on ${data.name}`);
    print(resultTable(result, task.metric));
  },
};
