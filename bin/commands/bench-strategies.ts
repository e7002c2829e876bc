import type { CommandModule } from 'yargs';
import { expectedRandomBest, NB201_DATASETS, type Nb201Dataset } from '../../evaluators/nb201.js';
import { benchStrategies } from '../../runs/bench-strategies.js';
import { STRATEGIES } from '../../search/strategies.js';
import { OpnasError } from '../../spaces/base/errors.js';
import { print } from '../output.js';
import { makeBar, progressEnabled } from '../progress.js';
import { positiveInt } from '../options.js';

interface Args {
  benchmark: string;
  queries: number;
  seeds: number;
  dataset: Nb201Dataset;
  strategies: string;
  population?: number;
  tournament?: number;
  'ucb-c'?: number;
  json?: boolean;
  quiet?: boolean;
}

export const benchStrategiesCommand: CommandModule<object, Args> = {
  builder: (y) =>
    y
      .option('benchmark', { choices: ['nb201'], default: 'nb201', describe: 'tabular benchmark' })
      .option('queries', { type: 'number', default: 100, describe: 'architectures each search may evaluate' })
      .option('seeds', { type: 'number', default: 50, describe: 'independent searches per strategy' })
      .option('dataset', { choices: NB201_DATASETS, default: 'cifar10' as Nb201Dataset, describe: 'whose test accuracy is the objective' })
      .option('strategies', { type: 'string', default: Object.keys(STRATEGIES).filter((s) => !STRATEGIES[s].needsShape).reverse().join(','), describe: 'comma-separated strategies' })
      .option('population', { type: 'number', describe: 'evolution population size' })
      .option('tournament', { type: 'number', describe: 'evolution tournament size' })
      .option('ucb-c', { type: 'number', describe: 'op-evolution UCB exploration constant c' })
      .option('quiet', { type: 'boolean', describe: 'no progress output' }) as never,
  handler: async (argv) => {
    const strategies = argv.strategies.split(',').map((s) => s.trim());
    for (const s of strategies) if (!STRATEGIES[s]) throw new OpnasError(`unknown strategy '${s}' (known: ${Object.keys(STRATEGIES).join(', ')})`);
    const queries = positiveInt('queries', argv.queries);
    const seeds = positiveInt('seeds', argv.seeds);
    const bar = makeBar('{strategy} |{bar}| {value}/{total} searches', progressEnabled(argv.quiet));
    bar?.start(strategies.length * seeds, 0, { strategy: strategies[0] });
    let n = 0;
    const results = await benchStrategies({
      strategies,
      queries,
      seeds,
      dataset: argv.dataset,
      strategyOptions: { population: argv.population, tournament: argv.tournament, c: argv['ucb-c'] },
      onSeed: (strategy) => bar?.update(++n, { strategy }),
    });
    bar?.stop();
    const expected = expectedRandomBest(argv.dataset, queries, { replacement: false });
    if (argv.json) return print(JSON.stringify({ benchmark: argv.benchmark, dataset: argv.dataset, queries, seeds, expectedRandom: expected, results }, null, 2));
    print(`NAS-Bench-201 ${argv.dataset}, ${queries} queries, ${seeds} seeds: best test accuracy (%)`);
    print(`${'strategy'.padEnd(24)} ${'mean'.padStart(7)} ${'std'.padStart(6)}`);
    for (const r of results) print(`${r.strategy.padEnd(24)} ${r.mean.toFixed(2).padStart(7)} ${r.std.toFixed(2).padStart(6)}`);
    print(`exact expectation for uniform random search: ${expected.toFixed(2)}`);
  },
};
