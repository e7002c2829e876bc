import type { Argv } from 'yargs';
import { loadTask, TASK_NAMES, type TaskData, type TaskSpec } from '../evaluators/tasks/named.js';
import { OpnasError } from '../spaces/base/errors.js';

/** The options every command that reads a task shares: a built-in name or the user's own files. */
export interface TaskArgs {
  task: string;
  train?: string;
  dev?: string;
  test?: string;
  format?: 'tsv' | 'csv' | 'jsonl';
  'text-column'?: string;
  'pair-column'?: string;
  'label-column'?: string;
  'label-map'?: string;
  encoding?: 'utf8' | 'latin1';
  /** False with --no-header (yargs turns `--no-X` into `X: false`). */
  header?: boolean;
}

export function taskOptions<T>(y: Argv<T>) {
  return y
    .option('task', { alias: 't', type: 'string', default: 'sst2', describe: `built-in task (${TASK_NAMES.join(', ')}); ignored with --train`, group: 'Task:' })
    .option('train', { type: 'string', describe: 'your own training file (TSV, CSV or JSONL)', group: 'Task:' })
    .option('dev', { type: 'string', describe: 'dev file (default: a seeded 10% of --train)', group: 'Task:' })
    .option('test', { type: 'string', describe: 'test file (default: the dev split)', group: 'Task:' })
    .option('format', { choices: ['tsv', 'csv', 'jsonl'] as const, describe: 'file format (default: from the extension)', group: 'Task:' })
    .option('text-column', { type: 'string', default: 'sentence', describe: 'column (name or 0-based index) with the text', group: 'Task:' })
    .option('pair-column', { type: 'string', describe: 'second text column, for sentence-pair tasks', group: 'Task:' })
    .option('label-column', { type: 'string', default: 'label', describe: 'column with the label', group: 'Task:' })
    .option('label-map', { type: 'string', describe: 'labels to class ids, e.g. "neg=0,pos=1"', group: 'Task:' })
    .option('encoding', { choices: ['utf8', 'latin1'] as const, default: 'utf8' as const, describe: 'text encoding of your files', group: 'Task:' })
    .option('header', { type: 'boolean', default: true, describe: 'files have a header row (--no-header: they do not; columns are then 0-based indexes)', group: 'Task:' });
}

function column(v: string | undefined): string | number | undefined {
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : v;
}

function parseLabelMap(s: string): Record<string, number> {
  const map: Record<string, number> = {};
  for (const part of s.split(',')) {
    const m = /^\s*([^=]+?)\s*=\s*(\d+)\s*$/.exec(part);
    if (!m) throw new OpnasError(`--label-map: cannot read '${part}' (expected LABEL=ID pairs, e.g. "neg=0,pos=1")`);
    map[m[1]] = Number(m[2]);
  }
  return map;
}

export function taskSpecFrom(a: TaskArgs): string | TaskSpec {
  if (!a.train) {
    if (a.dev || a.test) throw new OpnasError('--dev and --test need --train (or use a built-in --task)');
    return a.task;
  }
  return {
    train: a.train,
    dev: a.dev,
    test: a.test,
    format: a.format,
    header: a.header ?? true,
    textColumn: column(a['text-column'])!,
    textPairColumn: column(a['pair-column']),
    labelColumn: column(a['label-column'])!,
    labelMap: a['label-map'] ? parseLabelMap(a['label-map']) : undefined,
    encoding: a.encoding,
  };
}

export function loadTaskFrom(a: TaskArgs, seed = 0): TaskData {
  return loadTask(taskSpecFrom(a), { seed });
}
