import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { OpnasError } from '../spaces/base/errors.js';

/**
 * Check an output folder before any work goes into filling it: it must be creatable and writable,
 * and an existing folder with files in it is only replaced with `force`. Nothing is created here,
 * so a run that fails later leaves no empty folder behind.
 */
export function checkOutDir(flag: string, path: string, force = false): void {
  const dir = resolve(path);
  const st = statOrUndefined(dir);
  if (st) {
    if (!st.isDirectory()) throw new OpnasError(`--${flag} ${path}: a file of that name exists, not a folder`);
    if (!force && readdirSync(dir).length > 0) throw new OpnasError(`--${flag} ${path}: the folder exists and is not empty (pass --force to overwrite it)`);
    writable(flag, path, dir);
    return;
  }
  // the nearest existing parent must be a folder this process can write in
  let parent = dirname(dir);
  let pst = statOrUndefined(parent);
  while (!pst && dirname(parent) !== parent) {
    parent = dirname(parent);
    pst = statOrUndefined(parent);
  }
  if (!pst?.isDirectory()) throw new OpnasError(`--${flag} ${path}: cannot create it, ${parent} is not a folder`);
  writable(flag, path, parent);
}

/**
 * `opnas export --out DIR` writes genome.json and formula.txt into a folder that may hold other
 * things: the folder may exist, but those two files are only replaced with `force`.
 */
export function checkExportFiles(path: string, force = false): void {
  const dir = resolve(path);
  const st = statOrUndefined(dir);
  if (st && !st.isDirectory()) throw new OpnasError(`--out ${path}: a file of that name exists, not a folder`);
  if (!st) return checkOutDir('out', path);
  const there = ['genome.json', 'formula.txt'].filter((f) => statOrUndefined(join(dir, f)));
  if (there.length && !force) throw new OpnasError(`--out ${path}: ${there.join(' and ')} already there (pass --force to overwrite)`);
  writable('out', path, dir);
}

function writable(flag: string, path: string, dir: string): void {
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    throw new OpnasError(`--${flag} ${path}: ${dir} is not writable`);
  }
}

function statOrUndefined(p: string) {
  try {
    return statSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR') return undefined; // a path through a file: the parent check names it
    throw new OpnasError(`cannot check ${p} (${code ?? (e as Error).message})`);
  }
}
