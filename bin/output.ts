/**
 * Whether stdout or stderr was closed by its reader (`opnas search | head -2`): writes after that
 * would fail with EPIPE, so they are dropped, and whoever listens (a running search) stops cleanly.
 */
let outputClosed = false;
const closedListeners = new Set<() => void>();

export function isOutputClosed(): boolean {
  return outputClosed;
}

/** Call `f` once when an output stream is closed; returns the unsubscribe. */
export function onOutputClosed(f: () => void): () => void {
  closedListeners.add(f);
  return () => closedListeners.delete(f);
}

/** Turn EPIPE on stdout/stderr from a crash into an event (installed once, by the CLI). */
export function guardOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      if (outputClosed) return;
      outputClosed = true;
      // nothing running to stop (show, sample, ... | head -1): end at once with exit 0, as cat,
      // grep and git do; a running search listens and stops like Ctrl-C instead
      if (!closedListeners.size) process.exit(0);
      for (const f of [...closedListeners]) f();
    });
  }
}

/** Results go to stdout; progress and diagnostics to stderr. */
export function print(line = ''): void {
  if (!outputClosed) process.stdout.write(line + '\n');
}

export function note(line: string): void {
  if (!outputClosed) process.stderr.write(line + '\n');
}
