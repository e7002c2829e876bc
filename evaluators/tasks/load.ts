/**
 * Loaders for single-sentence and sentence-pair classification data.
 *
 * Formats:
 * - `tsv`: fields split on tabs, no quoting (GLUE files hold raw `"` inside sentences).
 * - `csv`: RFC 4180 (comma-separated, `"` quoting with `""` escapes, newlines inside quotes).
 * - `jsonl`: one JSON object a line; columns are its keys.
 * - `txt`: one example a line, `LABEL text` (label, one space, the rest is the text; the TREC and
 *   fastText layout); its columns are named `label` and `text`.
 *
 * Every problem with the input is an OpnasError naming the file and, where there is one, the line
 * (1-based, as an editor shows it) and column. Nothing is silently dropped or re-decoded: text
 * that is not valid UTF-8 is refused unless the caller asks for Latin-1.
 */
import { readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { OpnasError } from '../../spaces/base/errors.js';

export type DataFormat = 'tsv' | 'csv' | 'jsonl' | 'txt';
export type TextEncoding = 'utf8' | 'latin1';
/** A column by header name (or JSON key) or by 0-based index. */
export type ColumnRef = string | number;

export interface LoadOptions {
  path: string;
  /** Taken from the extension when omitted: .tsv, .csv, .jsonl/.ndjson, .txt. */
  format?: DataFormat;
  /** Whether the first row names the columns (tsv/csv; default true). Ignored for jsonl and txt. */
  header?: boolean;
  /** Names for the columns of a file without a header (e.g. CoLA: source,label,star,sentence). */
  columns?: string[];
  textColumn: ColumnRef;
  textPairColumn?: ColumnRef;
  labelColumn: ColumnRef;
  /** Raw label → class index (0-based). Inferred when omitted: see inferLabelMap. */
  labelMap?: Record<string, number>;
  /** Class names by index; defaults to the label map's keys (or the index itself). */
  labelNames?: string[];
  encoding?: TextEncoding;
  /** Refuse the file when fewer distinct classes occur (2 for a training split). Default 1. */
  minClasses?: number;
}

export interface LoadedData {
  texts: string[];
  /** Second sentence of each example, when textPairColumn was given. */
  pairs?: string[];
  labels: number[];
  /** labelNames[i] is the name of class i. */
  labelNames: string[];
  /** The raw-label → class mapping used (given or inferred); pass it on to load the other splits. */
  labelMap: Record<string, number>;
}

/** One parsed row: its fields and the (1-based) line where it starts. */
export interface Row {
  fields: string[];
  line: number;
}

const FORMAT_BY_EXT: Record<string, DataFormat> = {
  '.tsv': 'tsv',
  '.csv': 'csv',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.txt': 'txt',
};

/** Load one split of a classification data set. */
export function loadClassification(opts: LoadOptions): LoadedData {
  const { path } = opts;
  const text = readText(path, opts.encoding ?? 'utf8');
  const format = opts.format ?? formatFromPath(path);
  if (!['tsv', 'csv', 'jsonl', 'txt'].includes(format)) {
    throw new OpnasError(`${path}: unknown format "${String(format)}" (tsv, csv, jsonl or txt)`);
  }
  if (text.trim() === '') throw new OpnasError(`${path}: the file is empty`);

  let rows: Row[];
  let names: string[] | undefined;
  if (format === 'jsonl') {
    return fromJsonl(path, text, opts);
  } else if (format === 'txt') {
    rows = parseLabelText(path, text);
    names = ['label', 'text'];
  } else {
    rows = format === 'csv' ? parseCsv(path, text) : parseTsv(text);
    if (opts.header ?? true) {
      const head = rows.shift();
      names = head?.fields.map((s) => s.trim());
    }
    if (opts.columns) names = opts.columns;
    if (rows.length === 0) throw new OpnasError(`${path}: no data rows${opts.header ?? true ? ' after the header' : ''}`);
    const width = names ? names.length : rows[0].fields.length;
    for (const r of rows) {
      if (r.fields.length !== width) {
        throw new OpnasError(
          `${path}:${r.line}: ${r.fields.length} field${r.fields.length === 1 ? '' : 's'}, expected ${width}` +
            (format === 'tsv' && r.fields.length > width ? ' (a tab inside a text field?)' : ''),
        );
      }
    }
  }
  const width = rows[0].fields.length;
  const col = (ref: ColumnRef, role: string) => resolveColumn(path, ref, role, names, width);
  const ti = col(opts.textColumn, 'text');
  const pi = opts.textPairColumn === undefined ? undefined : col(opts.textPairColumn, 'text pair');
  const li = col(opts.labelColumn, 'label');

  const texts = rows.map((r) => r.fields[ti]);
  const pairs = pi === undefined ? undefined : rows.map((r) => r.fields[pi]);
  const raw = rows.map((r) => r.fields[li].trim());
  // --no-header on a file that has one: its column name would become a class of one example
  if (opts.header === false && !opts.columns && !opts.labelMap && raw.length > 2) {
    const first = raw[0];
    if (raw.indexOf(first, 1) === -1 && new Set(raw).size < raw.length - 1) {
      throw new OpnasError(`${path}:${rows[0].line}: label ${JSON.stringify(first)} occurs only on this first line; is it a header row? (then drop --no-header)`);
    }
  }
  return finish(path, texts, pairs, raw, rows.map((r) => r.line), opts);
}

export function formatFromPath(path: string): DataFormat {
  const ext = extname(path).toLowerCase();
  const f = FORMAT_BY_EXT[ext];
  if (!f) {
    throw new OpnasError(
      `${path}: cannot tell the format from the extension "${ext}"; pass a format (tsv, csv, jsonl or txt)`,
    );
  }
  return f;
}

/** Read a file as text, refusing invalid UTF-8 with the line and column of the first bad byte. */
export function readText(path: string, encoding: TextEncoding): string {
  let bytes: Buffer;
  try {
    if (statSync(path).isDirectory()) throw new OpnasError(`${path}: is a directory, not a data file`);
    bytes = readFileSync(path);
  } catch (e) {
    if (e instanceof OpnasError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new OpnasError(`${path}: no such file`);
    throw new OpnasError(`${path}: cannot read the file (${code ?? (e as Error).message})`);
  }
  if (encoding === 'latin1') return bytes.toString('latin1');
  if (encoding !== 'utf8') throw new OpnasError(`${path}: unknown encoding "${String(encoding)}" (utf8 or latin1)`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    let lineStart = bytes.lastIndexOf(0x0a, at - 1) + 1;
    if (at === 0) lineStart = 0;
    let line = 1;
    for (let i = 0; i < lineStart; i++) if (bytes[i] === 0x0a) line++;
    const column = [...bytes.subarray(lineStart, at).toString('utf8')].length + 1;
    throw new OpnasError(
      `${path}:${line}:${column}: not valid UTF-8 (byte 0x${bytes[at].toString(16).padStart(2, '0')}); ` +
        `if the file is Latin-1, pass --encoding latin1`,
    );
  }
}

/** Byte offset of the first byte that breaks UTF-8 (RFC 3629), or -1 when all of it is valid. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  const n = b.length;
  while (i < n) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    let len: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c === 0xe0) lo = 0xa0; // no overlong forms
      if (c === 0xed) hi = 0x9f; // no surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f; // nothing above U+10FFFF
    } else return i;
    for (let k = 1; k < len; k++) {
      const d = b[i + k];
      if (i + k >= n) return i;
      if (k === 1 ? d < lo || d > hi : d < 0x80 || d > 0xbf) return i;
    }
    i += len;
  }
  return -1;
}

/** Split into lines (LF or CRLF), keeping 1-based line numbers, dropping blank lines. */
function lines(text: string): { s: string; line: number }[] {
  const out: { s: string; line: number }[] = [];
  const parts = text.split('\n');
  for (let i = 0; i < parts.length; i++) {
    const s = parts[i].endsWith('\r') ? parts[i].slice(0, -1) : parts[i];
    if (s.trim() !== '') out.push({ s, line: i + 1 });
  }
  return out;
}

function parseTsv(text: string): Row[] {
  return lines(text).map(({ s, line }) => ({ fields: s.split('\t'), line }));
}

function parseLabelText(path: string, text: string): Row[] {
  return lines(text).map(({ s, line }) => {
    const sp = s.indexOf(' ');
    if (sp <= 0) throw new OpnasError(`${path}:${line}: expected "LABEL text" (a label, one space, the text)`);
    return { fields: [s.slice(0, sp), s.slice(sp + 1)], line };
  });
}

/**
 * RFC 4180 CSV: fields separated by commas, records by CRLF or LF; a field may be wrapped in
 * double quotes, inside which `""` is a quote and commas and newlines are literal. A quote inside
 * an unquoted field, or text after a closing quote, is an error rather than a guess.
 * Records that are entirely empty (blank lines) are skipped.
 */
export function parseCsv(path: string, text: string): Row[] {
  const rows: Row[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let col = 1;
  let recordLine = 1;
  let i = 0;
  let fieldStarted = false; // the current record has content (a non-empty field or a separator)
  const n = text.length;
  const endRecord = () => {
    if (fieldStarted || field !== '') {
      fields.push(field);
      rows.push({ fields, line: recordLine });
    }
    fields = [];
    field = '';
    fieldStarted = false;
  };
  while (i < n) {
    const ch = text[i];
    if (ch === '"' && field === '') {
      // Quoted field: read to the closing quote.
      const startLine = line;
      const startCol = col;
      i++;
      col++;
      let closed = false;
      while (i < n) {
        const c = text[i];
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            col += 2;
            continue;
          }
          i++;
          col++;
          closed = true;
          break;
        }
        if (c === '\n') {
          line++;
          col = 1;
        } else col++;
        field += c;
        i++;
      }
      if (!closed) throw new OpnasError(`${path}:${startLine}:${startCol}: quoted field is never closed`);
      fieldStarted = true;
      const next = text[i];
      if (i < n && next !== ',' && next !== '\n' && next !== '\r') {
        throw new OpnasError(`${path}:${line}:${col}: unexpected ${JSON.stringify(next)} after a closing quote`);
      }
      continue;
    }
    if (ch === ',') {
      fields.push(field);
      field = '';
      fieldStarted = true;
      i++;
      col++;
      continue;
    }
    if (ch === '\n' || (ch === '\r' && text[i + 1] === '\n')) {
      endRecord();
      i += ch === '\r' ? 2 : 1;
      line++;
      col = 1;
      recordLine = line;
      continue;
    }
    if (ch === '"') {
      throw new OpnasError(`${path}:${line}:${col}: a quote inside an unquoted field (quote the whole field and double the quote)`);
    }
    field += ch;
    i++;
    col++;
  }
  endRecord();
  return rows;
}

function fromJsonl(path: string, text: string, opts: LoadOptions): LoadedData {
  const key = (ref: ColumnRef, role: string): string => {
    if (typeof ref === 'number') {
      throw new OpnasError(`${path}: jsonl columns are named by key, not by index (${role} column ${ref})`);
    }
    return ref;
  };
  const tk = key(opts.textColumn, 'text');
  const pk = opts.textPairColumn === undefined ? undefined : key(opts.textPairColumn, 'text pair');
  const lk = key(opts.labelColumn, 'label');
  const texts: string[] = [];
  const pairs: string[] | undefined = pk === undefined ? undefined : [];
  const raw: string[] = [];
  const lineNos: number[] = [];
  for (const { s, line } of lines(text)) {
    let obj: unknown;
    try {
      obj = JSON.parse(s);
    } catch (e) {
      throw new OpnasError(`${path}:${line}: malformed JSON (${(e as Error).message})`);
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw new OpnasError(`${path}:${line}: expected a JSON object, got ${Array.isArray(obj) ? 'an array' : JSON.stringify(obj)}`);
    }
    const o = obj as Record<string, unknown>;
    const get = (k: string, role: string): unknown => {
      if (!(k in o)) {
        throw new OpnasError(`${path}:${line}: no ${role} field "${k}" (fields: ${Object.keys(o).join(', ') || 'none'})`);
      }
      return o[k];
    };
    const str = (k: string, role: string): string => {
      const v = get(k, role);
      if (typeof v !== 'string') throw new OpnasError(`${path}:${line}: ${role} field "${k}" is not a string (${JSON.stringify(v)})`);
      return v;
    };
    texts.push(str(tk, 'text'));
    if (pairs && pk !== undefined) pairs.push(str(pk, 'text pair'));
    const lv = get(lk, 'label');
    if (typeof lv === 'string') raw.push(lv.trim());
    else if (typeof lv === 'number' || typeof lv === 'boolean') raw.push(String(lv));
    else throw new OpnasError(`${path}:${line}: label field "${lk}" must be a string, number or boolean (${JSON.stringify(lv)})`);
    lineNos.push(line);
  }
  if (texts.length === 0) throw new OpnasError(`${path}: no data rows`);
  return finish(path, texts, pairs, raw, lineNos, opts);
}

function resolveColumn(path: string, ref: ColumnRef, role: string, names: string[] | undefined, width: number): number {
  const available = names
    ? names.map((nm, i) => `${JSON.stringify(nm)} (${i})`).join(', ')
    : `0..${width - 1} (the file has no header; name columns by index or pass column names)`;
  if (typeof ref === 'number') {
    if (!Number.isInteger(ref) || ref < 0 || ref >= width) {
      throw new OpnasError(`${path}: no ${role} column ${ref}; rows have ${width} column${width === 1 ? '' : 's'}: ${available}`);
    }
    return ref;
  }
  const i = names ? names.indexOf(ref) : -1;
  if (i < 0 || i >= width) throw new OpnasError(`${path}: no ${role} column "${ref}"; available: ${available}`);
  return i;
}

/**
 * The label map used when none is given: the distinct labels, sorted numerically when every one
 * is an integer (so 0/1 stay 0/1 and 1..5 become 0..4), otherwise by code point.
 */
export function inferLabelMap(raw: readonly string[]): Record<string, number> {
  const distinct = [...new Set(raw)];
  const numeric = distinct.every((s) => /^-?\d+$/.test(s));
  distinct.sort(numeric ? (a, b) => Number(a) - Number(b) : (a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const map: Record<string, number> = {};
  distinct.forEach((s, i) => (map[s] = i));
  return map;
}

/**
 * Labels like 0.5 or 1.67 are scores of a regression task: taken as classes, each distinct value
 * would become a class of its own. opnas trains classifiers, so say so instead (an explicit label
 * map still names such values as classes; 0.0 and 1.0 are classes already).
 */
function refuseFractionalLabels(path: string, raw: readonly string[], lineNos: readonly number[]): void {
  const r = raw.findIndex((s) => s.trim() !== '' && Number.isFinite(Number(s)) && !Number.isInteger(Number(s)));
  if (r < 0) return;
  throw new OpnasError(
    `${path}:${lineNos[r]}: label ${JSON.stringify(raw[r])} is a fractional number: opnas trains classifiers, and a label column of scores (regression) is not supported; if these values are classes, name them with --label-map (e.g. "${raw[r]}=0,...")`,
  );
}

function finish(
  path: string,
  texts: string[],
  pairs: string[] | undefined,
  raw: string[],
  lineNos: number[],
  opts: LoadOptions,
): LoadedData {
  if (!opts.labelMap) refuseFractionalLabels(path, raw, lineNos);
  const labelMap = opts.labelMap ?? inferLabelMap(raw);
  validateLabelMap(path, labelMap);
  const map = new Map(Object.entries(labelMap));
  const labels = new Array<number>(raw.length);
  for (let r = 0; r < raw.length; r++) {
    if (raw[r] === '') throw new OpnasError(`${path}:${lineNos[r]}: the label is empty`);
    const v = map.get(raw[r]);
    if (v === undefined) {
      const known = [...map.keys()].map((k) => JSON.stringify(k)).join(', ');
      throw new OpnasError(`${path}:${lineNos[r]}: label ${JSON.stringify(raw[r])} is not in the label map (known: ${known})`);
    }
    labels[r] = v;
  }
  const numClasses = Math.max(...map.values()) + 1;
  let labelNames: string[];
  if (opts.labelNames) {
    if (opts.labelNames.length < numClasses) {
      throw new OpnasError(`${path}: ${opts.labelNames.length} label names for ${numClasses} classes`);
    }
    labelNames = [...opts.labelNames];
  } else {
    labelNames = Array.from({ length: numClasses }, (_, i) => String(i));
    const named = new Set<number>();
    for (const [k, v] of map) {
      if (!named.has(v)) {
        labelNames[v] = k;
        named.add(v);
      }
    }
  }
  const minClasses = opts.minClasses ?? 1;
  const present = new Set(labels);
  if (present.size < minClasses) {
    const which = [...present].map((c) => JSON.stringify(labelNames[c])).join(', ');
    throw new OpnasError(
      `${path}: only ${present.size === 1 ? 'one class' : `${present.size} classes`} (${which}) present in a training split; ` +
        `a classifier needs at least ${minClasses}`,
    );
  }
  return pairs ? { texts, pairs, labels, labelNames, labelMap } : { texts, labels, labelNames, labelMap };
}

function validateLabelMap(path: string, m: Record<string, number>): void {
  const entries = Object.entries(m);
  if (entries.length === 0) throw new OpnasError(`${path}: the label map is empty`);
  for (const [k, v] of entries) {
    if (!Number.isInteger(v) || v < 0) {
      throw new OpnasError(`${path}: label map entry ${JSON.stringify(k)} → ${JSON.stringify(v)} is not a class index (an integer >= 0)`);
    }
  }
  // class ids are output positions: a skipped id would be a class no example can have
  const ids = new Set(entries.map(([, v]) => v));
  const missing = Array.from({ length: Math.max(...ids) + 1 }, (_, i) => i).filter((i) => !ids.has(i));
  if (missing.length) {
    throw new OpnasError(`${path}: the label map's class ids must run 0..${ids.size - 1} with none skipped; it uses ${[...ids].sort((a, b) => a - b).join(', ')} (missing ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''})`);
  }
}

/**
 * Texts to classify, from a file in one of the loaders' formats: with their labels when the file
 * has the label column (read exactly as loadClassification reads them, through `labelMap`),
 * without when it has none. `lines` is one text a line, nothing else.
 */
export function loadTexts(opts: Omit<LoadOptions, 'format'> & { format?: DataFormat | 'lines' }): { texts: string[]; pairs?: string[]; labels?: number[] } {
  const { path } = opts;
  const format = opts.format ?? formatFromPath(path);
  const text = readText(path, opts.encoding ?? 'utf8');
  if (text.trim() === '') throw new OpnasError(`${path}: the file is empty`);
  if (format === 'lines') return { texts: lines(text).map((l) => l.s) };
  let hasLabel: boolean;
  if (format === 'jsonl') {
    const first = lines(text)[0];
    let obj: unknown;
    try {
      obj = JSON.parse(first.s);
    } catch (e) {
      throw new OpnasError(`${path}:${first.line}: malformed JSON (${(e as Error).message})`);
    }
    hasLabel = obj !== null && typeof obj === 'object' && String(opts.labelColumn) in (obj as object);
  } else if (format === 'tsv' || format === 'csv') {
    const rows = format === 'csv' ? parseCsv(path, text) : parseTsv(text);
    const header = opts.header ?? true;
    const names = opts.columns ?? (header ? rows[0]?.fields.map((s) => s.trim()) : undefined);
    const width = rows[0]?.fields.length ?? 0;
    hasLabel = typeof opts.labelColumn === 'number' ? opts.labelColumn < width : (names ?? []).includes(opts.labelColumn);
    if (!hasLabel) {
      const body = header ? rows.slice(1) : rows;
      if (body.length === 0) throw new OpnasError(`${path}: no data rows${header ? ' after the header' : ''}`);
      const ti = resolveColumn(path, opts.textColumn, 'text', names, width);
      const pi = opts.textPairColumn === undefined ? undefined : resolveColumn(path, opts.textPairColumn, 'text pair', names, width);
      for (const r of body) if (r.fields.length !== width) throw new OpnasError(`${path}:${r.line}: ${r.fields.length} fields, expected ${width}`);
      return { texts: body.map((r) => r.fields[ti]), ...(pi === undefined ? {} : { pairs: body.map((r) => r.fields[pi]) }) };
    }
  } else hasLabel = true;
  if (!hasLabel) {
    // jsonl without labels: read every object's text
    const tk = String(opts.textColumn);
    const pk = opts.textPairColumn === undefined ? undefined : String(opts.textPairColumn);
    const texts: string[] = [];
    const pairs: string[] = [];
    for (const { s, line } of lines(text)) {
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(s);
      } catch (e) {
        throw new OpnasError(`${path}:${line}: malformed JSON (${(e as Error).message})`);
      }
      const get = (k: string, role: string) => {
        const v = o?.[k];
        if (typeof v !== 'string') throw new OpnasError(`${path}:${line}: no ${role} field "${k}" holding a string`);
        return v;
      };
      texts.push(get(tk, 'text'));
      if (pk !== undefined) pairs.push(get(pk, 'text pair'));
    }
    return { texts, ...(pk === undefined ? {} : { pairs }) };
  }
  const d = loadClassification({ ...opts, format: format as DataFormat });
  return { texts: d.texts, ...(d.pairs ? { pairs: d.pairs } : {}), labels: d.labels };
}
