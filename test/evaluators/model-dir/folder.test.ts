// The model folder: safetensors layout, the Hugging Face tokenizer file, and loadModel's checks.
import * as tf from '@tensorflow/tfjs-core';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../evaluators/backend.js';
import { Model } from '../../../evaluators/compile.js';
import { loadModel, weightsOf, writeModelFolder } from '../../../evaluators/model-dir/folder.js';
import { decodeSafetensors, encodeSafetensors } from '../../../evaluators/model-dir/safetensors.js';
import { Tokenizer } from '../../../evaluators/tasks/tokenizer.js';
import { loadTask } from '../../../evaluators/tasks/named.js';
import { Rng } from '../../../spaces/base/rng.js';
import { BASELINES } from '../../../spaces/backbone.js';
import type { BackboneGenome } from '../../../spaces/types.js';

const TEXTS = ["A gorgeous, witty film!", "  plot\tmovie\u00a0was\ufeffterrible!!", 'Ünïcode café 123abc', '', 'boring... story', 'didn’t love it — at all'];
const TRAIN = ['a gorgeous film', 'witty and boring', 'the plot was terrible', "didn't love it", 'café 123 ünïcode', 'story'];

function tinyGenome(): BackboneGenome {
  const g = structuredClone(BASELINES['bert-tiny']);
  g.hidden = 8;
  g.heads = 2;
  g.layers = g.layers.slice(0, 1);
  g.layers[0].ffn.ratio = 2;
  return g;
}

