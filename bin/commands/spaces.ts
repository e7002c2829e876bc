import type { CommandModule } from 'yargs';
import { SPACES } from '../../spaces/registry.js';
import { CONV_KERNELS } from '../../spaces/conv.js';
import { FFN_RATIOS } from '../../spaces/ffn-tree.js';
import { ATTN_OPS } from '../../spaces/ops.js';
import { FFN_BINARY_OPS, FFN_UNARY_OPS } from '../../spaces/ffn-ops.js';
import { DEFAULT_SEARCH } from '../../runs/session.js';
import { print } from '../output.js';

export function describeSpaces() {
  return {
    spaces: Object.entries(SPACES).map(([name, make]) => ({ name, description: make().description, ops: make().opSet() })),
    attentionOps: [...ATTN_OPS.values()].map((o) => ({ name: o.name, arity: o.arity, doc: o.doc })),
    ffnOps: { unary: [...FFN_UNARY_OPS], binary: [...FFN_BINARY_OPS], linear: ['L1', 'L2'], ratios: FFN_RATIOS },
    convKernels: CONV_KERNELS,
    /** The macro ranges `opnas search` uses unless --layers, --hidden, --heads, --pool or --embed say otherwise. */
    macro: DEFAULT_SEARCH.macro,
  };
}

export const spacesCommand: CommandModule<object, { json?: boolean }> = {
  handler: (argv) => {
    const d = describeSpaces();
    if (argv.json) return print(JSON.stringify(d, null, 2));
    for (const s of d.spaces) print(`${s.name.padEnd(10)} ${s.description}`);
    print('\nattention ops (per head; inputs Q, K, V are [T, D]):');
    for (const o of d.attentionOps) print(`  ${o.name.padEnd(13)} ${o.arity === 1 ? 'unary ' : 'binary'}  ${o.doc}`);
    print('  masks: none, no-diagonal, band:W; a trailing [dconv] adds Primer\'s width-3 depthwise convolutions after the Q, K, V projections');
    print(`\nffn ops: unary ${d.ffnOps.unary.join(', ')}; binary ${d.ffnOps.binary.join(', ')}; linear L1 (d -> r*d), L2 (r*d -> d); r in {${d.ffnOps.ratios.join(', ')}}; stack 1..4`);
    print(`conv mixer kernels: ${d.convKernels.join(', ')}`);
    const m = d.macro;
    print(
      `macro, as opnas search uses it by default: layers ${m.layers[0]}..${m.layers[1]}, hidden {${m.hidden.join(', ')}}, heads {${m.heads.join(', ')}}, ` +
        `conv mixer in ${Math.round(m.convProbability * 100)}% of sampled layers, readouts {${(m.pool ?? ['cls']).join(', ')}}, ` +
        `factorised embedding widths {${(m.embed ?? []).join(', ') || 'none'}} (--layers, --hidden, --heads, --pool, --embed change them)`,
    );
  },
};
