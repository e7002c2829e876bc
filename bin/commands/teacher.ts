import type { CommandModule } from 'yargs';
import { initBackend, type BackendChoice } from '../../evaluators/backend.js';
import { backendOption } from '../options.js';
import { ensureTeacher, readTeacherLogits } from '../../evaluators/supernet/distill.js';
import { DEFAULT_TRAIN, encodeTask } from '../../evaluators/train.js';
import { runsDir } from '../../runs/store.js';
import { note, print } from '../output.js';
import { makeBar, progressEnabled } from '../progress.js';
import { loadTaskFrom, taskOptions, type TaskArgs } from '../task-options.js';
import { positiveInt } from '../options.js';
import { defaultTeacher, teacherTrainOptions, type TeacherTrainArgs } from '../teacher-options.js';


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

