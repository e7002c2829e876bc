import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';

/**
 * Every command, in the order `opnas --help` lists them. Only the name and the one-line
 * description are here: a command's module (its options and handler, and what they import, TF.js
 * included) is loaded when that command runs, so `opnas runs` or `opnas --help` start quickly.
 */

/** What a command module exports: its options and what it does. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Body = CommandModule<any, any>;

function lazy(command: string, describe: string, load: () => Promise<Body>): CommandModule {
  return {
    command,
    describe,
    builder: async (y: Argv) => {
      const { builder } = await load();
      if (typeof builder === 'function') return (await builder(y)) as Argv;
      return builder ? y.options(builder) : y;
    },
    handler: async (argv: ArgumentsCamelCase) => (await load()).handler(argv),
  };
}

export const COMMANDS: CommandModule[] = [
  lazy('search', 'run an architecture search (defaults: operation-priority evolution on SST-2, minutes on a laptop)', async () => (await import('./search.js')).searchCommand),
  lazy('resume <run>', 'continue an interrupted run exactly where it stopped, or extend a finished one with --budget', async () => (await import('./search.js')).resumeCommand),
  lazy('worker', 'serve a distributed search: pull candidates from the queue in Redis (opnas search --redis) and score them here', async () => (await import('./queue.js')).workerCommand),
  lazy('workers', "the workers serving a Redis queue (host, pid, jobs done) and the queue's job counts", async () => (await import('./queue.js')).workersCommand),
  lazy('runs', 'list the runs: name, status, trials, best, age', async () => (await import('./runs.js')).runsCommand),
  lazy('show <run>', 'leaderboard of a run with formulas, its Pareto front, and the lineage of the best', async () => (await import('./runs.js')).showCommand),
  lazy('trials <run>', 'every trial of a run, in run order, as CSV or JSON lines (status, fitness, scores, cost, formula, parent)', async () => (await import('./runs.js')).trialsCommand),
  lazy('export [run]', 'write a ranked genome (JSON with its formula and costs) that opnas check and opnas train accept, a trained model folder, or a web page that classifies in the browser', async () => (await import('./runs.js')).exportCommand),
  lazy('report <run>', 'write a self-contained HTML report of a run (search history, Pareto fronts, op priorities, lineage, final stage) and its charts as SVG', async () => (await import('./report.js')).reportCommand),
  lazy('rm <run>', 'delete a run (its folder, checkpoints included); a run in progress is refused', async () => (await import('./runs.js')).rmCommand),
  lazy('train [arch]', 'train one architecture stand-alone and score it on dev and test', async () => (await import('./train.js')).trainCommand),
  lazy('predict <dir>', 'classify texts with a model folder: labels and probabilities, and the accuracy when the texts have labels', async () => (await import('./predict.js')).predictCommand),
  lazy('serve <dir>', 'serve a folder over HTTP (the page opnas export --web writes): prints the URL, Ctrl-C stops', async () => (await import('./serve.js')).serveCommand),
  lazy('teacher', 'train (or reuse the cached) teacher for distillation warm-up, or check a file of teacher logits', async () => (await import('./teacher.js')).teacherCommand),
  lazy('fidelity', 'does the supernet rank architectures like stand-alone training? Kendall tau and Spearman rho on a sample', async () => (await import('./fidelity.js')).fidelityCommand),
  lazy('spaces', 'list the search spaces and their op sets', async () => (await import('./spaces.js')).spacesCommand),
  lazy('sample', 'print valid random genomes with their formula and cost', async () => (await import('./sample.js')).sampleCommand),
  lazy('check <file>', 'validate a genome file: every problem listed, exit 1 if invalid', async () => (await import('./check.js')).checkCommand),
  lazy('bench-strategies', 'compare search strategies on NAS-Bench-201 (accuracies looked up, same loop as a real search)', async () => (await import('./bench-strategies.js')).benchStrategiesCommand),
];
