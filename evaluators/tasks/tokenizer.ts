/**
 * Tokenizers trained on a task's training text: word-level (the default) or WordPiece.
 *
 * Text is lower-cased and NFC-normalised, then split into words (runs of letters, combining marks
 * and digits) and single punctuation/symbol characters. Word-level: the vocabulary is the four
 * special tokens followed by the most frequent training tokens (ties broken by code-point order,
 * so training is deterministic); words outside it become [UNK]. WordPiece: the vocabulary is grown
 * from characters by merges (wordpiece.ts) and each word is split into the longest pieces it holds,
 * so an unseen word becomes pieces instead of [UNK].
 */
import { OpnasError } from '../../spaces/base/errors.js';
import { trainWordPiece, WORDPIECE_MAX_CHARS, WORDPIECE_PREFIX, wordPieces } from './wordpiece.js';

export const PAD = 0;
export const UNK = 1;
export const CLS = 2;
export const SEP = 3;
export const SPECIAL_TOKENS: readonly string[] = ['[PAD]', '[UNK]', '[CLS]', '[SEP]'];

const TOKEN_RE = /[\p{L}\p{M}\p{N}]+|[^\s\p{L}\p{M}\p{N}]/gu;
const FORMAT = 'opnas-word-tokenizer';
const WORDPIECE_FORMAT = 'opnas-wordpiece-tokenizer';
const VERSION = 1;

/** How words become ids: one id per word (unseen words [UNK]) or WordPiece sub-words. */
export type TokenizerModel = 'wordlevel' | 'wordpiece';
export const TOKENIZER_MODELS: readonly TokenizerModel[] = ['wordlevel', 'wordpiece'];

/** A saved tokenizer (in run files and weights folders). Word-level keeps its original type, so old runs read as before. */
export interface TokenizerJSON {
  type: typeof FORMAT | typeof WORDPIECE_FORMAT;
  version: typeof VERSION;
  vocab: string[];
}

/** One clear error for a --tokenizer value that is not a known model. */
export function checkTokenizerModel(v: unknown, what = '--tokenizer'): TokenizerModel {
  if (!TOKENIZER_MODELS.includes(v as TokenizerModel)) throw new OpnasError(`${what} must be ${TOKENIZER_MODELS.join(' or ')}, got ${JSON.stringify(v)}`);
  return v as TokenizerModel;
}

/** Lower-cased words and punctuation of a text, in order. */
export function splitWords(text: string): string[] {
  return text.toLowerCase().normalize('NFC').match(TOKEN_RE) ?? [];
}

/**
 * TOKEN_RE for Oniguruma (the tokenizers library) and JavaScript alike: JavaScript's `\s` spelled
 * out as its characters, since the two engines' `\s` differ (U+FEFF, U+0085).
 */
const JS_SPACE = '\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff';
export const HF_TOKEN_PATTERN = `[\\p{L}\\p{M}\\p{N}]+|[^${JS_SPACE}\\p{L}\\p{M}\\p{N}]`;

/** The parts of a Hugging Face `tokenizer.json` that opnas writes. */
export interface HuggingFaceTokenizer {
  version: string;
  truncation: { direction: string; max_length: number; strategy: string; stride: number };
  padding: null;
  added_tokens: { id: number; content: string; single_word: boolean; lstrip: boolean; rstrip: boolean; normalized: boolean; special: boolean }[];
  normalizer: unknown;
  pre_tokenizer: { type: 'Split'; pattern: { Regex: string }; behavior: string; invert: boolean };
  post_processor: unknown;
  decoder: null | { type: 'WordPiece'; prefix: string; cleanup: boolean };
  model:
    | { type: 'WordLevel'; vocab: Record<string, number>; unk_token: string }
    | { type: 'WordPiece'; vocab: Record<string, number>; unk_token: string; continuing_subword_prefix: string; max_input_chars_per_word: number };
}

