/**
 * Tasks: the bundled ones (`sst2`, the default; `trec`; `cola`) and custom ones described by a
 * spec of files and columns. A task is three splits: train (search and fine-tuning), dev (scores
 * candidates) and test (final report only), plus its classes and metric.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OpnasError } from '../../spaces/base/errors.js';
import { Rng, seedFrom } from '../../spaces/base/rng.js';
import type { TaskMetric } from './metrics.js';
import { loadClassification, type LoadOptions } from './load.js';

export type { TaskMetric };

export interface Split {
  texts: string[];
  pairs?: string[];
  labels: number[];
}

export interface TaskData {
  name: string;
  train: Split;
  dev: Split;
  test: Split;
  numClasses: number;
  labelNames: string[];
  metric: TaskMetric;
  /** Raw label (as the files write it) -> class index: how to read the labels of another file of this task. */
  labelMap?: Record<string, number>;
  /** Where each split came from, e.g. "data/trec/train.txt (seeded 10%, seed 0)": for run records. */
  sources: { train: string; dev: string; test: string };
  /**
   * When the dev split was held out of the training file: how many rows that file has and which of
   * them (0-based, file order) the train split kept. Per-example files a user makes from the
   * training file (teacher logits) are read through it.
   */
  trainRows?: { of: number; keep: number[] };
}

/** A task from the user's own files. Paths resolve against the current directory. */
export interface TaskSpec extends Omit<LoadOptions, 'path' | 'minClasses'> {
  name?: string;
  train: string;
  /** When omitted: a seeded, class-stratified 10% of train. */
  dev?: string;
  /** When omitted: the dev split is also the test split (sources.test says so). */
  test?: string;
  metric?: TaskMetric;
}

export interface LoadTaskOptions {
  /** Folder holding the bundled data sets; default `<package root>/data`. */
  dataDir?: string;
  /** Seed of the 10% dev split where a task draws one (default 0). */
  seed?: number;
}

type FileSpec = Omit<LoadOptions, 'path' | 'labelMap' | 'labelNames' | 'minClasses'>;

interface NamedTask {
  description: string;
  metric: TaskMetric;
  train: string;
  dev?: string;
  test: string;
  file: FileSpec;
  labelMap?: Record<string, number>;
  labelNames?: string[];
}

const BUILTIN: Record<string, NamedTask> = {
  sst2: {
    description: 'SST-2 binary sentiment (GLUE); test = GLUE dev',
    metric: 'accuracy',
    train: 'sst2/train.tsv',
    dev: 'sst2/dev.tsv',
    test: 'sst2/test.tsv',
    file: { format: 'tsv', header: true, textColumn: 'sentence', labelColumn: 'label' },
    labelMap: { '0': 0, '1': 1 },
    labelNames: ['negative', 'positive'],
  },
  trec: {
    description: 'TREC question classification, 6 classes; dev = seeded 10% of train',
    metric: 'accuracy',
    train: 'trec/train.txt',
    test: 'trec/test.txt',
    file: { format: 'txt', textColumn: 'text', labelColumn: 'label', encoding: 'latin1' },
    labelMap: { '0': 0, '1': 1, '2': 2, '3': 3, '4': 4, '5': 5 },
    labelNames: ['DESC', 'ENTY', 'ABBR', 'HUM', 'LOC', 'NUM'],
  },
  cola: {
    description: 'CoLA linguistic acceptability (GLUE); dev = val.tsv, test = GLUE dev; Matthews correlation',
    metric: 'mcc',
    train: 'cola/train.tsv',
    dev: 'cola/val.tsv',
    test: 'cola/dev.tsv',
    file: {
      format: 'tsv',
      header: false,
      columns: ['source', 'label', 'star', 'sentence'],
      textColumn: 'sentence',
      labelColumn: 'label',
    },
    labelMap: { '0': 0, '1': 1 },
    labelNames: ['unacceptable', 'acceptable'],
  },
};

export const DEFAULT_TASK = 'sst2';
export const TASK_NAMES: readonly string[] = Object.keys(BUILTIN);

/** One line per bundled task, for `--help` and error messages. */
export function describeTasks(): string[] {
  return TASK_NAMES.map((n) => `${n}: ${BUILTIN[n].description}`);
}

let cachedRoot: string | undefined;

