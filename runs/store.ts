import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { LowSync } from 'lowdb';
import { DataFileSync } from 'lowdb/node';
import type { Trial, TrialStatus } from '../search/types.js';
import { OpnasError, ValidationError } from '../spaces/base/errors.js';
import { acquireLock, lockHolder, releaseLock } from './lock.js';
import { primaryScore, rankTrials, type RunListing, runObjectives } from './report.js';
import { RUN_FORMAT, RUN_STATUSES, RUN_VERSION, type RunFile, type RunInit, type RunStatus, TRIAL_STATUSES } from './types.js';

export const RUN_FILE = 'run.json';
export const LOCK_FILE = 'run.lock';
/** What happened since run.json was last written: one JSON line per trial or batch-state change. */
export const JOURNAL_FILE = 'journal.jsonl';

/**
 * run.json is rewritten once this many journal lines have piled up, or as many as the last
 * snapshot held trials, whichever is more: the interval doubles as the run grows, so the snapshots
 * of a run of n trials write O(n) trials in all and a trial's save costs the same, on average, at
 * trial 5,000 as at trial 5.
 */
const SNAPSHOT_AFTER = 200;

/** A journal line: a trial recorded, or the loop's batch state (pending batch, strategy state). */
export type JournalEntry<G = unknown> =
  | { seq: number; trial: Trial<G> }
  | { seq: number; state: { pending?: RunFile<G>['pending']; nextBatch: number; strategyState: unknown } };

/** A missing run lists the others when there are at most this many. */
const LIST_AT_MOST = 8;

/** The folder runs live in: the option, else $OPNAS_RUNS_DIR, else ./opnas-runs. */
export function runsDir(opt?: string): string {
  return resolve(opt || process.env.OPNAS_RUNS_DIR || './opnas-runs');
}

/** A run name is a folder name: letters, digits, '-', '_', '.'; no slashes, not hidden. */
export function validateRunName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name)) {
    throw new OpnasError(
      `invalid run name '${name}': use up to 100 letters, digits, '-', '_' and '.', starting with a letter or digit (no slashes)`,
    );
  }
  return name;
}

/** `run-20261127-213501`, in local time. */
export function defaultRunName(date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `run-${date.getFullYear()}${p(date.getMonth() + 1)}${p(date.getDate())}-${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`;
}

/**
 * One run folder: `run.json`, `journal.jsonl` and, beside them, whatever checkpoints the search
 * writes. A writable store holds `run.lock` so two processes never write the same run. Each trial
 * (and each batch's strategy state) is appended to the journal as one JSON line, as Optuna's
 * JournalStorage does; run.json is a snapshot, rewritten atomically (temp file and rename, lowdb's
 * DataFileSync) now and then and on close, after which the journal starts empty again. A reader
 * takes the snapshot and replays the journal lines written after it (each line carries a sequence
 * number, and the snapshot the last one it holds); a torn last line, from a kill mid-append, is
 * ignored. So a run killed at any instant loses nothing it had recorded.
 */
export class RunStore<G = unknown> {
  private closed = false;
  /** Open journal file (append mode) of a writable store. */
  private journalFd?: number;
  /** Sequence number of the last journal line written or read. */
  private seq: number;
  /** Journal lines since the last snapshot. */
  private sinceSnapshot: number;
  /** Trials the last snapshot held. */
  private snapshotTrials = 0;

  private constructor(
    /** The runs folder. */
    readonly dir: string,
    readonly name: string,
    readonly readonly: boolean,
    private readonly db: LowSync<RunFile<G>>,
    loaded: { seq: number; entries: number },
  ) {
    this.seq = loaded.seq;
    this.sinceSnapshot = loaded.entries;
    this.snapshotTrials = db.data.trials.length;
  }

  /** The run's own folder: checkpoints go here. */
  get folder(): string {
    return join(this.dir, this.name);
  }

  get file(): string {
    return join(this.folder, RUN_FILE);
  }

  get journal(): string {
    return join(this.folder, JOURNAL_FILE);
  }

  get data(): RunFile<G> {
    return this.db.data;
  }

