/**
 * `opnas show RUN | head -1`: once the reader has closed the pipe, nothing more can be delivered and
 * nothing went wrong, so end at once with exit 0, as cat, grep and git do (no EPIPE stack trace).
 */
export function endQuietlyWhenStdoutCloses(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

/** Results go to stdout; progress and diagnostics to stderr. */
export function print(line = ''): void {
  process.stdout.write(line + '\n');
}

export function note(line: string): void {
  process.stderr.write(line + '\n');
}

export function fmtCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}