/** The vocabulary of a `tokenizer.json` that opnas wrote (anything else is refused: its ids would mean other words). */
function vocabOfHuggingFace(o: Record<string, unknown>, bad: (why: string) => never): TokenizerJSON {
  const model = o.model as Record<string, unknown>;
  if (model?.type !== 'WordLevel' && model?.type !== 'WordPiece') bad(`a Hugging Face tokenizer must be WordLevel or WordPiece to be read by opnas, got ${JSON.stringify(model?.type)}`);
  if (model.type === 'WordPiece') {
    if (model.continuing_subword_prefix !== WORDPIECE_PREFIX) bad(`a WordPiece tokenizer must use the continuation prefix "${WORDPIECE_PREFIX}", got ${JSON.stringify(model.continuing_subword_prefix)}`);
    if ((model.max_input_chars_per_word ?? WORDPIECE_MAX_CHARS) !== WORDPIECE_MAX_CHARS) bad(`a WordPiece tokenizer must have max_input_chars_per_word ${WORDPIECE_MAX_CHARS}, got ${JSON.stringify(model.max_input_chars_per_word)}`);
  }
  const pre = o.pre_tokenizer as Record<string, unknown> | null;
  const pattern = (pre?.pattern as Record<string, unknown> | undefined)?.Regex;
  if (pattern !== HF_TOKEN_PATTERN) bad('the pre-tokenizer is not the one opnas writes (its words would split differently)');
  const vocab = model.vocab;
  if (vocab === null || typeof vocab !== 'object' || Array.isArray(vocab)) bad('"model.vocab" must be an object of token -> id');
  const list: string[] = [];
  for (const [t, id] of Object.entries(vocab as Record<string, unknown>)) {
    if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= Object.keys(vocab as object).length) bad(`"model.vocab" id of ${JSON.stringify(t)} must be an integer 0..size-1, got ${JSON.stringify(id)}`);
    if (list[id as number] !== undefined) bad(`"model.vocab" gives id ${id} twice`);
    list[id as number] = t;
  }
  return { type: model.type === 'WordPiece' ? WORDPIECE_FORMAT : FORMAT, version: VERSION, vocab: list };
}

export class Tokenizer {
  private readonly ids: Map<string, number>;
  /** WordPiece: the pieces of each word seen so far (words repeat a lot). */
  private readonly pieceCache = new Map<string, number[]>();

  private constructor(
    private readonly vocab: readonly string[],
    readonly model: TokenizerModel = 'wordlevel',
  ) {
    this.ids = new Map(vocab.map((t, i) => [t, i]));
  }

