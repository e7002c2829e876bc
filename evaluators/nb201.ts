/**
 * NAS-Bench-201 (NATS-Bench topology space) by table lookup: every one of the 15,625 cells has
 * its test accuracy after 200 epochs (averaged over seeds) on CIFAR-10, CIFAR-100 and
 * ImageNet16-120, so a search strategy can be checked in seconds without training anything.
 * The table is data/nas-bench-201/nats_bench_tss.csv (see data/README.md).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Candidate } from '../search/types.js';
import { OpnasError } from '../spaces/base/errors.js';
import { checkArchString, toArchString, type Nb201Genome } from '../spaces/nb201.js';
import { packageRoot } from './tasks/named.js';
import type { EvalContext, EvalResult, Evaluator } from './types.js';

export const NB201_DATASETS = ['cifar10', 'cifar100', 'imagenet16'] as const;
export type Nb201Dataset = (typeof NB201_DATASETS)[number];

/** One cell's test accuracies (percent, as in the CSV) and its isomorphism class. */
export interface Nb201Row {
  cifar10: number;
  cifar100: number;
  imagenet16: number;
  /** The benchmark's UniqueString: equal for isomorphic cells ('' when the CSV has no such column). */
  unique: string;
}

export interface Nb201Table {
  path: string;
  /** Arch string -> accuracies, in file order. */
  rows: Map<string, Nb201Row>;
}

/** CSV column of each dataset's accuracy. */
const COLUMNS: Record<Nb201Dataset, string> = {
  cifar10: 'CIFAR10TestAccuracy200Epochs',
  cifar100: 'CIFAR100TestAccuracy200Epochs',
  imagenet16: 'ImageNetTestAccuracy200Epochs',
};
const ARCH_COLUMN = 'ArchitectureString';
const UNIQUE_COLUMN = 'UniqueString';

/** The bundled table: <package root>/data/nas-bench-201/nats_bench_tss.csv (works from source and dist/). */
export function defaultNb201Path(): string {
  return join(packageRoot(), 'data', 'nas-bench-201', 'nats_bench_tss.csv');
}

/**
 * Parse the table's CSV text (plain comma-separated, no quoting; a header line naming the
 * columns, in any order). `source` names the file in error messages, which give the 1-based line.
 */
export function parseNb201Csv(text: string, source: string): Map<string, Nb201Row> {
  const lines = text.split(/\r?\n/);
  while (lines.length && lines[lines.length - 1].trim() === '') lines.pop();
  if (lines.length === 0) throw new OpnasError(`${source}: empty file (expected the NAS-Bench-201 CSV with a header line)`);
  const header = lines[0].replace(/^\uFEFF/, '').split(',').map((h) => h.trim());
  const col = (name: string) => header.indexOf(name);
  const missing = [...Object.values(COLUMNS), ARCH_COLUMN].filter((c) => col(c) < 0);
  if (missing.length) {
    throw new OpnasError(`${source}: line 1: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (header: ${header.join(', ')})`);
  }
  const accCols = NB201_DATASETS.map((d) => [d, col(COLUMNS[d])] as const);
  const archCol = col(ARCH_COLUMN);
  const uniqueCol = col(UNIQUE_COLUMN);
  const rows = new Map<string, Nb201Row>();
  const firstLine = new Map<string, number>();
  for (let i = 1; i < lines.length; i++) {
    const line = i + 1;
    const fields = lines[i].split(',');
    if (fields.length !== header.length) {
      throw new OpnasError(`${source}: line ${line}: expected ${header.length} fields, got ${fields.length}`);
    }
    const row: Nb201Row = { cifar10: NaN, cifar100: NaN, imagenet16: NaN, unique: uniqueCol >= 0 ? fields[uniqueCol].trim() : '' };
    for (const [d, c] of accCols) {
      const raw = fields[c].trim();
      const v = raw === '' ? NaN : Number(raw);
      if (!Number.isFinite(v)) throw new OpnasError(`${source}: line ${line}: ${COLUMNS[d]} is not a number: ${JSON.stringify(fields[c])}`);
      row[d] = v;
    }
    const arch = fields[archCol].trim();
    const parsed = checkArchString(arch, ARCH_COLUMN);
    if (!parsed.genome) throw new OpnasError(`${source}: line ${line}: ${parsed.errors.join('; ')}`);
    const key = toArchString(parsed.genome);
    const seen = firstLine.get(key);
    if (seen !== undefined) throw new OpnasError(`${source}: line ${line}: duplicate arch ${key} (first on line ${seen})`);
    firstLine.set(key, line);
    rows.set(key, row);
  }
  if (rows.size === 0) throw new OpnasError(`${source}: no rows after the header`);
  return rows;
}

const tables = new Map<string, Nb201Table>();

/** Read and parse the table once per path (default: the bundled one); later calls reuse it. */
export function loadNb201Table(path?: string): Nb201Table {
  const file = resolve(path ?? defaultNb201Path());
  const cached = tables.get(file);
  if (cached) return cached;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new OpnasError(
      code === 'ENOENT'
        ? `${file}: no such file (the NAS-Bench-201 table; the bundled one is data/nas-bench-201/nats_bench_tss.csv)`
        : `${file}: cannot read the NAS-Bench-201 table (${code ?? (e as Error).message})`,
    );
  }
  const table = { path: file, rows: parseNb201Csv(text, file) };
  tables.set(file, table);
  return table;
}

function tableOf(t?: Nb201Table | string): Nb201Table {
  return typeof t === 'object' ? t : loadNb201Table(t);
}

