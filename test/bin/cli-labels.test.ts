import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { opnas, tempDir, writeJson } from './helpers.js';

describe('fractional labels (a regression file)', () => {
  it('train and search refuse them with one line naming the file, line and value; no run is created', async () => {
    const dir = tempDir();
    const csv = writeJson(dir, 'scores.csv', 'sentence,label\nthe cat sat,0\na fine film,1.67\ndull,3.2\n');
    const expected = `opnas: ${csv}:3: label "1.67" is a fractional number: opnas trains classifiers, and a label column of scores (regression) is not supported; if these values are classes, name them with --label-map (e.g. "1.67=0,...")`;
    const t = await opnas(['train', '--baseline', 'bert-tiny', '--train', csv]);
    expect(t.code).toBe(1);
    expect(t.stderr.trim()).toBe(expected);
    const s = await opnas(['search', '--train', csv, '--runs-dir', join(dir, 'runs')]);
    expect(s.code).toBe(1);
    expect(s.stderr.trim()).toBe(expected);
    expect(existsSync(join(dir, 'runs'))).toBe(false);

    const jsonl = writeJson(dir, 'scores.jsonl', '{"sentence": "a", "label": 1}\n{"sentence": "b", "label": 0.5}\n');
    expect((await opnas(['train', '--baseline', 'bert-tiny', '--train', jsonl])).stderr.trim()).toMatch(new RegExp(`^opnas: ${jsonl}:2: label "0\\.5" is a fractional number`));
  });

  it('integer-valued labels written as floats (0.0, 1.0) and an explicit --label-map still load', async () => {
    const dir = tempDir();
    const rows = Array.from({ length: 20 }, (_, i) => `word${i} film,${i % 2 ? '1.0' : '0.0'}`).join('\n');
    const csv = writeJson(dir, 'floats.csv', `sentence,label\n${rows}\n`);
    const args = ['--baseline', 'bert-tiny', '--steps', '1', '--max-len', '8', '--vocab-size', '64', '--quiet', '--json'];
    const a = await opnas(['train', ...args, '--train', csv]);
    expect(a.code, a.stderr).toBe(0);
    const frac = writeJson(dir, 'halves.csv', `sentence,label\n${rows.replace(/1\.0/g, '0.5')}\n`);
    const b = await opnas(['train', ...args, '--train', frac, '--label-map', '0.0=0,0.5=1']);
    expect(b.code, b.stderr).toBe(0);
  });
});
