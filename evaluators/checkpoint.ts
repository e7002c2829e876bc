import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OpnasError } from '../spaces/base/errors.js';

/**
 * Weights on disk: `weights.bin` (every tensor's float32 data, concatenated) and `weights.json`
 * (name, shape and offset of each). A plain format any language can read; opnas loads it back into
 * a Model compiled from the same genome.
 */
interface Manifest {
  format: 'opnas-weights';
  version: 1;
  tensors: { name: string; shape: number[]; offset: number }[];
}

export function saveWeights(params: Map<string, tf.Tensor>, dir: string): void {
  mkdirSync(dir, { recursive: true });
  const tensors: Manifest['tensors'] = [];
  let offset = 0;
  for (const [name, t] of params) {
    tensors.push({ name, shape: t.shape, offset });
    offset += t.size;
  }
  const data = new Float32Array(offset);
  for (const [i, t] of [...params.values()].entries()) data.set(t.dataSync() as Float32Array, tensors[i].offset);
  // write-then-rename so a crash never leaves half a checkpoint behind
  writeFileSync(join(dir, 'weights.bin.tmp'), Buffer.from(data.buffer));
  renameSync(join(dir, 'weights.bin.tmp'), join(dir, 'weights.bin'));
  writeFileSync(join(dir, 'weights.json'), JSON.stringify({ format: 'opnas-weights', version: 1, tensors } satisfies Manifest, null, 1));
}

/** Names of the tensors a checkpoint folder holds (empty when its manifest cannot be read). */
export function savedNames(dir: string): Set<string> {
  try {
    return new Set((JSON.parse(readFileSync(join(dir, 'weights.json'), 'utf8')) as Manifest).tensors.map((t) => t.name));
  } catch {
    return new Set();
  }
}

/**
 * Assign saved weights to `params`; every name and shape must match, except that a name for which
 * `optional` is true may be absent (it keeps its value: weights added to opnas after the checkpoint).
 */
export function loadWeights(params: Map<string, tf.Variable>, dir: string, optional?: (name: string) => boolean): void {
  let manifest: Manifest;
  let bin: Buffer;
  try {
    manifest = JSON.parse(readFileSync(join(dir, 'weights.json'), 'utf8'));
    bin = readFileSync(join(dir, 'weights.bin'));
  } catch (e) {
    throw new OpnasError(`${dir}: cannot read weights (${(e as Error).message})`);
  }
  if (manifest.format !== 'opnas-weights') throw new OpnasError(`${dir}/weights.json is not an opnas weights manifest`);
  const data = new Float32Array(bin.buffer, bin.byteOffset, bin.byteLength / 4);
  const saved = new Map(manifest.tensors.map((t) => [t.name, t]));
  const problems: string[] = [];
  for (const [name, v] of params) {
    const s = saved.get(name);
    if (!s && optional?.(name)) continue;
    if (!s) problems.push(`missing '${name}'`);
    else if (s.shape.join('x') !== v.shape.join('x')) problems.push(`'${name}' has shape [${s.shape}], the model needs [${v.shape}]`);
  }
  if (problems.length) throw new OpnasError(`${dir}: weights do not fit this model (${problems.slice(0, 3).join('; ')}${problems.length > 3 ? ', ...' : ''})`);
  for (const [name, v] of params) {
    const s = saved.get(name);
    if (!s) continue; // optional and absent
    const t = tf.tensor(data.subarray(s.offset, s.offset + v.size), v.shape);
    v.assign(t);
    t.dispose();
  }
}
