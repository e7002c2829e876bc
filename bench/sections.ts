import { existsSync, readFileSync } from 'node:fs';

/**
 * bench/RESULTS.md is written by several commands: `npm run bench` writes sections 1-6 afresh, and
 * the long measurements (`bench:fidelity`, `bench:winner`) each own a block between markers that
 * they replace in place and that `npm run bench` keeps.
 */

export function markers(name: string): { begin: string; end: string } {
  return { begin: `<!-- ${name}:begin (written by npm run bench:${name.split('-')[0]}; npm run bench keeps it) -->`, end: `<!-- ${name}:end -->` };
}

/** `text` with `section` between the named markers (replacing what was there, or appended). */
export function spliceSection(text: string, section: string, name = 'fidelity'): string {
  const { begin, end } = markers(name);
  const block = `${begin}\n${section.trim()}\n${end}`;
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  if (a >= 0 && b > a) return text.slice(0, a) + block + text.slice(b + end.length);
  return `${text.trimEnd()}\n\n${block}\n`;
}

/** Every marked block of an existing RESULTS.md, in file order, markers included. */
export function existingSections(file: string): string[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/<!-- ([\w-]+):begin [^>]*-->[\s\S]*?<!-- \1:end -->/g)].map((m) => m[0]);
}
