/**
 * The tensor backends a user can name (--backend, $OPNAS_BACKEND). Kept apart from backend.ts,
 * which loads TF.js, so the CLI can offer them without loading it.
 */
export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'tensorflow', 'wasm', 'cpu'];