  static async create<G>(dir: string, name: string, init: RunInit<G>): Promise<RunStore<G>> {
    validateRunName(name);
    const root = resolve(dir);
    ensureFolder(root, 'runs folder');
    const folder = join(root, name);
    const exists = () =>
      new OpnasError(`run '${name}' already exists in ${root} (use opnas resume ${name}, or pick another --name)`);
    // a folder without run.json is what a create killed before its first save leaves: reuse it
    ensureFolder(folder, 'run folder');
    if (existsSync(join(folder, RUN_FILE))) throw exists();
    const lock = join(folder, LOCK_FILE);
    acquireLock(lock, `run '${name}'`);
    try {
      if (existsSync(join(folder, RUN_FILE))) throw exists();
      const now = new Date().toISOString();
      const data: RunFile<G> = {
        format: RUN_FORMAT,
        version: RUN_VERSION,
        name,
        created: now,
        updated: now,
        ...init,
        status: init.status ?? 'running',
        nextBatch: init.nextBatch ?? 0,
        trials: init.trials ?? [],
      };
      const store = new RunStore<G>(root, name, false, new LowSync(runFile<G>(join(folder, RUN_FILE)), data), { seq: 0, entries: 0 });
      store.openJournal(0); // empty: whatever a killed create left there is not this run's
      await store.save();
      return store;
    } catch (e) {
      releaseLock(lock);
      throw e;
    }
  }

  /** Open an existing run; read-only opens (show, export, runs) take no lock and cannot save. */
  static async open<G>(dir: string, name: string, opts: { readonly?: boolean } = {}): Promise<RunStore<G>> {
    validateRunName(name);
    const root = resolve(dir);
    const folder = join(root, name);
    const file = join(folder, RUN_FILE);
    if (!existsSync(file)) throw missingRun(root, name);
    const lock = join(folder, LOCK_FILE);
    if (!opts.readonly) acquireLock(lock, `run '${name}'`);
    try {
      const loaded = readRun<G>(folder);
      // a renamed folder renames the run
      loaded.data.name = name;
      const store = new RunStore<G>(root, name, !!opts.readonly, new LowSync(runFile<G>(file), loaded.data), loaded);
      // appends go after the last whole line: a torn one is cut off first
      if (!opts.readonly) store.openJournal(loaded.wholeBytes);
      return store;
    } catch (e) {
      if (!opts.readonly) releaseLock(lock);
      throw e;
    }
  }

  private openJournal(keepBytes: number): void {
    try {
      this.journalFd = openSync(this.journal, 'a');
      ftruncateSync(this.journalFd, keepBytes);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new OpnasError(`cannot open ${this.journal} (${err.code ?? err.message})`);
    }
  }

  /** Write run.json atomically with everything recorded so far, stamping `updated`; the journal starts over. */
  async save(): Promise<void> {
    this.writable();
    this.data.updated = new Date().toISOString();
    this.data.journalSeq = this.seq;
    try {
      this.db.write();
      // every line so far is in the snapshot now (this is synchronous: nothing was appended meanwhile)
      if (this.journalFd !== undefined) ftruncateSync(this.journalFd, 0);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new OpnasError(`cannot save ${this.file} (${err.code ?? err.message})`);
    }
    this.sinceSnapshot = 0;
    this.snapshotTrials = this.data.trials.length;
  }

  /** Journal a trial already placed in `data.trials` (the loop keeps them in index order). */
  async recordTrial(t: Trial<G>): Promise<void> {
    await this.append({ seq: this.seq + 1, trial: t });
  }

  /** Journal the loop's batch state as it is in `data` now. */
  async recordState(): Promise<void> {
    const { pending, nextBatch, strategyState } = this.data;
    await this.append({ seq: this.seq + 1, state: { ...(pending ? { pending } : {}), nextBatch, strategyState } });
  }

  /** Record a trial (its index must be the next position). */
  async appendTrial(t: Trial<G>): Promise<void> {
    if (t.index !== this.data.trials.length) {
      throw new Error(`appendTrial: trial index ${t.index}, expected ${this.data.trials.length}`);
    }
    this.data.trials.push(t);
    await this.recordTrial(t);
  }

  private async append(entry: JournalEntry<G>): Promise<void> {
    this.writable();
    try {
      writeSync(this.journalFd!, JSON.stringify(entry) + '\n');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new OpnasError(`cannot append to ${this.journal} (${err.code ?? err.message})`);
    }
    this.seq = entry.seq;
    this.sinceSnapshot++;
    if (this.sinceSnapshot >= Math.max(SNAPSHOT_AFTER, this.snapshotTrials)) await this.save();
  }

