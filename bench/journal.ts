/**
 * `npm run bench:journal`: does a search slow down as its run grows? Runs an N-trial search of the
 * NAS-Bench-201 space (table lookups, so the run store's cost is what shows) in this process,
 * through the same session code `opnas search` uses, timestamps every evaluated trial, and
 * compares the trials per second of the first and the last 1,000. Also times one full rewrite of
 * run.json at the end (what every trial paid before trials were journaled). Writes its section
 * into bench/RESULTS.md between the journal markers (`npm run bench` keeps it) and prints it.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../evaluators/tasks/named.js';
import { DEFAULT_SEARCH, startSearch, type SearchConfig } from '../runs/session.js';
import { RunStore } from '../runs/store.js';
import { benchArgs } from './args.js';
import { markers, spliceSection } from './sections.js';

export const { begin: JOURNAL_BEGIN, end: JOURNAL_END } = markers('journal');

/** Trials per second over evaluated trials [from, to) given each one's finish time (ms). */
export function rate(times: readonly number[], from: number, to: number): number {
  // the interval before `from` is counted from the previous trial (or, for the first, from trial 0)
  const start = from === 0 ? times[0] : times[from - 1];
  const n = from === 0 ? to - 1 : to - from;
  return (n / (times[to - 1] - start)) * 1000;
}

const USAGE = 'usage: node dist/bench/journal.js [--trials N (default 5000, at least 2000)] [--seed S] [--out FILE]';

function readOptions(): { trials: number; seed: number; out: string } {
  const a = benchArgs('journal', USAGE, { trials: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' } });
  return { trials: a.int('trials', 5000, 2000), seed: a.int('seed', 0, 0), out: a.str('out') ?? path.join(packageRoot(), 'bench', 'RESULTS.md') };
}

async function main(): Promise<void> {
  const o = readOptions();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'opnas-bench-journal-'));
  const load0 = os.loadavg();
  const config: SearchConfig = { ...DEFAULT_SEARCH, space: 'nb201', evaluator: 'nb201', objectives: ['cifar10'], budget: o.trials, batch: 4, seed: o.seed, supernet: undefined };
  const times: number[] = [];
  const t0 = performance.now();
  try {
    await startSearch(dir, 'bench', config, {
      workers: 1,
      onTrial: (t) => {
        if (t.status === 'ok' || t.status === 'failed') times.push(performance.now());
      },
    });
    const wall = (performance.now() - t0) / 1000;
    // one full snapshot of the finished run: the rewrite every trial used to cost
    const store = await RunStore.open(dir, 'bench');
    const s0 = performance.now();
    const saves = 5;
    for (let i = 0; i < saves; i++) await store.save();
    const saveMs = (performance.now() - s0) / saves;
    await store.close();
    const n = times.length;
    const first = rate(times, 0, 1000);
    const last = rate(times, n - 1000, n);
    const change = (last / first - 1) * 100;
    const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
    const section = [
      '## 8. Run store: trials per second over a long search',
      '',
      `\`node dist/bench/journal.js --trials ${o.trials}${o.seed ? ` --seed ${o.seed}` : ''}\` (\`npm run bench:journal\`), ${new Date().toISOString().slice(0, 10)}: a ${o.trials}-trial`,
      `NAS-Bench-201 search (op-evolution, batches of 4, seed ${o.seed}) in one process on ${cpu} (${os.availableParallelism()} cores,`,
      `load average ${load0[0].toFixed(2)} at the start: other work shared the machine). Candidates are table lookups, so the time`,
      'per trial is the loop, the strategy and the run store. Each trial is appended to journal.jsonl; run.json is rewritten when the',
      'journal has grown as long as the last snapshot.',
      '',
      '| trials | trials/s |',
      '|:---|---:|',
      `| first 1,000 | ${first.toFixed(0)} |`,
      `| last 1,000 (${n - 999}-${n}) | ${last.toFixed(0)} |`,
      `| all ${n} | ${(n / wall).toFixed(0)} (${wall.toFixed(1)} s, start-up included) |`,
      '',
      `Last vs first: ${change >= 0 ? '+' : ''}${change.toFixed(1)}%${change > 0 ? ' (faster at the end, not slower: the first 1,000 include the process warming up, JIT compilation and the like, not measured apart)' : ''}. One full rewrite of run.json at ${n} trials takes ${saveMs.toFixed(1)} ms;`,
      `before the journal every trial paid one, which alone caps a search at ${(1000 / saveMs).toFixed(0)} trials/s by then.`,
      '',
    ].join('\n');
    const prior = existsSync(o.out) ? readFileSync(o.out, 'utf8') : '# opnas benchmark results\n';
    writeFileSync(o.out, spliceSection(prior, section, 'journal'));
    console.log(section);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  main().catch((e) => {
    console.error(`bench:journal: ${(e as Error).message}`);
    process.exit(1);
  });
}
