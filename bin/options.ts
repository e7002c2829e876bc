import type { Argv } from 'yargs';
import { BACKEND_CHOICES } from '../evaluators/backend-choices.js';

/** --backend, on the commands that compute with tensors (search, resume, train, teacher, fidelity). */
export function backendOption<T>(y: Argv<T>) {
  return y.option('backend', {
    choices: BACKEND_CHOICES,
    describe: 'tensor backend (default: $OPNAS_BACKEND, else auto: tfjs-node-gpu or tfjs-node where installed, then wasm, then cpu)',
  });
}
