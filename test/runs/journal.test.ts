import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JOURNAL_FILE, listRuns, RUN_FILE, RunStore } from '../../runs/store.js';
import { init, tmpDir, trial } from './helpers.js';

/** Issue 11, case 13: trials go to an append-only journal; run.json is a snapshot taken now and then. */

const open: RunStore<string>[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});
async function create(dir: string) {
  const s = await RunStore.create<string>(dir, 'a', init());
  open.push(s);
  return s;
}
async function reopen(dir: string, readonly = false) {
  const s = await RunStore.open<string>(dir, 'a', { readonly });
  open.push(s);
  return s;
}
const snapshot = (dir: string) => JSON.parse(readFileSync(join(dir, 'a', RUN_FILE), 'utf8'));
const journalLines = (dir: string) => readFileSync(join(dir, 'a', JOURNAL_FILE), 'utf8').split('\n').filter(Boolean);

describe('the trial journal', () => {
  it('one line per trial; run.json is rewritten only when the journal has grown as long as the run', async () => {
    const dir = tmpDir();
    const s = await create(dir);
    const snapshotsAt = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      await s.appendTrial(trial(i));
      snapshotsAt.add(snapshot(dir).journalSeq);
    }
    // snapshots after 200, 400, 800 trials (the interval doubles with the run), not 1,000 rewrites
    expect([...snapshotsAt].sort((a, b) => a - b)).toEqual([0, 200, 400, 800]);
    expect(snapshot(dir).trials).toHaveLength(800);
    expect(journalLines(dir)).toHaveLength(200);
    expect(JSON.parse(journalLines(dir)[0])).toMatchObject({ seq: 801, trial: { index: 800 } });
    await s.close();
    // a reader sees every trial: the snapshot plus the journal
    expect((await reopen(dir, true)).data.trials.map((t) => t.index)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(listRuns(dir)[0]).toMatchObject({ name: 'a', trials: 1000 });
  });

  it('a torn last line (a kill mid-append) is ignored, and cut off before the next append', async () => {
    const dir = tmpDir();
    const s = await create(dir);
    for (let i = 0; i < 5; i++) await s.appendTrial(trial(i));
    await s.close(); // no final save: as after kill -9
    appendFileSync(join(dir, 'a', JOURNAL_FILE), '{"seq":6,"trial":{"index":5,"bat');
    expect((await reopen(dir, true)).data.trials).toHaveLength(5);
    const w = await reopen(dir);
    expect(w.data.trials).toHaveLength(5);
    await w.appendTrial(trial(5, { genome: 'after' }));
    await w.close();
    expect(journalLines(dir).map((l) => JSON.parse(l).seq)).toEqual([1, 2, 3, 4, 5, 6]);
    const r = await reopen(dir, true);
    expect(r.data.trials.map((t) => t.genome)).toEqual(['g0', 'g1', 'g2', 'g3', 'g4', 'after']);
  });

  it('journal lines already in the snapshot are not applied twice (a kill between snapshot and truncation)', async () => {
    const dir = tmpDir();
    const s = await create(dir);
    for (let i = 0; i < 3; i++) await s.appendTrial(trial(i));
    const lines = readFileSync(join(dir, 'a', JOURNAL_FILE), 'utf8');
    s.data.strategyState = { population: ['late'] };
    await s.recordState();
    await s.save();
    await s.close();
    writeFileSync(join(dir, 'a', JOURNAL_FILE), lines); // the old lines, as if truncation never ran
    const r = await reopen(dir, true);
    expect(r.data.trials.map((t) => t.index)).toEqual([0, 1, 2]);
    expect(r.data.strategyState).toEqual({ population: ['late'] });
  });

  it('batch state lines replay the pending batch and the strategy state', async () => {
    const dir = tmpDir();
    const s = await create(dir);
    s.data.pending = { batch: 0, base: 0, candidates: [{ genome: 'g0', id: 'x', origin: 'sample' }] };
    s.data.strategyState = { population: ['p'] };
    await s.recordState();
    await s.appendTrial(trial(0));
    s.data.pending = undefined;
    s.data.nextBatch = 1;
    await s.recordState();
    await s.close();
    const before = snapshot(dir);
    expect(before.nextBatch).toBe(0);
    const r = await reopen(dir, true);
    expect(r.data).toMatchObject({ nextBatch: 1, strategyState: { population: ['p'] } });
    expect(r.data.pending).toBeUndefined();
    expect(r.data.trials).toHaveLength(1);
  });

  it('a damaged line in the middle is reported with its line number and nothing is rewritten', async () => {
    const dir = tmpDir();
    const s = await create(dir);
    for (let i = 0; i < 3; i++) await s.appendTrial(trial(i));
    await s.close();
    const file = join(dir, 'a', JOURNAL_FILE);
    const lines = readFileSync(file, 'utf8').split('\n');
    lines[1] = '{"seq": 2, "trial": ';
    writeFileSync(file, lines.join('\n'));
    const mtime = statSync(file).mtimeMs;
    await expect(RunStore.open(dir, 'a')).rejects.toThrow(new RegExp(`${JOURNAL_FILE}:2: not valid JSON .*the file is left as it is`));
    expect(statSync(file).mtimeMs).toBe(mtime);
    expect(listRuns(dir)[0].corrupt).toMatch(/^journal\.jsonl:2: not valid JSON/);
  });
});
