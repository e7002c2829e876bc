import { OpnasError } from '../../spaces/base/errors.js';

/**
 * The safetensors layout (Hugging Face's weight format), float32 only, written and read here: it is
 * small enough that a dependency would add more than it saves. A file is
 *   8 bytes   N, the header's length, unsigned 64-bit little-endian
 *   N bytes   JSON: {name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
 *             "__metadata__": {string: string}}, padded with spaces to a multiple of 8
 *   the rest  every tensor's raw little-endian bytes; offsets count from the end of the header.
 */

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

export function encodeSafetensors(tensors: Map<string, NamedTensor>, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length) throw new Error(`safetensors: '${name}' has ${t.data.length} values for shape [${t.shape}]`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * size] };
    offset += 4 * size;
  }
  let json = JSON.stringify(header);
  const raw = Buffer.byteLength(json);
  json += ' '.repeat((8 - (raw % 8)) % 8); // the data then starts 8-byte aligned
  const n = Buffer.byteLength(json);
  const out = Buffer.alloc(8 + n + offset);
  out.writeBigUInt64LE(BigInt(n), 0);
  out.write(json, 8, 'utf8');
  let at = 8 + n;
  for (const t of tensors.values()) {
    const bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    if (isBigEndianHost) for (let i = 0; i < t.data.length; i++) out.writeFloatLE(t.data[i], at + 4 * i);
    else bytes.copy(out, at);
    at += bytes.length;
  }
  return out;
}

const isBigEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 0;

/** Every tensor of a safetensors file; `what` names the file in errors. */
export function decodeSafetensors(buf: Buffer, what: string): { tensors: Map<string, NamedTensor>; metadata: Record<string, string> } {
  const bad = (why: string): never => {
    throw new OpnasError(`${what}: ${why}`);
  };
  if (buf.length < 8) bad(`only ${buf.length} bytes: the file is truncated or not safetensors`);
  const n = buf.readBigUInt64LE(0);
  if (n > BigInt(buf.length - 8)) bad(`the header says it is ${n} bytes long but the file has ${buf.length - 8} after the length: the file is truncated or not safetensors`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + Number(n)).toString('utf8'));
  } catch {
    return bad('the header is not JSON: the file is damaged or not safetensors');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) bad('the header is not a JSON object');
  const dataStart = 8 + Number(n);
  const dataBytes = buf.length - dataStart;
  const tensors = new Map<string, NamedTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (v ?? {}) as Record<string, string>;
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e?.dtype !== 'F32') bad(`'${name}' has dtype ${JSON.stringify(e?.dtype)}; opnas reads F32`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((x) => Number.isInteger(x) && x >= 0)) bad(`'${name}' has no valid shape`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((x) => Number.isInteger(x) && x >= 0)) bad(`'${name}' has no valid data_offsets`);
    const [begin, end] = off as [number, number];
    const size = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== 4 * size) bad(`'${name}' spans ${end - begin} bytes, its shape [${shape}] needs ${4 * size}`);
    if (end > dataBytes) bad(`'${name}' ends at byte ${end} of the data but the file holds ${dataBytes}: the file is truncated`);
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) data[i] = buf.readFloatLE(dataStart + begin + 4 * i);
    tensors.set(name, { shape: shape as number[], data });
  }
  return { tensors, metadata };
}
