import { describe, expect, it } from 'vitest';
import { BASELINES } from '../../spaces/backbone.js';
import { opnas, tempDir, writeJson } from './helpers.js';

describe('--json errors', () => {
  it('check --json on an invalid genome writes every problem as JSON on stdout, exit 1', async () => {
    const g = structuredClone(BASELINES['bert-tiny']) as unknown as { heads: number; layers: { mixer: { type: string } }[] };
    g.heads = 3;
    g.layers[0].mixer.type = 'rnn';
    const file = writeJson(tempDir(), 'bad.json', g);
    const r = await opnas(['check', file, '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({
      error: `${file}: invalid backbone genome`,
      code: 1,
      problems: ['heads: 3 does not divide hidden 128', `layers[0].mixer.type: expected 'attention' or 'conv', got "rnn"`],
    });
    // people still get the line on stderr
    expect(r.stderr).toMatch(/invalid backbone genome: 2 problems/);
  });

  it('every kind of error is one JSON object on stdout under --json, and nothing on stdout without it', async () => {
    const dir = tempDir();
    const cases: [string[], RegExp, number][] = [
      [['sampel'], /^unknown command 'sampel'\. Did you mean sample\?$/, 1],
      [['sample', '--sed', '3'], /^Unknown argument: sed \(did you mean --seed\?\)$/, 1],
      [['sample', '--count', '0'], /^--count must be a positive integer, got 0$/, 1],
      [['show', 'nope', '--runs-dir', dir], /^no run 'nope' in .* \(no runs there yet\)$/, 1],
      [['check', writeJson(dir, 'm.json', '{"layers": [')], /malformed JSON/, 1],
    ];
    for (const [args, message, code] of cases) {
      const r = await opnas([...args, '--json']);
      expect(r.code, args.join(' ')).toBe(code);
      const body = JSON.parse(r.stdout);
      expect(Object.keys(body).sort()).toEqual(['code', 'error']);
      expect(body.error).toMatch(message);
      expect(body.code).toBe(code);
      const plain = await opnas(args);
      expect(plain.code).toBe(code);
      expect(plain.stdout).toBe('');
    }
  });
});
