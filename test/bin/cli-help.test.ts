import { describe, expect, it } from 'vitest';
import { opnas } from './helpers.js';

/** The command names `opnas --help` lists. */
async function commands(): Promise<string[]> {
  const help = (await opnas(['--help'])).stdout;
  return [...help.matchAll(/^ {2}opnas ([a-z-]+)/gm)].map((m) => m[1]);
}

/** Option and positional lines of a help text without a description: the name followed only by [type] tags. */
function undescribed(help: string): string[] {
  const bad: string[] = [];
  let section = '';
  for (const line of help.split('\n')) {
    if (/^[A-Z][A-Za-z -]*(\([^)]*\))?:$/.test(line)) section = line;
    else if (section !== 'Examples:' && /^ {2}(-\w, )?(--)?[a-z][a-z-]*(, -\w)?\s+\[/.test(line)) bad.push(line.trim());
  }
  return bad;
}

const TENSOR_COMMANDS = ['search', 'resume', 'train', 'teacher', 'fidelity', 'export', 'predict', 'worker'];

describe('help', () => {
  it('every option and positional of every command has a description; --backend only where tensors are computed', async () => {
    const names = await commands();
    expect(names).toEqual(expect.arrayContaining(['search', 'resume', 'runs', 'show', 'trials', 'rm', 'export', 'train', 'teacher', 'fidelity', 'spaces', 'sample', 'check', 'bench-strategies']));
    for (const c of names) {
      const h = await opnas([c, '--help']);
      expect(h.code, c).toBe(0);
      expect(undescribed(h.stdout), c).toEqual([]);
      expect(/^\s+--backend\b/m.test(h.stdout), `${c} offers --backend`).toBe(TENSOR_COMMANDS.includes(c));
    }
    const r = await opnas(['runs', '--backend', 'cpu']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^opnas: Unknown argument: backend/);
  });

  it('search --help groups its options, describes the supernet default and shows examples', async () => {
    const h = (await opnas(['search', '--help'])).stdout;
    const groups = [...h.matchAll(/^([A-Z][^\n]*):$/gm)].map((m) => m[1]);
    expect(groups).toEqual(['Run', 'Search', 'Backbone space and limits', 'Scoring', 'Supernet (--evaluator supernet)', 'Stand-alone training (--evaluator standalone)', 'Final selection stage (backbone searches)', 'Task', 'Distributed (opnas worker)', 'Options', 'Examples']);
    // each group holds what it says
    const section = (g: string) => h.slice(h.indexOf(`${g}:\n`), h.indexOf('\n\n', h.indexOf(`${g}:\n`)));
    expect(section('Stand-alone training (--evaluator standalone)')).toMatch(/--train-steps[\s\S]*--train-batch-size[\s\S]*--lr/);
    expect(section('Supernet (--evaluator supernet)')).toMatch(/--supernet-steps[\s\S]*--population-steps[\s\S]*--kd-attention/);
    expect(section('Run')).toMatch(/--name[\s\S]*--workers[\s\S]*--backend/);
    expect(section('Options')).not.toMatch(/--seed|--lr|--max-len/);
    expect(h.replace(/\s+/g, ' ')).toMatch(/--evaluator how candidates are scored \(default: supernet, a weight-sharing supernet trained before the search and on each batch/);
    expect(h).toMatch(/^Examples:\n {2}opnas search {2,}the main job/m);
    expect((h.slice(h.indexOf('Examples:')).match(/^ {2}opnas search/gm) ?? []).length).toBeGreaterThanOrEqual(4);
  });
});
