import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { opnas, ROOT, tempDir, writeJson } from './helpers.js';

/** Run the CLI with a module hook that makes any import of TF.js an error. */
function withoutTf(args: string[], env: Record<string, string>) {
  const dir = tempDir();
  writeJson(dir, 'hooks.mjs', `export async function resolve(spec, ctx, next) {\n  if (spec.startsWith('@tensorflow/')) throw new Error('TF.js loaded: ' + spec);\n  return next(spec, ctx);\n}\n`);
  writeJson(dir, 'register.mjs', `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n`);
  const r = spawnSync(process.execPath, ['--import', join(dir, 'register.mjs'), join(ROOT, 'dist/bin/opnas.js'), ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('start-up: commands that only read runs do not load TF.js', () => {
  it('runs, show, trials, report, rm, --help and the queue commands\' help work with TF.js unloadable; a command that needs it does load it', async () => {
    const dir = tempDir();
    const env = { OPNAS_RUNS_DIR: dir };
    expect((await opnas(['search', '-n', 'a', '--space', 'nb201', '-b', '8', '--quiet'], { env })).code).toBe(0);
    for (const args of [['runs'], ['show', 'a'], ['trials', 'a'], ['report', 'a', '--out', join(dir, 'a.html')], ['--help'], ['workers', '--help'], ['worker', '--help'], ['rm', 'a']]) {
      const r = withoutTf(args, env);
      expect(r.stderr, args.join(' ')).toBe('');
      expect(r.code, args.join(' ')).toBe(0);
    }
    expect(withoutTf(['runs'], env).stdout).toMatch(/no runs in/);
    // the hook does catch TF.js: the genome spaces use it
    const spaces = withoutTf(['spaces'], env);
    expect(spaces.code).toBe(2);
    expect(spaces.stderr).toMatch(/TF\.js loaded: @tensorflow\//);
  });
});
