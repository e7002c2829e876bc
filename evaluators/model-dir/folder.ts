import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Rng } from '../../spaces/base/rng.js';
import { checkBackbone } from '../../spaces/backbone.js';
import { OpnasError } from '../../spaces/base/errors.js';
import type { BackboneGenome } from '../../spaces/types.js';
import { Model } from '../compile.js';
import { evalBatches } from '../tasks/batching.js';
import { packageRoot } from '../tasks/named.js';
import type { TaskMetric } from '../tasks/metrics.js';
import type { LoadOptions } from '../tasks/load.js';
import { Tokenizer, type TokenizerModel } from '../tasks/tokenizer.js';
import type { TrainConfig, TrainResult } from '../train.js';
import { modelCard } from './card.js';
import { toOnnx } from './onnx.js';
import { LATENCY_RUNTIME_NAMES, LATENCY_RUNTIMES, type LatencyRuntime } from '../latency.js';
import { toTorch } from './torch.js';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from './safetensors.js';

/**
 * A trained model as a folder other tools load:
 *   config.json        the genome, widths, max length, task, label names in class order, metric, scores
 *   tokenizer.json     the tokenizer in the Hugging Face tokenizers format (Tokenizer.toHuggingFace),
 *                      with tokenizer_config.json naming its special tokens
 *   model.safetensors  every weight under opnas's names (dense weights [in, out], as x @ W + b)
 *   model.onnx         the same model for ONNX Runtime (opset 17; inputs input_ids, attention_mask)
 *   pytorch/model.py   the same model in plain PyTorch, loading model.safetensors with numpy
 *   README.md          a model card
 * `loadModel` reads it back and classifies text.
 */

export const MODEL_FORMAT = 'opnas-model';
export const MODEL_FORMAT_VERSION = 1;

export function opnasVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

export interface ModelTaskInfo {
  name: string;
  metric: TaskMetric;
  labelNames: string[];
  /** Raw label in the task's files -> class index. */
  labelMap?: Record<string, number>;
  /** Whether examples are sentence pairs. */
  pair: boolean;
  sources?: { train: string; dev: string; test: string };
  /** How the task's files are read: what `opnas predict --file` uses by default. */
  file?: Omit<LoadOptions, 'path' | 'labelMap' | 'labelNames' | 'minClasses'>;
}

export interface ModelConfigFile {
  format: typeof MODEL_FORMAT;
  format_version: number;
  opnas_version: string;
  genome: BackboneGenome;
  hidden_size: number;
  num_attention_heads: number;
  num_hidden_layers: number;
  embedding_size: number;
  pool: 'cls' | 'mean' | 'max';
  max_length: number;
  vocab_size: number;
  /** How tokenizer.json splits words (absent in folders written before WordPiece: wordlevel). */
  tokenizer_model?: TokenizerModel;
  num_labels: number;
  id2label: Record<string, string>;
  label2id: Record<string, number>;
  task: ModelTaskInfo;
  metric: TaskMetric;
  seed: number;
  train?: Partial<TrainConfig>;
  scores?: { dev: TrainResult['dev']; test: TrainResult['test'] };
  /** latencyMs: TF.js (as always); latency: every runtime that measured this model, by name. */
  cost?: { params: number; flopsPerToken: number; latencyMs: number; latency?: ModelLatency[]; latency_note?: string };
  /** Where the genome came from: a run, its trial and lineage. */
  origin?: Record<string, unknown>;
}

/** One runtime's forward latency of the saved model: one max_length example, ms. */
export interface ModelLatency {
  runtime: LatencyRuntime;
  /** e.g. "ONNX Runtime". */
  label: string;
  ms: number;
  /** How it was measured (version, threads, repetitions). */
  how: string;
}

export interface WriteModelOptions {
  genome: BackboneGenome;
  weights: Map<string, NamedTensor>;
  tokenizer: Tokenizer;
  maxLen: number;
  task: ModelTaskInfo;
  seed: number;
  train?: Partial<TrainConfig>;
  result?: TrainResult;
  origin?: Record<string, unknown>;
  /** Latencies measured on runtimes other than TF.js (saveModelFolder measures them). */
  served?: { latency: ModelLatency[]; note?: string };
}

/** A model's weights as plain arrays (copies: they outlive the model). */
export function weightsOf(params: Map<string, tf.Tensor>): Map<string, NamedTensor> {
  return new Map([...params].map(([name, t]) => [name, { shape: [...t.shape], data: (t.dataSync() as Float32Array).slice() }]));
}

/**
 * writeModelFolder after timing model.onnx on every runtime that runs ONNX (evaluators/latency.ts),
 * so config.json and the card report the TF.js latency of training and where the model is served.
 * A runtime that cannot run here is named in the card instead of failing the save.
 */
