import { describe, it, expect } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_TASK, TASK_NAMES, defaultDataDir, describeTasks, loadTask, packageRoot, stratifiedSplit } from '../../../evaluators/tasks/named.js';
import { Rng } from '../../../spaces/base/rng.js';
import { OpnasError } from '../../../spaces/base/errors.js';

const FIX = fileURLToPath(new URL('../../fixtures/tasks/', import.meta.url));

function counts(labels: number[], k: number): number[] {
  const c = new Array<number>(k).fill(0);
  for (const l of labels) c[l]++;
  return c;
}

describe('bundled tasks', () => {
  it('finds the package root and its data folder', () => {
    const root = packageRoot();
    expect(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).name).toBe('opnas');
    expect(defaultDataDir()).toBe(join(root, 'data'));
    expect(existsSync(join(defaultDataDir(), 'sst2', 'train.tsv'))).toBe(true);
  });

  it('lists its tasks; sst2 is the default', () => {
    expect(TASK_NAMES).toEqual(['sst2', 'trec', 'cola']);
    expect(DEFAULT_TASK).toBe('sst2');
    expect(describeTasks()).toHaveLength(3);
  });

  it('sst2: 55,502 / 1,000 / 872, binary, accuracy; no dev sentence occurs inside a training phrase', () => {
    const t = loadTask();
    expect(t.name).toBe('sst2');
    expect([t.train.texts.length, t.dev.texts.length, t.test.texts.length]).toEqual([55502, 1000, 872]);
    expect(t.train.labels).toHaveLength(55502);
    // the leak-free split: whole dev sentences, none contained in any training phrase
    const norm = (x: string) => ` ${x.trim()} `;
    const train = t.train.texts.map(norm).join('\n');
    expect(t.dev.texts.filter((d) => train.includes(norm(d)))).toEqual([]);
    expect(t.numClasses).toBe(2);
    expect(t.labelNames).toEqual(['negative', 'positive']);
    expect(t.metric).toBe('accuracy');
    expect(t.train.texts[0]).toBe('when are bears bears and');
    expect(t.train.labels[0]).toBe(1);
    expect(t.test.texts[0]).toBe("it 's a charming and often affecting journey . ");
    for (const s of [t.train, t.dev, t.test]) {
      expect(s.pairs).toBeUndefined();
      expect(counts(s.labels, 2).every((c) => c > 0)).toBe(true);
    }
    expect(t.sources.test.endsWith(join('sst2', 'test.tsv'))).toBe(true);
  });

  it('trec: 5,452 train+dev with a seeded stratified 10% dev, 500 test, 6 classes', () => {
    const t = loadTask('trec');
    expect(t.train.texts.length + t.dev.texts.length).toBe(5452);
    expect(t.dev.texts.length).toBeGreaterThanOrEqual(540);
    expect(t.dev.texts.length).toBeLessThanOrEqual(550);
    expect(t.test.texts.length).toBe(500);
    expect(t.numClasses).toBe(6);
    expect(t.labelNames).toEqual(['DESC', 'ENTY', 'ABBR', 'HUM', 'LOC', 'NUM']);
    // whole-train class counts (from the file): 1162 1250 86 1223 835 896
    const all = counts([...t.train.labels, ...t.dev.labels], 6);
    expect(all).toEqual([1162, 1250, 86, 1223, 835, 896]);
    const dev = counts(t.dev.labels, 6);
    all.forEach((n, c) => expect(dev[c]).toBe(Math.round(n * 0.1)));
    // Latin-1 file decoded, not mangled: line 66 has the byte 0xF0 (ð)
    expect([...t.train.texts, ...t.dev.texts]).toContain('Which city has the oldest relationship as a sister\u00f0city with Los Angeles ?');
    expect(t.test.texts[0]).toBe('How far is it from Denver to Aspen ?');
    expect(t.test.labels[0]).toBe(5);
    expect(t.sources.dev).toContain('seeded 10%, seed 0');
  });

  it('trec dev split is a function of the seed', () => {
    const a = loadTask('trec', { seed: 0 });
    const b = loadTask('trec', { seed: 0 });
    const c = loadTask('trec', { seed: 1 });
    expect(b.dev.texts).toEqual(a.dev.texts);
    expect(c.dev.texts).not.toEqual(a.dev.texts);
    expect(a.train.texts.length + a.dev.texts.length).toBe(c.train.texts.length + c.dev.texts.length);
  });

  it('cola: 7,250 / 1,301 / 1,043, binary, Matthews correlation', () => {
    const t = loadTask('cola');
    expect([t.train.texts.length, t.dev.texts.length, t.test.texts.length]).toEqual([7250, 1301, 1043]);
    expect(t.metric).toBe('mcc');
    expect(t.numClasses).toBe(2);
    expect(counts(t.train.labels, 2)).toEqual([2162, 5088]);
    expect(t.train.texts[0]).toBe("Our friends won't buy this analysis, let alone the next one we propose.");
    expect(t.dev.texts[0]).toBe('Bill broke the bathtub.');
  });

  it('refuses an unknown task name, listing the bundled ones', () => {
    expect(() => loadTask('mnli')).toThrow(OpnasError);
    expect(() => loadTask('mnli')).toThrow('unknown task "mnli"; bundled tasks: sst2, trec, cola');
  });

  it('takes another data folder', () => {
    expect(() => loadTask('sst2', { dataDir: FIX })).toThrow(`${join(FIX, 'sst2', 'train.tsv')}: no such file`);
  });
});

