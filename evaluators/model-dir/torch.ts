import { analyse, DCONV_WIDTH, parseMask, renderAttention } from '../../spaces/attention-graph.js';
import { renderFfn } from '../../spaces/ffn-tree.js';
import type { AttentionGraph, BackboneGenome, FfnNode } from '../../spaces/types.js';
import { usedInputs } from '../compile.js';

/**
 * `pytorch/model.py` of a model folder: plain PyTorch (an nn.Module per layer kind, each attention
 * graph and FFN tree written out as torch expressions) that loads ../model.safetensors with numpy
 * alone and computes the same logits as opnas. Dense weights stay [in, out]: `x @ w + b`.
 */
export function toTorch(genome: BackboneGenome, o: { numClasses: number; labelNames: string[] }): string {
  const d = genome.hidden;
  const H = genome.heads;
  const dh = d / H;
  const out: string[] = [];
  const py = (s: string) => out.push(s);
  py(`"""An opnas model in plain PyTorch: ${genome.layers.length} layers, hidden ${d}, ${H} heads${genome.embed ? `, ${genome.embed}-wide embedding` : ''}, ${genome.pool ?? 'cls'} pooling.`);
  py('');
  py('    import model; m = model.load()                   # reads ../model.safetensors (numpy only)');
  py('    logits = m(input_ids, attention_mask)            # int64 [batch, seq] each (ids from ../tokenizer.json)');
  py('"""');
  py('import json');
  py('import math');
  py('import os');
  py('');
  py('import numpy as np');
  py('import torch');
  py('from torch import nn');
  py('import torch.nn.functional as F');
  py('');
  py('NEG_INF = -1e9');
  py(`LABELS = ${JSON.stringify(o.labelNames)}`);
  py('');
  py('');
  py('def load_safetensors(path):');
  py('    """name -> float32 tensor, from the safetensors layout (8-byte header length, JSON header, data)."""');
  py('    with open(path, "rb") as f:');
  py('        raw = f.read()');
  py('    n = int.from_bytes(raw[:8], "little")');
  py('    header = json.loads(raw[8:8 + n])');
  py('    out = {}');
  py('    for name, e in header.items():');
  py('        if name == "__metadata__":');
  py('            continue');
  py('        begin, end = e["data_offsets"]');
  py('        a = np.frombuffer(raw, dtype="<f4", count=(end - begin) // 4, offset=8 + n + begin).reshape(e["shape"])');
  py('        out[name] = torch.from_numpy(a.copy())');
  py('    return out');
  py('');
  py('');
  py('class Dense(nn.Module):');
  py('    def __init__(self, W, name):');
  py('        super().__init__()');
  py('        self.w = nn.Parameter(W[name + ".w"])');
  py('        self.b = nn.Parameter(W[name + ".b"])');
  py('');
  py('    def forward(self, x):');
  py('        return x @ self.w + self.b');
  py('');
  py('');
  py('class LayerNorm(nn.Module):');
  py('    def __init__(self, W, name):');
  py('        super().__init__()');
  py('        self.g = nn.Parameter(W[name + ".g"])');
  py('        self.b = nn.Parameter(W[name + ".b"])');
  py('');
  py('    def forward(self, x):');
  py('        return F.layer_norm(x, x.shape[-1:], self.g, self.b, eps=1e-6)');
  py('');
  py('');
  py('def depthwise(x, filt, bias=None):');
  py('    """x [B, T, C], filt [C, 1, k]: a per-channel convolution over positions, zero-padded to keep T."""');
  py('    k = filt.shape[-1]');
  py('    left = (k - 1) // 2');
  py('    y = F.conv1d(F.pad(x.transpose(1, 2), (left, k - 1 - left)), filt, bias, groups=x.shape[-1])');
  py('    return y.transpose(1, 2)');
  py('');
  py('');
  py('def cosine(a, b):');
  py('    """Cosine similarity of rows: [.., m, c], [.., n, c] -> [.., m, n]."""');
  py('    na = a / torch.sqrt((a * a).sum(-1, keepdim=True) + 1e-6)');
  py('    nb = b / torch.sqrt((b * b).sum(-1, keepdim=True) + 1e-6)');
  py('    return na @ nb.transpose(-1, -2)');
  py('');
  py('');
  py('def gelu(x):');
  py('    """BERT\'s tanh GELU, written as x * sigmoid(2c (x + k x^3))."""');
  py('    return x * torch.sigmoid(2 * math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x))');
  py('');
  py('');
  py('def score_mask(T, kind, width=0):');
  py('    """[T, T] additive mask: 0 where a query may look at a key, NEG_INF where not."""');
  py('    r = torch.arange(T, dtype=torch.float32)');
  py('    diff = (r[:, None] - r[None, :]).abs()');
  py('    drop = diff < 0.5 if kind == "no-diagonal" else diff > width + 0.5');
  py('    return drop.float() * NEG_INF');
  py('');
  py('');
  py('def sq_relu(x):');
  py('    return F.relu(x) ** 2');
  py('');
  py('');

  genome.layers.forEach((layer, i) => {
    const p = `l${i}`;
    if (layer.mixer.type === 'attention') {
      const g = layer.mixer.graph;
      const ins = usedInputs(g);
      py(`class Attention${i}(nn.Module):`);
      py(`    """${renderAttention(g).replace(/"/g, "'")}${g.mask && g.mask !== 'none' ? `  (mask ${g.mask})` : ''}${g.dconv ? '  (each projection followed by a width-3 depthwise conv)' : ''}"""`);
      py('');
      py('    def __init__(self, W):');
      py('        super().__init__()');
      if (g.mask === 'dam') py(`        self.dam = nn.Parameter(W["${p}.att.dam"])  # learnt mask logits [max_len, max_len]`);
      for (const x of ins) {
        py(`        self.${x} = Dense(W, "${p}.att.${x}")`);
        if (g.dconv) {
          py(`        self.${x}_conv = nn.Parameter(W["${p}.att.${x}.dconv.w"].t().reshape(${d}, 1, ${DCONV_WIDTH}).contiguous())`);
          py(`        self.${x}_conv_b = nn.Parameter(W["${p}.att.${x}.dconv.b"])`);
        }
      }
      py(`        self.O = Dense(W, "${p}.att.O")`);
      py('');
      py('    def forward(self, x, row_mask, key_pad):');
      py('        B, T, _ = x.shape');
      for (const x of ins) {
        const proj = g.dconv ? `depthwise(self.${x}(x) * row_mask, self.${x}_conv, self.${x}_conv_b) * row_mask` : `self.${x}(x) * row_mask`;
        py(`        ${x} = (${proj}).view(B, T, ${H}, ${dh}).transpose(1, 2)  # [B, heads, T, d_head]`);
      }
      const m = parseMask(g.mask);
      if (typeof m !== 'string' && m.kind === 'dam') py('        mask = F.logsigmoid(self.dam[:T, :T])  # SparseBERT\'s learnt mask, soft');
      else if (typeof m !== 'string' && m.kind !== 'none') py(`        mask = score_mask(T, "${m.kind}"${m.kind === 'band' ? `, ${m.width}` : ''})`);
      attentionBody(g, dh, py);
      py(`        return self.O(out.transpose(1, 2).reshape(B, T, ${d}))`);
      py('');
      py('');
    } else {
      py(`class LightConv${i}(nn.Module):`);
      py(`    """Lightweight convolution, kernel ${layer.mixer.kernel}: GLU, a softmax-normalised kernel per head over positions, dense."""`);
      py('');
      py('    def __init__(self, W):');
      py('        super().__init__()');
      py(`        self.inp = Dense(W, "${p}.conv.in")`);
      py(`        self.k = nn.Parameter(W["${p}.conv.k"])  # [heads, kernel]`);
      py(`        self.out = Dense(W, "${p}.conv.out")`);
      py('');
      py('    def forward(self, x, row_mask, key_pad):');
      py(`        a, gate = self.inp(x).split(${d}, dim=-1)`);
      py('        u = a * torch.sigmoid(gate) * row_mask');
      py(`        filt = torch.softmax(self.k, -1).repeat_interleave(${d / H}, 0).unsqueeze(1)  # [channels, 1, kernel]`);
      py('        return self.out(depthwise(u, filt))');
      py('');
      py('');
    }
    py(`class FFN${i}(nn.Module):`);
    py(`    """${renderFfn(layer.ffn.tree)}"""`);
    py('');
    py('    def __init__(self, W, name):');
    py('        super().__init__()');
    py('        self.L1 = Dense(W, name + ".L1")');
    py('        self.L2 = Dense(W, name + ".L2")');
    py('');
    py('    def forward(self, x):');
    py(`        return ${ffnExpr(layer.ffn.tree)}`);
    py('');
    py('');
  });

  py('class OpnasModel(nn.Module):');
  py('    def __init__(self, W):');
  py('        super().__init__()');
  py('        self.tok = nn.Parameter(W["emb.tok"])');
  if (genome.embed) py('        self.proj = Dense(W, "emb.proj")');
  py('        self.pos = nn.Parameter(W["emb.pos"])');
  py('        self.emb_ln = LayerNorm(W, "emb.ln")');
  py(`        self.mixers = nn.ModuleList([${genome.layers.map((l, i) => (l.mixer.type === 'attention' ? `Attention${i}(W)` : `LightConv${i}(W)`)).join(', ')}])`);
  py(`        self.mix_lns = nn.ModuleList([${genome.layers.map((_, i) => `LayerNorm(W, "l${i}.mix.ln")`).join(', ')}])`);
  py(`        self.ffns = nn.ModuleList([${genome.layers.map((l, i) => `nn.ModuleList([${Array.from({ length: l.ffn.stack }, (_, s) => `FFN${i}(W, "l${i}.ffn${s}")`).join(', ')}])`).join(', ')}])`);
  py(`        self.ffn_lns = nn.ModuleList([${genome.layers.map((l, i) => `nn.ModuleList([${Array.from({ length: l.ffn.stack }, (_, s) => `LayerNorm(W, "l${i}.ffn${s}.ln")`).join(', ')}])`).join(', ')}])`);
  py('        self.pool = Dense(W, "pool")');
  py('        self.cls = Dense(W, "cls")');
  py('');
  py('    def forward(self, input_ids, attention_mask):');
  py('        T = input_ids.shape[1]');
  py('        mask = attention_mask.float()');
  py('        row_mask = mask[:, :, None]');
  py('        key_pad = ((1 - mask) * NEG_INF)[:, None, None, :]  # [B, 1, 1, T]');
  py(`        x = self.emb_ln(${genome.embed ? 'self.proj(self.tok[input_ids])' : 'self.tok[input_ids]'} + self.pos[:T])`);
  py('        for mixer, ln, ffns, ffn_lns in zip(self.mixers, self.mix_lns, self.ffns, self.ffn_lns):');
  py('            x = ln(x + mixer(x, row_mask, key_pad))');
  py('            for ffn, ffn_ln in zip(ffns, ffn_lns):');
  py('                x = ffn_ln(x + ffn(x))');
  const pool = genome.pool ?? 'cls';
  if (pool === 'cls') py('        summary = x[:, 0]');
  else if (pool === 'max') py('        summary = (x + ((1 - mask) * NEG_INF)[:, :, None]).max(1).values');
  else py('        summary = (x * (mask / mask.sum(1, keepdim=True))[:, :, None]).sum(1)');
  py('        return self.cls(torch.tanh(self.pool(summary)))');
  py('');
  py('');
  py('def load(folder=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")):');
  py('    """The model with the weights of <folder>/model.safetensors, in eval mode."""');
  py('    return OpnasModel(load_safetensors(os.path.join(folder, "model.safetensors"))).eval()');
  py('');
  return out.join('\n');
}