function checkDataset(d: string): Nb201Dataset {
  if (!(NB201_DATASETS as readonly string[]).includes(d)) {
    throw new OpnasError(`unknown NAS-Bench-201 data set '${d}' (known: ${NB201_DATASETS.join(', ')})`);
  }
  return d as Nb201Dataset;
}

const sortedCache = new WeakMap<Nb201Table, Partial<Record<Nb201Dataset, Float64Array>>>();

/** A data set's accuracies over every row, ascending. */
function sortedAccuracies(t: Nb201Table, d: Nb201Dataset): Float64Array {
  let byDataset = sortedCache.get(t);
  if (!byDataset) sortedCache.set(t, (byDataset = {}));
  let a = byDataset[d];
  if (!a) {
    a = new Float64Array(t.rows.size);
    let i = 0;
    for (const r of t.rows.values()) a[i++] = r[d];
    a.sort();
    byDataset[d] = a;
  }
  return a;
}

export interface Nb201Stats {
  dataset: Nb201Dataset;
  count: number;
  best: number;
  /** Arch string of the (first, in file order) best cell. */
  bestArch: string;
  median: number;
  mean: number;
  worst: number;
}

/** Best, median (mean of the middle two for an even count), mean and worst accuracy over every row. */
export function nb201Stats(dataset: Nb201Dataset | string, table?: Nb201Table | string): Nb201Stats {
  const d = checkDataset(dataset);
  const t = tableOf(table);
  const a = sortedAccuracies(t, d);
  const n = a.length;
  let bestArch = '';
  let best = -Infinity;
  for (const [arch, r] of t.rows) if (r[d] > best) [best, bestArch] = [r[d], arch];
  const median = n % 2 ? a[(n - 1) / 2] : (a[n / 2 - 1] + a[n / 2]) / 2;
  return { dataset: d, count: n, best, bestArch, median, mean: a.reduce((s, x) => s + x, 0) / n, worst: a[0] };
}

/**
 * Exact expected best accuracy found by uniform random search after n queries over the table's
 * rows (every row a cell; isomorphic cells are not merged). With a_(1) <= ... <= a_(N) sorted:
 *
 * - with replacement (default): E[max] = sum_k a_(k) * ((k/N)^n - ((k-1)/N)^n);
 * - without replacement (n distinct cells, n <= N): P(max rank <= k) = C(k,n)/C(N,n), so
 *   E[max] = sum_k a_(k) * (C(k,n) - C(k-1,n)) / C(N,n).
 *
 * Both reproduce every reference number in data/README.md (CIFAR-10 N=10/50/100/200, CIFAR-100
 * and ImageNet16-120 N=100), each rounding to the README's two decimals: the two forms differ by
 * at most 0.004 for n <= 200 (CIFAR-10 N=200: 93.9739 with, 93.9750 without replacement), so the
 * README numbers cannot tell them apart. With replacement is the default (the textbook form); a
 * search loop that never re-evaluates a cell draws without replacement, which is slightly higher.
 * Ties are handled correctly by both (the sum telescopes over equal values).
 */
export function expectedRandomBest(
  dataset: Nb201Dataset | string,
  n: number,
  opts: { replacement?: boolean; table?: Nb201Table | string } = {},
): number {
  const d = checkDataset(dataset);
  if (!(Number.isInteger(n) && n >= 1)) throw new OpnasError(`expectedRandomBest: n must be a positive integer, got ${n}`);
  const a = sortedAccuracies(tableOf(opts.table), d);
  const N = a.length;
  let e = 0;
  if (opts.replacement ?? true) {
    let prev = 0; // (k-1/N)^n
    for (let k = 1; k <= N; k++) {
      const cur = (k / N) ** n;
      e += a[k - 1] * (cur - prev);
      prev = cur;
    }
    return e;
  }
  if (n > N) throw new OpnasError(`expectedRandomBest: cannot draw ${n} distinct cells from ${N} rows without replacement`);
  // P(k) = C(k,n)/C(N,n), walked down from P(N) = 1 by P(k-1) = P(k) * (k-n)/k; zero below k = n
  let p = 1;
  for (let k = N; k >= n; k--) {
    const below = k > n ? (p * (k - n)) / k : 0;
    e += a[k - 1] * (p - below);
    p = below;
  }
  return e;
}

/** Scores a NAS-Bench-201 cell by looking up its test accuracies (percent) on the three data sets. */
export class Nb201Evaluator implements Evaluator<Nb201Genome> {
  readonly name = 'nb201';
  readonly scoreNames = [...NB201_DATASETS];
  readonly table: Nb201Table;

  /** A table, or the path of its CSV (default: the bundled one). Throws OpnasError if unreadable or malformed. */
  constructor(table?: Nb201Table | string) {
    this.table = tableOf(table);
  }

  static load(path?: string): Nb201Evaluator {
    return new Nb201Evaluator(path);
  }

  get size(): number {
    return this.table.rows.size;
  }

  /** A cell's row, or undefined when the table lacks it. */
  lookup(g: Nb201Genome | string): Nb201Row | undefined {
    return this.table.rows.get(typeof g === 'string' ? g.trim() : toArchString(g));
  }

  async score(c: Candidate<Nb201Genome>, _ctx?: EvalContext): Promise<EvalResult> {
    const arch = toArchString(c.genome);
    const r = this.table.rows.get(arch);
    if (!r) throw new OpnasError(`NAS-Bench-201: cell ${arch} is not in ${this.table.path} (${this.table.rows.size} rows)`);
    return { scores: { cifar10: r.cifar10, cifar100: r.cifar100, imagenet16: r.imagenet16 }, seconds: 0 };
  }
}
