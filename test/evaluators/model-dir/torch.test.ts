// PyTorch export: pytorch/model.py, run by Debian's python3-torch, computes opnas's logits within 1e-4.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { initBackend } from '../../../evaluators/backend.js';
import { encodeSafetensors } from '../../../evaluators/model-dir/safetensors.js';
import { toTorch } from '../../../evaluators/model-dir/torch.js';
import { CLASSES, coverage, EVERYTHING, IDS, MASK, reference, sampleGenomes, SHAPE } from './parity.js';

/** A python3 that imports torch: Debian's (apt-get install python3-torch), whichever comes first. */
function torchPython(): string {
  for (const py of ['/usr/bin/python3', 'python3']) if (spawnSync(py, ['-c', 'import torch, numpy'], { encoding: 'utf8' }).status === 0) return py;
  throw new Error('no python3 with torch and numpy: apt-get install -y python3-torch (bash test/system-deps.sh does)');
}

const RUNNER = `
import importlib.util, json, sys, torch
ids = torch.tensor(${JSON.stringify(IDS)}).view(${SHAPE.join(', ')})
mask = torch.tensor(${JSON.stringify(MASK)}).view(${SHAPE.join(', ')})
out = []
for folder in sys.argv[1:]:
    spec = importlib.util.spec_from_file_location("model", folder + "/pytorch/model.py")
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    with torch.no_grad():
        out.append(m.load(folder)(ids, mask).flatten().tolist())
print(json.dumps(out))
`;

beforeAll(async () => {
  await initBackend('cpu', { log: () => {} });
});

it('matches opnas on sampled genomes: every attention op, mask, dconv, pool, embed, conv mixer and FFN op', () => {
  const py = torchPython();
  const genomes = sampleGenomes(100, 12);
  expect(EVERYTHING.filter((k) => !coverage(genomes).has(k))).toEqual([]);
  const root = mkdtempSync(join(tmpdir(), 'opnas-torch-'));
  const want: Float32Array[] = [];
  const dirs = genomes.map((g, i) => {
    const { weights, logits } = reference(g, i);
    want.push(logits);
    const dir = join(root, `m${i}`);
    mkdirSync(join(dir, 'pytorch'), { recursive: true });
    writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(weights));
    writeFileSync(join(dir, 'pytorch', 'model.py'), toTorch(g, { numClasses: CLASSES, labelNames: ['a', 'b', 'c'] }));
    return dir;
  });
  writeFileSync(join(root, 'run.py'), RUNNER);
  const r = spawnSync(py, [join(root, 'run.py'), ...dirs], { encoding: 'utf8', timeout: 120_000 });
  expect(r.stderr).toBe('');
  const got = JSON.parse(r.stdout) as number[][];
  let worst = 0;
  got.forEach((row, i) => {
    expect(row).toHaveLength(want[i].length);
    row.forEach((v, j) => {
      const diff = Math.abs(v - want[i][j]);
      worst = Math.max(worst, diff);
      if (!(diff <= 1e-4)) throw new Error(`genome ${i} (${JSON.stringify(genomes[i])}): logit ${j} is ${v} in PyTorch, ${want[i][j]} in opnas`);
    });
  });
  console.log(`PyTorch parity: ${genomes.length} genomes, largest logit difference ${worst.toExponential(2)}`);
}, 120_000);