export async function saveModelFolder(dir: string, o: WriteModelOptions): Promise<ModelConfigFile> {
  const onnx = onnxOf(o);
  const latency: ModelLatency[] = [];
  const notes: string[] = [];
  for (const name of LATENCY_RUNTIME_NAMES) {
    const r = LATENCY_RUNTIMES[name];
    if (!r.onnxFile) continue;
    try {
      latency.push({ runtime: name, label: r.label, ms: await r.onnxFile(onnx, o.maxLen), how: `${await r.version()}, ${r.how}` });
    } catch (e) {
      if (!(e instanceof OpnasError)) throw e;
      notes.push(`${r.label} latency not measured: ${e.message}`);
    }
  }
  return writeModelFolder(dir, { ...o, served: { latency, ...(notes.length ? { note: notes.join('; ') } : {}) } }, onnx);
}

function onnxOf(o: WriteModelOptions): Uint8Array {
  return toOnnx(o.genome, o.weights, { numClasses: o.task.labelNames.length, name: `opnas ${o.task.name}` });
}

/** Write config.json, tokenizer.json, model.safetensors, model.onnx, pytorch/model.py and README.md into dir. */
export function writeModelFolder(dir: string, o: WriteModelOptions, onnx = onnxOf(o)): ModelConfigFile {
  mkdirSync(dir, { recursive: true });
  if (!statSync(dir).isDirectory()) throw new OpnasError(`${dir} is a file, not a folder`);
  const g = o.genome;
  const config: ModelConfigFile = {
    format: MODEL_FORMAT,
    format_version: MODEL_FORMAT_VERSION,
    opnas_version: opnasVersion(),
    genome: g,
    hidden_size: g.hidden,
    num_attention_heads: g.heads,
    num_hidden_layers: g.layers.length,
    embedding_size: g.embed ?? g.hidden,
    pool: g.pool ?? 'cls',
    max_length: o.maxLen,
    vocab_size: o.tokenizer.vocabSize,
    tokenizer_model: o.tokenizer.model,
    num_labels: o.task.labelNames.length,
    id2label: Object.fromEntries(o.task.labelNames.map((n, i) => [String(i), n])),
    label2id: Object.fromEntries(o.task.labelNames.map((n, i) => [n, i])),
    task: o.task,
    metric: o.task.metric,
    seed: o.seed,
    ...(o.train ? { train: o.train } : {}),
    ...(o.result
      ? {
          scores: { dev: o.result.dev, test: o.result.test },
          cost: {
            params: o.result.params,
            flopsPerToken: o.result.flopsPerToken,
            latencyMs: o.result.latencyMs,
            latency: [{ runtime: 'tfjs', label: LATENCY_RUNTIMES.tfjs.label, ms: o.result.latencyMs, how: `TF.js ${tf.version_core}, ${tf.getBackend()} backend, ${LATENCY_RUNTIMES.tfjs.how}` }, ...(o.served?.latency ?? [])],
            ...(o.served?.note ? { latency_note: o.served.note } : {}),
          },
        }
      : {}),
    ...(o.origin ? { origin: o.origin } : {}),
  };
  const st = encodeSafetensors(o.weights, { format: 'pt', opnas_version: config.opnas_version, opnas_model_format: String(MODEL_FORMAT_VERSION) });
  // weights first, config last: a folder with a config.json was written completely
  atomicWrite(join(dir, 'model.safetensors'), st);
  atomicWrite(join(dir, 'model.onnx'), onnx);
  mkdirSync(join(dir, 'pytorch'), { recursive: true });
  atomicWrite(join(dir, 'pytorch', 'model.py'), toTorch(g, { numClasses: o.task.labelNames.length, labelNames: o.task.labelNames }));
  atomicWrite(join(dir, 'tokenizer.json'), JSON.stringify(o.tokenizer.toHuggingFace(o.maxLen), null, 1) + '\n');
  // transformers' AutoTokenizer and transformers.js read the special tokens from here
  const tokenizerConfig = { tokenizer_class: 'PreTrainedTokenizerFast', model_max_length: o.maxLen, unk_token: '[UNK]', cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]' };
  atomicWrite(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2) + '\n');
  atomicWrite(join(dir, 'README.md'), modelCard(config));
  atomicWrite(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  return config;
}

function atomicWrite(path: string, data: string | Uint8Array): void {
  writeFileSync(`${path}.tmp`, data);
  renameSync(`${path}.tmp`, path);
}

export interface Prediction {
  /** The predicted class's name. */
  label: string;
  /** Its index (class order of config.json's id2label). */
  index: number;
  /** Softmax probabilities, by class name. */
  probs: Record<string, number>;
}

export interface LoadedModel {
  dir: string;
  config: ModelConfigFile;
  tokenizer: Tokenizer;
  model: Model;
  /** Raw logits [n, classes] of texts (and their pair sentences, for a pair task). */
  logits(texts: readonly string[], pairs?: readonly string[]): Float32Array[];
  predict(texts: readonly string[], pairs?: readonly string[]): Prediction[];
  dispose(): void;
}

