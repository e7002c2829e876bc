import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { OpnasError } from '../spaces/base/errors.js';
import { lockHolder } from './lock.js';
import { LOCK_FILE, readRunFile, RUN_FILE } from './store.js';
import type { RunFile } from './types.js';

/** How often `opnas show --watch` looks at run.json (a stat; the file is read only when it changed). */
export const WATCH_INTERVAL_MS = 500;

/**
 * Call `show` with the run now and again each time run.json changes, until the run is no longer
 * running (finished, failed, interrupted, or its process gone) or `signal` aborts. Saves are atomic
 * renames, so every read sees a whole file.
 */
export function watchRun(dir: string, name: string, show: (run: RunFile) => void, signal?: AbortSignal): Promise<RunFile> {
  const folder = join(resolve(dir), name);
  const file = join(folder, RUN_FILE);
  let seen = '';
  let run: RunFile | undefined;
  return new Promise<RunFile>((done, fail) => {
    const stop = () => {
      clearInterval(timer);
      signal?.removeEventListener('abort', stop);
      done(run!);
    };
    /** Show run.json if it changed since it was last shown. */
    const look = () => {
      if (!existsSync(file)) throw new OpnasError(`run '${name}' was removed while it was watched`);
      const st = statSync(file);
      const stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
      if (stamp !== seen) {
        seen = stamp;
        run = readRunFile(file);
        run.name = name;
        show(run);
      }
    };
    const tick = () => {
      try {
        look();
        if (run!.status !== 'running') return stop();
        if (!lockHolder(join(folder, LOCK_FILE))) {
          // the run may have saved its last state and released the lock since the look above:
          // look once more, so a run that finished is reported finished, not killed
          look();
          stop();
        }
      } catch (e) {
        clearInterval(timer);
        signal?.removeEventListener('abort', stop);
        fail(e);
      }
    };
    const timer = setInterval(tick, WATCH_INTERVAL_MS);
    signal?.addEventListener('abort', stop);
    tick();
  });
}
