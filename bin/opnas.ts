#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BACKEND_CHOICES } from '../evaluators/backend.js';
import { OpnasError } from '../spaces/errors.js';
import { COMMANDS } from './commands/index.js';
import { guardOutput, isOutputClosed } from './output.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** The only place that prints errors and sets the exit code. */
export async function main(args: string[]): Promise<number> {
  guardOutput();
  const debug = args.includes('--debug');
  const cli = yargs(args)
    .scriptName('opnas')
    .usage('$0 <command> [options]\n\nSearch for better transformer building blocks.')
    .version(pkg.version)
    .option('json', { type: 'boolean', describe: 'machine-readable output on stdout' })
    .option('debug', { type: 'boolean', describe: 'print stack traces for errors' })
    .option('backend', { choices: BACKEND_CHOICES, describe: 'tensor backend (default: $OPNAS_BACKEND, else auto)' })
    .command(COMMANDS as never)
    // a number option given text (--seed abc) arrives as NaN: refuse it before any handler runs
    .middleware((argv) => {
      for (const [k, v] of Object.entries(argv)) {
        if (typeof v === 'number' && Number.isNaN(v) && !/[A-Z]/.test(k)) throw new OpnasError(`--${k}: expected a number, got '${rawValue(args, k)}'`);
      }
    })
    .demandCommand(1, 'name a command (opnas --help lists them)')
    .recommendCommands()
    .strict()
    // an option given twice: the last one wins (as in most CLIs), not an array
    .parserConfiguration({ 'duplicate-arguments-array': false })
    .help()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err, y) => {
      // abort before any handler runs; the catch below prints it
      if (err) throw err;
      if (msg.startsWith('Did you mean')) throw new OpnasError(`unknown command '${args[0]}'. ${msg}`);
      // the options of the command being parsed: yargs passes its usage object, which has their descriptions
      let known: string[] = [];
      try {
        known = Object.keys((y as unknown as { getDescriptions(): Record<string, unknown> }).getDescriptions());
      } catch {
        known = [];
      }
      throw new OpnasError(`${withoutCamelCase(msg)}${suggestion(msg, known)}`);
    });
  try {
    await cli.parseAsync();
  } catch (e) {
    if (isOutputClosed()) return e instanceof OpnasError ? e.code : 2;
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
  return 0;
}

/** What the user typed after --name (or in --name=value). */
function rawValue(args: string[], name: string): string {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1] ?? '';
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
  }
  return 'NaN';
}

/** yargs lists an unknown --foo-bar twice, as foo-bar and fooBar: keep the spelling the user typed. */
function withoutCamelCase(msg: string): string {
  const m = /^Unknown arguments?: (.+)$/.exec(msg);
  if (!m) return msg;
  const names = m[1].split(', ');
  const camel = (n: string) => n.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const kept = names.filter((n) => !names.some((o) => o !== n && o.includes('-') && camel(o) === n));
  return `Unknown argument${kept.length > 1 ? 's' : ''}: ${kept.join(', ')}`;
}

/** yargs suggests close command names itself; for flags, name the closest known one. */
function suggestion(msg: string, options: string[]): string {
  const m = /^Unknown arguments?: (.+)$/.exec(msg);
  if (!m) return '';
  const known = [...new Set([...options.filter((k) => k.length > 1 && !k.includes('$') && !/[A-Z]/.test(k)), 'json', 'debug', 'help', 'version', 'backend'])];
  const bad = m[1].split(', ')[0];
  const best = known.map((k) => [k, editDistance(bad, k)] as const).sort((a, b) => a[1] - b[1])[0];
  return best && best[1] <= 2 ? ` (did you mean --${best[0]}?)` : ' (opnas --help lists the commands and options)';
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) dp[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      dp[i][j] = Math.min(dp[i - 1][j] + 1, dp[i][j - 1] + 1, dp[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return dp[a.length][b.length];
}

main(hideBin(process.argv)).then((code) => {
  process.exitCode = code;
});