/** The folder holding opnas's package.json, found by walking up from this module (source or dist/). */
export function packageRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  let first: string | undefined;
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      first ??= dir;
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'opnas') return (cachedRoot = dir);
      } catch {
        // not ours or unreadable: keep walking
      }
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  if (first) return (cachedRoot = first);
  throw new OpnasError('cannot find the opnas package root (no package.json above evaluators/tasks)');
}

export function defaultDataDir(): string {
  return join(packageRoot(), 'data');
}

/** How a task's files are read (format, header, columns, encoding): for reading more files of it. */
export function taskFileSpec(nameOrSpec: string | TaskSpec): Omit<LoadOptions, 'path' | 'labelMap' | 'labelNames' | 'minClasses'> {
  if (typeof nameOrSpec === 'string') {
    const t = BUILTIN[nameOrSpec];
    if (!t) throw new OpnasError(`unknown task "${nameOrSpec}"`);
    return structuredClone(t.file);
  }
  const s = nameOrSpec;
  const out: Omit<LoadOptions, 'path' | 'labelMap' | 'labelNames' | 'minClasses'> = { textColumn: s.textColumn, labelColumn: s.labelColumn };
  if (s.format !== undefined) out.format = s.format;
  if (s.header !== undefined) out.header = s.header;
  if (s.columns !== undefined) out.columns = s.columns;
  if (s.textPairColumn !== undefined) out.textPairColumn = s.textPairColumn;
  if (s.encoding !== undefined) out.encoding = s.encoding;
  return out;
}

/**
 * A bundled task written as the equivalent spec of files (absolute paths) and columns: loading it
 * gives the same splits, classes and metric. A distributed search ships a task's files this way.
 */
export function taskAsSpec(nameOrSpec: string | TaskSpec, opts: Pick<LoadTaskOptions, 'dataDir'> = {}): TaskSpec {
  if (typeof nameOrSpec !== 'string') return { ...nameOrSpec, train: resolve(nameOrSpec.train), ...(nameOrSpec.dev !== undefined ? { dev: resolve(nameOrSpec.dev) } : {}), ...(nameOrSpec.test !== undefined ? { test: resolve(nameOrSpec.test) } : {}) };
  const t = BUILTIN[nameOrSpec];
  if (!t) throw new OpnasError(`unknown task "${nameOrSpec}"; bundled tasks: ${TASK_NAMES.join(', ')}`);
  const dir = opts.dataDir ?? defaultDataDir();
  const spec: TaskSpec = { name: nameOrSpec, ...structuredClone(t.file), train: join(dir, t.train), test: join(dir, t.test), metric: t.metric };
  if (t.dev !== undefined) spec.dev = join(dir, t.dev);
  if (t.labelMap) spec.labelMap = { ...t.labelMap };
  if (t.labelNames) spec.labelNames = [...t.labelNames];
  return spec;
}

/** Load a bundled task by name (default `sst2`) or a custom task from a spec. */
export function loadTask(nameOrSpec: string | TaskSpec = DEFAULT_TASK, opts: LoadTaskOptions = {}): TaskData {
  const seed = opts.seed ?? 0;
  if (typeof nameOrSpec === 'string') {
    const t = BUILTIN[nameOrSpec];
    if (!t) {
      throw new OpnasError(`unknown task "${nameOrSpec}"; bundled tasks: ${TASK_NAMES.join(', ')} (or give a task spec with train/dev/test files)`);
    }
    const dir = opts.dataDir ?? defaultDataDir();
    return build(nameOrSpec, t.file, {
      train: join(dir, t.train),
      dev: t.dev === undefined ? undefined : join(dir, t.dev),
      test: join(dir, t.test),
      labelMap: t.labelMap,
      labelNames: t.labelNames,
      metric: t.metric,
      seed,
    });
  }
  const spec = nameOrSpec;
  if (!spec || typeof spec.train !== 'string') throw new OpnasError('task spec: "train" (a file path) is required');
  if (spec.textColumn === undefined) throw new OpnasError('task spec: "textColumn" is required');
  if (spec.labelColumn === undefined) throw new OpnasError('task spec: "labelColumn" is required');
  if (spec.metric !== undefined && !['accuracy', 'f1', 'mcc'].includes(spec.metric)) {
    throw new OpnasError(`task spec: unknown metric "${String(spec.metric)}" (accuracy, f1 or mcc)`);
  }
  const file: FileSpec = {
    format: spec.format,
    header: spec.header,
    columns: spec.columns,
    textColumn: spec.textColumn,
    textPairColumn: spec.textPairColumn,
    labelColumn: spec.labelColumn,
    encoding: spec.encoding,
  };
  return build(spec.name ?? 'custom', file, {
    train: resolve(spec.train),
    dev: spec.dev === undefined ? undefined : resolve(spec.dev),
    test: spec.test === undefined ? undefined : resolve(spec.test),
    labelMap: spec.labelMap,
    labelNames: spec.labelNames,
    metric: spec.metric ?? 'accuracy',
    seed,
  });
}

