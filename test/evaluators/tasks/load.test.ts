import { describe, it, expect } from 'vitest';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { firstInvalidUtf8, inferLabelMap, loadClassification, parseCsv, type LoadOptions } from '../../../evaluators/tasks/load.js';
import { OpnasError } from '../../../spaces/base/errors.js';

const FIX = fileURLToPath(new URL('../../fixtures/tasks/', import.meta.url));
const fx = (name: string) => join(FIX, name);
const basic = { textColumn: 'text', labelColumn: 'label' } as const;

/** The OpnasError a load throws (fails the test when it does not throw one). */
function loadError(opts: LoadOptions): OpnasError {
  try {
    loadClassification(opts);
  } catch (e) {
    expect(e).toBeInstanceOf(OpnasError);
    expect((e as Error).message).not.toContain('\n');
    return e as OpnasError;
  }
  throw new Error(`expected ${opts.path} to be refused`);
}

describe('loadClassification: formats', () => {
  it('reads TSV with a header, skips blank lines, keeps quotes and text as is', () => {
    const d = loadClassification({ path: fx('reviews.tsv'), ...basic });
    expect(d.texts).toEqual(['great film , loved it', 'boring and far too long', 'an "instant" classic', 'not my cup of tea']);
    // inferred map: sorted labels
    expect(d.labelMap).toEqual({ neg: 0, pos: 1 });
    expect(d.labels).toEqual([1, 0, 1, 0]);
    expect(d.labelNames).toEqual(['neg', 'pos']);
    expect(d.pairs).toBeUndefined();
  });

  it('reads RFC 4180 CSV: quoted commas, doubled quotes, newlines in quotes, CRLF, no final newline', () => {
    const d = loadClassification({ path: fx('reviews.csv'), ...basic });
    expect(d.texts).toEqual(['great film, loved it', 'she said "boring"', 'two\nlines', 'plain text', '']);
    expect(d.labels).toEqual([1, 0, 1, 0, 0]);
  });

  it('reads JSONL with string and numeric labels', () => {
    const d = loadClassification({ path: fx('reviews.jsonl'), ...basic });
    expect(d.texts).toEqual(['great film', 'boring', 'élégant']);
    expect(d.labels).toEqual([1, 0, 1]);
    const n = loadClassification({ path: fx('numeric.jsonl'), ...basic });
    expect(n.labels).toEqual([1, 0, 2]);
    expect(n.labelNames).toEqual(['0', '1', '2']);
  });

  it('reads sentence pairs from TSV and CSV', () => {
    const t = loadClassification({ path: fx('pairs.tsv'), textColumn: 'premise', textPairColumn: 'hypothesis', labelColumn: 'label' });
    expect(t.texts).toEqual(['a man is sleeping', 'a dog barks', 'it rains']);
    expect(t.pairs).toEqual(['a person rests', 'the cat is silent', 'the ground is wet']);
    expect(t.labels).toEqual([1, 0, 1]);
    const c = loadClassification({ path: fx('pairs.csv'), textColumn: 0, textPairColumn: 'sentence2', labelColumn: 2 });
    expect(c.texts).toEqual(['A, B', 'D']);
    expect(c.pairs).toEqual(['C', 'E "F"']);
    expect(c.labels).toEqual([1, 0]);
  });

  it('reads headerless files by index or by given column names', () => {
    const byIndex = loadClassification({ path: fx('headerless.tsv'), header: false, textColumn: 3, labelColumn: 1 });
    expect(byIndex.texts).toEqual(['The sailors rode the breeze.', 'The car honked down the road.', 'Bill broke the bathtub.']);
    expect(byIndex.labels).toEqual([1, 0, 1]);
    const named = loadClassification({
      path: fx('headerless.tsv'),
      header: false,
      columns: ['source', 'label', 'star', 'sentence'],
      textColumn: 'sentence',
      labelColumn: 'label',
    });
    expect(named).toEqual(byIndex);
  });

  it('reads the "LABEL text" format as Latin-1 when asked', () => {
    const d = loadClassification({ path: fx('latin1.txt'), ...basic, encoding: 'latin1' });
    expect(d.texts[2]).toBe('what is a café au lait ?');
    expect(d.labels).toEqual([0, 1, 1, 0]);
  });

  it('handles CRLF line ends and a UTF-8 byte-order mark', () => {
    expect(loadClassification({ path: fx('crlf.tsv'), ...basic }).texts).toEqual(['x y', 'z']);
    const b = loadClassification({ path: fx('bom.tsv'), ...basic });
    expect(b.texts).toEqual(['x', 'y']);
  });

  it('uses a given label map and label names', () => {
    const d = loadClassification({
      path: fx('reviews.tsv'),
      ...basic,
      labelMap: { neg: 0, pos: 1 },
      labelNames: ['negative', 'positive'],
    });
    expect(d.labels).toEqual([1, 0, 1, 0]);
    expect(d.labelNames).toEqual(['negative', 'positive']);
  });

  it('infers label maps numerically for integer labels', () => {
    expect(inferLabelMap(['10', '2', '1', '2'])).toEqual({ '1': 0, '2': 1, '10': 2 });
    expect(inferLabelMap(['b', 'a', 'B'])).toEqual({ B: 0, a: 1, b: 2 });
  });
});

