import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../bin/helpers.js';

const tracked = () => execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter((f) => /\.(ts|md|json)$/.test(f) && existsSync(join(ROOT, f)));
const doc = () => readFileSync(join(ROOT, 'docs/ARCHITECTURE.md'), 'utf8');

describe('docs/ARCHITECTURE.md', () => {
  it('every file it names exists, and every identifier it names is in the source', () => {
    const text = doc();
    const paths = [...new Set([...text.matchAll(/\b((?:bin|runs|search|evaluators|spaces|data|bench|test)\/[\w./-]*\.(?:ts|md))\b/g)].map((m) => m[1]))];
    expect(paths.length).toBeGreaterThan(15);
    for (const p of paths) expect(existsSync(join(ROOT, p)), p).toBe(true);
    const source = tracked()
      .filter((f) => f.endsWith('.ts') && !f.startsWith('test/'))
      .map((f) => readFileSync(join(ROOT, f), 'utf8'))
      .join('\n');
    const names = [...new Set([...text.matchAll(/`([A-Za-z_][A-Za-z0-9_]*)(?:\(\))?(?:\['[a-z]+'\])?`/g)].map((m) => m[1]))].filter((n) => /[A-Z_]/.test(n) || /^[a-z]+[A-Z]/.test(n));
    expect(names).toEqual(expect.arrayContaining(['startSearch', 'checkSearchConfig', 'evaluatorFor', 'SPACES', 'STRATEGIES', 'WorkerConfig', 'MAXIMISED']));
    for (const n of names) expect(new RegExp(`\\b${n}\\b`).test(source), n).toBe(true);
  });

  it('no source file or document points users at notes they do not have', () => {
    const offenders = tracked().filter((f) => /DESIGN\.md|STYLE\.md|\.\.\/shared/.test(readFileSync(join(ROOT, f), 'utf8')) && f !== 'test/docs/architecture.test.ts');
    expect(offenders).toEqual([]);
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toContain('docs/ARCHITECTURE.md');
  });
});
