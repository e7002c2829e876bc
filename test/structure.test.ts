import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './bin/helpers.js';

/**
 * The layer order is read from the diagram in docs/ARCHITECTURE.md (deeper indentation = lower
 * layer), so the document and the check cannot drift apart.
 */
function layersFromDoc(): { folder: string; rank: number }[] {
  const doc = readFileSync(join(ROOT, 'docs/ARCHITECTURE.md'), 'utf8');
  const diagram = /## Layers[\s\S]*?```\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
  const layers: { folder: string; rank: number }[] = [];
  const indents: number[] = [];
  for (const line of diagram.split('\n')) {
    const m = /^( *)([a-z][\w/]*\/)\s/.exec(line);
    if (!m) continue;
    const indent = m[1].length;
    if (!indents.includes(indent)) indents.push(indent);
    layers.push({ folder: m[2], rank: indent });
  }
  // deeper indentation is lower: rank 0 is the bottom
  const sorted = [...indents].sort((a, b) => b - a);
  return layers.map((l) => ({ folder: l.folder, rank: sorted.indexOf(l.rank) }));
}

const SOURCE_DIRS = ['bin', 'runs', 'search', 'evaluators', 'spaces', 'bench'];

/** Top-level folders the diagram does not list sit with the layer it says they sit with. */
const ALIASES: Record<string, string> = { 'bench/': 'bin/' };

/** search/ and evaluators/ are one layer; across it each may use only the other's types module. */
const SIDE_BY_SIDE: Record<string, string> = { 'search/': 'evaluators/types.ts', 'evaluators/': 'search/types.ts' };

function sourceFiles(): string[] {
  return execFileSync('git', ['ls-files', ...SOURCE_DIRS], { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .filter((f) => f.endsWith('.ts') && existsSync(join(ROOT, f)));
}

function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]/g), ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]);
  return specs.filter((s) => s.startsWith('.')).map((s) => normalize(join(dirname(file), s)).replace(/\.js$/, '.ts'));
}

function layerOf(file: string, layers: { folder: string; rank: number }[]): { folder: string; rank: number } | undefined {
  const aliased = Object.entries(ALIASES).reduce((f, [from, to]) => (f.startsWith(from) ? to + f.slice(from.length) : f), file);
  // the longest matching folder wins: spaces/base/ before spaces/
  return layers.filter((l) => aliased.startsWith(l.folder)).sort((a, b) => b.folder.length - a.folder.length)[0];
}

describe('layers', () => {
  const layers = layersFromDoc();

  it('docs/ARCHITECTURE.md names the layers in order', () => {
    const byFolder = Object.fromEntries(layers.map((l) => [l.folder, l.rank]));
    expect(byFolder['spaces/base/']).toBe(0);
    expect(byFolder['spaces/']).toBe(1);
    expect(byFolder['search/']).toBe(byFolder['evaluators/']);
    expect(byFolder['runs/']).toBeGreaterThan(byFolder['search/']);
    expect(byFolder['bin/']).toBeGreaterThan(byFolder['runs/']);
  });

  it('no module imports from a layer above its own', () => {
    const files = sourceFiles();
    expect(files.length).toBeGreaterThan(50);
    const upward: string[] = [];
    for (const file of files) {
      const from = layerOf(file, layers);
      if (!from) continue;
      for (const target of importsOf(file)) {
        if (relative(ROOT, join(ROOT, target)).startsWith('..')) continue;
        const to = layerOf(target, layers);
        if (!to) continue;
        if (to.rank > from.rank) upward.push(`${file} -> ${target}`);
        else if (to.rank === from.rank && to.folder !== from.folder && SIDE_BY_SIDE[from.folder] && target !== SIDE_BY_SIDE[from.folder]) upward.push(`${file} -> ${target} (only ${SIDE_BY_SIDE[from.folder]} is shared)`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('no command imports another command', () => {
    const across = sourceFiles()
      .filter((f) => f.startsWith('bin/commands/') && !f.endsWith('/index.ts'))
      .flatMap((f) => importsOf(f).filter((t) => t.startsWith('bin/commands/')).map((t) => `${f} -> ${t}`));
    expect(across).toEqual([]);
  });

  it('catches an upward import', () => {
    const from = layerOf('spaces/types.ts', layers)!;
    const to = layerOf('search/rng.ts', layers)!;
    expect(to.rank).toBeGreaterThan(from.rank);
    expect(layerOf('spaces/base/rng.ts', layers)!.rank).toBeLessThan(from.rank);
  });
});
