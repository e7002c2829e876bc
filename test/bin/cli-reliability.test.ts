import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { opnas, tempDir, writeJson } from './helpers.js';

/** Issue 11's cases that need no training: every bad input one clear line, a non-zero exit, no run harmed. */

const NB = ['--space', 'nb201', '--quiet'];
const runJson = (dir: string, name: string) => JSON.parse(readFileSync(join(dir, name, 'run.json'), 'utf8'));

/** One line on stderr naming the problem, no stack trace, no "internal error". */
function oneClearLine(r: { code: number | null; stderr: string }, pattern: RegExp) {
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
}

describe('options are checked before a run folder exists (case 1)', () => {
  it('--seed abc is refused and creates nothing', async () => {
    const dir = tempDir();
    const r = await opnas(['search', ...NB, '--budget', '8', '--seed', 'abc', '--name', 's'], { env: { OPNAS_RUNS_DIR: dir } });
    oneClearLine(r, /--seed: expected a number, got 'abc'/);
    expect(existsSync(join(dir, 's'))).toBe(false);
  });

  it('a fractional seed, --seed=abc on train, and a bad --population are refused the same way', async () => {
    const dir = tempDir();
    oneClearLine(await opnas(['search', ...NB, '--seed', '1.5', '--name', 's'], { env: { OPNAS_RUNS_DIR: dir } }), /--seed must be an integer, got 1.5/);
    oneClearLine(await opnas(['train', '--baseline', 'bert-tiny', '--lr=abc']), /--lr: expected a number, got 'abc'/);
    oneClearLine(await opnas(['search', ...NB, '--strategy', 'regularized-evolution', '--population', '1', '--name', 's'], { env: { OPNAS_RUNS_DIR: dir } }), /population must be an integer >= 2/);
    // a screening rung must keep fewer candidates than it screens
    oneClearLine(await opnas(['search', '--final-top', '5', '--final-screen', '4', '--name', 's'], { env: { OPNAS_RUNS_DIR: dir } }), /final screen 4 must be larger than final top 5/);
    oneClearLine(await opnas(['search', '--final-screen', '8', '--final-screen-steps', '0', '--name', 's'], { env: { OPNAS_RUNS_DIR: dir } }), /--final-screen-steps must be a positive integer, got 0/);
    // a switch given a value other than true/false would have been read as true
    oneClearLine(await opnas(['search', ...NB, '--seeded=no', '--name', 's'], { env: { OPNAS_RUNS_DIR: dir } }), /^opnas: --seeded: expected true or false, got 'no'\n$/);
    oneClearLine(await opnas(['search', '--final-references=maybe', '--name', 's'], { env: { OPNAS_RUNS_DIR: dir } }), /--final-references: unknown reference 'maybe' \(known: conv, hybrid, deep, or none\)/);
    oneClearLine(await opnas(['search', '--final-dropout', '1.5', '--name', 's'], { env: { OPNAS_RUNS_DIR: dir } }), /--final-dropout must be a rate from 0 \(no dropout\) up to but not including 1, got 1.5/);
    oneClearLine(await opnas(['search', '--final-max-params', 'small', '--name', 's'], { env: { OPNAS_RUNS_DIR: dir } }), /--final-max-params must be a positive number, 'baseline' or 'none', got 'small'/);
    oneClearLine(await opnas(['search', '--final-max-params', '-5', '--name', 's'], { env: { OPNAS_RUNS_DIR: dir } }), /--final-max-params must be a positive number, 'baseline' or 'none', got '-5'/);
    oneClearLine(await opnas(['search', '--max-params', 'small', '--name', 's'], { env: { OPNAS_RUNS_DIR: dir } }), /--max-params must be a positive number or 'baseline', got 'small'/);
    oneClearLine(await opnas(['search', ...NB, '--max-params', 'baseline', '--name', 's'], { env: { OPNAS_RUNS_DIR: dir } }), /max params 'baseline' applies to backbone searches \(the nb201 space has no baseline\)/);
    expect(existsSync(join(dir, 's'))).toBe(false);
  });
});

