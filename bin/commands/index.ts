import type { CommandModule } from 'yargs';
import { benchStrategiesCommand } from './bench-strategies.js';
import { checkCommand } from './check.js';
import { fidelityCommand } from './fidelity.js';
import { teacherCommand } from './teacher.js';
import { exportCommand, rmCommand, runsCommand, showCommand, trialsCommand } from './runs.js';
import { resumeCommand, searchCommand } from './search.js';
import { sampleCommand } from './sample.js';
import { spacesCommand } from './spaces.js';
import { trainCommand } from './train.js';

/** Every command, in the order `opnas --help` lists them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const COMMANDS: CommandModule<any, any>[] = [
  searchCommand,
  resumeCommand,
  runsCommand,
  showCommand,
  trialsCommand,
  exportCommand,
  rmCommand,
  trainCommand,
  teacherCommand,
  fidelityCommand,
  spacesCommand,
  sampleCommand,
  checkCommand,
  benchStrategiesCommand,
];