describe('loadClassification: bad input', () => {
  it('missing file', () => {
    const e = loadError({ path: fx('no-such.tsv'), ...basic });
    expect(e.message).toBe(`${fx('no-such.tsv')}: no such file`);
  });

  it('empty file, blank file, header without rows', () => {
    expect(loadError({ path: fx('empty.tsv'), ...basic }).message).toBe(`${fx('empty.tsv')}: the file is empty`);
    expect(loadError({ path: fx('blank.tsv'), ...basic }).message).toBe(`${fx('blank.tsv')}: the file is empty`);
    expect(loadError({ path: fx('header-only.tsv'), ...basic }).message).toBe(`${fx('header-only.tsv')}: no data rows after the header`);
  });

  it('missing column names the column and lists the available ones', () => {
    const e = loadError({ path: fx('reviews.tsv'), textColumn: 'sentence', labelColumn: 'label' });
    expect(e.message).toBe(`${fx('reviews.tsv')}: no text column "sentence"; available: "text" (0), "label" (1)`);
    const i = loadError({ path: fx('headerless.tsv'), header: false, textColumn: 7, labelColumn: 1 });
    expect(i.message).toContain('no text column 7; rows have 4 columns: 0..3');
    const h = loadError({ path: fx('headerless.tsv'), header: false, textColumn: 'sentence', labelColumn: 1 });
    expect(h.message).toContain('no text column "sentence"; available: 0..3 (the file has no header');
    const j = loadError({ path: fx('reviews.jsonl'), textColumn: 'sentence', labelColumn: 'label' });
    expect(j.message).toBe(`${fx('reviews.jsonl')}:1: no text field "sentence" (fields: text, label)`);
  });

  it('label not in the map, with its line number', () => {
    const e = loadError({ path: fx('unknown-label.tsv'), ...basic, labelMap: { neg: 0, pos: 1 } });
    expect(e.message).toBe(`${fx('unknown-label.tsv')}:4: label "neutral" is not in the label map (known: "neg", "pos")`);
  });

  it('only one class in a training split', () => {
    const e = loadError({ path: fx('one-class.tsv'), ...basic, minClasses: 2 });
    expect(e.message).toBe(`${fx('one-class.tsv')}: only one class ("1") present in a training split; a classifier needs at least 2`);
    // without the training check, one class is allowed (e.g. a tiny test file)
    expect(loadClassification({ path: fx('one-class.tsv'), ...basic }).labels).toEqual([0, 0, 0]);
  });

  it('malformed JSON line, with its line number', () => {
    const e = loadError({ path: fx('bad.jsonl'), ...basic });
    expect(e.message).toMatch(new RegExp(`^${escape(fx('bad.jsonl'))}:3: malformed JSON \\(`));
  });

  it('non-UTF-8 text: line, column and the --encoding latin1 hint', () => {
    const e = loadError({ path: fx('bad-utf8.tsv'), ...basic });
    expect(e.message).toBe(
      `${fx('bad-utf8.tsv')}:4:10: not valid UTF-8 (byte 0xe9); if the file is Latin-1, pass --encoding latin1`,
    );
    const l = loadError({ path: fx('latin1.txt'), ...basic });
    expect(l.message).toBe(`${fx('latin1.txt')}:3:16: not valid UTF-8 (byte 0xe9); if the file is Latin-1, pass --encoding latin1`);
  });

  it('rows with the wrong number of fields', () => {
    const e = loadError({ path: fx('ragged.tsv'), ...basic });
    expect(e.message).toBe(`${fx('ragged.tsv')}:3: 3 fields, expected 2 (a tab inside a text field?)`);
  });

  it('CSV quoting errors give line and column', () => {
    expect(loadError({ path: fx('unclosed.csv'), ...basic }).message).toBe(`${fx('unclosed.csv')}:3:1: quoted field is never closed`);
    expect(loadError({ path: fx('stray-quote.csv'), ...basic }).message).toBe(
      `${fx('stray-quote.csv')}:3:3: a quote inside an unquoted field (quote the whole field and double the quote)`,
    );
    expect(() => parseCsv('x.csv', '"a"b,1\n')).toThrow('x.csv:1:4: unexpected "b" after a closing quote');
  });

  it('unknown extension asks for a format; a directory is refused', () => {
    expect(loadError({ path: fx('data.unknownext'), ...basic }).message).toContain('cannot tell the format from the extension ".unknownext"');
    expect(loadClassification({ path: fx('data.unknownext'), format: 'tsv', ...basic }).texts).toEqual(['x']);
    expect(loadError({ path: FIX, ...basic }).message).toContain('is a directory');
  });
});

describe('firstInvalidUtf8', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  it('accepts valid UTF-8 including 4-byte sequences', () => {
    expect(firstInvalidUtf8(enc('aé€😀'))).toBe(-1);
  });
  it('finds overlongs, surrogates, truncated sequences and stray continuation bytes', () => {
    expect(firstInvalidUtf8(Uint8Array.from([0x61, 0xc0, 0x80]))).toBe(1);
    expect(firstInvalidUtf8(Uint8Array.from([0xed, 0xa0, 0x80]))).toBe(0);
    expect(firstInvalidUtf8(Uint8Array.from([0x61, 0x62, 0xe2, 0x82]))).toBe(2);
    expect(firstInvalidUtf8(Uint8Array.from([0x80]))).toBe(0);
    expect(firstInvalidUtf8(Uint8Array.from([0xf4, 0x90, 0x80, 0x80]))).toBe(0);
  });
  it('agrees with the fatal TextDecoder on random bytes', () => {
    let seed = 7;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) & 0xff;
    const dec = new TextDecoder('utf-8', { fatal: true });
    for (let t = 0; t < 2000; t++) {
      const b = Uint8Array.from({ length: 1 + (t % 7) }, () => (rnd() < 128 ? rnd() & 0x7f : rnd()));
      let ok = true;
      try {
        dec.decode(b);
      } catch {
        ok = false;
      }
      expect(firstInvalidUtf8(b) === -1).toBe(ok);
    }
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
