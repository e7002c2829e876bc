import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, HTTPRequest, Page } from 'puppeteer-core';
import { OpnasError } from '../spaces/base/errors.js';
import { BROWSER_REPS, BROWSER_WARMUP } from './latency.js';
import { ORT_WEB_FILES, ortWebDist } from './model-dir/web.js';
import { SetupError } from './types.js';

/**
 * Forward latency of an ONNX model in a web browser: headless Chromium (Debian's `chromium`, or
 * the binary CHROMIUM_PATH names, driven by puppeteer-core) running ONNX Runtime Web's wasm build
 * on one thread, as the page of `opnas export --web` does. The input is what TF.js's latency uses
 * (evaluators/train.ts, measureLatency): one example of seqLen tokens, every id [CLS], no padding.
 * Each model gets `warmup` runs first (the first sets up kernels), then the median of `reps` runs.
 *
 * The page, ONNX Runtime's files and the models are answered from memory through request
 * interception at a made-up origin: no port is opened and nothing leaves the machine. One
 * browser serves many models, one at a time (a search launches it once, on its first candidate,
 * and closes it at the end: sharedBrowser). evaluators/latency.ts offers it as the `browser` runtime.
 */

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';
const ORIGIN = 'http://opnas-latency.localhost';
const PAGE = '<!doctype html><meta charset="utf-8"><title>opnas latency</title><link rel="icon" href="data:,"><script src="/ort.wasm.min.js"></script>';

/** The Chromium binary: CHROMIUM_PATH, else Debian's /usr/bin/chromium; an OpnasError when it is not there. */
export function chromiumPath(): string {
  const p = process.env.CHROMIUM_PATH || DEFAULT_CHROMIUM;
  if (!existsSync(p)) {
    throw new OpnasError(
      process.env.CHROMIUM_PATH
        ? `CHROMIUM_PATH=${p}: no such file (it must name a Chromium or Chrome binary)`
        : `browser latency needs Chromium, and ${p} does not exist: install it (Debian/Ubuntu: apt-get install chromium) or set CHROMIUM_PATH to a Chromium or Chrome binary`,
    );
  }
  return p;
}

/** Whether browser latency can be measured here (Chromium and ONNX Runtime Web present), before anything starts. */
export function checkBrowserReady(): void {
  chromiumPath();
  ortWebDist();
}

export interface BrowserLatencyOptions {
  /** Runs before timing (default 2). */
  warmup?: number;
  /** Timed runs; the median is reported (default 10). */
  reps?: number;
}

