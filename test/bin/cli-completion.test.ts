import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { opnas, tempDir } from './helpers.js';

describe('shell completion and short aliases', () => {
  it('opnas completion prints a bash/zsh script that asks opnas for its commands and options', async () => {
    const r = await opnas(['completion']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/opnas --get-yargs-completions/);
    expect(r.stdout).toMatch(/^complete .* opnas$/m);
    const cmds = (await opnas(['--get-yargs-completions', 'opnas', 'se'])).stdout.split('\n');
    expect(cmds).toEqual(expect.arrayContaining(['search', 'sample', 'show', 'resume', 'trials', 'rm']));
    const flags = (await opnas(['--get-yargs-completions', 'opnas', 'search', '--sup'])).stdout.split('\n');
    expect(flags).toEqual(expect.arrayContaining(['--supernet-steps', '--supernet-sampling', '--config']));
    expect(flags).not.toContain('--top');
    const choices = (await opnas(['--get-yargs-completions', 'opnas', 'search', '--space', ''])).stdout.split('\n');
    expect(choices).toEqual(expect.arrayContaining(['backbone', 'nb201']));
  });

  it('-n -b -s -w -t stand for --name --budget --seed --workers --task', async () => {
    const dir = tempDir();
    const r = await opnas(['search', '-n', 'short', '-b', '6', '-s', '4', '-w', '1', '-t', 'trec', '--space', 'nb201', '--quiet', '--runs-dir', dir]);
    expect(r.code, r.stderr).toBe(0);
    const run = JSON.parse(readFileSync(join(dir, 'short', 'run.json'), 'utf8'));
    expect(run.config).toMatchObject({ budget: 6, seed: 4, task: 'trec' });
    expect((await opnas(['resume', 'short', '-b', '8', '-w', '1', '--quiet', '--runs-dir', dir])).code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'short', 'run.json'), 'utf8')).config.budget).toBe(8);
    expect((await opnas(['sample', '-s', '3', '--count', '2', '--json'])).stdout).toBe((await opnas(['sample', '--seed', '3', '--count', '2', '--json'])).stdout);
    const help = (await opnas(['search', '--help'])).stdout;
    for (const [short, long] of [['n', 'name'], ['b', 'budget'], ['s', 'seed'], ['w', 'workers'], ['t', 'task']]) expect(help).toMatch(new RegExp(`^ {2}-${short}, --${long}\\b`, 'm'));
  });
});
