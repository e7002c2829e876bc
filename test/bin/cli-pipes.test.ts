import { describe, expect, it } from 'vitest';
import { opnas, opnasClosedStdout, tempDir } from './helpers.js';

describe('a closed stdout (opnas ... | head -1) ends quietly', () => {
  it('show, sample, spaces and runs exit 0 with nothing on stderr', async () => {
    const dir = tempDir();
    const env = { OPNAS_RUNS_DIR: dir };
    expect((await opnas(['search', '--name', 'a', '--space', 'nb201', '--budget', '8', '--quiet'], { env })).code).toBe(0);
    for (const args of [['show', 'a'], ['sample', '--count', '50'], ['spaces'], ['runs']]) {
      const r = await opnasClosedStdout(args, { env });
      expect(r.stderr, args.join(' ')).toBe('');
      expect(r.code, args.join(' ')).toBe(0);
    }
  });
});
