import cliProgress from 'cli-progress';

/** Progress bars go to stderr, and only to a terminal: piped or `--quiet` runs stay clean. */
export function progressEnabled(quiet?: boolean): boolean {
  return !quiet && Boolean(process.stderr.isTTY);
}

export function makeBar(format: string, enabled: boolean): cliProgress.SingleBar | undefined {
  if (!enabled) return undefined;
  return new cliProgress.SingleBar(
    { format, stream: process.stderr, hideCursor: true, clearOnComplete: false, etaBuffer: 50, fps: 5 },
    cliProgress.Presets.shades_classic,
  );
}

export function makeMultiBar(enabled: boolean): cliProgress.MultiBar | undefined {
  if (!enabled) return undefined;
  return new cliProgress.MultiBar({ stream: process.stderr, hideCursor: true, clearOnComplete: false, etaBuffer: 20, fps: 5 }, cliProgress.Presets.shades_classic);
}