function attentionBody(g: AttentionGraph, dh: number, py: (s: string) => void): void {
  const info = analyse(g).info!;
  const ref = (r: string | number) => (typeof r === 'number' ? `n${r}` : r);
  g.nodes.forEach((n, i) => {
    const [a, b] = n.in.map(ref);
    const shape = info.shapes[i];
    let e: string;
    switch (n.op) {
      case 'neg': e = `-${a}`; break;
      case 'transpose': e = `${a}.transpose(-1, -2)`; break;
      case 'scale': e = `${a} / math.sqrt(${dh})`; break;
      case 'softmax': {
        const terms = [a];
        const m = parseMask(g.mask);
        if (shape[0] === 'T' && shape[1] === 'T' && typeof m !== 'string' && m.kind !== 'none') terms.push('mask');
        if (shape[1] === 'T') terms.push('key_pad');
        e = `torch.softmax(${terms.join(' + ')}, -1)`;
        break;
      }
      case 'logsigmoid': e = `F.logsigmoid(${a})`; break;
      case 'softsign': e = `F.softsign(${a})`; break;
      case 'sigmoid': e = `torch.sigmoid(${a})`; break;
      case 'tanh': e = `torch.tanh(${a})`; break;
      case 'relu': e = `F.relu(${a})`; break;
      case 'squared_relu': e = `sq_relu(${a})`; break;
      case 'softplus': e = `F.softplus(${a})`; break;
      case 'add': e = `${a} + ${b}`; break;
      case 'mul': e = `${a} * ${b}`; break;
      case 'max': e = `torch.maximum(${a}, ${b})`; break;
      case 'matmul': e = `${a} @ ${b}`; break;
      case 'cosine': e = `cosine(${a}, ${b})`; break;
      default: throw new Error(`pytorch export: no torch form for attention op '${n.op}'`);
    }
    py(`        n${i} = ${e}  # [${shape.join(', ')}]`);
  });
  py(`        out = n${g.nodes.length - 1}`);
}

function ffnExpr(n: FfnNode): string {
  const ins = (n.in ?? []).map(ffnExpr);
  switch (n.op) {
    case 'x': return 'x';
    case 'L1': return `self.L1(${ins[0]})`;
    case 'L2': return `self.L2(${ins[0]})`;
    case 'gelu': return `gelu(${ins[0]})`;
    case 'relu': return `F.relu(${ins[0]})`;
    case 'tanh': return `torch.tanh(${ins[0]})`;
    case 'sigmoid': return `torch.sigmoid(${ins[0]})`;
    case 'leaky_relu': return `F.leaky_relu(${ins[0]}, 0.01)`;
    case 'elu': return `F.elu(${ins[0]})`;
    case 'swish': return `F.silu(${ins[0]})`;
    case 'squared_relu': return `sq_relu(${ins[0]})`;
    case 'add': return `(${ins[0]} + ${ins[1]})`;
    case 'mul': return `(${ins[0]} * ${ins[1]})`;
    case 'max': return `torch.maximum(${ins[0]}, ${ins[1]})`;
    default: throw new Error(`pytorch export: no torch form for FFN op '${n.op}'`);
  }
}
