import { readFileSync } from 'node:fs';
import type { Argv } from 'yargs';
import { OpnasError } from '../spaces/base/errors.js';
import { closest } from './suggest.js';

/** Options a config file cannot set: they are about this invocation, not the search. */
const NOT_IN_FILES = new Set(['config', 'help', 'version', 'json', 'debug']);

/** What yargs knows about a command's options (its `getOptions()`, which its typings leave out). */
interface OptionTable {
  key: Record<string, unknown>;
  string: string[];
  number: string[];
  boolean: string[];
  choices: Record<string, readonly unknown[]>;
}

/**
 * `--config FILE`: a JSON object of the command's options under their command-line names
 * (`{"budget": 80, "max-params": 2e6, "objective": "dev,latency"}`). yargs merges it under the
 * command line, so a flag given there wins; every key and value is checked here first, and a bad
 * one is an error naming the file and the key.
 */
export function configFileOption<T>(y: Argv<T>, what: string) {
  return y.config(
    'config',
    `JSON file of ${what} options by their names here, e.g. {"budget": 80, "max-params": 2e6}; flags on the command line override it`,
    (path: string) => readConfigFile(path, (y as unknown as { getOptions(): OptionTable }).getOptions()),
  );
}

export function readConfigFile(path: string, o: OptionTable): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new OpnasError(`--config ${path}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? (e as Error).message})`}`);
  }
  let x: unknown;
  try {
    x = JSON.parse(text);
  } catch (e) {
    throw new OpnasError(`--config ${path}: malformed JSON (${(e as Error).message})`);
  }
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new OpnasError(`--config ${path}: expected a JSON object of options, got ${Array.isArray(x) ? 'a list' : JSON.stringify(x)}`);
  const known = Object.keys(o.key).filter((k) => !NOT_IN_FILES.has(k));
  for (const [key, value] of Object.entries(x)) {
    const where = `--config ${path}: "${key}"`;
    if (!known.includes(key)) {
      const near = closest(key, known);
      throw new OpnasError(`${where} is not an option of this command${near ? ` (did you mean "${near}"?)` : ''}`);
    }
    const got = JSON.stringify(value);
    const choices = o.choices[key];
    if (choices?.length) {
      if (!choices.includes(value)) throw new OpnasError(`${where}: expected one of ${choices.map((c) => JSON.stringify(c)).join(', ')}, got ${got}`);
    } else if (o.number.includes(key)) {
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new OpnasError(`${where}: expected a number, got ${got}`);
    } else if (o.boolean.includes(key)) {
      if (typeof value !== 'boolean') throw new OpnasError(`${where}: expected true or false, got ${got}`);
    } else if (o.string.includes(key)) {
      // values as on the command line: "1-2", "64,128"; a bare number is taken as its text
      if (typeof value !== 'string' && !(typeof value === 'number' && Number.isFinite(value))) throw new OpnasError(`${where}: expected a string, got ${got}`);
    }
  }
  return x as Record<string, unknown>;
}