describe('a batch larger than the evolution population (case 4)', () => {
  it('--batch 21 with the default population of 20 runs to the end', async () => {
    const dir = tempDir();
    const r = await opnas(['search', ...NB, '--batch', '21', '--budget', '42', '--seed', '3', '--name', 'big'], { env: { OPNAS_RUNS_DIR: dir } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const run = runJson(dir, 'big');
    expect(run.status).toBe('finished');
    expect(run.trials.filter((t: { status: string }) => t.status === 'ok')).toHaveLength(42);
    // the second batch mutates what the first found
    expect(run.trials.slice(21).some((t: { origin: string }) => t.origin === 'mutate')).toBe(true);
  });
});

describe('a hand-damaged run.json (case 12)', () => {
  const damaged = async (edit: (r: Record<string, any>) => void) => {
    const dir = tempDir();
    const env = { OPNAS_RUNS_DIR: dir };
    expect((await opnas(['search', ...NB, '--budget', '8', '--name', 'r'], { env })).code).toBe(0);
    const file = join(dir, 'r', 'run.json');
    const run = JSON.parse(readFileSync(file, 'utf8'));
    edit(run);
    writeFileSync(file, JSON.stringify(run));
    return { dir, env, file, text: readFileSync(file, 'utf8') };
  };

  it('objectives missing: show still works, resume names the field, the file is untouched', async () => {
    const { env, file, text } = await damaged((r) => delete r.config.objectives);
    expect((await opnas(['show', 'r'], { env })).code).toBe(0);
    oneClearLine(await opnas(['resume', 'r', '--budget', '12'], { env }), /run 'r' cannot resume: .*objectives is missing/);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it('an unknown final-stage reference: resume names it and the names it knows, the file is untouched', async () => {
    const { env, file, text } = await damaged((r) => (r.config.final = { top: 1, seeds: 2, references: ['conv', 'transformer-xl'], train: {} }));
    oneClearLine(await opnas(['resume', 'r', '--budget', '12'], { env }), /run 'r' cannot resume: its run.json final references must be true, false or a list of conv, hybrid, deep, got \["conv","transformer-xl"\]/);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it('a final-stage dropout out of range: resume names it, the file is untouched', async () => {
    const { env, file, text } = await damaged((r) => (r.config.final = { top: 1, seeds: 2, train: { dropout: 2 } }));
    oneClearLine(await opnas(['resume', 'r', '--budget', '12'], { env }), /run 'r' cannot resume: its run.json final dropout must be a rate from 0 up to but not including 1, got 2/);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it('a final-stage parameter limit that is neither a positive number nor "baseline": resume names it, the file is untouched', async () => {
    const { env, file, text } = await damaged((r) => (r.config.final = { top: 1, seeds: 2, maxParams: 'half', train: {} }));
    oneClearLine(await opnas(['resume', 'r', '--budget', '12'], { env }), /run 'r' cannot resume: its run.json final max params must be a positive number or 'baseline', got "half"/);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it('strategyState of the wrong type: show, export and resume say so; a wrong-shaped one stops resume without touching the run', async () => {
    const a = await damaged((r) => (r.strategyState = 5));
    for (const args of [['show', 'r'], ['export', 'r', '--out', join(a.dir, 'x')], ['resume', 'r', '--budget', '12']]) {
      const r = await opnas(args, { env: a.env });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/strategyState is not an object/);
      expect(r.stderr).not.toMatch(/internal error/);
    }
    const b = await damaged((r) => (r.strategyState = { rng: 3 }));
    oneClearLine(await opnas(['resume', 'r', '--budget', '12'], { env: b.env }), /saved strategy state does not fit the op-evolution strategy/);
    expect(readFileSync(b.file, 'utf8')).toBe(b.text);
  });
});

describe('genome files (case 14)', () => {
  it('a UTF-8 byte-order mark is accepted', async () => {
    const dir = tempDir();
    const f = join(dir, 'bom.json');
    writeFileSync(f, '\uFEFF' + JSON.stringify({ formula: 'matmul(softmax(matmul(Q, transpose(K))), V)' }));
    const r = await opnas(['check', f]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/valid attention genome/);
  });

  it('a 20,000-deep formula is reported, not a stack overflow, and the message stays short', async () => {
    const dir = tempDir();
    const attn = writeJson(dir, 'a.json', { formula: `matmul(${'neg('.repeat(20000)}Q${')'.repeat(20000)}, V)` });
    const r = await opnas(['check', attn]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/nested deeper than 16 levels/);
    expect(r.stderr).not.toMatch(/call stack/);
    expect(r.stderr.length).toBeLessThan(600);
    const ffn = writeJson(dir, 'f.json', { tree: `L2(${'gelu('.repeat(20000)}L1(x)${')'.repeat(20000)})`, stack: 1, ratio: 4 });
    const f = await opnas(['check', ffn]);
    expect(f.code).not.toBe(0);
    expect(f.stderr).toMatch(/nested deeper than 32 levels/);
    expect(f.stderr.length).toBeLessThan(600);
  });
});

describe('locks and run folders (case 7)', () => {
  const startTicks = (pid: number) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  };

  it.skipIf(!existsSync('/proc/self/stat'))('a lock whose pid now belongs to another live process is stale; the real holder still blocks', async () => {
    const dir = tempDir();
    const env = { OPNAS_RUNS_DIR: dir };
    expect((await opnas(['search', ...NB, '--budget', '8', '--name', 'r'], { env })).code).toBe(0);
    const { spawn } = await import('node:child_process');
    // a live process that is not opnas, standing in for a pid the kernel handed out again
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      const lock = join(dir, 'r', 'run.lock');
      const held = { pid: other.pid, host: (await import('node:os')).hostname(), started: new Date().toISOString() };
      writeFileSync(lock, JSON.stringify({ ...held, startTicks: startTicks(other.pid!) }));
      oneClearLine(await opnas(['resume', 'r', '--budget', '12'], { env }), new RegExp(`in use by process ${other.pid} .*delete .*run\\.lock`));
      writeFileSync(lock, JSON.stringify({ ...held, startTicks: startTicks(other.pid!) - 1 }));
      const r = await opnas(['resume', 'r', '--budget', '12', '--quiet'], { env });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(runJson(dir, 'r').trials).toHaveLength(12);
      expect(existsSync(lock)).toBe(false);
    } finally {
      other.kill();
    }
  });

  it('a lock that is a folder, and a runs folder that cannot be made, get one clear line', async () => {
    const dir = tempDir();
    const env = { OPNAS_RUNS_DIR: dir };
    expect((await opnas(['search', ...NB, '--budget', '8', '--name', 'r'], { env })).code).toBe(0);
    mkdirSync(join(dir, 'r', 'run.lock'));
    oneClearLine(await opnas(['resume', 'r', '--budget', '12'], { env }), /run\.lock is a folder, not a lock file/);
    const t0 = Date.now();
    oneClearLine(await opnas(['search', ...NB, '--runs-dir', '/proc/nope', '--name', 'x'], { timeout: 20_000 }), /cannot create runs folder \/proc\/nope/);
    expect(Date.now() - t0).toBeLessThan(15_000);
  });

  it.skipIf(process.getuid?.() === 0)('a read-only run folder is named, not an internal error', async () => {
    const dir = tempDir();
    const env = { OPNAS_RUNS_DIR: dir };
    expect((await opnas(['search', ...NB, '--budget', '8', '--name', 'r'], { env })).code).toBe(0);
    chmodSync(join(dir, 'r'), 0o555);
    try {
      oneClearLine(await opnas(['resume', 'r', '--budget', '12'], { env }), /cannot write in .*\/r \(EACCES\)/);
    } finally {
      chmodSync(join(dir, 'r'), 0o755);
    }
  });
});
