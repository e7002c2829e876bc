import type { CommandModule } from 'yargs';
import { Rng } from '../../spaces/base/rng.js';
import { getSpace } from '../../spaces/registry.js';
import { OpnasError } from '../../spaces/base/errors.js';
import { fmtCount } from '../../spaces/base/format.js';
import { print } from '../output.js';

export function sampleGenomes(spaceName: string, seed: number, count: number) {
  const space = getSpace(spaceName);
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => {
    const genome = space.sample(rng);
    const cost = space.cost(genome);
    return { id: space.id(genome), formula: space.render(genome), params: cost.params, flopsPerToken: cost.flops, genome };
  });
}

interface Args {
  space: string;
  seed: number;
  count: number;
  json?: boolean;
}

export const sampleCommand: CommandModule<object, Args> = {
  builder: (y) =>
    y
      .option('space', { type: 'string', default: 'backbone', describe: 'search space to sample from' })
      .option('seed', { alias: 's', type: 'number', default: 0, describe: 'random seed (same seed, same genomes)' })
      .option('count', { type: 'number', default: 1, describe: 'how many genomes' }) as never,
  handler: (argv) => {
    if (!Number.isInteger(argv.count) || argv.count < 1) throw new OpnasError(`--count must be a positive integer, got ${argv.count}`);
    if (!Number.isFinite(argv.seed)) throw new OpnasError(`--seed must be a number`);
    const out = sampleGenomes(argv.space, argv.seed, argv.count);
    if (argv.json) return print(JSON.stringify(out, null, 2));
    out.forEach((s, i) => {
      print(`# ${i + 1}  id ${s.id}  params ${fmtCount(s.params)}  FLOPs/token ${fmtCount(s.flopsPerToken)}`);
      print(s.formula.replace(/^/gm, '  '));
      print(JSON.stringify(s.genome));
      print();
    });
  },
};
