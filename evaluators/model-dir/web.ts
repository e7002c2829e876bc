import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { OpnasError } from '../../spaces/base/errors.js';
import { packageRoot } from '../tasks/named.js';
import { Tokenizer } from '../tasks/tokenizer.js';
import { MODEL_FORMAT, MODEL_FORMAT_VERSION, type ModelConfigFile } from './folder.js';

/**
 * A model folder as a static web page that classifies what a person types, in the browser:
 *   index.html, app.js, style.css   the page (web/ in the opnas package)
 *   model.onnx, tokenizer.json,     copied from the model folder; app.js tokenizes with
 *   config.json                     tokenizer.json exactly as opnas does
 *   ort.wasm.min.js,                ONNX Runtime Web's WebAssembly-only build (its JS, the
 *   ort-wasm-simd-threaded.{mjs,wasm}  Emscripten loader and the wasm), copied from node_modules
 * Nothing is fetched from another origin; any static server serves the folder (`opnas serve DIR`).
 * The page runs one wasm thread, so it needs no cross-origin isolation headers.
 */

/** The files of onnxruntime-web's wasm-only build that the page loads. */
export const ORT_WEB_FILES = ['ort.wasm.min.js', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'] as const;
/** The page's own files, in web/ of the package. */
export const PAGE_FILES = ['index.html', 'app.js', 'style.css'] as const;
/** What the page reads from the model folder. */
export const MODEL_FILES = ['config.json', 'tokenizer.json', 'model.onnx'] as const;

/** onnxruntime-web's dist folder and version. */
export function ortWebDist(): { dir: string; version: string } {
  let main: string;
  try {
    main = createRequire(import.meta.url).resolve('onnxruntime-web/wasm');
  } catch {
    throw new OpnasError('onnxruntime-web is not installed (it is a dependency of opnas: run npm ci)');
  }
  const dir = dirname(main);
  const version = (JSON.parse(readFileSync(join(dir, '..', 'package.json'), 'utf8')) as { version: string }).version;
  for (const f of ORT_WEB_FILES) if (!existsSync(join(dir, f))) throw new OpnasError(`onnxruntime-web ${version} has no ${f} in ${dir} (reinstall it: npm ci)`);
  return { dir, version };
}

export function pageSourceDir(): string {
  return join(packageRoot(), 'web');
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new OpnasError(`${path}: not valid JSON, the file is truncated or damaged (${(e as Error).message})`);
  }
}

/**
 * Check that a folder holds what the page needs (model.onnx, and a tokenizer.json and config.json
 * that opnas wrote), without loading the model: every problem is one OpnasError line.
 */
export function checkModelForWeb(dirIn: string): ModelConfigFile {
  const dir = resolve(dirIn);
  if (!existsSync(dir)) throw new OpnasError(`${dirIn}: no such model folder (opnas train --out DIR or opnas export RUN --model DIR writes one)`);
  if (!statSync(dir).isDirectory()) throw new OpnasError(`${dirIn} is a file; give the model folder`);
  for (const f of MODEL_FILES) {
    if (!existsSync(join(dir, f))) throw new OpnasError(`${dirIn}: ${f} is missing (not a complete opnas model folder; opnas train --out DIR writes one)`);
  }
  const config = readJson(join(dir, 'config.json')) as ModelConfigFile;
  if (config === null || typeof config !== 'object' || config.format !== MODEL_FORMAT) throw new OpnasError(`${dirIn}/config.json is not an opnas model config (no "format": "${MODEL_FORMAT}")`);
  if (typeof config.format_version !== 'number' || config.format_version > MODEL_FORMAT_VERSION) throw new OpnasError(`${dirIn}/config.json was written by a newer opnas (model format ${config.format_version}): upgrade opnas`);
  if (!Array.isArray(config.task?.labelNames) || config.task.labelNames.length < 2) throw new OpnasError(`${dirIn}/config.json: "task.labelNames" must list at least two classes`);
  if (!Number.isInteger(config.max_length) || config.max_length < 2) throw new OpnasError(`${dirIn}/config.json: "max_length" must be an integer >= 2`);
  const tok = readJson(join(dir, 'tokenizer.json'));
  // the page reads only the Hugging Face form (what opnas writes), and tokenizes with its own code
  if (tok === null || typeof tok !== 'object' || (tok as { model?: unknown }).model === undefined) throw new OpnasError(`${dirIn}/tokenizer.json is not in the Hugging Face format that opnas writes`);
  try {
    Tokenizer.fromJSON(tok);
  } catch (e) {
    throw new OpnasError(`${dirIn}/tokenizer.json: ${(e as Error).message}`);
  }
  if (statSync(join(dir, 'model.onnx')).size === 0) throw new OpnasError(`${dirIn}/model.onnx is empty`);
  return config;
}

/**
 * Write the page for the model folder `modelDir` into `outDir` (created; files of the same names
 * are replaced, others left alone: the caller checks the folder first). Returns the files written.
 */
export function writeWebPage(modelDir: string, outDir: string): { dir: string; files: string[]; ortVersion: string } {
  checkModelForWeb(modelDir);
  const ort = ortWebDist();
  const page = pageSourceDir();
  for (const f of PAGE_FILES) if (!existsSync(join(page, f))) throw new OpnasError(`the page's ${f} is missing from ${page} (a damaged opnas install)`);
  mkdirSync(outDir, { recursive: true });
  const files: string[] = [];
  const copy = (from: string, name: string) => {
    copyFileSync(from, join(outDir, name));
    files.push(name);
  };
  for (const f of ORT_WEB_FILES) copy(join(ort.dir, f), f);
  for (const f of ['model.onnx', 'tokenizer.json']) copy(join(modelDir, f), f);
  for (const f of PAGE_FILES.filter((x) => x !== 'index.html')) copy(join(page, f), f);
  // config and index last: a folder with an index.html was written completely
  copy(join(modelDir, 'config.json'), 'config.json');
  copy(join(page, 'index.html'), 'index.html');
  return { dir: outDir, files, ortVersion: ort.version };
}
