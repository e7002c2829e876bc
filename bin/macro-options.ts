import { DEFAULT_SEARCH } from '../runs/session.js';
import { OpnasError } from '../spaces/base/errors.js';
import type { MacroRanges } from '../spaces/macro.js';
import { POOL_KINDS, type PoolKind } from '../spaces/types.js';

function intList(flag: string, s: string): number[] {
  const v = s.split(',').map((x) => Number(x.trim()));
  if (!v.length || v.some((x) => !Number.isInteger(x) || x < 1)) throw new OpnasError(`--${flag}: expected comma-separated positive integers, got '${s}'`);
  return v;
}

function range(flag: string, s: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s.trim());
  const lo = Number(m?.[1]);
  const hi = Number(m?.[2] ?? m?.[1]);
  if (!m || lo < 1 || hi < lo) throw new OpnasError(`--${flag}: expected N or N-M with 1 <= N <= M, got '${s}'`);
  return [lo, hi];
}

/** --layers/--hidden/--heads as macro ranges (String: yargs gives a bare number, e.g. --layers 2, as a number). */
export function macroFrom(a: { layers: string; hidden: string; heads: string; pool?: string; embed?: string }): MacroRanges {
  const m: MacroRanges = { ...DEFAULT_SEARCH.macro, layers: range('layers', String(a.layers)), hidden: intList('hidden', String(a.hidden)), heads: intList('heads', String(a.heads)) };
  if (a.pool !== undefined) {
    const pools = String(a.pool).split(',').map((x) => x.trim());
    const bad = pools.filter((x) => !(POOL_KINDS as readonly string[]).includes(x));
    if (bad.length || !pools.length) throw new OpnasError(`--pool: expected a comma-separated list of ${POOL_KINDS.join(', ')}, got '${a.pool}'`);
    m.pool = pools as PoolKind[];
  }
  if (a.embed !== undefined) m.embed = String(a.embed).trim() === 'none' ? [] : intList('embed', String(a.embed));
  return m;
}