function build(
  name: string,
  file: FileSpec,
  p: {
    train: string;
    dev?: string;
    test?: string;
    labelMap?: Record<string, number>;
    labelNames?: string[];
    metric: TaskMetric;
    seed: number;
  },
): TaskData {
  const train = loadClassification({ ...file, path: p.train, labelMap: p.labelMap, labelNames: p.labelNames, minClasses: 2 });
  // The other splits use train's mapping, so a class index means the same thing in every split.
  const rest = (path: string) =>
    loadClassification({ ...file, path, labelMap: train.labelMap, labelNames: train.labelNames });
  const numClasses = train.labelNames.length;
  let trainSplit: Split = pick(train);
  let devSplit: Split;
  let devSource: string;
  let trainSource = p.train;
  let trainRows: TaskData['trainRows'];
  if (p.dev !== undefined) {
    devSplit = pick(rest(p.dev));
    devSource = p.dev;
  } else {
    const { keep, held } = stratifiedSplit(train.labels, 0.1, new Rng(seedFrom('opnas-dev-split', p.seed)));
    if (held.length === 0) {
      throw new OpnasError(`${p.train}: too few examples (${train.labels.length}) to hold out a 10% dev split; give a dev file`);
    }
    trainRows = { of: trainSplit.labels.length, keep };
    devSplit = subset(trainSplit, held);
    trainSplit = subset(trainSplit, keep);
    devSource = `${p.train} (seeded 10%, seed ${p.seed})`;
    trainSource = `${p.train} (less the seeded 10% dev split, seed ${p.seed})`;
  }
  let testSplit: Split;
  let testSource: string;
  if (p.test !== undefined) {
    testSplit = pick(rest(p.test));
    testSource = p.test;
  } else {
    testSplit = devSplit;
    testSource = `${devSource} (no test file: dev split reused)`;
  }
  return {
    name,
    train: trainSplit,
    dev: devSplit,
    test: testSplit,
    numClasses,
    labelNames: train.labelNames,
    labelMap: train.labelMap,
    metric: p.metric,
    sources: { train: trainSource, dev: devSource, test: testSource },
    ...(trainRows ? { trainRows } : {}),
  };
}

function pick(d: Split): Split {
  return d.pairs ? { texts: d.texts, pairs: d.pairs, labels: d.labels } : { texts: d.texts, labels: d.labels };
}

function subset(s: Split, idx: number[]): Split {
  const out: Split = { texts: idx.map((i) => s.texts[i]), labels: idx.map((i) => s.labels[i]) };
  if (s.pairs) out.pairs = idx.map((i) => s.pairs![i]);
  return out;
}

/**
 * Hold out `fraction` of the examples of each class (rounded; classes with one example stay in
 * train), chosen by the rng. Both index lists come back in file order.
 */
export function stratifiedSplit(labels: readonly number[], fraction: number, rng: Rng): { keep: number[]; held: number[] } {
  const byClass = new Map<number, number[]>();
  labels.forEach((c, i) => {
    const list = byClass.get(c);
    if (list) list.push(i);
    else byClass.set(c, [i]);
  });
  const held: number[] = [];
  for (const c of [...byClass.keys()].sort((a, b) => a - b)) {
    const idx = rng.shuffle(byClass.get(c)!);
    const k = idx.length < 2 ? 0 : Math.min(idx.length - 1, Math.round(idx.length * fraction));
    held.push(...idx.slice(0, k));
  }
  held.sort((a, b) => a - b);
  const isHeld = new Uint8Array(labels.length);
  for (const i of held) isHeld[i] = 1;
  const keep: number[] = [];
  for (let i = 0; i < labels.length; i++) if (!isHeld[i]) keep.push(i);
  return { keep, held };
}