  /**
   * Build the vocabulary from training texts (pass the pair texts too for pair tasks). The same
   * texts give the same vocabulary: nothing here is random.
   */
  static train(texts: Iterable<string>, vocabSize: number, model: TokenizerModel = 'wordlevel'): Tokenizer {
    if (!Number.isInteger(vocabSize) || vocabSize < SPECIAL_TOKENS.length + 1) {
      throw new OpnasError(`tokenizer: vocabulary size must be an integer >= ${SPECIAL_TOKENS.length + 1}, got ${vocabSize}`);
    }
    checkTokenizerModel(model, 'tokenizer model');
    const counts = new Map<string, number>();
    for (const t of texts) for (const w of splitWords(t)) counts.set(w, (counts.get(w) ?? 0) + 1);
    if (model === 'wordpiece') return new Tokenizer([...SPECIAL_TOKENS, ...trainWordPiece(counts, vocabSize - SPECIAL_TOKENS.length)], 'wordpiece');
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
    if (o.type === undefined && typeof o.model === 'object') return Tokenizer.fromJSON(vocabOfHuggingFace(o, bad));
    if (o.type !== FORMAT && o.type !== WORDPIECE_FORMAT) bad(`"type" must be "${FORMAT}" or "${WORDPIECE_FORMAT}", got ${JSON.stringify(o.type)}`);
    const wordpiece = o.type === WORDPIECE_FORMAT;
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
        // a WordPiece continuation "##iece" is a piece of a word: the part after the prefix must be one
        const word = wordpiece && (t as string).startsWith(WORDPIECE_PREFIX) ? (t as string).slice(WORDPIECE_PREFIX.length) : (t as string);
        const parts = splitWords(word);
        if (parts.length !== 1 || parts[0] !== word) bad(`vocab[${i}] ${JSON.stringify(t)} is not a single lower-cased ${wordpiece ? 'word piece' : 'token'}`);
      }
    });
    return new Tokenizer(vocab as string[], wordpiece ? 'wordpiece' : 'wordlevel');
  }

  toJSON(): TokenizerJSON {
    return { type: this.model === 'wordpiece' ? WORDPIECE_FORMAT : FORMAT, version: VERSION, vocab: [...this.vocab] };
  }

  /**
   * The same tokenizer in the Hugging Face tokenizers format (`tokenizer.json`), so the
   * `tokenizers` library, transformers and transformers.js load it: a WordLevel or WordPiece
   * (`##` continuations, words over 100 characters [UNK]) model over this vocabulary, lower-casing then NFC, a split that keeps exactly the tokens TOKEN_RE matches and
   * drops the whitespace between them, `[CLS] a [SEP] (b [SEP])` around the text, truncation to
   * maxLen. Two known differences, both rare: the text "[CLS]" (any special token, literally)
   * is that special token there and three tokens here; and pairs longer than maxLen are truncated
   * by the library's own longest-first rule, which can keep one token more of the other sentence.
   */
  toHuggingFace(maxLen: number): HuggingFaceTokenizer {
    const special = (content: string) => ({ id: this.id(content), content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    const tok = (id: string, typeId: number) => ({ SpecialToken: { id, type_id: typeId } });
    const seq = (id: 'A' | 'B', typeId: number) => ({ Sequence: { id, type_id: typeId } });
    const vocab = Object.fromEntries(this.vocab.map((t, i) => [t, i]));
    return {
      version: '1.0',
      truncation: { direction: 'Right', max_length: maxLen, strategy: 'LongestFirst', stride: 0 },
      padding: null,
      added_tokens: SPECIAL_TOKENS.map(special),
      normalizer: { type: 'Sequence', normalizers: [{ type: 'Lowercase' }, { type: 'NFC' }] },
      // the tokens are the matches (invert), what lies between them is whitespace and is removed
      pre_tokenizer: { type: 'Split', pattern: { Regex: HF_TOKEN_PATTERN }, behavior: 'Removed', invert: true },
      post_processor: {
        type: 'TemplateProcessing',
        single: [tok('[CLS]', 0), seq('A', 0), tok('[SEP]', 0)],
        pair: [tok('[CLS]', 0), seq('A', 0), tok('[SEP]', 0), seq('B', 1), tok('[SEP]', 1)],
        special_tokens: Object.fromEntries(['[CLS]', '[SEP]'].map((t) => [t, { id: t, ids: [this.id(t)], tokens: [t] }])),
      },
      ...(this.model === 'wordpiece'
        ? {
            decoder: { type: 'WordPiece' as const, prefix: WORDPIECE_PREFIX, cleanup: false },
            model: { type: 'WordPiece' as const, vocab, unk_token: '[UNK]', continuing_subword_prefix: WORDPIECE_PREFIX, max_input_chars_per_word: WORDPIECE_MAX_CHARS },
          }
        : { decoder: null, model: { type: 'WordLevel' as const, vocab, unk_token: '[UNK]' } }),
    };
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  /** Token id of a (lower-cased) word or word piece, or UNK. */
  id(token: string): number {
    return this.ids.get(token) ?? UNK;
  }

  /** Ids of one (lower-cased) word: itself or UNK (word-level); its longest pieces, or one UNK (WordPiece). */
  wordIds(word: string): readonly number[] {
    if (this.model === 'wordlevel') return [this.ids.get(word) ?? UNK];
    let p = this.pieceCache.get(word);
    if (!p) {
      const pieces = wordPieces(word, this.ids);
      p = pieces ? pieces.map((x) => this.ids.get(x)!) : [UNK];
      if (this.pieceCache.size < 200_000) this.pieceCache.set(word, p);
    }
    return p;
  }

  token(id: number): string {
    const t = this.vocab[id];
    if (t === undefined) throw new RangeError(`tokenizer: id ${id} is outside the vocabulary (size ${this.vocab.length})`);
    return t;
  }

  /** Token ids of a text, without special tokens or truncation. */
  tokenize(text: string): number[] {
    const words = splitWords(text);
    if (this.model === 'wordlevel') return words.map((w) => this.ids.get(w) ?? UNK);
    return words.flatMap((w) => this.wordIds(w));
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

  /** Inverse of tokenize up to case and spacing: ids joined by spaces (specials shown by name; WordPiece continuations joined to their word). */
  decode(ids: ArrayLike<number>): string {
    const tokens = Array.from(ids, (i) => this.token(i));
    if (this.model === 'wordlevel') return tokens.join(' ');
    return tokens.map((t, i) => (i > 0 && t.startsWith(WORDPIECE_PREFIX) ? t.slice(WORDPIECE_PREFIX.length) : (i > 0 ? ' ' : '') + t)).join('');
  }

  /** How many words of these texts become [UNK] (word-level: are outside the vocabulary). */
  unknownRate(texts: Iterable<string>): { tokens: number; unknown: number; rate: number } {
    let tokens = 0;
    let unknown = 0;
    for (const t of texts) {
      for (const w of splitWords(t)) {
        tokens++;
        if (this.model === 'wordlevel' ? !this.ids.has(w) : this.wordIds(w)[0] === UNK) unknown++;
      }
    }
    return { tokens, unknown, rate: tokens === 0 ? 0 : unknown / tokens };
  }
}
