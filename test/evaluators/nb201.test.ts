import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Nb201Evaluator,
  defaultNb201Path,
  expectedRandomBest,
  loadNb201Table,
  nb201Stats,
  parseNb201Csv,
} from '../../evaluators/nb201.js';
import { MAXIMISED } from '../../evaluators/types.js';
import { Rng } from '../../spaces/base/rng.js';
import { OpnasError } from '../../spaces/base/errors.js';
import { nb201Space, parseArchString } from '../../spaces/nb201.js';

const HEADER = 'CIFAR10TestAccuracy200Epochs,CIFAR100TestAccuracy200Epochs,ImageNetTestAccuracy200Epochs,ArchitectureString,UniqueString';
const FIRST_ROW = '|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|';
const ctx = { seed: 0 };

function tmpCsv(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'opnas-nb201-'));
  const p = join(dir, 'table.csv');
  writeFileSync(p, text);
  return p;
}

describe('NAS-Bench-201 table', () => {
  it('loads the bundled table once: 15,625 distinct cells', () => {
    const ev = Nb201Evaluator.load();
    expect(ev.size).toBe(15625);
    expect(ev.table.path).toBe(defaultNb201Path());
    expect(loadNb201Table()).toBe(ev.table);
    expect(new Set([...ev.table.rows.values()].map((r) => r.unique)).size).toBe(6466);
    expect(ev.scoreNames).toEqual(['cifar10', 'cifar100', 'imagenet16']);
    for (const s of ev.scoreNames) expect(MAXIMISED.has(s)).toBe(true);
  });

  it('covers the whole space: every sampled cell is in the table', async () => {
    const ev = Nb201Evaluator.load();
    const rng = new Rng(5);
    for (let i = 0; i < 300; i++) {
      const genome = nb201Space.sample(rng);
      const r = await ev.score({ genome, id: nb201Space.id(genome), origin: 'sample' }, ctx);
      expect(r.seconds).toBe(0);
      expect(Object.keys(r.scores)).toEqual(['cifar10', 'cifar100', 'imagenet16']);
    }
  });

  it('scores a known cell with the CSV accuracies (percent)', async () => {
    const ev = Nb201Evaluator.load();
    const genome = parseArchString(FIRST_ROW);
    const r = await ev.score({ genome, id: nb201Space.id(genome), origin: 'seed' }, ctx);
    expect(r.scores).toEqual({ cifar10: 85.86333333333334, cifar100: 52.913333294677734, imagenet16: 26.6333332739936 });
    const empty = await ev.score({ genome: { edges: Array(6).fill('none') }, id: 'x', origin: 'seed' }, ctx);
    expect(empty.scores.cifar10).toBe(10);
    expect(ev.lookup(FIRST_ROW)?.cifar10).toBe(85.86333333333334);
  });

  it('throws OpnasError for a cell missing from the table', async () => {
    const path = tmpCsv(`${HEADER}\n85.8,52.9,26.6,${FIRST_ROW},u\n`);
    const ev = new Nb201Evaluator(path);
    expect(ev.size).toBe(1);
    const genome = { edges: Array(6).fill('none') };
    await expect(ev.score({ genome, id: 'x', origin: 'seed' }, ctx)).rejects.toThrow(OpnasError);
    await expect(ev.score({ genome, id: 'x', origin: 'seed' }, ctx)).rejects.toThrow(/is not in .*table\.csv \(1 rows\)/);
  });

  it('best and median match data/README.md', () => {
    const c10 = nb201Stats('cifar10');
    expect(c10.count).toBe(15625);
    expect(c10.best).toBeCloseTo(94.37, 2);
    expect(c10.median).toBeCloseTo(90.75, 1);
    expect(Math.abs(c10.median - 90.75)).toBeLessThanOrEqual(0.01);
    expect(c10.worst).toBe(10);
    expect(nb201Space.check(c10.bestArch).errors).toEqual([]);
    expect(Math.abs(nb201Stats('cifar100').best - 73.51)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(nb201Stats('imagenet16').best - 47.31)).toBeLessThanOrEqual(0.01);
    expect(() => nb201Stats('mnist')).toThrow(/unknown NAS-Bench-201 data set 'mnist'/);
  });

  const reference: [string, number, number][] = [
    ['cifar10', 10, 93.1],
    ['cifar10', 50, 93.69],
    ['cifar10', 100, 93.85],
    ['cifar10', 200, 93.97],
    ['cifar100', 100, 71.55],
    ['imagenet16', 100, 45.63],
  ];
  for (const [dataset, n, want] of reference) {
    it(`expected best of random search, ${dataset} N=${n}: ${want}`, () => {
      const withRepl = expectedRandomBest(dataset, n);
      expect(Math.abs(withRepl - want)).toBeLessThanOrEqual(0.01);
      // both forms round to the README's two decimals; they differ by less than 0.005
      expect(withRepl.toFixed(2)).toBe(want.toFixed(2));
      const without = expectedRandomBest(dataset, n, { replacement: false });
      expect(Math.abs(without - want)).toBeLessThanOrEqual(0.01);
      expect(without.toFixed(2)).toBe(want.toFixed(2));
      expect(without - withRepl).toBeLessThan(0.005);
      expect(without).toBeGreaterThanOrEqual(withRepl);
    });
  }

  it('expectedRandomBest: edge cases agree with direct computation', () => {
    const path = tmpCsv(
      `${HEADER}\n1,0,0,|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,a\n2,0,0,${FIRST_ROW},b\n` +
        `3,0,0,|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|,c\n`,
    );
    const table = loadNb201Table(path);
    // with replacement, n=2 over {1,2,3}: P(max=1)=1/9, P(max=2)=3/9, P(max=3)=5/9
    expect(expectedRandomBest('cifar10', 2, { table })).toBeCloseTo((1 + 6 + 15) / 9, 12);
    // without replacement, n=2: pairs {1,2},{1,3},{2,3} -> (2+3+3)/3
    expect(expectedRandomBest('cifar10', 2, { table, replacement: false })).toBeCloseTo(8 / 3, 12);
    expect(expectedRandomBest('cifar10', 3, { table, replacement: false })).toBeCloseTo(3, 12);
    expect(expectedRandomBest('cifar10', 1, { table })).toBeCloseTo(2, 12);
    expect(expectedRandomBest('cifar10', 1, { table, replacement: false })).toBeCloseTo(2, 12);
    expect(() => expectedRandomBest('cifar10', 4, { table, replacement: false })).toThrow(/3 rows/);
    expect(() => expectedRandomBest('cifar10', 0, { table })).toThrow(OpnasError);
    expect(() => expectedRandomBest('cifar10', 2.5, { table })).toThrow(OpnasError);
    expect(nb201Stats('cifar10', table)).toMatchObject({ count: 3, best: 3, median: 2, worst: 1, mean: 2 });
  });
});

