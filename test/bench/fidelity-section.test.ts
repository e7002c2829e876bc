import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { BEGIN, END, existingSection, spliceSection } from '../../bench/fidelity.js';

it('bench:fidelity writes its section between markers, replacing an older one, and npm run bench can read it back', () => {
  const first = spliceSection('# results\n\n## 1. x\n', '## 7. fidelity\nold');
  expect(first).toBe(`# results\n\n## 1. x\n\n${BEGIN}\n## 7. fidelity\nold\n${END}\n`);
  const second = spliceSection(first, '## 7. fidelity\nnew');
  expect(second).toContain('new');
  expect(second).not.toContain('old');
  expect(second.split(BEGIN)).toHaveLength(2);
  const f = join(mkdtempSync(join(tmpdir(), 'opnas-bench-')), 'RESULTS.md');
  expect(existingSection(f)).toBeUndefined();
  writeFileSync(f, second);
  expect(existingSection(f)).toBe(`${BEGIN}\n## 7. fidelity\nnew\n${END}`);
  writeFileSync(f, '# results, no section\n');
  expect(existingSection(f)).toBeUndefined();
});