/** One headless Chromium with ONNX Runtime Web loaded, measuring any number of models. */
export class BrowserRuntime {
  private models = new Map<string, Uint8Array>();
  private n = 0;
  /** Measurements run one at a time: two models timed at once would slow each other. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly browser: Browser,
    private readonly page: Page,
    /** e.g. "onnxruntime-web 1.30.0, Chrome/156.0.8078.108" */
    readonly runtime: string,
  ) {}

  static async launch(): Promise<BrowserRuntime> {
    const executablePath = chromiumPath();
    const ort = ortWebDist();
    const files = new Map<string, { body: Buffer; type: string }>();
    for (const f of ORT_WEB_FILES) files.set(`/${f}`, { body: readFileSync(join(ort.dir, f)), type: f.endsWith('.wasm') ? 'application/wasm' : 'text/javascript' });
    files.set('/', { body: Buffer.from(PAGE), type: 'text/html; charset=utf-8' });
    const { default: puppeteer } = await import('puppeteer-core');
    let browser: Browser;
    try {
      // --no-sandbox: Chromium's sandbox refuses to run as root (CI, containers). The signal
      // handlers stay opnas's: puppeteer's own would exit at Ctrl-C (130) before a search saves
      // its state; the browser is closed by whoever started it (and killed at exit regardless)
      browser = await puppeteer.launch({
        executablePath,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
        handleSIGINT: false,
        handleSIGTERM: false,
        handleSIGHUP: false,
      });
    } catch (e) {
      throw new SetupError(`cannot start headless Chromium (${executablePath}): ${((e as Error).message ?? String(e)).split('\n')[0]}`);
    }
    try {
      const page = await browser.newPage();
      const self: { rt?: BrowserRuntime } = {};
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push((e as Error).message ?? String(e)));
      await page.setRequestInterception(true);
      page.on('request', (req: HTTPRequest) => {
        const url = new URL(req.url());
        if (url.protocol === 'data:') return void req.continue();
        const file = url.origin === ORIGIN ? (files.get(url.pathname) ?? (self.rt?.models.has(url.pathname) ? { body: Buffer.from(self.rt.models.get(url.pathname)!), type: 'application/octet-stream' } : undefined)) : undefined;
        if (!file) return void req.respond({ status: 404, contentType: 'text/plain', body: 'not found' });
        void req.respond({ status: 200, contentType: file.type, body: file.body });
      });
      await page.goto(`${ORIGIN}/`, { waitUntil: 'load' });
      const ok = await page.evaluate(() => typeof (globalThis as { ort?: unknown }).ort === 'object');
      if (!ok) throw new SetupError(`ONNX Runtime Web did not load in Chromium${errors.length ? `: ${errors[0]}` : ''}`);
      await page.evaluate(`(() => { ort.env.wasm.numThreads = 1; ort.env.wasm.proxy = false; ort.env.wasm.wasmPaths = ${JSON.stringify(`${ORIGIN}/`)}; })()`);
      self.rt = new BrowserRuntime(browser, page, `onnxruntime-web ${ort.version}, ${await browser.version()}`);
      return self.rt;
    } catch (e) {
      await browser.close().catch(() => {});
      if (e instanceof OpnasError) throw e;
      throw new SetupError(`headless Chromium: ${((e as Error).message ?? String(e)).split('\n')[0]}`);
    }
  }

  /** Median forward time in ms of the ONNX model (input_ids, attention_mask -> logits) on one seqLen-token example. */
  measure(onnx: Uint8Array, seqLen: number, o: BrowserLatencyOptions = {}): Promise<number> {
    const run = this.queue.then(() => this.measureNow(onnx, seqLen, o));
    this.queue = run.catch(() => {});
    return run;
  }

  private async measureNow(onnx: Uint8Array, seqLen: number, o: BrowserLatencyOptions): Promise<number> {
    const warmup = o.warmup ?? BROWSER_WARMUP;
    const reps = o.reps ?? BROWSER_REPS;
    if (!Number.isInteger(seqLen) || seqLen < 1) throw new RangeError(`browser latency: seqLen must be a positive integer, got ${seqLen}`);
    if (!Number.isInteger(reps) || reps < 1 || !Number.isInteger(warmup) || warmup < 0) throw new RangeError('browser latency: reps must be >= 1 and warmup >= 0');
    const path = `/m/${this.n++}.onnx`;
    this.models.set(path, onnx);
    try {
      const times = await this.page.evaluate(
        async (url: string, T: number, w: number, r: number) => {
          // runs in the page: `ort` is ONNX Runtime Web's global
          const ort = (globalThis as unknown as { ort: OrtWeb }).ort;
          const session = await ort.InferenceSession.create(url, { executionProviders: ['wasm'] });
          try {
            const feeds = {
              input_ids: new ort.Tensor('int64', new BigInt64Array(T).fill(2n), [1, T]),
              attention_mask: new ort.Tensor('int64', new BigInt64Array(T).fill(1n), [1, T]),
            };
            const out: number[] = [];
            for (let i = 0; i < w + r; i++) {
              const t0 = performance.now();
              await session.run(feeds);
              if (i >= w) out.push(performance.now() - t0);
            }
            return out;
          } finally {
            await session.release();
          }
        },
        path,
        seqLen,
        warmup,
        reps,
      );
      return median(times);
    } catch (e) {
      throw new OpnasError(`browser latency: ONNX Runtime Web could not run the model (${((e as Error).message ?? String(e)).split('\n')[0]})`);
    } finally {
      this.models.delete(path);
    }
  }

  async close(): Promise<void> {
    await this.browser.close().catch(() => {});
  }
}

/** The parts of ONNX Runtime Web's API the page above uses. */
interface OrtWeb {
  InferenceSession: { create(url: string, o: object): Promise<{ run(feeds: object): Promise<unknown>; release(): Promise<void> }> };
  Tensor: new (type: string, data: BigInt64Array, dims: number[]) => object;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * A browser launched on the first measurement and kept for the next ones (a search measures
 * every candidate with one browser); close() ends it, if it was ever started.
 */
export function lazyBrowserRuntime(o: BrowserLatencyOptions = {}): { measure(onnx: Uint8Array, seqLen: number): Promise<number>; runtime(): string | undefined; launches(): number; close(): Promise<void> } {
  let started: Promise<BrowserRuntime> | undefined;
  let rt: BrowserRuntime | undefined;
  let launches = 0;
  return {
    measure: async (onnx, seqLen) => {
      if (!started) launches++;
      started ??= BrowserRuntime.launch().then((r) => (rt = r));
      return (await started).measure(onnx, seqLen, o);
    },
    runtime: () => rt?.runtime,
    launches: () => launches,
    close: async () => {
      const s = started;
      started = undefined;
      rt = undefined;
      if (s) await (await s.catch(() => undefined))?.close();
    },
  };
}

/** One model, one browser: launch, measure, close. */
export async function browserLatency(onnx: Uint8Array, seqLen: number, o: BrowserLatencyOptions = {}): Promise<{ ms: number; runtime: string }> {
  const rt = await BrowserRuntime.launch();
  try {
    return { ms: await rt.measure(onnx, seqLen, o), runtime: rt.runtime };
  } finally {
    await rt.close();
  }
}

let shared: ReturnType<typeof lazyBrowserRuntime> | undefined;

/** This process's browser for latency: started on the first measurement, ended by its close(). */
export function sharedBrowser(): ReturnType<typeof lazyBrowserRuntime> {
  shared ??= lazyBrowserRuntime();
  return shared;
}
