import { describe, expect, it } from 'vitest';
import { DEFAULT_SEARCH } from '../../runs/session.js';
import { opnas } from './helpers.js';

describe('opnas spaces', () => {
  it('prints the macro ranges opnas search uses by default, the same as search --help', async () => {
    const m = DEFAULT_SEARCH.macro;
    const text = await opnas(['spaces']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`macro, as opnas search uses it by default: layers ${m.layers[0]}..${m.layers[1]}, hidden {${m.hidden.join(', ')}}, heads {${m.heads.join(', ')}}`);
    expect(JSON.parse((await opnas(['spaces', '--json'])).stdout).macro).toEqual(m);
    const help = (await opnas(['search', '--help'])).stdout;
    expect(help).toMatch(new RegExp(`--layers[^\\n]*\\[default: "${m.layers.join('-')}"\\]`));
    expect(help).toMatch(new RegExp(`--hidden[^\\n]*\\[default: "${m.hidden.join(',')}"\\]`));
    // what the search default is today: small models (a change here is a deliberate one)
    expect(m.layers).toEqual([1, 2]);
    expect(m.hidden).toEqual([64, 128]);
  });
});
