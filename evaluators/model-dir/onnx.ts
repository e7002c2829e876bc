import protoModule from 'onnx-proto';
import { analyse, DCONV_WIDTH, parseMask } from '../../spaces/attention-graph.js';
import { evalFfnTree } from '../../spaces/ffn-tree.js';
import type { AttentionGraph, BackboneGenome } from '../../spaces/types.js';
import { usedInputs } from '../compile.js';
import { NEG_INF } from '../../spaces/ops.js';
import type { NamedTensor } from './safetensors.js';

/**
 * A genome and its weights as an ONNX model (opset 17), the same function as compile.ts's Model:
 *   inputs  input_ids int64 [batch, seq], attention_mask int64 [batch, seq] (1 real, 0 padding)
 *   output  logits float32 [batch, num_labels]
 * Activations are [batch, seq, channels]; heads are [batch, heads, seq, d_head], so every
 * attention-graph op is one or a few ONNX ops over them. Softmax masks follow the graph's
 * symbolic shapes: a [T,T] softmax gets the layer mask, any softmax over a T axis skips padding.
 * The protobuf is written with onnx-proto (ONNX's own onnx.proto compiled by protobufjs).
 */

const { onnx } = protoModule as unknown as { onnx: typeof import('onnx-proto').onnx };
type Attr = { name: string; type: number; i?: number; f?: number; ints?: number[] };
const A = onnx.AttributeProto.AttributeType;
const int = (name: string, i: number): Attr => ({ name, type: A.INT, i });
const ints = (name: string, v: number[]): Attr => ({ name, type: A.INTS, ints: v });
const float = (name: string, f: number): Attr => ({ name, type: A.FLOAT, f });

export const ONNX_OPSET = 17;
const LN_EPS = 1e-6;
const COSINE_EPS = 1e-6;
const GELU_2C = 2 * Math.sqrt(2 / Math.PI);
const GELU_K = 0.044715;

class GraphBuilder {
  readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  readonly inits: InstanceType<typeof onnx.TensorProto>[] = [];
  private readonly consts = new Map<string, string>();
  private n = 0;

  op(type: string, inputs: string[], attrs: Attr[] = [], name = `${type.toLowerCase()}_${this.n}`): string {
    const out = `${name}_${this.n++}`;
    this.nodes.push(onnx.NodeProto.create({ opType: type, input: inputs, output: [out], name: out, attribute: attrs.map((a) => onnx.AttributeProto.create(a)) }));
    return out;
  }

  floats(name: string, data: Float32Array, dims: number[]): string {
    const bytes = new Uint8Array(data.byteLength);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i], true); // ONNX raw data is little-endian
    this.inits.push(onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: bytes }));
    return name;
  }

  /** A shared scalar or small constant. */
  f(v: number): string {
    const key = `f${v}`;
    if (!this.consts.has(key)) this.consts.set(key, this.floats(`const_f_${this.consts.size}`, Float32Array.of(v), []));
    return this.consts.get(key)!;
  }

  i64(v: number[], scalar = false): string {
    const key = `i${scalar ? 's' : ''}${v.join(',')}`;
    if (!this.consts.has(key)) {
      const name = `const_i_${this.consts.size}`;
      this.inits.push(onnx.TensorProto.create({ name, dims: scalar ? [] : [v.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: v }));
      this.consts.set(key, name);
    }
    return this.consts.get(key)!;
  }
}

