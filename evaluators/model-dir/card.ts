import { renderMixer } from '../../spaces/backbone.js';
import { renderFfn } from '../../spaces/ffn-tree.js';
import { DCONV_WIDTH } from '../../spaces/attention-graph.js';
import type { ModelConfigFile } from './folder.js';

/** README.md of a model folder: what it is, how it scored, what it computes, where it came from. */
export function modelCard(c: ModelConfigFile): string {
  const g = c.genome;
  const pct = (x: number) => (100 * x).toFixed(2);
  const count = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n));
  const lines: string[] = [];
  lines.push(`---`, `library_name: opnas`, `pipeline_tag: text-classification`, `tags: [opnas, neural-architecture-search]`, `---`, ``);
  lines.push(`# opnas model: ${c.task.name}`, ``);
  lines.push(`A ${g.layers.length}-layer classifier (hidden ${g.hidden}, ${g.heads} heads${g.embed ? `, ${g.embed}-wide factorised embedding` : ''}, ${c.pool} pooling) found and trained with opnas ${c.opnas_version}.`, ``);
  lines.push(`## Data`, ``);
  lines.push(`Task \`${c.task.name}\`, metric ${c.metric}, ${c.num_labels} classes in this order: ${c.task.labelNames.map((n) => `\`${n}\``).join(', ')}${c.task.pair ? ' (sentence pairs)' : ''}.`, ``);
  if (c.task.sources) lines.push(`- train: ${c.task.sources.train}`, `- dev: ${c.task.sources.dev}`, `- test: ${c.task.sources.test}`, ``);
  const tokenizer = c.tokenizer_model === 'wordpiece' ? 'WordPiece (words split into the longest `##` pieces of the vocabulary)' : 'word-level (one id per word, unseen words `[UNK]`)';
  lines.push(`Tokenizer: ${tokenizer}, ${c.vocab_size} tokens trained on the training split, lower-cased, \`[CLS] text [SEP]\`, at most ${c.max_length} tokens (\`tokenizer.json\`, Hugging Face format).`, ``);
  lines.push(`## Scores`, ``);
  if (c.scores) {
    lines.push(`| split | accuracy | F1 | MCC |`, `|---|---|---|---|`);
    lines.push(`| dev | ${pct(c.scores.dev.accuracy)} | ${pct(c.scores.dev.f1)} | ${pct(c.scores.dev.mcc)} |`);
    lines.push(`| test | ${pct(c.scores.test.accuracy)} | ${pct(c.scores.test.f1)} | ${pct(c.scores.test.mcc)} |`, ``);
    lines.push(`One training, seed ${c.seed}${c.train?.steps ? `, at most ${c.train.steps} steps` : ''}; the weights are those with the best dev ${c.metric} (early stopping), test was never used to choose.`, ``);
  } else lines.push(`Not scored.`, ``);
  if (c.cost) {
    lines.push(`Parameters ${count(c.cost.params)} (${c.cost.params}), ${count(c.cost.flopsPerToken)} FLOPs per token (analytic, at ${c.max_length} tokens).`, ``);
    const lat = c.cost.latency ?? [{ runtime: 'tfjs', label: 'TF.js', ms: c.cost.latencyMs, how: 'median of 5' }];
    lines.push(`Forward latency of one ${c.max_length}-token example, measured on the machine that wrote this folder:`, ``);
    lines.push(`| runtime | ms | how |`, `|---|---|---|`);
    for (const l of lat) lines.push(`| ${l.label}${l.runtime === 'tfjs' ? ' (opnas, training)' : ' (`model.onnx`)'} | ${l.ms.toFixed(2)} | ${l.how} |`);
    lines.push('');
    if (c.cost.latency_note) lines.push(c.cost.latency_note, '');
  }
  lines.push(`## What it computes`, ``);
  lines.push('Post-LayerNorm encoder (BERT); `LN` is LayerNorm over channels (eps 1e-6), dense layers are `x W + b`.', '');
  lines.push('```');
  lines.push(`x = LN(${g.embed ? 'tok[ids] W_e' : 'tok[ids]'} + pos[0..T))`);
  g.layers.forEach((l, i) => {
    if (l.mixer.type === 'attention') {
      const gr = l.mixer.graph;
      lines.push(`layer ${i}: attention, per head (d_head ${g.hidden / g.heads}), Q, K, V = x W_q, x W_k, x W_v${gr.dconv ? ` each followed by a width-${DCONV_WIDTH} depthwise conv over positions` : ''}`);
      lines.push(`         A = ${renderMixer(l.mixer)}${gr.mask && gr.mask !== 'none' ? `   (mask ${gr.mask} on [T,T] scores)` : ''}`);
      lines.push(`         x = LN(x + concat_heads(A) W_o)`);
    } else {
      lines.push(`layer ${i}: lightweight conv, kernel ${l.mixer.kernel}: u = GLU(x W_in); y = depthwise conv of u, one softmax-normalised kernel per head; x = LN(x + y W_out)`);
    }
    for (let s = 0; s < l.ffn.stack; s++) lines.push(`         x = LN(x + ${renderFfn(l.ffn.tree)})   (FFN ${s + 1}/${l.ffn.stack}, L1: ${g.hidden} -> ${Math.round(l.ffn.ratio * g.hidden)}, L2 back)`);
  });
  const readout = c.pool === 'cls' ? 'x[CLS]' : c.pool === 'mean' ? 'mean of x over real tokens' : 'max of x over real tokens, per channel';
  lines.push(`logits = tanh(${readout} W_p + b_p) W_c + b_c`);
  lines.push('```', '');
  lines.push(`## Files and use`, ``);
  lines.push('- `config.json`: the genome, widths, labels, scores; `tokenizer.json`; `model.safetensors` (weights under opnas names, dense weights `[in, out]`).');
  lines.push('- `model.onnx`: ONNX (opset 17) for ONNX Runtime: inputs `input_ids` and `attention_mask` (int64 [batch, seq], ids from `tokenizer.json`), output `logits` [batch, ' + c.num_labels + '].');
  lines.push('- `pytorch/model.py`: the same model in plain PyTorch (`import model; model.load()(input_ids, attention_mask)`), reading `model.safetensors` with numpy.');
  lines.push('- `opnas predict THIS_FOLDER --text "..."`, or `loadModel(dir).predict(texts)` from the opnas library.', '');
  if (c.origin) {
    lines.push(`## Where it came from`, ``);
    for (const [k, v] of Object.entries(c.origin)) lines.push(`- ${k}: ${typeof v === 'string' || typeof v === 'number' ? v : JSON.stringify(v)}`);
    lines.push('');
  }
  return lines.join('\n');
}
