/** Section 4 of `npm run bench`: the padding that length bucketing saves on SST-2. */
import { performance } from 'node:perf_hooks';
import { makeBatches, paddingFraction, type BatchOptions } from '../evaluators/tasks/batching.js';
import { loadTask } from '../evaluators/tasks/named.js';
import { encodeTask } from '../evaluators/train.js';
import { Rng } from '../spaces/base/rng.js';
import { BATCH, SEQ, VOCAB, fmt, fmtInt, pct, table } from './common.js';

export interface PaddingRow {
  name: string;
  batches: number;
  meanLen: number;
  padding: number;
}

export interface PaddingResult {
  rows: PaddingRow[];
  examples: number;
  meanReal: number;
  atMax: number;
  encodeSeconds: number;
}

export function padding(): PaddingResult {
  const t0 = performance.now();
  const task = encodeTask(loadTask('sst2'), { vocabSize: VOCAB, maxLen: SEQ });
  const encodeSeconds = (performance.now() - t0) / 1000;
  const { seqs, labels } = task.train;
  const variants: [string, BatchOptions][] = [
    ['bucketed (chunks of 64 batches sorted by length), per-batch longest — default', { batchSize: BATCH, maxLen: SEQ, bucket: true }],
    ['bucketed, per-batch longest rounded up to a multiple of 8', { batchSize: BATCH, maxLen: SEQ, bucket: true, padMultiple: 8 }],
    ['random batches, per-batch longest', { batchSize: BATCH, maxLen: SEQ, bucket: false, padToMaxLen: false }],
    ['random batches, padded to maxLen 64', { batchSize: BATCH, maxLen: SEQ, bucket: false, padToMaxLen: true }],
  ];
  const rows = variants.map(([name, o]) => {
    const bs = makeBatches(seqs, labels, { ...o, rng: new Rng(0) });
    return { name, batches: bs.length, meanLen: bs.reduce((a, b) => a + b.seqLen * b.batchSize, 0) / bs.reduce((a, b) => a + b.batchSize, 0), padding: paddingFraction(bs) };
  });
  const real = seqs.reduce((a, s) => a + s.length, 0);
  return { rows, examples: seqs.length, meanReal: real / seqs.length, atMax: seqs.filter((s) => s.length >= SEQ).length / seqs.length, encodeSeconds };
}

export function renderPadding(pad: PaddingResult): string[] {
  const out: string[] = [];
  out.push('## 4. Padding on SST-2 (training split, batch 32, maxLen 64)', '');
  out.push(
    `\`loadTask('sst2')\` + \`encodeTask(task, {vocabSize: ${VOCAB}, maxLen: ${SEQ}})\` (tokenizer trained in ${fmt(pad.encodeSeconds, 1)} s), ` +
      `then one epoch of \`makeBatches\` (rng seed 0). ${fmtInt(pad.examples)} examples, mean ${fmt(pad.meanReal, 1)} tokens ` +
      `([CLS]/[SEP] included), ${pct(pad.atMax)} at the ${SEQ}-token cap. Padding fraction = \`paddingFraction\` = padding tokens / all B·T tokens; ` +
      'compute per real token = 1 / (1 − padding).',
    '',
  );
  out.push(
    table(
      ['batching', 'batches', 'mean padded length', 'padding fraction', 'compute per real token'],
      pad.rows.map((r) => [r.name, r.batches, fmt(r.meanLen, 1), pct(r.padding), `${fmt(1 / (1 - r.padding), 2)}×`]),
    ),
    '',
  );
  return out;
}
