/**
 * WordPiece: training a sub-word vocabulary from word counts, and splitting a word into pieces.
 *
 * Training is the frequency-based variant the Hugging Face tokenizers library uses for its
 * WordPieceTrainer (which runs its BPE trainer with a continuation prefix; BPE as in Sennrich,
 * Haddow and Birch 2016, "Neural Machine Translation of Rare Words with Subword Units"): every word
 * starts as its characters, all but the first written with the `##` prefix ("film" = f ##i ##l ##m);
 * the vocabulary starts as those symbols, most frequent first; then, until the vocabulary is full,
 * the most frequent adjacent pair of symbols (counted over the words, weighted by how often each
 * word occurs) is merged everywhere into one symbol, which joins the vocabulary. Ties go to the pair
 * whose symbols entered the vocabulary first, so the same counts always give the same vocabulary.
 * (WordPiece as first described, Schuster and Nakajima 2012, scores merges by likelihood instead.)
 *
 * Splitting is BERT's greedy longest-match-first (Wu et al. 2016; the `WordPiece` model of the
 * tokenizers library): from the word's start, take the longest prefix that is in the vocabulary,
 * then the longest `##`-prefixed piece from where it ended, and so on; a word with a position no
 * piece matches, or longer than 100 characters, is one [UNK]. Characters are Unicode code points,
 * as in that library.
 */

export const WORDPIECE_PREFIX = '##';
/** Words longer than this (in code points) are [UNK], as the tokenizers library's default. */
export const WORDPIECE_MAX_CHARS = 100;

/** The pieces of one word (greedy longest match), or undefined when it must be [UNK]. */
export function wordPieces(word: string, vocab: { has(token: string): boolean }): string[] | undefined {
  const chars = Array.from(word);
  if (chars.length > WORDPIECE_MAX_CHARS) return undefined;
  const out: string[] = [];
  let start = 0;
  while (start < chars.length) {
    let end = chars.length;
    let piece: string | undefined;
    for (; end > start; end--) {
      const s = (start > 0 ? WORDPIECE_PREFIX : '') + chars.slice(start, end).join('');
      if (vocab.has(s)) {
        piece = s;
        break;
      }
    }
    if (piece === undefined) return undefined;
    out.push(piece);
    start = end;
  }
  return out;
}

/** A max-heap of (count, pair) with stale entries skipped on pop: ordered by count, then older symbols first. */
class PairHeap {
  private readonly items: [count: number, a: number, b: number][] = [];

  private before(x: [number, number, number], y: [number, number, number]): boolean {
    return x[0] !== y[0] ? x[0] > y[0] : x[1] !== y[1] ? x[1] < y[1] : x[2] < y[2];
  }

  push(item: [number, number, number]): void {
    const h = this.items;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  pop(): [number, number, number] | undefined {
    const h = this.items;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.before(h[l], h[m])) m = l;
        if (r < h.length && this.before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

/**
 * The WordPiece vocabulary (without special tokens) of at most `size` entries, from word counts.
 * If the alphabet alone is larger than `size`, its most frequent symbols are kept.
 */
export function trainWordPiece(counts: ReadonlyMap<string, number>, size: number): string[] {
  // words in code-point order, so nothing depends on the order the counts were collected in
  const entries = [...counts].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const symbolFreq = new Map<string, number>();
  const spelled = entries.map(([w, n]) => {
    const s = Array.from(w).map((c, i) => (i === 0 ? c : WORDPIECE_PREFIX + c));
    for (const x of s) symbolFreq.set(x, (symbolFreq.get(x) ?? 0) + n);
    return s;
  });
  const alphabet = [...symbolFreq].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([s]) => s);
  const vocab = alphabet.slice(0, size);
  if (vocab.length >= size) return vocab;

  // symbols by id (ids in vocabulary order; a merge that spells an existing token reuses its id)
  const symbols = [...vocab];
  const idOf = new Map(symbols.map((s, i) => [s, i]));
  const inVocab = new Set(vocab);
  // a word holding a symbol outside the kept alphabet takes no part in merges
  const words: number[][] = [];
  const freq: number[] = [];
  spelled.forEach((s, i) => {
    if (s.every((x) => idOf.has(x))) {
      words.push(s.map((x) => idOf.get(x)!));
      freq.push(entries[i][1]);
    }
  });
  const KEY = 2 ** 24;
  const key = (a: number, b: number) => a * KEY + b;
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addPairs = (w: number, sign: 1 | -1) => {
    const s = words[w];
    for (let i = 0; i + 1 < s.length; i++) {
      const k = key(s[i], s[i + 1]);
      pairCount.set(k, (pairCount.get(k) ?? 0) + sign * freq[w]);
      if (sign > 0) {
        let set = pairWords.get(k);
        if (!set) pairWords.set(k, (set = new Set()));
        set.add(w);
      }
    }
  };
  words.forEach((_, w) => addPairs(w, 1));
  const heap = new PairHeap();
  for (const [k, n] of pairCount) heap.push([n, Math.floor(k / KEY), k % KEY]);

  while (vocab.length < size) {
    const top = heap.pop();
    if (!top) break; // every word is one symbol: nothing left to merge
    const [n, a, b] = top;
    const k = key(a, b);
    if (n <= 0 || pairCount.get(k) !== n) continue; // stale entry
    const merged = symbols[a] + (symbols[b].startsWith(WORDPIECE_PREFIX) ? symbols[b].slice(WORDPIECE_PREFIX.length) : symbols[b]);
    let id = idOf.get(merged);
    if (id === undefined) {
      id = symbols.length;
      symbols.push(merged);
      idOf.set(merged, id);
    }
    if (!inVocab.has(merged)) {
      inVocab.add(merged);
      vocab.push(merged);
    }
    const touched = new Set<number>();
    for (const w of [...(pairWords.get(k) ?? [])].sort((x, y) => x - y)) {
      const s = words[w];
      let has = false;
      for (let i = 0; i + 1 < s.length; i++) if (s[i] === a && s[i + 1] === b) has = true;
      if (!has) continue;
      addPairs(w, -1);
      for (let i = 0; i + 1 < s.length; i++) touched.add(key(s[i], s[i + 1]));
      const next: number[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          next.push(id);
          i++;
        } else next.push(s[i]);
      }
      words[w] = next;
      addPairs(w, 1);
      for (let i = 0; i + 1 < next.length; i++) touched.add(key(next[i], next[i + 1]));
    }
    pairWords.delete(k);
    pairCount.delete(k);
    for (const t of touched) {
      const c = pairCount.get(t);
      if (c !== undefined && c > 0 && t !== k) heap.push([c, Math.floor(t / KEY), t % KEY]);
      else if (c !== undefined && c <= 0) pairCount.delete(t);
    }
  }
  return vocab;
}
