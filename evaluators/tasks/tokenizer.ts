/**
 * Word-level tokenizer trained on a task's training text.
 *
 * Text is lower-cased and NFC-normalised, then split into words (runs of letters, combining marks
 * and digits) and single punctuation/symbol characters. The vocabulary is the four special tokens
 * followed by the most frequent training tokens (ties broken by code-point order, so training is
 * deterministic); words outside it become [UNK].
 */
import { OpnasError } from '../../spaces/errors.js';

export const PAD = 0;
export const UNK = 1;
export const CLS = 2;
export const SEP = 3;
export const SPECIAL_TOKENS: readonly string[] = ['[PAD]', '[UNK]', '[CLS]', '[SEP]'];

const TOKEN_RE = /[\p{L}\p{M}\p{N}]+|[^\s\p{L}\p{M}\p{N}]/gu;
const FORMAT = 'opnas-word-tokenizer';
const VERSION = 1;

export interface TokenizerJSON {
  type: typeof FORMAT;
  version: typeof VERSION;
  vocab: string[];
}

/** Lower-cased words and punctuation of a text, in order. */
export function splitWords(text: string): string[] {
  return text.toLowerCase().normalize('NFC').match(TOKEN_RE) ?? [];
}

export class Tokenizer {
  private readonly ids: Map<string, number>;

  private constructor(private readonly vocab: readonly string[]) {
    this.ids = new Map(vocab.map((t, i) => [t, i]));
  }

  /** Build the vocabulary from training texts (pass the pair texts too for pair tasks). */
  static train(texts: Iterable<string>, vocabSize: number): Tokenizer {
    if (!Number.isInteger(vocabSize) || vocabSize < SPECIAL_TOKENS.length + 1) {
      throw new OpnasError(`tokenizer: vocabulary size must be an integer >= ${SPECIAL_TOKENS.length + 1}, got ${vocabSize}`);
    }
    const counts = new Map<string, number>();
    for (const t of texts) for (const w of splitWords(t)) counts.set(w, (counts.get(w) ?? 0) + 1);
    const ranked = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const words = ranked.slice(0, vocabSize - SPECIAL_TOKENS.length).map(([w]) => w);
    return new Tokenizer([...SPECIAL_TOKENS, ...words]);
  }

  static fromJSON(obj: unknown): Tokenizer {
    const bad = (why: string): never => {
      throw new OpnasError(`tokenizer file: ${why}`);
    };
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) bad('expected a JSON object');
    const o = obj as Record<string, unknown>;
    if (o.type !== FORMAT) bad(`"type" must be "${FORMAT}", got ${JSON.stringify(o.type)}`);
    if (o.version !== VERSION) bad(`unsupported "version" ${JSON.stringify(o.version)} (this opnas reads ${VERSION})`);
    if (!Array.isArray(o.vocab)) bad('"vocab" must be an array of strings');
    const vocab = o.vocab as unknown[];
    if (vocab.length <= SPECIAL_TOKENS.length) bad(`"vocab" has ${vocab.length} entries; it needs the ${SPECIAL_TOKENS.length} special tokens and at least one more`);
    SPECIAL_TOKENS.forEach((s, i) => {
      if (vocab[i] !== s) bad(`vocab[${i}] must be ${JSON.stringify(s)}, got ${JSON.stringify(vocab[i])}`);
    });
    const seen = new Set<string>();
    vocab.forEach((t, i) => {
      if (typeof t !== 'string' || t === '') bad(`vocab[${i}] must be a non-empty string, got ${JSON.stringify(t)}`);
      if (seen.has(t as string)) bad(`vocab[${i}] ${JSON.stringify(t)} appears twice`);
      seen.add(t as string);
      if (i >= SPECIAL_TOKENS.length) {
        const parts = splitWords(t as string);
        if (parts.length !== 1 || parts[0] !== t) bad(`vocab[${i}] ${JSON.stringify(t)} is not a single lower-cased token`);
      }
    });
    return new Tokenizer(vocab as string[]);
  }

  toJSON(): TokenizerJSON {
    return { type: FORMAT, version: VERSION, vocab: [...this.vocab] };
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  /** Token id of a (lower-cased) word, or UNK. */
  id(token: string): number {
    return this.ids.get(token) ?? UNK;
  }

  token(id: number): string {
    const t = this.vocab[id];
    if (t === undefined) throw new RangeError(`tokenizer: id ${id} is outside the vocabulary (size ${this.vocab.length})`);
    return t;
  }

  /** Word ids of a text, without special tokens or truncation. */
  tokenize(text: string): number[] {
    return splitWords(text).map((w) => this.ids.get(w) ?? UNK);
  }

  /**
   * `[CLS] text [SEP]` or `[CLS] text [SEP] pair [SEP]`, at most maxLen ids, no padding.
   * Pairs are truncated longest-first (as BERT does), so both sentences keep some tokens.
   */
  encode(text: string, maxLen: number): Int32Array;
  encode(text: string, pair: string | undefined | null, maxLen: number): Int32Array;
  encode(text: string, a: number | string | undefined | null, b?: number): Int32Array {
    const pair = typeof a === 'number' ? undefined : (a ?? undefined);
    const maxLen = typeof a === 'number' ? a : b;
    if (maxLen === undefined || !Number.isInteger(maxLen) || maxLen < (pair === undefined ? 2 : 3)) {
      throw new RangeError(`tokenizer.encode: maxLen must be an integer >= ${pair === undefined ? 2 : 3}, got ${maxLen}`);
    }
    const x = this.tokenize(text);
    if (pair === undefined) {
      const n = Math.min(x.length, maxLen - 2);
      const out = new Int32Array(n + 2);
      out[0] = CLS;
      for (let i = 0; i < n; i++) out[i + 1] = x[i];
      out[n + 1] = SEP;
      return out;
    }
    const y = this.tokenize(pair);
    let nx = x.length;
    let ny = y.length;
    while (nx + ny > maxLen - 3) {
      if (nx >= ny) nx--;
      else ny--;
    }
    const out = new Int32Array(nx + ny + 3);
    out[0] = CLS;
    for (let i = 0; i < nx; i++) out[1 + i] = x[i];
    out[1 + nx] = SEP;
    for (let i = 0; i < ny; i++) out[2 + nx + i] = y[i];
    out[2 + nx + ny] = SEP;
    return out;
  }

  /** Encode a whole split. */
  encodeAll(texts: readonly string[], pairs: readonly string[] | undefined, maxLen: number): Int32Array[] {
    if (pairs && pairs.length !== texts.length) {
      throw new RangeError(`tokenizer.encodeAll: ${texts.length} texts but ${pairs.length} pairs`);
    }
    return texts.map((t, i) => this.encode(t, pairs ? pairs[i] : undefined, maxLen));
  }

  /** Inverse of tokenize up to case and spacing: ids joined by spaces (specials shown by name). */
  decode(ids: ArrayLike<number>): string {
    return Array.from(ids, (i) => this.token(i)).join(' ');
  }

  /** How many word tokens of these texts are outside the vocabulary. */
  unknownRate(texts: Iterable<string>): { tokens: number; unknown: number; rate: number } {
    let tokens = 0;
    let unknown = 0;
    for (const t of texts) {
      for (const w of splitWords(t)) {
        tokens++;
        if (!this.ids.has(w)) unknown++;
      }
    }
    return { tokens, unknown, rate: tokens === 0 ? 0 : unknown / tokens };
  }
}
