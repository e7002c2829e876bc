import { readFileSync } from 'node:fs';
import { attentionSpace, isObj } from './attention-graph.js';
import { backboneSpace } from './backbone.js';
import { OpnasError, ValidationError } from './base/errors.js';
import { ffnSpace } from './ffn-tree.js';
import { nb201Space } from './nb201.js';
import type { SearchSpace } from './types.js';

/** Every space opnas knows, by the name the CLI and run files use (adding one: docs/ARCHITECTURE.md). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const SPACES: Record<string, () => SearchSpace<any>> = {
  backbone: () => backboneSpace(),
  attention: () => attentionSpace,
  ffn: () => ffnSpace,
  nb201: () => nb201Space,
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function getSpace(name: string): SearchSpace<any> {
  const make = SPACES[name];
  if (!make) throw new OpnasError(`unknown space '${name}' (known: ${Object.keys(SPACES).join(', ')})`);
  return make();
}

/** The space a genome object says it belongs to (`space` field), else guessed from its fields. */
export function spaceOf(x: unknown): string {
  if (isObj(x)) {
    if (typeof x.space === 'string') return x.space;
    if ('layers' in x) return 'backbone';
    if ('edges' in x || 'arch' in x) return 'nb201';
    if ('tree' in x || 'stack' in x) return 'ffn';
    if ('nodes' in x || 'formula' in x) return 'attention';
  }
  return 'backbone';
}

/** Read and validate a genome file; a file of any problem throws one error listing them all. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function readGenomeFile(path: string, expectSpace?: string): { space: string; genome: any } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new OpnasError(code === 'ENOENT' ? `${path}: no such file` : `${path}: cannot read (${code ?? (e as Error).message})`);
  }
  let json: unknown;
  try {
    // editors on Windows often start UTF-8 files with a byte-order mark; it is not part of the JSON
    json = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new OpnasError(`${path}: malformed JSON (${(e as Error).message})`);
  }
  // an exported genome file wraps the genome with its formula and costs, and names its space
  let wrapperSpace: string | undefined;
  if (isObj(json) && isObj(json.genome) && 'id' in json) {
    if (typeof json.space === 'string') wrapperSpace = json.space;
    json = json.genome;
  }
  const name = expectSpace ?? wrapperSpace ?? spaceOf(json);
  if (!SPACES[name]) throw new OpnasError(`${path}: unknown space '${name}' (known: ${Object.keys(SPACES).join(', ')})`);
  const res = getSpace(name).check(json);
  if (!res.genome) throw new ValidationError(`${path}: invalid ${name} genome`, res.errors);
  return { space: name, genome: res.genome };
}