/** ONNX bytes of a model: `weights` under compile.ts's names, as model.safetensors holds them. */
export function toOnnx(genome: BackboneGenome, weights: Map<string, NamedTensor>, o: { numClasses: number; name?: string }): Uint8Array {
  const b = new GraphBuilder();
  const w = (name: string): string => {
    const t = weights.get(name);
    if (!t) throw new Error(`onnx export: no weight '${name}'`);
    if (!b.inits.some((x) => x.name === name)) b.floats(name, t.data, t.shape);
    return name;
  };
  const d = genome.hidden;
  const H = genome.heads;
  const dh = d / H;
  const dense = (x: string, name: string) => b.op('Add', [b.op('MatMul', [x, w(`${name}.w`)]), w(`${name}.b`)]);
  const layerNorm = (x: string, name: string) => b.op('LayerNormalization', [x, w(`${name}.g`), w(`${name}.b`)], [int('axis', -1), float('epsilon', LN_EPS)]);

  const mask = b.op('Cast', ['attention_mask'], [int('to', onnx.TensorProto.DataType.FLOAT)], 'mask'); // [B, T]
  const rowMask = b.op('Unsqueeze', [mask, b.i64([2])]); // [B, T, 1]
  const padAdd = b.op('Mul', [b.op('Sub', [b.f(1), mask]), b.f(NEG_INF)]); // [B, T]
  const keyPad = b.op('Unsqueeze', [padAdd, b.i64([1, 2])]); // [B, 1, 1, T]
  const T1 = b.op('Slice', [b.op('Shape', ['input_ids']), b.i64([1]), b.i64([2])]); // [1]: T
  const Tscalar = b.op('Squeeze', [T1, b.i64([0])]);

  // embeddings
  let tok = b.op('Gather', [w('emb.tok'), 'input_ids'], [int('axis', 0)]);
  if (genome.embed) tok = dense(tok, 'emb.proj');
  const pos = b.op('Slice', [w('emb.pos'), b.i64([0]), T1, b.i64([0])]);
  let x = layerNorm(b.op('Add', [tok, pos]), 'emb.ln');

  // [T, T] additive masks, built once per kind (a learnt one once per layer)
  const scoreMasks = new Map<string, string>();
  const scoreMask = (m: string, p: string): string | undefined => {
    const parsed = parseMask(m);
    if (typeof parsed === 'string' || parsed.kind === 'none') return undefined;
    if (parsed.kind === 'dam') {
      // log(sigmoid(alpha[:T, :T])) = -softplus(-alpha)
      const alpha = b.op('Slice', [w(`${p}.att.dam`), b.i64([0, 0]), b.op('Concat', [T1, T1], [int('axis', 0)]), b.i64([0, 1])]);
      return b.op('Neg', [b.op('Softplus', [b.op('Neg', [alpha])])]);
    }
    if (!scoreMasks.has(m)) {
      const r = b.op('Cast', [b.op('Range', [b.i64([0], true), Tscalar, b.i64([1], true)])], [int('to', onnx.TensorProto.DataType.FLOAT)]);
      const diff = b.op('Abs', [b.op('Sub', [b.op('Unsqueeze', [r, b.i64([1])]), b.op('Unsqueeze', [r, b.i64([0])])])]);
      const drop = parsed.kind === 'no-diagonal' ? b.op('Less', [diff, b.f(0.5)]) : b.op('Greater', [diff, b.f(parsed.width + 0.5)]);
      scoreMasks.set(m, b.op('Mul', [b.op('Cast', [drop], [int('to', onnx.TensorProto.DataType.FLOAT)]), b.f(NEG_INF)]));
    }
    return scoreMasks.get(m);
  };
  // a depthwise convolution over positions of [B, T, C] with a [C, 1, k] filter
  const depthwise = (y: string, filter: string, k: number, C: number, bias?: string) => {
    const left = Math.floor((k - 1) / 2);
    const conv = b.op('Conv', [b.op('Transpose', [y], [ints('perm', [0, 2, 1])]), filter, ...(bias ? [bias] : [])], [int('group', C), ints('kernel_shape', [k]), ints('pads', [left, k - 1 - left])]);
    return b.op('Transpose', [conv], [ints('perm', [0, 2, 1])]);
  };

  const attention = (x: string, graph: AttentionGraph, p: string): string => {
    const info = analyse(graph).info;
    if (!info) throw new Error('onnx export: invalid attention graph');
    const ins = new Map<string, string>();
    for (const i of usedInputs(graph)) {
      let y = b.op('Mul', [dense(x, `${p}.att.${i}`), rowMask]);
      if (graph.dconv) {
        const name = `${p}.att.${i}.dconv`;
        const src = weights.get(`${name}.w`)!; // [3, d] -> [d, 1, 3]
        const f = new Float32Array(d * DCONV_WIDTH);
        for (let c = 0; c < d; c++) for (let j = 0; j < DCONV_WIDTH; j++) f[c * DCONV_WIDTH + j] = src.data[j * d + c];
        y = b.op('Mul', [depthwise(y, b.floats(`${name}.filter`, f, [d, 1, DCONV_WIDTH]), DCONV_WIDTH, d, w(`${name}.b`)), rowMask]);
      }
      ins.set(i, b.op('Transpose', [b.op('Reshape', [y, b.i64([0, 0, H, dh])])], [ints('perm', [0, 2, 1, 3])]));
    }
    const vals: string[] = [];
    const lastTwo = ints('perm', [0, 1, 3, 2]);
    const norm = (t: string) => b.op('Div', [t, b.op('Sqrt', [b.op('Add', [b.op('ReduceSum', [b.op('Mul', [t, t]), b.i64([-1])], [int('keepdims', 1)]), b.f(COSINE_EPS)])])]);
    graph.nodes.forEach((n, idx) => {
      const a = n.in.map((r) => (typeof r === 'number' ? vals[r] : ins.get(r)!));
      const shape = info.shapes[idx];
      let v: string;
      switch (n.op) {
        case 'neg': v = b.op('Neg', a); break;
        case 'transpose': v = b.op('Transpose', a, [lastTwo]); break;
        case 'scale': v = b.op('Mul', [a[0], b.f(1 / Math.sqrt(dh))]); break;
        case 'softmax': {
          let s = a[0];
          const sm = shape[0] === 'T' && shape[1] === 'T' ? scoreMask(graph.mask ?? 'none', p) : undefined;
          if (sm) s = b.op('Add', [s, sm]);
          if (shape[1] === 'T') s = b.op('Add', [s, keyPad]);
          v = b.op('Softmax', [s], [int('axis', -1)]);
          break;
        }
        case 'logsigmoid': v = b.op('Neg', [b.op('Softplus', [b.op('Neg', a)])]); break;
        case 'softsign': v = b.op('Softsign', a); break;
        case 'sigmoid': v = b.op('Sigmoid', a); break;
        case 'tanh': v = b.op('Tanh', a); break;
        case 'relu': v = b.op('Relu', a); break;
        case 'squared_relu': { const r = b.op('Relu', a); v = b.op('Mul', [r, r]); break; }
        case 'softplus': v = b.op('Softplus', a); break;
        case 'add': v = b.op('Add', a); break;
        case 'mul': v = b.op('Mul', a); break;
        case 'max': v = b.op('Max', a); break;
        case 'matmul': v = b.op('MatMul', a); break;
        case 'cosine': v = b.op('MatMul', [norm(a[0]), b.op('Transpose', [norm(a[1])], [lastTwo])]); break;
        default: throw new Error(`onnx export: no ONNX form for attention op '${n.op}'`);
      }
      vals.push(v);
    });
    const merged = b.op('Reshape', [b.op('Transpose', [vals[vals.length - 1]], [ints('perm', [0, 2, 1, 3])]), b.i64([0, 0, d])]);
    return dense(merged, `${p}.att.O`);
  };

  const conv = (x: string, kernel: number, p: string): string => {
    const h2 = dense(x, `${p}.conv.in`);
    const glu = b.op('Mul', [b.op('Slice', [h2, b.i64([0]), b.i64([d]), b.i64([2])]), b.op('Sigmoid', [b.op('Slice', [h2, b.i64([d]), b.i64([2 * d]), b.i64([2])])])]);
    const u = b.op('Mul', [glu, rowMask]);
    // one softmaxed kernel per head, shared by the head's d/H channels: [H, k] -> [d, 1, k]
    const perHead = b.op('Unsqueeze', [b.op('Softmax', [w(`${p}.conv.k`)], [int('axis', -1)]), b.i64([1])]);
    const filter = b.op('Reshape', [b.op('Expand', [perHead, b.i64([H, d / H, kernel])]), b.i64([d, 1, kernel])]);
    return dense(depthwise(u, filter, kernel, d), `${p}.conv.out`);
  };

  const unary = (op: string, t: string): string => {
    switch (op) {
      case 'gelu': return b.op('Mul', [t, b.op('Sigmoid', [b.op('Mul', [t, b.op('Add', [b.op('Mul', [b.op('Mul', [t, t]), b.f(GELU_2C * GELU_K)]), b.f(GELU_2C)])])])]);
      case 'relu': return b.op('Relu', [t]);
      case 'tanh': return b.op('Tanh', [t]);
      case 'sigmoid': return b.op('Sigmoid', [t]);
      case 'leaky_relu': return b.op('LeakyRelu', [t], [float('alpha', 0.01)]);
      case 'elu': return b.op('Elu', [t], [float('alpha', 1)]);
      case 'swish': return b.op('Mul', [t, b.op('Sigmoid', [t])]);
      case 'squared_relu': { const r = b.op('Relu', [t]); return b.op('Mul', [r, r]); }
      default: throw new Error(`onnx export: no ONNX form for FFN op '${op}'`);
    }
  };
  const BINARY: Record<string, string> = { add: 'Add', mul: 'Mul', max: 'Max' };

  genome.layers.forEach((layer, i) => {
    const p = `l${i}`;
    const mixed = layer.mixer.type === 'attention' ? attention(x, layer.mixer.graph, p) : conv(x, layer.mixer.kernel, p);
    x = layerNorm(b.op('Add', [x, mixed]), `${p}.mix.ln`);
    for (let s = 0; s < layer.ffn.stack; s++) {
      const q = `${p}.ffn${s}`;
      const y = evalFfnTree<string>(layer.ffn.tree, x, {
        L1: (t) => dense(t, `${q}.L1`),
        L2: (t) => dense(t, `${q}.L2`),
        unary,
        binary: (op, a2, c) => b.op(BINARY[op], [a2, c]),
      });
      x = layerNorm(b.op('Add', [x, y]), `${q}.ln`);
    }
  });
  const pool = genome.pool ?? 'cls';
  let summary: string;
  if (pool === 'cls') summary = b.op('Gather', [x, b.i64([0], true)], [int('axis', 1)]);
  else if (pool === 'max') summary = b.op('ReduceMax', [b.op('Add', [x, b.op('Unsqueeze', [padAdd, b.i64([2])])])], [ints('axes', [1]), int('keepdims', 0)]);
  else {
    const weightsMean = b.op('Div', [mask, b.op('ReduceSum', [mask, b.i64([1])], [int('keepdims', 1)])]);
    summary = b.op('ReduceSum', [b.op('Mul', [x, b.op('Unsqueeze', [weightsMean, b.i64([2])])]), b.i64([1])], [int('keepdims', 0)]);
  }
  const logits = dense(b.op('Tanh', [dense(summary, 'pool')]), 'cls');
  b.nodes.push(onnx.NodeProto.create({ opType: 'Identity', input: [logits], output: ['logits'], name: 'logits' }));

  const tensorType = (elemType: number, dims: (string | number)[]) =>
    onnx.TypeProto.create({ tensorType: { elemType, shape: { dim: dims.map((v) => (typeof v === 'string' ? { dimParam: v } : { dimValue: v })) } } });
  const I64 = onnx.TensorProto.DataType.INT64;
  const graph = onnx.GraphProto.create({
    name: o.name ?? 'opnas',
    node: b.nodes,
    initializer: b.inits,
    input: [
      onnx.ValueInfoProto.create({ name: 'input_ids', type: tensorType(I64, ['batch', 'sequence']) }),
      onnx.ValueInfoProto.create({ name: 'attention_mask', type: tensorType(I64, ['batch', 'sequence']) }),
    ],
    output: [onnx.ValueInfoProto.create({ name: 'logits', type: tensorType(onnx.TensorProto.DataType.FLOAT, ['batch', o.numClasses]) })],
  });
  const model = onnx.ModelProto.create({ irVersion: 8, producerName: 'opnas', opsetImport: [{ domain: '', version: ONNX_OPSET }], graph });
  return onnx.ModelProto.encode(model).finish();
}
