import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadClassification } from '../../../evaluators/tasks/load.js';
import { opnas, tempDir } from '../../bin/helpers.js';

/** Issue 11, case 8: labels never silently become extra classes. */

const file = (text: string, name = 'd.tsv') => {
  const p = join(tempDir(), name);
  writeFileSync(p, text);
  return p;
};
const ROWS = ['good film\tpos', 'bad film\tneg', 'fine film\tpos', 'dull film\tneg', 'great film\tpos'];

describe('labels', () => {
  it('a blank label cell is an error naming its line', async () => {
    const p = file(['sentence\tlabel', ...ROWS.slice(0, 2), 'odd film\t  ', ...ROWS.slice(2)].join('\n'));
    expect(() => loadClassification({ path: p, textColumn: 'sentence', labelColumn: 'label' })).toThrow(new RegExp(`${p}:4: the label is empty`));
  });

  it('--no-header on a file that has a header: the header row is named, not made a class', async () => {
    const p = file(['sentence\tlabel', ...ROWS].join('\n'));
    expect(() => loadClassification({ path: p, header: false, textColumn: 0, labelColumn: 1 })).toThrow(/:1: label "label" occurs only on this first line; is it a header row\? \(then drop --no-header\)/);
    // the same rows without the header load, two classes
    const ok = loadClassification({ path: file(ROWS.join('\n')), header: false, textColumn: 0, labelColumn: 1 });
    expect(ok.labelNames).toEqual(['neg', 'pos']);
  });

  it('a label map that skips class ids is refused; one that maps two spellings to one class is fine', async () => {
    const p = file(['sentence\tlabel', ...ROWS].join('\n'));
    expect(() => loadClassification({ path: p, textColumn: 'sentence', labelColumn: 'label', labelMap: { pos: 5, neg: 0 } })).toThrow(
      /class ids must run 0\.\.1 with none skipped; it uses 0, 5 \(missing 1, 2, 3, 4\)/,
    );
    const two = loadClassification({ path: p, textColumn: 'sentence', labelColumn: 'label', labelMap: { pos: 1, positive: 1, neg: 0 } });
    expect(new Set(two.labels)).toEqual(new Set([0, 1]));
  });

  it('the CLI refuses --label-map pos=5,neg=0 before a run folder is created', async () => {
    const dir = tempDir();
    const p = file(['sentence\tlabel', ...Array.from({ length: 8 }, () => ROWS).flat()].join('\n'));
    const r = await opnas(['search', '--train', p, '--label-map', 'pos=5,neg=0', '--name', 'x', '--quiet'], { env: { OPNAS_RUNS_DIR: dir } });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^opnas: .*class ids must run 0\.\.1 with none skipped/);
    expect(existsSync(join(dir, 'x'))).toBe(false);
  });
});
