/**
 * `npm run bench:startup`: how long opnas takes to start. Commands load their handlers lazily, so
 * `opnas runs`, `show`, `trials`, `rm` and `--help` start without TF.js; `opnas spaces` still
 * loads it (it lists the ops' tensor implementations), as every command did before the handlers
 * were lazy: the two side by side, in the same run, are the before and after. Each command runs
 * --repeats times, interleaved, in fresh processes; the medians go into bench/RESULTS.md between
 * the `startup` markers (`npm run bench` keeps them).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../evaluators/tasks/named.js';
import { benchArgs } from './args.js';
import { spliceSection } from './sections.js';

const USAGE = 'usage: npm run bench:startup -- [--repeats N (default 7)] [--out FILE]';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function main(): void {
  const a = benchArgs('startup', USAGE, { repeats: { type: 'string' }, out: { type: 'string' } });
  const repeats = a.int('repeats', 7, 1);
  const out = a.str('out') ?? path.join(packageRoot(), 'bench', 'RESULTS.md');
  const bin = path.join(packageRoot(), 'dist', 'bin', 'opnas.js');
  const runs = mkdtempSync(path.join(os.tmpdir(), 'opnas-bench-startup-'));
  const load0 = os.loadavg();
  const commands: { label: string; args: string[] }[] = [
    { label: 'node alone (`node -e 0`)', args: ['-e', '0'] },
    { label: '`opnas runs` (lazy: no TF.js)', args: [bin, 'runs', '--runs-dir', runs] },
    { label: '`opnas --help` (lazy: no TF.js)', args: [bin, '--help'] },
    { label: '`opnas spaces` (loads TF.js, as every command did before)', args: [bin, 'spaces'] },
  ];
  const times = commands.map(() => [] as number[]);
  try {
    for (let r = 0; r < repeats; r++)
      commands.forEach((c, i) => {
        const t0 = performance.now();
        const p = spawnSync(process.execPath, c.args, { stdio: 'ignore', env: { ...process.env, OPNAS_BACKEND: 'cpu' } });
        if (p.status !== 0) a.fail(`${c.args.slice(1).join(' ')} exited ${p.status}`);
        times[i].push(performance.now() - t0);
      });
  } finally {
    rmSync(runs, { recursive: true, force: true });
  }
  const med = times.map(median);
  const section = [
    '## Start-up time',
    '',
    `\`npm run bench:startup -- --repeats ${repeats}\`, ${new Date().toISOString().slice(0, 10)}, on ${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.availableParallelism()} cores,`,
    `load average ${load0[0].toFixed(2)} at the start / ${os.loadavg()[0].toFixed(2)} at the end): each command ${repeats} times in a fresh process, interleaved; wall time to exit.`,
    '',
    '| command | median ms | min ms | max ms |',
    '|:---|---:|---:|---:|',
    ...commands.map((c, i) => `| ${c.label} | ${med[i].toFixed(0)} | ${Math.min(...times[i]).toFixed(0)} | ${Math.max(...times[i]).toFixed(0)} |`),
    '',
    `\`opnas runs\` starts in ${(med[1] / med[3]).toFixed(2)}x the time of a command that loads TF.js (${med[1].toFixed(0)} vs ${med[3].toFixed(0)} ms).`,
    '',
  ].join('\n');
  const prior = existsSync(out) ? readFileSync(out, 'utf8') : '# opnas benchmark results\n';
  writeFileSync(out, spliceSection(prior, section, 'startup'));
  console.log(section);
}

main();
