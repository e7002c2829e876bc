// The page `opnas export --web` writes: classifies what is typed with model.onnx in ONNX Runtime
// Web (WebAssembly, one thread, no cross-origin isolation needed), tokenizing exactly as opnas does:
// lower-case, NFC, the words and single symbols that tokenizer.json's split pattern matches (the
// pattern opnas itself uses), word-level ids ([UNK] outside the vocabulary) or WordPiece pieces, `[CLS] a [SEP]`
// (`[CLS] a [SEP] b [SEP]` for sentence pairs, truncated longest-first) and at most
// config.max_length tokens. Every file it reads lies beside it; nothing is fetched from elsewhere.
/* global ort */
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const status = (text, state) => {
    $('status').textContent = text;
    $('status').dataset.state = state;
  };

  async function getJson(file) {
    const r = await fetch(file);
    if (!r.ok) throw new Error(`${file}: HTTP ${r.status}`);
    return r.json();
  }

  /**
   * The tokenizer opnas writes (Hugging Face tokenizer.json, WordLevel or WordPiece); anything else
   * is refused. WordPiece splits each word greedily, longest piece first, continuations carrying
   * the prefix (##); a word with no split, or longer than max_input_chars_per_word code points, is [UNK].
   */
  function makeTokenizer(tok, maxLen) {
    const model = tok && tok.model;
    const pre = tok && tok.pre_tokenizer;
    if (!model || (model.type !== 'WordLevel' && model.type !== 'WordPiece') || !model.vocab) throw new Error('tokenizer.json is not a WordLevel or WordPiece tokenizer written by opnas');
    if (!pre || pre.type !== 'Split' || !pre.pattern || typeof pre.pattern.Regex !== 'string' || pre.invert !== true) throw new Error('tokenizer.json: its pre-tokenizer is not the split opnas writes');
    const norms = ((tok.normalizer && tok.normalizer.normalizers) || []).map((n) => n.type).join(',');
    if (norms !== 'Lowercase,NFC') throw new Error(`tokenizer.json: normalizers ${norms || 'none'}, expected Lowercase,NFC`);
    const re = new RegExp(pre.pattern.Regex, 'gu');
    const vocab = new Map(Object.entries(model.vocab));
    const special = (t) => {
      if (!vocab.has(t)) throw new Error(`tokenizer.json has no ${t} token`);
      return vocab.get(t);
    };
    const UNK = special(model.unk_token || '[UNK]');
    const CLS = special('[CLS]');
    const SEP = special('[SEP]');
    const prefix = model.continuing_subword_prefix ?? '##';
    const maxChars = model.max_input_chars_per_word ?? 100;
    const pieces = (word) => {
      const chars = Array.from(word);
      if (chars.length > maxChars) return [UNK];
      const out = [];
      for (let start = 0; start < chars.length; ) {
        let end = chars.length;
        let id;
        for (; end > start; end--) {
          id = vocab.get((start > 0 ? prefix : '') + chars.slice(start, end).join(''));
          if (id !== undefined) break;
        }
        if (id === undefined) return [UNK];
        out.push(id);
        start = end;
      }
      return out;
    };
    const ids = model.type === 'WordPiece' ? (w) => pieces(w) : (w) => [vocab.has(w) ? vocab.get(w) : UNK];
    const words = (text) => (text.toLowerCase().normalize('NFC').match(re) || []).flatMap(ids);
    return {
      size: vocab.size,
      encode(text, pair) {
        const x = words(text);
        if (pair === undefined || pair === null) return [CLS, ...x.slice(0, Math.max(0, maxLen - 2)), SEP];
        const y = words(pair);
        let nx = x.length;
        let ny = y.length;
        while (nx + ny > maxLen - 3) {
          if (nx >= ny) nx--;
          else ny--;
        }
        return [CLS, ...x.slice(0, nx), SEP, ...y.slice(0, ny), SEP];
      },
    };
  }

  /** Softmax as opnas predict computes it (max subtracted, double precision). */
  function softmax(logits) {
    const m = Math.max(...logits);
    const e = logits.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  }

  async function start() {
    // the wasm files sit beside this page; one thread, so no SharedArrayBuffer (cross-origin isolation) is needed
    ort.env.wasm.wasmPaths = new URL('./', location.href).href;
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    const [config, tok] = await Promise.all([getJson('config.json'), getJson('tokenizer.json')]);
    const labels = config.task && config.task.labelNames;
    if (!Array.isArray(labels) || labels.length < 2) throw new Error('config.json lists no labels (task.labelNames)');
    const tokenizer = makeTokenizer(tok, config.max_length);
    const session = await ort.InferenceSession.create('model.onnx', { executionProviders: ['wasm'] });
    const pair = config.task.pair === true;

    let busy = Promise.resolve();
    /** Classify one text (and its pair sentence): label, probabilities, token ids, forward time in ms. */
    function classify(text, second) {
      const run = busy.then(async () => {
        const ids = tokenizer.encode(String(text), pair ? String(second ?? '') : undefined);
        const n = ids.length;
        const feeds = {
          input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [1, n]),
          attention_mask: new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
        };
        const t0 = performance.now();
        const out = await session.run(feeds);
        const ms = performance.now() - t0;
        const logits = Array.from(out.logits.data);
        const p = softmax(logits);
        const index = logits.indexOf(Math.max(...logits));
        return { text: String(text), label: labels[index], index, probs: Object.fromEntries(labels.map((l, i) => [l, p[i]])), ids, ms };
      });
      busy = run.catch(() => {});
      return run;
    }
    // the first run sets up kernels: do it now, so the first typed example's time is a real one
    await classify('', '');

    // the page's API, for the console and for tests
    window.opnas = {
      config,
      classify,
      encode: (text, second) => tokenizer.encode(String(text), second === undefined ? undefined : String(second)),
      // another tokenizer.json's encoder (what this page would do with it)
      tokenizer: (tok, maxLen) => makeTokenizer(tok, maxLen),
    };

    const g = config.genome || {};
    $('title').textContent = `opnas model: ${config.task.name}`;
    document.title = `opnas: ${config.task.name}`;
    const params = config.cost && config.cost.params ? `, ${(config.cost.params / 1e6).toFixed(2)}M parameters` : '';
    const dev = config.scores && config.scores.dev ? `; dev ${config.metric} ${(100 * config.scores.dev[config.metric]).toFixed(2)}` : '';
    $('about').textContent = `${(g.layers || []).length} layers, hidden ${g.hidden}${params}; classes ${labels.join(', ')}${dev}.`;
    if (pair) $('pair-row').hidden = false;

    function show(r, keep) {
      const result = $('result');
      result.hidden = false;
      $('label').textContent = r.label;
      $('latency').textContent = `(forward ${r.ms.toFixed(2)} ms, ${r.ids.length} tokens)`;
      const body = $('probs').tBodies[0];
      body.replaceChildren(
        ...labels.map((l) => {
          const tr = document.createElement('tr');
          tr.dataset.label = l;
          tr.dataset.prob = String(r.probs[l]);
          const bar = document.createElement('span');
          bar.style.width = `${(100 * r.probs[l]).toFixed(1)}%`;
          const cells = [l, `${(100 * r.probs[l]).toFixed(2)}%`, bar].map((c) => {
            const td = document.createElement('td');
            td.append(c);
            return td;
          });
          cells[2].className = 'bar';
          tr.append(...cells);
          return tr;
        }),
      );
      $('tokens').textContent = `token ids: ${r.ids.join(' ')}`;
      result.dataset.text = r.text;
      if (keep) {
        const tr = document.createElement('tr');
        for (const c of [r.text, r.label, `${(100 * r.probs[r.label]).toFixed(2)}%`, r.ms.toFixed(2)]) {
          const td = document.createElement('td');
          td.textContent = c;
          tr.append(td);
        }
        $('history').tBodies[0].prepend(tr);
        $('history-section').hidden = false;
      }
    }

    let latest = 0;
    async function update(keep) {
      const text = $('text').value;
      const second = $('pair').value;
      const mine = ++latest;
      if (text.trim() === '' && !keep) {
        $('result').hidden = true;
        return;
      }
      try {
        const r = await classify(text, second);
        if (mine === latest || keep) show(r, keep);
      } catch (e) {
        status(`Could not classify: ${e.message}`, 'error');
      }
    }
    $('text').addEventListener('input', () => update(false));
    $('pair').addEventListener('input', () => update(false));
    $('text').addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey) {
        e.preventDefault();
        update(true);
      }
    });
    $('form').addEventListener('submit', (e) => {
      e.preventDefault();
      update(true);
    });
    for (const id of ['text', 'pair', 'classify']) $(id).disabled = false;
    $('text').focus();
    status(`Ready: ${tokenizer.size} tokens, at most ${config.max_length} per example.`, 'ready');
  }

  start().catch((e) => {
    status(`Could not load the model: ${e && e.message ? e.message : e}`, 'error');
    // a clear line in the console too, for whoever debugs it
    console.error('opnas page:', e);
  });
})();
