import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * Command-line options of the bench scripts, read with Node's own `util.parseArgs`: `--help`
 * prints the usage, anything unknown or malformed prints one line and the usage, exit 2.
 */
export function benchArgs(name: string, usage: string, options: NonNullable<ParseArgsConfig['options']>, argv = process.argv.slice(2)) {
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    values = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true }).values;
  } catch (e) {
    return benchFail(name, usage, (e as Error).message);
  }
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const int = (flag: string, fallback: number, min: number): number => {
    const v = values[flag];
    if (v === undefined) return fallback;
    const n = Number(v);
    return Number.isInteger(n) && n >= min ? n : benchFail(name, usage, `--${flag} must be an integer >= ${min}, got '${v}'`);
  };
  const str = (flag: string): string | undefined => (typeof values[flag] === 'string' ? (values[flag] as string) : undefined);
  return { int, str, fail: (msg: string): never => benchFail(name, usage, msg) };
}

export function benchFail(name: string, usage: string, msg: string): never {
  console.error(`bench:${name}: ${msg}\n${usage}`);
  process.exit(2);
}
