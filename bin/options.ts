import type { Argv } from 'yargs';
import { BACKEND_CHOICES } from '../evaluators/backend-choices.js';
import { OpnasError } from '../spaces/base/errors.js';

/** --backend, on the commands that compute with tensors (search, resume, train, teacher, fidelity). */
export function backendOption<T>(y: Argv<T>) {
  return y.option('backend', {
    choices: BACKEND_CHOICES,
    describe: 'tensor backend (default: $OPNAS_BACKEND, else auto: tfjs-node-gpu or tfjs-node where installed, then wasm, then cpu)',
  });
}

export function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new OpnasError(`--${name} must be a positive integer, got ${v}`);
  return v;
}

export function nonNegativeInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0) throw new OpnasError(`--${name} must be an integer >= 0, got ${v}`);
  return v;
}

/** A dropout rate: at least 0 (none), below 1. */
export function dropoutRate(name: string, v: number): number {
  if (!(v >= 0 && v < 1)) throw new OpnasError(`--${name} must be a rate from 0 (no dropout) up to but not including 1, got ${v}`);
  return v;
}