describe('custom task specs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'opnas-task-'));
  const rows = Array.from({ length: 40 }, (_, i) => `example number ${i}\t${i % 3 === 0 ? 'neg' : 'pos'}`);
  writeFileSync(join(dir, 'train.tsv'), `text\tlabel\n${rows.join('\n')}\n`);
  writeFileSync(join(dir, 'dev.tsv'), 'text\tlabel\na\tpos\nb\tneg\n');
  writeFileSync(join(dir, 'odd-dev.tsv'), 'text\tlabel\na\tpos\nb\tmaybe\n');

  it('loads train/dev/test files with one label map', () => {
    const t = loadTask({
      name: 'mine',
      train: join(dir, 'train.tsv'),
      dev: join(dir, 'dev.tsv'),
      test: join(FIX, 'reviews.tsv'),
      textColumn: 'text',
      labelColumn: 'label',
      metric: 'f1',
    });
    expect(t.name).toBe('mine');
    expect(t.labelNames).toEqual(['neg', 'pos']);
    expect(t.dev.labels).toEqual([1, 0]);
    expect(t.test.labels).toEqual([1, 0, 1, 0]);
    expect(t.metric).toBe('f1');
  });

  it('holds out a seeded 10% dev split when no dev file is given, and reuses dev as test', () => {
    const spec = { train: join(dir, 'train.tsv'), textColumn: 'text', labelColumn: 'label' };
    const t = loadTask(spec, { seed: 3 });
    expect(t.dev.texts.length).toBe(4); // 14 neg → 1, 26 pos → 3
    expect(t.train.texts.length).toBe(36);
    expect(new Set([...t.train.texts, ...t.dev.texts]).size).toBe(40);
    expect(t.test).toBe(t.dev);
    expect(t.sources.test).toContain('no test file');
    expect(loadTask(spec, { seed: 3 }).dev.texts).toEqual(t.dev.texts);
  });

  it('a dev label that training never saw is refused with its line', () => {
    expect(() =>
      loadTask({ train: join(dir, 'train.tsv'), dev: join(dir, 'odd-dev.tsv'), textColumn: 'text', labelColumn: 'label' }),
    ).toThrow(`${join(dir, 'odd-dev.tsv')}:3: label "maybe" is not in the label map (known: "neg", "pos")`);
  });

  it('a training split with one class is refused', () => {
    expect(() => loadTask({ train: join(FIX, 'one-class.tsv'), textColumn: 'text', labelColumn: 'label' })).toThrow(
      'only one class ("1") present in a training split',
    );
  });

  it('too small to hold out a dev split', () => {
    expect(() => loadTask({ train: join(FIX, 'reviews.tsv'), textColumn: 'text', labelColumn: 'label' })).toThrow(
      'too few examples (4) to hold out a 10% dev split; give a dev file',
    );
  });

  it('sentence-pair tasks keep pairs in every split', () => {
    const p = join(FIX, 'pairs.tsv');
    const t = loadTask({ train: p, dev: p, test: p, textColumn: 'premise', textPairColumn: 'hypothesis', labelColumn: 'label' });
    expect(t.train.pairs).toEqual(['a person rests', 'the cat is silent', 'the ground is wet']);
    expect(t.test.pairs).toHaveLength(3);
  });
});

describe('stratifiedSplit', () => {
  it('keeps class proportions and covers every index once', () => {
    const labels = Array.from({ length: 1000 }, (_, i) => (i % 10 === 0 ? 1 : 0));
    const { keep, held } = stratifiedSplit(labels, 0.1, new Rng(5));
    expect(held.length).toBe(100);
    expect(held.filter((i) => labels[i] === 1).length).toBe(10);
    expect([...keep, ...held].sort((a, b) => a - b)).toEqual(labels.map((_, i) => i));
  });
});
