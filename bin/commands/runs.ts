import { createInterface } from 'node:readline/promises';
import type { CommandModule } from 'yargs';
import { runsTable } from '../../runs/report.js';
import { listRuns, removeRun, RunStore, runsDir } from '../../runs/store.js';
import { trialsCsv, trialsJsonl } from '../../runs/trials.js';
import { watchRun } from '../../runs/watch.js';
import { OpnasError } from '../../spaces/base/errors.js';
import { note, print } from '../output.js';
import { printRunReport } from '../run-report.js';
import { positiveInt } from '../options.js';
import { checkExportFiles, checkOutDir } from '../out-dir.js';
import { BACKEND_CHOICES, type BackendChoice } from '../../evaluators/backend-choices.js';

interface DirArgs {
  'runs-dir'?: string;
  json?: boolean;
}

const dirOption = { type: 'string', describe: 'folder holding the runs (default: $OPNAS_RUNS_DIR, else ./opnas-runs)' } as const;

export const runsCommand: CommandModule<object, DirArgs> = {
  builder: (y) => y.option('runs-dir', dirOption) as never,
  handler: (argv) => {
    const list = listRuns(runsDir(argv['runs-dir']));
    if (argv.json) return print(JSON.stringify(list, null, 2));
    print(list.length ? runsTable(list) : `no runs in ${runsDir(argv['runs-dir'])} (start one with opnas search)`);
  },
};

interface ShowArgs extends DirArgs {
  run: string;
  top: number;
  pareto?: boolean;
  watch?: boolean;
}

export const showCommand: CommandModule<object, ShowArgs> = {
  builder: (y) =>
    y
      .positional('run', { type: 'string', demandOption: true, describe: 'run name (opnas runs lists them)' })
      .option('runs-dir', dirOption)
      .option('top', { type: 'number', default: 10, describe: 'rows in the leaderboard' })
      .option('pareto', { type: 'boolean', describe: 'show the Pareto front of the run objectives (or of dev and params for a single objective)' })
      .option('watch', { type: 'boolean', describe: 'print it again each time the run saves, until the run stops (or Ctrl-C); with --json, one object a line' }) as never,
  handler: async (argv) => {
    const dir = runsDir(argv['runs-dir']);
    const store = await RunStore.open(dir, argv.run, { readonly: true });
    const top = positiveInt('top', argv.top);
    const objectives = store.data.config.objectives as string[];
    const pareto = argv.pareto ? (objectives.length > 1 ? objectives : [objectives[0], 'params']) : undefined;
    if (!argv.watch) return printRunReport(store.data, { json: argv.json, top, pareto });
    // Ctrl-C ends the watch, not the run: exit 0 once the last report is out
    const stop = new AbortController();
    const onSigint = () => stop.abort();
    process.on('SIGINT', onSigint);
    const clear = Boolean(process.stdout.isTTY) && !argv.json;
    let shown = 0;
    try {
      const last = await watchRun(
        dir,
        argv.run,
        (run) => {
          if (clear) process.stdout.write('\x1b[2J\x1b[H');
          else if (shown && !argv.json) print();
          printRunReport(run, { json: argv.json, compact: true, top, pareto });
          shown++;
          if (!argv.json && run.status === 'running') note(`(watching run '${argv.run}', ${run.status}, updated ${new Date(run.updated).toLocaleTimeString()}; Ctrl-C to stop)`);
        },
        stop.signal,
      );
      if (!argv.json && !stop.signal.aborted) note(`run '${argv.run}' is ${last.status === 'running' ? 'no longer held by a process (killed?)' : last.status}: watch ended`);
    } finally {
      process.off('SIGINT', onSigint);
    }
  },
};

interface ExportArgs extends DirArgs {
  run: string;
  rank?: number;
  out?: string;
  model?: string;
  force?: boolean;
  backend?: BackendChoice;
  quiet?: boolean;
}

