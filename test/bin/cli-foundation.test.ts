import { describe, expect, it } from 'vitest';
import { attentionId, STANDARD_ATTENTION } from '../../spaces/attention-graph.js';
import { BASELINES, backboneSpace } from '../../spaces/backbone.js';
import { opnas, tempDir, writeJson } from './helpers.js';

const std = () => structuredClone(BASELINES['bert-tiny']);

describe('opnas CLI: help, spaces, sample, check', () => {
  it('prints help and version', async () => {
    const h = await opnas(['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/opnas sample/);
    expect(h.stdout).toMatch(/opnas check <file>/);
    const v = await opnas(['--version']);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('lists spaces and their ops', async () => {
    const r = await opnas(['spaces']);
    expect(r.code).toBe(0);
    for (const word of ['backbone', 'attention', 'ffn', 'softmax', 'cosine', 'squared_relu', 'kernels: 3, 5, 7, 9, 15, 31, 65']) expect(r.stdout).toContain(word);
  });

  it('samples 5 valid, distinct backbone genomes, the same for the same seed', async () => {
    const a = await opnas(['sample', '--space', 'backbone', '--seed', '1', '--count', '5', '--json']);
    expect(a.code).toBe(0);
    const out = JSON.parse(a.stdout) as { id: string; genome: unknown }[];
    expect(out).toHaveLength(5);
    expect(new Set(out.map((o) => o.id)).size).toBe(5);
    const space = backboneSpace();
    for (const o of out) {
      expect(space.check(o.genome).errors).toEqual([]);
      expect(space.id(space.check(o.genome).genome!)).toBe(o.id); // ids agree across processes
    }
    const b = await opnas(['sample', '--space', 'backbone', '--seed', '1', '--count', '5', '--json']);
    expect(b.stdout).toBe(a.stdout);
    const c = await opnas(['sample', '--space', 'backbone', '--seed', '2', '--count', '5', '--json']);
    expect(c.stdout).not.toBe(a.stdout);
    const text = await opnas(['sample', '--space', 'backbone', '--seed', '1', '--count', '5']);
    expect(text.stdout.match(/^# \d/gm)).toHaveLength(5);
  });

  it('computes the same attention id in another process', async () => {
    const dir = tempDir();
    const f = writeJson(dir, 'att.json', { space: 'attention', ...STANDARD_ATTENTION });
    const r = await opnas(['check', f, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).id).toBe(attentionId(STANDARD_ATTENTION));
  });

  it('accepts a valid genome file and prints its formula and cost', async () => {
    const dir = tempDir();
    const r = await opnas(['check', writeJson(dir, 'ok.json', std())]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/valid backbone genome/);
    expect(r.stdout).toContain('matmul(softmax(scale(matmul(Q, transpose(K)))), V)');
  });

  const bad: [string, (g: ReturnType<typeof std>) => unknown, RegExp][] = [
    ['malformed JSON', () => '{"layers": [', /malformed JSON/],
    ['unknown op', (g) => ((g.layers[0].mixer as { graph: { nodes: { op: string }[] } }).graph.nodes[1].op = 'frob', g), /layers\[0\]\.mixer\.graph\.nodes\[1\]: unknown op 'frob'/],
    ['wrong arity', (g) => ((g.layers[0].mixer as { graph: { nodes: { in: unknown[] }[] } }).graph.nodes[1].in = ['Q'], g), /'matmul' takes 2 inputs, got 1 \(wrong arity\)/],
    ['cycle', (g) => ((g.layers[0].mixer as { graph: { nodes: { in: unknown[] }[] } }).graph.nodes[0].in = [3], g), /input 3 is not an earlier node \(cycle or forward reference\)/],
    ['shape mismatch', (g) => ((g.layers[0].mixer as { graph: { nodes: { in: unknown[] }[] } }).graph.nodes[1].in = ['Q', 'K'], g), /matmul needs inner dims to agree: \[T,D\] x \[T,D\]/],
    ['tree too deep', (g) => ((g.layers[1].ffn as unknown as { tree: unknown }).tree = 'L2(gelu(L1(tanh(neg_x(x)))))'.replace('neg_x(x)', 'relu(add(sigmoid(tanh(add(x, relu(x)))), x))'), g), /too deep/],
    ['unknown mixer', (g) => ((g.layers[0].mixer as { type: string }).type = 'rnn', g), /mixer\.type: expected 'attention' or 'conv'/],
    ['bad heads', (g) => ((g.heads = 3), g), /heads: 3 does not divide hidden 128/],
  ];
  for (const [name, corrupt, message] of bad)
    it(`check: ${name} gets its own message and exit 1`, async () => {
      const dir = tempDir();
      const r = await opnas(['check', writeJson(dir, 'bad.json', corrupt(std()))]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    });

  it('rejects unknown commands and flags with a suggestion, and missing files', async () => {
    const a = await opnas(['sampel']);
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/Did you mean sample/);
    const b = await opnas(['sample', '--sed', '3']);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/Unknown argument: sed \(did you mean --seed\?\)/);
    expect(b.stdout).toBe('');
    // suggestions come from the command's own options; yargs's camelCase echo is dropped
    const e = await opnas(['search', '--population-step', '3']);
    expect(e.code).toBe(1);
    expect(e.stderr.trim()).toBe('opnas: Unknown argument: population-step (did you mean --population-steps?)');
    expect((await opnas(['fidelity', '--repeat', '2'])).stderr).toMatch(/Unknown argument: repeat \(did you mean --repeats\?\)/);
    const c = await opnas(['check', '/nonexistent/genome.json']);
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/no such file/);
    const d = await opnas(['sample', '--space', 'nope']);
    expect(d.stderr).toMatch(/unknown space 'nope' \(known: backbone, attention, ffn, nb201\)/);
  });
});
