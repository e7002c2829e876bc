import type { CommandModule } from 'yargs';
import type { Options } from 'yargs';
import { initBackend, type BackendChoice } from '../../evaluators/backend.js';
import { backendOption } from '../options.js';
import { DEFAULT_DISTILL, DEFAULT_TEACHER, ensureTeacher, readTeacherLogits, teacherTraining, type DistillConfig } from '../../evaluators/distill.js';
import { DEFAULT_TRAIN, encodeTask, type TrainConfig } from '../../evaluators/train.js';
import { runsDir } from '../../runs/store.js';
import { OpnasError } from '../../spaces/errors.js';
import type { BackboneGenome } from '../../spaces/types.js';
import { note, print } from '../output.js';
import { makeBar, progressEnabled } from '../progress.js';
import { loadTaskFrom, taskOptions, type TaskArgs } from '../task-options.js';
import { positiveInt } from '../options.js';
import { resolveArch } from './train.js';

/** Options that choose and train a teacher; `fidelity` takes them with a `teacher-` prefix. */
export type TeacherTrainArgs<P extends string = ''> = { [K in `${P}arch`]: string } & { [K in `${P}steps`]: number };

export function teacherTrainOptions(prefix = ''): Record<string, Options> {
  return {
    [`${prefix}arch`]: { type: 'string', default: DEFAULT_TEACHER.arch, describe: 'teacher architecture: a baseline name or a genome file' },
    [`${prefix}steps`]: { type: 'number', default: DEFAULT_TEACHER.steps, describe: 'teacher training steps' },
  };
}

/** The teacher a command's options name: architecture and training settings (the cache key). */
export function defaultTeacher<P extends string>(a: TeacherTrainArgs<P> & { 'max-len': number }, prefix: P): { genome: BackboneGenome; train: Partial<TrainConfig> } {
  const arch = (a as Record<string, unknown>)[`${prefix}arch`] as string;
  const steps = positiveInt(`${prefix}steps`, (a as Record<string, unknown>)[`${prefix}steps`] as number);
  return { genome: resolveArch(arch, undefined).genome, train: teacherTraining(steps, a['max-len']) };
}

interface Args extends TaskArgs, TeacherTrainArgs {
  'max-len': number;
  'vocab-size': number;
  'teacher-logits'?: string;
  force?: boolean;
  'runs-dir'?: string;
  backend?: BackendChoice;
  json?: boolean;
  quiet?: boolean;
}

export const teacherCommand: CommandModule<object, Args> = {
  builder: (y) =>
    taskOptions(
      backendOption(y)
        .options(teacherTrainOptions())
        .option('max-len', { type: 'number', default: DEFAULT_TRAIN.maxLen, describe: 'longest sequence in tokens' })
        .option('vocab-size', { type: 'number', default: 8192, describe: 'tokenizer vocabulary, trained on the task' })
        .option('teacher-logits', { type: 'string', describe: 'check a JSONL file of soft labels (one row of logits per training example) instead of training' })
        .option('force', { type: 'boolean', describe: 'train again even when a cached teacher exists' })
        .option('runs-dir', { type: 'string', describe: 'teachers are cached in <runs-dir>/teachers (default: $OPNAS_RUNS_DIR, else ./opnas-runs)' })
        .option('quiet', { type: 'boolean', describe: 'no progress output' }),
    ) as never,
  handler: async (a) => {
    const log = a.quiet ? () => {} : note;
    const data = loadTaskFrom(a);
    const task = encodeTask(data, { vocabSize: positiveInt('vocab-size', a['vocab-size']), maxLen: positiveInt('max-len', a['max-len']) });
    if (a['teacher-logits']) {
      const logits = readTeacherLogits(a['teacher-logits'], task.train.seqs.length, task.numClasses, task.trainRows);
      const C = task.numClasses;
      let agree = 0;
      task.train.labels.forEach((y, i) => {
        const row = logits.subarray(i * C, i * C + C);
        if (row.indexOf(Math.max(...row)) === y) agree++;
      });
      const out = { file: a['teacher-logits'], task: data.name, rows: task.train.seqs.length, classes: C, trainAccuracy: agree / task.train.seqs.length };
      if (a.json) return print(JSON.stringify(out, null, 2));
      return print(`${out.file}: ${out.rows} rows x ${C} classes; its argmax matches ${(100 * out.trainAccuracy).toFixed(2)}% of the training labels`);
    }
    const { genome, train } = defaultTeacher(a, '');
    await initBackend(a.backend, { log });
    const bar = makeBar('teacher |{bar}| {value}/{total} steps | loss {loss} | {tps} tok/s | ETA {eta_formatted}', progressEnabled(a.quiet));
    let started = false;
    const r = await ensureTeacher(runsDir(a['runs-dir']), genome, task, task.tokenizer.toJSON(), train, {
      force: a.force,
      log,
      onStep: (s) => {
        if (!started) bar?.start(s.steps, 0, { loss: '-', tps: '-' });
        started = true;
        bar?.update(s.step, { loss: s.loss.toFixed(4), tps: Math.round(s.tokensPerSecond) });
        if (!bar && s.step % 200 === 0) log(`step ${s.step}/${s.steps}  loss ${s.loss.toFixed(4)}`);
      },
    });
    bar?.stop();
    if (a.json) return print(JSON.stringify({ dir: r.dir, cached: r.cached, arch: a.arch, task: data.name, dev: r.meta.dev, seconds: r.meta.seconds, train: r.meta.train }, null, 2));
    print(`teacher ${a.arch} on ${data.name}: dev ${task.metric} ${(100 * r.meta.dev).toFixed(2)}${r.cached ? ' (cached)' : ` after ${r.meta.seconds.toFixed(0)} s`}`);
    print(r.dir);
  },
};

export interface DistillArgs {
  'kd-temperature': number;
  'kd-logits': number;
  'kd-hidden': number;
  'kd-attention': number;
}

/** The distillation warm-up's loss weights and temperature as options (search and fidelity). */
export function distillOptions(): Record<string, Options> {
  const d = DEFAULT_DISTILL;
  return {
    'kd-temperature': { type: 'number', default: d.temperature, describe: 'warm-up: softmax temperature of the logits loss' },
    'kd-logits': { type: 'number', default: d.logits, describe: 'warm-up: weight of the soft cross-entropy on the teacher logits' },
    'kd-hidden': { type: 'number', default: d.hidden, describe: 'warm-up: weight of the hidden-state MSE (teacher models only)' },
    'kd-attention': { type: 'number', default: d.attention, describe: 'warm-up: weight of the attention-map MSE (teacher models only)' },
  };
}

export function distillFrom(a: DistillArgs): Omit<DistillConfig, 'train' | 'hard'> {
  const weight = (flag: keyof DistillArgs) => {
    const v = a[flag];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new OpnasError(`--${flag} must be a number >= 0, got ${v}`);
    return v;
  };
  const temperature = weight('kd-temperature');
  if (!(temperature > 0)) throw new OpnasError(`--kd-temperature must be positive, got ${temperature}`);
  const w = { logits: weight('kd-logits'), hidden: weight('kd-hidden'), attention: weight('kd-attention') };
  if (w.logits + w.hidden + w.attention === 0) throw new OpnasError('the warm-up needs a loss: --kd-logits, --kd-hidden and --kd-attention are all 0');
  return { temperature, ...w };
}
