// Browser latency: ONNX Runtime Web in headless Chromium times a candidate's ONNX graph; one browser serves many models.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../evaluators/backend.js';
import { BrowserRuntime, checkBrowserReady, lazyBrowserRuntime, median } from '../../evaluators/browser-latency.js';
import { Model } from '../../evaluators/compile.js';
import { candidateOnnx, LATENCY_RUNTIMES, measuredHere } from '../../evaluators/latency.js';
import { weightsOf } from '../../evaluators/model-dir/folder.js';
import { toOnnx } from '../../evaluators/model-dir/onnx.js';
import type { Evaluator } from '../../evaluators/types.js';
import type { Candidate } from '../../search/types.js';
import { OpnasError } from '../../spaces/base/errors.js';
import { Rng } from '../../spaces/base/rng.js';
import type { BackboneGenome } from '../../spaces/types.js';
import { stackedBaseline } from '../helpers/genomes.js';

const genome = stackedBaseline;

const SHAPE = { vocabSize: 50, maxLen: 32, numClasses: 2 };

beforeAll(async () => {
  await initBackend('cpu', { log: () => {} });
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe('browser latency', () => {
  let rt: BrowserRuntime;
  afterAll(async () => {
    await rt?.close();
  });

  it("candidateOnnx is the graph of new Model(genome, shape, new Rng(0)), byte for byte, without tensors", async () => {
    const g = genome(2, 32);
    const m = new Model(g, SHAPE, new Rng(0));
    const want = toOnnx(g, weightsOf(m.params), { numClasses: SHAPE.numClasses });
    m.dispose();
    expect(Buffer.from(await candidateOnnx(g, SHAPE)).equals(Buffer.from(want))).toBe(true);
  });

  it('times models in one browser: positive, and a 4-layer 256-wide model at 128 tokens is slower than a 1-layer 16-wide one at 32', async () => {
    rt = await BrowserRuntime.launch();
    expect(rt.runtime).toMatch(/^onnxruntime-web \d+\.\d+\.\d+, (Headless)?Chrome\/\d+/);
    const small = await rt.measure(await candidateOnnx(genome(1, 16), SHAPE), 32);
    const big = await rt.measure(await candidateOnnx(genome(4, 256), { ...SHAPE, maxLen: 128 }), 128);
    expect(small).toBeGreaterThan(0);
    expect(big).toBeGreaterThan(small);
    // measurements queue: two at once give two figures
    const both = await Promise.all([rt.measure(await candidateOnnx(genome(1, 16), SHAPE), 32), rt.measure(await candidateOnnx(genome(1, 16), SHAPE), 16)]);
    expect(both.every((x) => x > 0)).toBe(true);
    console.log(`browser latency (${rt.runtime}): 1x16 at 32 tokens ${small.toFixed(2)} ms, 4x256 at 128 tokens ${big.toFixed(2)} ms`);
  }, 60_000);

  it('a model ONNX Runtime Web cannot run is one clear error, and the browser goes on', async () => {
    const err = await rt.measure(new Uint8Array([1, 2, 3, 4]), 8).catch((e) => e);
    expect(err).toBeInstanceOf(OpnasError);
    expect(err.message).toMatch(/^browser latency: ONNX Runtime Web could not run the model \(/);
    // longer than the model's position table
    await expect(rt.measure(await candidateOnnx(genome(1, 16), SHAPE), 64)).rejects.toThrow(/could not run the model/);
    expect(await rt.measure(await candidateOnnx(genome(1, 16), SHAPE), 8)).toBeGreaterThan(0);
  }, 60_000);

  it('starts one browser lazily, on the first measurement, for any number of models, until closed', async () => {
    const lazy = lazyBrowserRuntime({ reps: 3, warmup: 1 });
    expect(lazy.launches()).toBe(0);
    expect(lazy.runtime()).toBeUndefined();
    const onnx = await candidateOnnx(genome(1, 16), SHAPE);
    for (let i = 0; i < 3; i++) expect(await lazy.measure(onnx, 16)).toBeGreaterThan(0);
    expect(lazy.launches()).toBe(1);
    expect(lazy.runtime()).toMatch(/^onnxruntime-web/);
    await lazy.close();
    expect(lazy.runtime()).toBeUndefined();
    await lazy.close(); // twice is harmless
  }, 60_000);

  it('measuredHere replaces the workers\' latency score with this process\'s runtime, once per architecture', async () => {
    const scored: string[] = [];
    const inner: Evaluator<BackboneGenome> = {
      name: 'fake',
      scoreNames: ['dev', 'latency'],
      score: async (c) => {
        scored.push(c.id);
        return { scores: { dev: 0.5, latency: 999 }, seconds: 0 };
      },
    };
    const browser = vi.spyOn(LATENCY_RUNTIMES.browser, 'candidate').mockImplementation(async (g) => g.hidden / 10);
    const { evaluator, latency } = measuredHere(inner, 'browser', SHAPE);
    expect(evaluator.prepare).toBeUndefined();
    const a: Candidate<BackboneGenome> = { genome: genome(1, 16), id: 'a', origin: 'seed' };
    const b: Candidate<BackboneGenome> = { genome: genome(1, 32), id: 'b', origin: 'seed' };
    expect((await evaluator.score(a, { seed: 0 })).scores).toEqual({ dev: 0.5, latency: 1.6 });
    expect((await evaluator.score(a, { seed: 1 })).scores.latency).toBe(1.6);
    expect(await latency(b)).toBe(3.2);
    expect((await evaluator.score(b, { seed: 0 })).scores.latency).toBe(3.2);
    expect(browser).toHaveBeenCalledTimes(2);
    expect(scored).toEqual(['a', 'a', 'b']);
    // a pool's prepare, set after the wrapper was made, is still called
    const prepared: number[] = [];
    inner.prepare = async (p) => void prepared.push(p.batch);
    await evaluator.prepare!({ batch: 3, candidates: [], trials: [] });
    expect(prepared).toEqual([3]);
  });

  it('a missing browser is one clear error before anything starts', async () => {
    vi.stubEnv('CHROMIUM_PATH', '/no/such/chromium');
    expect(() => checkBrowserReady()).toThrow(/^CHROMIUM_PATH=\/no\/such\/chromium: no such file/);
    await expect(LATENCY_RUNTIMES.browser.ready()).rejects.toThrow(OpnasError);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });
});