function readJson(dir: string, file: string): unknown {
  const path = join(dir, file);
  if (!existsSync(path)) throw new OpnasError(`${dir}: ${file} is missing (not a complete opnas model folder; opnas train --out DIR writes one)`);
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new OpnasError(`${path}: not valid JSON, the file is truncated or damaged (${(e as Error).message})`);
  }
}

/** Read and check a model folder; every problem is an OpnasError with one clear line. */
export function loadModel(dirIn: string): LoadedModel {
  const dir = resolve(dirIn);
  if (!existsSync(dir)) throw new OpnasError(`${dir}: no such folder`);
  if (!statSync(dir).isDirectory()) throw new OpnasError(`${dir} is a file; give the model folder`);
  const config = readJson(dir, 'config.json') as ModelConfigFile;
  if (config === null || typeof config !== 'object' || config.format !== MODEL_FORMAT) throw new OpnasError(`${dir}/config.json is not an opnas model config (no "format": "${MODEL_FORMAT}")`);
  if (typeof config.format_version !== 'number' || config.format_version > MODEL_FORMAT_VERSION) {
    throw new OpnasError(`${dir}/config.json was written by a newer opnas (${config.opnas_version ?? 'unknown version'}, model format ${config.format_version}); this opnas ${opnasVersion()} reads format ${MODEL_FORMAT_VERSION}: upgrade opnas`);
  }
  const checked = checkBackbone(config.genome);
  if (!checked.genome) throw new OpnasError(`${dir}/config.json: invalid genome (${checked.errors[0]})`);
  const genome = checked.genome;
  const labels = config.task?.labelNames;
  if (!Array.isArray(labels) || labels.length < 2) throw new OpnasError(`${dir}/config.json: "task.labelNames" must list at least two classes`);
  if (!Number.isInteger(config.max_length) || config.max_length < 2) throw new OpnasError(`${dir}/config.json: "max_length" must be an integer >= 2`);
  const tokenizer = Tokenizer.fromJSON(readJson(dir, 'tokenizer.json'));
  const stPath = join(dir, 'model.safetensors');
  if (!existsSync(stPath)) throw new OpnasError(`${dir}: model.safetensors is missing (not a complete opnas model folder)`);
  const { tensors } = decodeSafetensors(readFileSync(stPath), stPath);
  const emb = tensors.get('emb.tok');
  if (emb && emb.shape[0] !== tokenizer.vocabSize) {
    throw new OpnasError(`${dir}: tokenizer.json has ${tokenizer.vocabSize} tokens but model.safetensors embeds ${emb.shape[0]}: the tokenizer does not belong to these weights`);
  }
  const cfg = { vocabSize: tokenizer.vocabSize, maxLen: config.max_length, numClasses: labels.length };
  // the names and shapes this genome needs, from a model that allocates nothing
  const shapes = new Model(genome, cfg, new Rng(0), { mode: 'shared', get: () => tf.scalar(0) }).shapes;
  for (const [name, shape] of shapes) {
    const t = tensors.get(name);
    if (!t) throw new OpnasError(`${stPath}: no weight '${name}', which the genome in config.json needs: weights and config come from different models`);
    if (t.shape.join('x') !== shape.join('x')) throw new OpnasError(`${stPath}: '${name}' has shape [${t.shape}], the genome in config.json needs [${shape}]: weights and config come from different models`);
  }
  const model = new Model(genome, cfg, new Rng(0), { mode: 'copy', get: (name) => tf.tensor(tensors.get(name)!.data, tensors.get(name)!.shape) });
  const logits = (texts: readonly string[], pairs?: readonly string[]): Float32Array[] => {
    if (pairs && pairs.length !== texts.length) throw new OpnasError(`${texts.length} texts but ${pairs.length} pair sentences`);
    const seqs = texts.map((t, i) => tokenizer.encode(t, pairs?.[i], config.max_length));
    const out: Float32Array[] = new Array(seqs.length);
    for (const b of evalBatches(seqs, new Array(seqs.length).fill(0), { batchSize: 64, maxLen: config.max_length })) {
      const l = tf.tidy(() => model.forward(tf.tensor2d(b.ids, [b.batchSize, b.seqLen], 'int32'), tf.tensor2d(b.mask, [b.batchSize, b.seqLen])).logits);
      const v = l.dataSync() as Float32Array;
      l.dispose();
      b.indices.forEach((idx, i) => (out[idx] = v.slice(i * labels.length, (i + 1) * labels.length)));
    }
    return out;
  };
  return {
    dir,
    config,
    tokenizer,
    model,
    logits,
    predict: (texts, pairs) =>
      logits(texts, pairs).map((l) => {
        const m = Math.max(...l);
        const e = Array.from(l, (x) => Math.exp(x - m));
        const s = e.reduce((a, b) => a + b, 0);
        const index = l.indexOf(m); // the first of equal maxima, as tf.argMax picks
        return { label: labels[index], index, probs: Object.fromEntries(labels.map((n, i) => [n, e[i] / s])) };
      }),
    dispose: () => model.dispose(),
  };
}
