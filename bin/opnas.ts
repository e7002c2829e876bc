#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { OpnasError, ValidationError } from '../spaces/base/errors.js';
import { COMMANDS } from './commands/index.js';
import { guardOutput, isOutputClosed } from './output.js';
import { closest } from './suggest.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** The only place that prints errors and sets the exit code. */
export async function main(args: string[]): Promise<number> {
  guardOutput();
  const debug = args.includes('--debug');
  const json = args.some((a) => a === '--json' || a === '--json=true');
  const cli = yargs(args)
    .scriptName('opnas')
    .usage('$0 <command> [options]\n\nSearch for better transformer building blocks.')
    .version(pkg.version)
    .option('json', { type: 'boolean', describe: 'machine-readable output on stdout' })
    .option('debug', { type: 'boolean', describe: 'print stack traces for errors' })
    .command(COMMANDS as never)
    // a number option given text (--seed abc) arrives as NaN: refuse it before any handler runs
    .middleware((argv) => {
      for (const [k, v] of Object.entries(argv)) {
        if (typeof v === 'number' && Number.isNaN(v) && !/[A-Z]/.test(k)) throw new OpnasError(`--${k}: expected a number, got '${rawValue(args, k)}'`);
      }
      // a switch given a value (--seeded=maybe) would otherwise be read as true
      for (const a of args) {
        if (a === '--') break;
        const m = /^--([a-z][a-z0-9-]*)=(.*)$/s.exec(a);
        if (m && typeof argv[m[1]] === 'boolean' && m[2] !== 'true' && m[2] !== 'false') throw new OpnasError(`--${m[1]}: expected true or false, got '${m[2]}'`);
      }
    })
    .demandCommand(1, 'name a command (opnas --help lists them)')
    .recommendCommands()
    .strict()
    // an option given twice: the last one wins (as in most CLIs), not an array
    .parserConfiguration({ 'duplicate-arguments-array': false })
    .completion('completion', 'print a shell completion script for bash or zsh (add it to ~/.bashrc or ~/.zshrc)')
    .help()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err, y) => {
      // abort before any handler runs; the catch below prints it. A YError is yargs's own report
      // of bad input (a --config file, say), which keeps only the message of what was thrown
      if (err) throw err.name === 'YError' ? new OpnasError(err.message) : err;
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
  } catch (caught) {
    // a YError that reaches here (bad input found while an async command builder ran) is bad input too
    const e = caught instanceof Error && caught.name === 'YError' ? new OpnasError(caught.message) : caught;
    if (isOutputClosed()) return e instanceof OpnasError ? e.code : 2;
    if (e instanceof OpnasError) {
      process.stderr.write(`opnas: ${e.message}\n`);
      if (debug) process.stderr.write(`${e.stack}\n`);
      if (json) printJsonError(e instanceof ValidationError ? e.what : e.message, e.code, e instanceof ValidationError ? e.problems : undefined);
      return e.code;
    }
    process.stderr.write(`opnas: internal error: ${(e as Error)?.message ?? String(e)}\n`);
    if (json) printJsonError(`internal error: ${(e as Error)?.message ?? String(e)}`, 2);
    if (debug) process.stderr.write(`${(e as Error)?.stack}\n`);
    else process.stderr.write('(run again with --debug for the stack trace)\n');
    return 2;
  }
  return 0;
}

/** Under --json a script reads stdout only: the error goes there too, as one object (stderr keeps the line for people). */
function printJsonError(error: string, code: number, problems?: string[]): void {
  process.stdout.write(JSON.stringify({ error, code, ...(problems ? { problems } : {}) }) + '\n');
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
  const known = [...new Set([...options.filter((k) => k.length > 1 && !k.includes('$') && !/[A-Z]/.test(k)), 'json', 'debug', 'help', 'version'])];
  const best = closest(m[1].split(', ')[0], known);
  return best ? ` (did you mean --${best}?)` : ' (opnas --help lists the commands and options)';
}

main(hideBin(process.argv)).then((code) => {
  process.exitCode = code;
});
