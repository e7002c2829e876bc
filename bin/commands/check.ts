import type { CommandModule } from 'yargs';
import { getSpace, readGenomeFile } from '../../spaces/registry.js';
import { fmtCount } from '../../spaces/base/format.js';
import { print } from '../output.js';

interface Args {
  file: string;
  space?: string;
  json?: boolean;
}

export const checkCommand: CommandModule<object, Args> = {
  builder: (y) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'genome JSON file' })
      .option('space', { type: 'string', describe: "space of the genome (default: its 'space' field)" }) as never,
  handler: (argv) => {
    const { space, genome } = readGenomeFile(argv.file, argv.space);
    const s = getSpace(space);
    const cost = s.cost(genome);
    if (argv.json) return print(JSON.stringify({ valid: true, space, id: s.id(genome), formula: s.render(genome), ...cost }, null, 2));
    print(`${argv.file}: valid ${space} genome, id ${s.id(genome)}, params ${fmtCount(cost.params)}, FLOPs/token ${fmtCount(cost.flops)}`);
    print(s.render(genome).replace(/^/gm, '  '));
  },
};