describe('NAS-Bench-201 table errors', () => {
  it('a missing CSV is a clear OpnasError', () => {
    const missing = join(tmpdir(), 'opnas-no-such-dir', 'nats.csv');
    expect(() => new Nb201Evaluator(missing)).toThrow(OpnasError);
    expect(() => Nb201Evaluator.load(missing)).toThrow(/opnas-no-such-dir.*nats\.csv: no such file \(the NAS-Bench-201 table/);
  });

  const malformed: [string, string, RegExp][] = [
    ['an empty file', '\n', /t\.csv: empty file/],
    ['a missing column', 'CIFAR10TestAccuracy200Epochs,ArchitectureString\n1,x\n', /line 1: missing columns CIFAR100TestAccuracy200Epochs, ImageNetTestAccuracy200Epochs/],
    ['a short row', `${HEADER}\n1,2,3,${FIRST_ROW},u\n1,2,${FIRST_ROW}\n`, /line 3: expected 5 fields, got 3/],
    ['a bad number', `${HEADER}\n1,oops,3,${FIRST_ROW},u\n`, /line 2: CIFAR100TestAccuracy200Epochs is not a number: "oops"/],
    ['an empty number', `${HEADER}\n1,,3,${FIRST_ROW},u\n`, /line 2: CIFAR100TestAccuracy200Epochs is not a number/],
    ['a bad arch', `${HEADER}\n1,2,3,|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|,u\n`, /line 2: ArchitectureString: edges\[0\]: unknown op "conv"/],
    ['a duplicate arch', `${HEADER}\n1,2,3,${FIRST_ROW},u\n4,5,6,${FIRST_ROW},u\n`, /line 3: duplicate arch .* \(first on line 2\)/],
    ['no rows', `${HEADER}\n`, /no rows after the header/],
  ];
  for (const [name, text, message] of malformed) {
    it(`rejects ${name} with its line`, () => {
      expect(() => parseNb201Csv(text, 't.csv')).toThrow(OpnasError);
      expect(() => parseNb201Csv(text, 't.csv')).toThrow(message);
    });
  }

  it('accepts CRLF line ends and columns in another order', () => {
    const rows = parseNb201Csv(`ArchitectureString,ImageNetTestAccuracy200Epochs,CIFAR100TestAccuracy200Epochs,CIFAR10TestAccuracy200Epochs\r\n${FIRST_ROW},3,2,1\r\n`, 't.csv');
    expect(rows.get(FIRST_ROW)).toEqual({ cifar10: 1, cifar100: 2, imagenet16: 3, unique: '' });
  });
});
