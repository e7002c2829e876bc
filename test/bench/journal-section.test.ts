import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { BEGIN, END } from '../../bench/fidelity.js';
import { JOURNAL_BEGIN, JOURNAL_END, rate } from '../../bench/journal.js';
import { existingSections, spliceSection } from '../../bench/sections.js';

it('bench:journal replaces its own section and leaves the fidelity section and the rest as they were', () => {
  const base = `# results\n\n## 1. x\n\n${BEGIN}\n## 7. fidelity\nkept\n${END}\n`;
  const once = spliceSection(base, '## 8. journal\nold', 'journal');
  const twice = spliceSection(once, '## 8. journal\nnew', 'journal');
  expect(twice.startsWith(base.trimEnd())).toBe(true);
  expect(twice).toContain('new');
  expect(twice).not.toContain('old');
  expect(twice.split(JOURNAL_BEGIN)).toHaveLength(2);
  const f = join(mkdtempSync(join(tmpdir(), 'opnas-bench-')), 'RESULTS.md');
  writeFileSync(f, twice);
  expect(existingSections(f)).toEqual([`${BEGIN}\n## 7. fidelity\nkept\n${END}`, `${JOURNAL_BEGIN}\n## 8. journal\nnew\n${JOURNAL_END}`]);
});

it('trials per second over a window of finish times', () => {
  // one trial every 2 ms, then every 4 ms
  const times = [...Array.from({ length: 10 }, (_, i) => 2 * i), ...Array.from({ length: 10 }, (_, i) => 18 + 4 * (i + 1))];
  expect(rate(times, 0, 10)).toBeCloseTo(500);
  expect(rate(times, 10, 20)).toBeCloseTo(250);
});
