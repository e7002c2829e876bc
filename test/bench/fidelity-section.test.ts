import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { BEGIN, END } from '../../bench/fidelity.js';
import { existingSections, spliceSection } from '../../bench/sections.js';

it('bench:fidelity writes its section between markers, replacing an older one, and npm run bench can read it back', () => {
  const first = spliceSection('# results\n\n## 1. x\n', '## 7. fidelity\nold');
  expect(first).toBe(`# results\n\n## 1. x\n\n${BEGIN}\n## 7. fidelity\nold\n${END}\n`);
  const second = spliceSection(first, '## 7. fidelity\nnew');
  expect(second).toContain('new');
  expect(second).not.toContain('old');
  expect(second.split(BEGIN)).toHaveLength(2);
  const f = join(mkdtempSync(join(tmpdir(), 'opnas-bench-')), 'RESULTS.md');
  expect(existingSections(f)).toEqual([]);
  writeFileSync(f, second);
  expect(existingSections(f)).toEqual([`${BEGIN}\n## 7. fidelity\nnew\n${END}`]);
  // a second kind of block (bench:winner) sits beside it; both are kept, in file order
  const both = spliceSection(second, '## 8. winner\nsst2', 'winner-sst2');
  writeFileSync(f, both);
  expect(existingSections(f)).toEqual([`${BEGIN}\n## 7. fidelity\nnew\n${END}`, expect.stringMatching(/^<!-- winner-sst2:begin .*-->\n## 8. winner\nsst2\n<!-- winner-sst2:end -->$/)]);
  expect(spliceSection(both, '## 8. winner\nsst2 again', 'winner-sst2')).not.toMatch(/sst2\n<!--/);
  writeFileSync(f, '# results, no section\n');
  expect(existingSections(f)).toEqual([]);
});
