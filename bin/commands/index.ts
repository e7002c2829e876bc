import { checkCommand } from './check.js';
import { sampleCommand } from './sample.js';
import { spacesCommand } from './spaces.js';

/** Every command, in the order `opnas --help` lists them. */
export const COMMANDS = [spacesCommand, sampleCommand, checkCommand];