  private writable(): void {
    if (this.readonly) throw new Error(`run '${this.name}' was opened read-only`);
    if (this.closed) throw new Error(`run '${this.name}' is closed`);
  }

  /** Release the lock (a writable store's last save is the caller's). Closing twice is harmless. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.journalFd !== undefined) closeSync(this.journalFd);
    this.journalFd = undefined;
    if (!this.readonly) releaseLock(join(this.folder, LOCK_FILE));
  }
}

/** What `removeRun` deleted. */
export interface RemovedRun {
  name: string;
  folder: string;
  /** The status saved in run.json (a run saved as running whose process is gone reads as interrupted). */
  status: RunStatus | 'unreadable';
  trials?: number;
}

/**
 * Delete a run's folder (run.json, checkpoints, everything in it). The run's lock is taken first,
 * so a run that a live process holds (a search in progress) is refused, and no search can start
 * writing into the folder while it is deleted.
 */
export function removeRun(dir: string, name: string): RemovedRun {
  validateRunName(name);
  const root = resolve(dir);
  const folder = join(root, name);
  if (!existsSync(join(folder, RUN_FILE))) throw missingRun(root, name);
  acquireLock(join(folder, LOCK_FILE), `run '${name}'`);
  let status: RemovedRun['status'] = 'unreadable';
  let trials: number | undefined;
  try {
    const r = parseRun(readFileSync(join(folder, RUN_FILE), 'utf8'));
    if (r.data) {
      // we hold the lock, so nobody runs it
      status = r.data.status === 'running' ? 'interrupted' : r.data.status;
      trials = r.data.trials.length;
    }
  } catch {
    // unreadable: it is being removed anyway
  }
  try {
    rmSync(folder, { recursive: true, force: true });
  } catch (e) {
    releaseLock(join(folder, LOCK_FILE));
    throw new OpnasError(`cannot remove ${folder} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  releaseLock(join(folder, LOCK_FILE));
  return { name, folder, status, ...(trials !== undefined ? { trials } : {}) };
}

/** lowdb's JSON file (atomic writes: a temp file, then rename) with the run layout below. */
function runFile<G>(file: string): DataFileSync<RunFile<G>> {
  return new DataFileSync<RunFile<G>>(file, { parse: JSON.parse, stringify: stringifyRun });
}

/**
 * A run as its files hold it: run.json's snapshot with the journal's later lines replayed. `seq`
 * is the last sequence number, `entries` the lines replayed, `wholeBytes` the journal's length up
 * to its last whole line. Throws (and touches nothing) when either file is damaged.
 */
export function readRun<G = unknown>(folder: string): { data: RunFile<G>; seq: number; entries: number; wholeBytes: number } {
  const data = readRunFile<G>(join(folder, RUN_FILE));
  const journal = join(folder, JOURNAL_FILE);
  let text: string;
  try {
    text = readFileSync(journal, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { data, seq: data.journalSeq ?? 0, entries: 0, wholeBytes: 0 };
    throw new OpnasError(`cannot read ${journal} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  // the text after the last newline is a line a kill cut short: it was never recorded
  const whole = text.slice(0, text.lastIndexOf('\n') + 1);
  let seq = data.journalSeq ?? 0;
  let entries = 0;
  const lines = whole.split('\n');
  lines.pop();
  lines.forEach((line, i) => {
    let e: JournalEntry<G>;
    try {
      e = JSON.parse(line);
    } catch (err) {
      throw new OpnasError(`${journal}:${i + 1}: not valid JSON (${(err as Error).message}); the file is left as it is`);
    }
    if (typeof e?.seq !== 'number') throw new OpnasError(`${journal}:${i + 1}: no sequence number; the file is left as it is`);
    if (e.seq <= seq) return; // already in the snapshot
    if ('trial' in e) insertTrial(data.trials, e.trial);
    else if ('state' in e) {
      data.pending = e.state.pending;
      data.nextBatch = e.state.nextBatch;
      data.strategyState = e.state.strategyState;
    }
    seq = e.seq;
    entries++;
  });
  if (entries > 0) {
    const problems = checkRunFile(data);
    if (problems.length) throw new ValidationError(`${journal} does not fit ${join(folder, RUN_FILE)} (the files are left as they are)`, problems);
    data.updated = new Date(statSync(journal).mtimeMs).toISOString();
  }
  return { data, seq, entries, wholeBytes: Buffer.byteLength(whole) };
}

/** Put a trial in its place by index, as the search loop does. */
function insertTrial<G>(trials: Trial<G>[], t: Trial<G>): void {
  let at = trials.length;
  while (at > 0 && trials[at - 1].index > t.index) at--;
  if (at > 0 && trials[at - 1].index === t.index) trials[at - 1] = t;
  else trials.splice(at, 0, t);
}

/**
 * Indented at the top, one trial a line: a third the size of fully indented JSON and as quick to
 * write, which matters because a run of thousands of trials is rewritten whole on every save.
 */
export function stringifyRun(run: RunFile<unknown>): string {
  const { trials, ...rest } = run;
  const head = JSON.stringify(rest, null, 2);
  const body = trials.length ? `[\n${trials.map((t) => '    ' + JSON.stringify(t)).join(',\n')}\n  ]` : '[]';
  return `${head.slice(0, -2)},\n  "trials": ${body}\n}\n`;
}

/**
 * mkdir -p, one level at a time: Node's own recursive mkdirSync never returns when the kernel
 * answers ENOENT for a parent that exists (`/proc/nope`).
 */
function makeFolders(path: string): void {
  const missing: string[] = [];
  let p = resolve(path);
  while (!existsSync(p)) {
    missing.unshift(p);
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  for (const m of missing) {
    try {
      mkdirSync(m);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

function ensureFolder(path: string, what: string): void {
  try {
    makeFolders(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new OpnasError(`${path} is a file, not a ${what}`);
    throw new OpnasError(`cannot create ${what} ${path} (${code ?? (e as Error).message})`);
  }
  if (!statSync(path).isDirectory()) throw new OpnasError(`${path} is a file, not a ${what}`);
}

function runNames(root: string): string[] {
  try {
    return readdirSync(root, { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(root, d.name, RUN_FILE)))
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}

function missingRun(root: string, name: string): OpnasError {
  if (!existsSync(root)) return new OpnasError(`no run '${name}': ${root} does not exist`);
  const names = runNames(root);
  const others =
    names.length === 0
      ? 'no runs there yet'
      : names.length <= LIST_AT_MOST
        ? `runs there: ${names.join(', ')}`
        : `${names.length} runs there; opnas runs lists them`;
  return new OpnasError(`no run '${name}' in ${root} (${others})`);
}

/** Read and check run.json; a broken file throws an error saying what is wrong and is never touched. */
export function readRunFile<G = unknown>(file: string): RunFile<G> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new OpnasError(`cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const r = parseRun<G>(text);
  if (r.json === false) throw new OpnasError(`${file} is not valid JSON (${r.problems[0]}): the file is left as it is`);
  if (r.problems.length) throw new ValidationError(`${file} is not a valid opnas run (the file is left as it is)`, r.problems);
  return r.data!;
}

function parseRun<G>(text: string): { json: boolean; problems: string[]; data?: RunFile<G> } {
  let x: unknown;
  try {
    x = JSON.parse(text);
  } catch (e) {
    return { json: false, problems: [text.trim() === '' ? 'the file is empty' : (e as Error).message] };
  }
  const problems = checkRunFile(x);
  return problems.length ? { json: true, problems } : { json: true, problems, data: x as RunFile<G> };
}

// local rather than spaces/attention-graph's: that module loads tfjs, and `opnas runs` should not
const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Every problem with the shape of a parsed run.json (the trials: the first few bad ones). */
export function checkRunFile(x: unknown): string[] {
  if (!isObj(x)) return [`the file holds ${Array.isArray(x) ? 'a list' : JSON.stringify(x)}, not a run object`];
  if (x.format !== RUN_FORMAT) return [`format is ${JSON.stringify(x.format)}, expected "${RUN_FORMAT}": not an opnas run file`];
  if (typeof x.version === 'number' && x.version > RUN_VERSION) {
    return [`version ${x.version} was written by a newer opnas; this one reads version ${RUN_VERSION}`];
  }
  const p: string[] = [];
  if (x.version !== RUN_VERSION) p.push(`version is ${JSON.stringify(x.version)}, expected ${RUN_VERSION}`);
  if (typeof x.name !== 'string') p.push('name is missing or not a string');
  for (const k of ['created', 'updated']) if (typeof x[k] !== 'string') p.push(`${k} is missing or not a time string`);
  if (!RUN_STATUSES.includes(x.status as RunStatus)) p.push(`status is ${JSON.stringify(x.status)}, expected one of ${RUN_STATUSES.join(', ')}`);
  if (typeof x.seed !== 'number') p.push('seed is missing or not a number');
  if (!isObj(x.config)) p.push('config is missing or not an object');
  else if (x.config.objectives !== undefined && (!Array.isArray(x.config.objectives) || !x.config.objectives.every((o) => typeof o === 'string'))) {
    p.push('config.objectives is not a list of score names');
  }
  if (x.strategyState !== undefined && x.strategyState !== null && !isObj(x.strategyState)) p.push('strategyState is not an object');
  if (!Number.isInteger(x.nextBatch) || (x.nextBatch as number) < 0) p.push('nextBatch is missing or not a count');
  if (x.journalSeq !== undefined && !(Number.isInteger(x.journalSeq) && (x.journalSeq as number) >= 0)) p.push('journalSeq is not a count');
  if (x.pending !== undefined && !(isObj(x.pending) && typeof x.pending.batch === 'number' && Array.isArray(x.pending.candidates))) {
    p.push('pending is not { batch, candidates: [...] }');
  }
  if (x.final !== undefined && !(isObj(x.final) && Array.isArray(x.final.finalists) && Array.isArray(x.final.runs))) {
    p.push('final is not { finalists: [...], runs: [...] }');
  } else if (x.final !== undefined && x.final.screen !== undefined) {
    const sc = x.final.screen;
    if (!(isObj(sc) && Number.isInteger(sc.steps) && Array.isArray(sc.candidates) && Array.isArray(sc.runs))) p.push('final.screen is not { steps, candidates: [...], runs: [...] }');
  }
  if (!Array.isArray(x.trials)) {
    p.push('trials is missing or not a list');
    return p;
  }
  const bad: string[] = [];
  x.trials.forEach((t, i) => {
    const why = checkTrial(t, i);
    if (why) bad.push(`trials[${i}]: ${why}`);
  });
  p.push(...bad.slice(0, 5));
  if (bad.length > 5) p.push(`${bad.length - 5} more trials have problems`);
  return p;
}

function checkTrial(t: unknown, i: number): string | undefined {
  if (!isObj(t)) return 'not an object';
  if (t.index !== i) return `index is ${JSON.stringify(t.index)}, expected ${i}`;
  if (typeof t.id !== 'string') return 'id is missing or not a string';
  if (!TRIAL_STATUSES.includes(t.status as TrialStatus)) return `status is ${JSON.stringify(t.status)}`;
  if (!isObj(t.scores)) return 'scores is missing or not an object';
  if (!isObj(t.cost)) return 'cost is missing or not an object';
  return undefined;
}

/** Shorten "PATH/run.json is not valid JSON (...)" to what a listing needs. */
function corruptReason(msg: string): string {
  return msg.replace(/^.*\/(run\.json|journal\.jsonl)/, '$1').replace(/[:;]? ?the files? (is|are) left as (it is|they are)\)?/, '').trim();
}

/** Every run in a runs folder, by name; a broken run is listed with its problem rather than thrown. */
export function listRuns(dir: string, now = new Date()): RunListing[] {
  const root = resolve(dir);
  return runNames(root).map((name): RunListing => {
    let run: RunFile;
    try {
      run = readRun(join(root, name)).data;
    } catch (e) {
      const problems = e instanceof ValidationError ? e.problems.join('; ') : (e as Error).message;
      return { name, corrupt: corruptReason(problems) };
    }
    const holder = lockHolder(join(root, name, LOCK_FILE));
    const best = rankTrials(run.trials)[0];
    const objective = runObjectives(run)[0];
    return {
      name,
      // a run saved as running whose process is gone was killed: it is resumable
      status: run.status === 'running' && !holder ? 'interrupted' : run.status,
      trials: run.trials.filter((t) => t.status === 'ok').length,
      ...(best ? { best: primaryScore(run, best) } : {}),
      ...(objective ? { objective } : {}),
      updated: run.updated,
      age: Math.max(0, (now.getTime() - Date.parse(run.updated)) / 1000),
      ...(holder ? { inUseBy: holder.pid } : {}),
    };
  });
}