export const exportCommand: CommandModule<object, ExportArgs> = {
  builder: (y) =>
    y
      .positional('run', { type: 'string', demandOption: true, describe: 'run name (opnas runs lists them)' })
      .option('runs-dir', dirOption)
      .option('rank', { type: 'number', describe: "a trial's rank by search score (1 = the best); default: the final stage's winner, else rank 1" })
      .option('out', { type: 'string', describe: 'write the genome (genome.json, formula.txt) into this folder' })
      .option('model', { type: 'string', describe: "train the genome as opnas train does (the run's final-stage settings, seed 0) and write the model folder here (config.json, tokenizer.json, model.safetensors, README.md)" })
      .option('force', { type: 'boolean', describe: 'overwrite genome.json/formula.txt in --out and a non-empty --model folder' })
      .option('quiet', { type: 'boolean', describe: 'no progress output' })
      .option('backend', { choices: BACKEND_CHOICES, describe: 'TF.js backend for --model (default: OPNAS_BACKEND, else the fastest available)' })
      .example('$0 export mine --model m', 'train the winner and write a model folder; then: opnas predict m --text "..."') as never,
  handler: async (argv) => {
    if (!argv.out && !argv.model) throw new OpnasError('say where to export: --out DIR (the genome) and/or --model DIR (a trained model folder)');
    const store = await RunStore.open(runsDir(argv['runs-dir']), argv.run, { readonly: true });
    const rank = argv.rank === undefined ? undefined : positiveInt('rank', argv.rank);
    // runs/export.ts reads genomes through the space registry, which loads TF.js: only here
    const { chooseExport, exportTrial } = await import('../../runs/export.js');
    chooseExport(store.data, rank); // a bad --rank first
    // both destinations are checked before the model trains, so a bad path costs nothing
    if (argv.model) checkOutDir('model', argv.model, argv.force);
    if (argv.out) checkExportFiles(argv.out, argv.force);
    if (argv.model) {
      const { initBackend } = await import('../../evaluators/backend.js');
      const { exportModel } = await import('../../runs/export-model.js');
      const log = argv.quiet ? () => {} : note;
      await initBackend(argv.backend, { log });
      const m = await exportModel(store.data, rank, argv.model, {
        log,
        onStep: (s) => {
          if (s.devScore !== undefined) log(`step ${s.step}/${s.steps}  loss ${s.loss.toFixed(4)}  dev ${(100 * s.devScore).toFixed(2)}`);
        },
      });
      if (!argv.out) {
        if (argv.json) return print(JSON.stringify({ model: m.dir, dev: m.result.dev, test: m.result.test }, null, 2));
        return print(`wrote the model folder ${m.dir} (dev ${m.config.metric} ${(100 * m.result.dev.score).toFixed(2)}, test ${(100 * m.result.test.score).toFixed(2)})`);
      }
    }
    if (!argv.out) return;
    const paths = exportTrial(store.data, rank, argv.out);
    if (argv.json) return print(JSON.stringify(paths, null, 2));
    print(`wrote ${paths.genome} and ${paths.formula}`);
  },
};

interface TrialsArgs extends DirArgs {
  run: string;
  format: 'csv' | 'jsonl';
}

export const trialsCommand: CommandModule<object, TrialsArgs> = {
  builder: (y) =>
    y
      .positional('run', { type: 'string', demandOption: true, describe: 'run name' })
      .option('runs-dir', dirOption)
      .option('format', { choices: ['csv', 'jsonl'] as const, default: 'csv' as const, describe: 'csv: a header row, a score_NAME column per score; jsonl: an object a line, genome included' }) as never,
  handler: async (argv) => {
    const store = await RunStore.open(runsDir(argv['runs-dir']), argv.run, { readonly: true });
    process.stdout.write(argv.json || argv.format === 'jsonl' ? trialsJsonl(store.data) : trialsCsv(store.data));
  },
};

interface RmArgs extends DirArgs {
  run: string;
  yes?: boolean;
}

export const rmCommand: CommandModule<object, RmArgs> = {
  builder: (y) =>
    y
      .positional('run', { type: 'string', demandOption: true, describe: 'run name' })
      .option('runs-dir', dirOption)
      .option('yes', { alias: 'y', type: 'boolean', describe: 'do not ask for confirmation (only a terminal asks)' }) as never,
  handler: async (argv) => {
    const dir = runsDir(argv['runs-dir']);
    if (!argv.yes && process.stdin.isTTY && process.stderr.isTTY) {
      // the same checks as the removal, so a missing run fails before the question
      await (await RunStore.open(dir, argv.run, { readonly: true })).close();
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      const answer = await rl.question(`delete run '${argv.run}' and its folder ${dir}/${argv.run}? [y/N] `);
      rl.close();
      if (!/^y(es)?$/i.test(answer.trim())) throw new OpnasError(`run '${argv.run}' kept`);
    }
    const r = removeRun(dir, argv.run);
    if (argv.json) return print(JSON.stringify({ removed: r }, null, 2));
    print(`removed run '${r.name}' (${r.status}${r.trials !== undefined ? `, ${r.trials} trial${r.trials === 1 ? '' : 's'}` : ''}): ${r.folder}`);
  },
};

