#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { OpnasError } from '../spaces/errors.js';
import { COMMANDS } from './commands/index.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** The only place that prints errors and sets the exit code. */
export async function main(args: string[]): Promise<number> {
  const debug = args.includes('--debug');
  let failure: string | undefined;
  const cli = yargs(args)
    .scriptName('opnas')
    .usage('$0 <command> [options]\n\nSearch for better transformer building blocks.')
    .version(pkg.version)
    .option('json', { type: 'boolean', describe: 'machine-readable output on stdout' })
    .option('debug', { type: 'boolean', describe: 'print stack traces for errors' })
    .command(COMMANDS as never)
    .demandCommand(1, 'name a command (opnas --help lists them)')
    .recommendCommands()
    .strict()
    .help()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err) => {
      if (err) throw err;
      failure = msg;
    });
  try {
    await cli.parseAsync();
  } catch (e) {
    if (e instanceof OpnasError) {
      process.stderr.write(`opnas: ${e.message}\n`);
      if (debug) process.stderr.write(`${e.stack}\n`);
      return e.code;
    }
    process.stderr.write(`opnas: internal error: ${(e as Error)?.message ?? String(e)}\n`);
    if (debug) process.stderr.write(`${(e as Error)?.stack}\n`);
    else process.stderr.write('(run again with --debug for the stack trace)\n');
    return 2;
  }
  if (failure !== undefined) {
    process.stderr.write(`opnas: ${failure}\n`);
    return 1;
  }
  return 0;
}

main(hideBin(process.argv)).then((code) => {
  process.exitCode = code;
});