describe('safetensors', () => {
  it('lays out header length, JSON header and little-endian data, and reads it back', () => {
    const t = new Map([
      ['a', { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }],
      ['b.c', { shape: [1], data: Float32Array.from([-0.5]) }],
    ]);
    const buf = encodeSafetensors(t, { format: 'pt' });
    const n = Number(buf.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const header = JSON.parse(buf.subarray(8, 8 + n).toString());
    expect(header.a).toEqual({ dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] });
    expect(header['b.c']).toEqual({ dtype: 'F32', shape: [1], data_offsets: [24, 28] });
    expect(header.__metadata__).toEqual({ format: 'pt' });
    expect(buf.readFloatLE(8 + n + 24)).toBe(-0.5);
    const back = decodeSafetensors(buf, 'x');
    expect(Array.from(back.tensors.get('a')!.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => decodeSafetensors(buf.subarray(0, buf.length - 2), 'm.st')).toThrow(/m.st: 'b.c' ends at byte 28 .* truncated/);
    expect(() => decodeSafetensors(buf.subarray(0, 20), 'm.st')).toThrow(/header says .* truncated/);
  });
});

describe('tokenizer.json', () => {
  const ours = Tokenizer.train(TRAIN, 30);
  const json = JSON.parse(JSON.stringify(ours.toHuggingFace(16)));

  it('encodes like opnas in the Hugging Face tokenizers library (transformers.js)', () => {
    const hf = new HfTokenizer(json, { unk_token: '[UNK]', cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]' });
    for (const t of TEXTS) expect(hf.encode(t).ids, t).toEqual(Array.from(ours.encode(t, 16)));
  });

  it('is read back by opnas; a foreign pre-tokenizer is refused', () => {
    expect(Tokenizer.fromJSON(json).toJSON()).toEqual(ours.toJSON());
    expect(() => Tokenizer.fromJSON({ ...json, pre_tokenizer: { type: 'Whitespace' } })).toThrow(/pre-tokenizer is not the one opnas writes/);
  });
});

describe('tokenizer.json with WordPiece', () => {
  it('encodes every SST-2 test sentence (and dev ones) to the same ids in the Hugging Face library as in opnas', () => {
    const task = loadTask('sst2');
    const ours = Tokenizer.train(task.train.texts, 8192, 'wordpiece');
    const json = JSON.parse(JSON.stringify(ours.toHuggingFace(64)));
    expect(json.model.type).toBe('WordPiece');
    expect(json.model.continuing_subword_prefix).toBe('##');
    const hf = new HfTokenizer(json, { unk_token: '[UNK]', cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]' });
    const texts = [...task.test.texts, ...task.dev.texts.slice(0, 300), ...TEXTS, "I didn't like it", 'unwatchablenessly'];
    let pieces = 0;
    for (const t of texts) {
      // this library does not apply tokenizer.json's truncation, so compare whole sentences
      const ids = Array.from(ours.encode(t, 1024));
      expect(hf.encode(t).ids, t).toEqual(ids);
      pieces += ids.filter((i) => ours.token(i).startsWith('##')).length;
    }
    // the test is about sub-words: many sentences hold continuation pieces
    expect(pieces).toBeGreaterThan(100);
    expect(hf.encode("didn't").ids).not.toContain(1);
    expect(Tokenizer.fromJSON(json).toJSON()).toEqual(ours.toJSON());
    expect(() => Tokenizer.fromJSON({ ...json, model: { ...json.model, continuing_subword_prefix: '@@' } })).toThrow(/continuation prefix "##"/);
  });

  it('a WordPiece model folder loads, predicts, and its model.onnx gives the same logits from the library\'s ids', async () => {
    await initBackend('cpu', { log: () => {} });
    const tok = Tokenizer.train(TRAIN, 100, 'wordpiece');
    const genome = tinyGenome();
    const d = mkdtempSync(join(tmpdir(), 'opnas-wp-'));
    const m = new Model(genome, { vocabSize: tok.vocabSize, maxLen: 32, numClasses: 2 }, new Rng(5));
    writeModelFolder(d, { genome, weights: weightsOf(m.params), tokenizer: tok, maxLen: 32, task: { name: 't', metric: 'accuracy', labelNames: ['neg', 'pos'], pair: false }, seed: 5 });
    m.dispose();
    expect(JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')).tokenizer_model).toBe('wordpiece');
    expect(readFileSync(join(d, 'README.md'), 'utf8')).toMatch(/Tokenizer: WordPiece/);
    const loaded = loadModel(d);
    expect(loaded.tokenizer.model).toBe('wordpiece');
    const hf = new HfTokenizer(JSON.parse(readFileSync(join(d, 'tokenizer.json'), 'utf8')), { unk_token: '[UNK]', cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]' });
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(join(d, 'model.onnx'));
    for (const text of ['a gorgeous witty film', 'witty storylines and plots']) {
      const ids = hf.encode(text).ids;
      expect(ids).not.toContain(1);
      const out = await session.run({
        input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
      });
      expect(Array.from(out.logits.data as Float32Array)).toEqual(Array.from(loaded.logits([text])[0]).map((x) => expect.closeTo(x, 4)));
    }
    await session.release();
    loaded.dispose();
  });
});

describe('loadModel', () => {
  let dir: string;
  const tok = Tokenizer.train(TRAIN, 30);
  const genome = tinyGenome();
  beforeAll(async () => {
    await initBackend('cpu', { log: () => {} });
    dir = mkdtempSync(join(tmpdir(), 'opnas-model-'));
    const m = new Model(genome, { vocabSize: tok.vocabSize, maxLen: 16, numClasses: 2 }, new Rng(3));
    writeModelFolder(dir, { genome, weights: weightsOf(m.params), tokenizer: tok, maxLen: 16, task: { name: 't', metric: 'accuracy', labelNames: ['neg', 'pos'], pair: false }, seed: 3 });
    m.dispose();
  });

  it('predicts what the saved model computes, in input order', () => {
    const loaded = loadModel(dir);
    const m = new Model(genome, { vocabSize: tok.vocabSize, maxLen: 16, numClasses: 2 }, new Rng(3));
    const texts = [TEXTS[0], TEXTS[4], TEXTS[3]];
    for (const [i, t] of texts.entries()) {
      const ids = tok.encode(t, 16);
      const want = tf.tidy(() => m.forward(tf.tensor2d(ids, [1, ids.length], 'int32'), tf.ones([1, ids.length])).logits.dataSync());
      expect(Array.from(loaded.logits(texts)[i])).toEqual(Array.from(want).map((x) => expect.closeTo(x, 5)));
    }
    const p = loaded.predict(texts);
    expect(p[0].probs.neg + p[0].probs.pos).toBeCloseTo(1, 6);
    expect(['neg', 'pos']).toContain(p[0].label);
    m.dispose();
    const before = tf.memory().numTensors;
    loaded.dispose();
    expect(tf.memory().numTensors).toBeLessThan(before);
  });

  it('writes model.onnx, which ONNX Runtime runs to the same logits', async () => {
    const ort = await import('onnxruntime-node');
    const loaded = loadModel(dir);
    const ids = tok.encode(TEXTS[0], 16);
    const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
    const out = await session.run({
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
    });
    expect(Array.from(out.logits.data as Float32Array)).toEqual(Array.from(loaded.logits([TEXTS[0]])[0]).map((x) => expect.closeTo(x, 4)));
    await session.release();
    loaded.dispose();
  });

  it('refuses a missing, truncated, newer or mismatched folder with one clear line', () => {
    const copy = (edit: (d: string) => void) => {
      const d = mkdtempSync(join(tmpdir(), 'opnas-bad-'));
      for (const f of ['config.json', 'tokenizer.json', 'model.safetensors']) writeFileSync(join(d, f), readFileSync(join(dir, f)));
      edit(d);
      return d;
    };
    const err = (d: string) => {
      try {
        loadModel(d);
      } catch (e) {
        expect((e as Error).name).toBe('OpnasError');
        expect((e as Error).message).not.toMatch(/\n/);
        return (e as Error).message;
      }
      throw new Error('loaded');
    };
    expect(err(copy((d) => writeFileSync(join(d, 'tokenizer.json'), '')))).toMatch(/tokenizer.json: not valid JSON/);
    expect(err(copy((d) => rmSync(join(d, 'model.safetensors'))))).toMatch(/model.safetensors is missing/);
    const st = readFileSync(join(dir, 'model.safetensors'));
    expect(err(copy((d) => writeFileSync(join(d, 'model.safetensors'), st.subarray(0, st.length - 100))))).toMatch(/truncated/);
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(err(copy((d) => writeFileSync(join(d, 'config.json'), JSON.stringify({ ...cfg, format_version: 2, opnas_version: '9.0.0' }))))).toMatch(/written by a newer opnas \(9.0.0, model format 2\)/);
    const other = Tokenizer.train([...TRAIN, 'more words here now'], 40).toHuggingFace(16);
    expect(err(copy((d) => writeFileSync(join(d, 'tokenizer.json'), JSON.stringify(other))))).toMatch(/tokenizer.json has \d+ tokens but model.safetensors embeds \d+/);
    const wide = { ...cfg, genome: { ...cfg.genome, hidden: 16 } };
    expect(err(copy((d) => writeFileSync(join(d, 'config.json'), JSON.stringify(wide))))).toMatch(/has shape .* the genome in config.json needs/);
  });
});

