import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { KEY_PREFIX } from './redis.js';

/**
 * What a job needs besides its candidate (the evaluator's config with the run's tokenizer, the task's
 * files, the batch's supernet checkpoint) travels through Redis by content: each file is stored once
 * under the SHA-256 of its bytes, jobs name hashes, and a worker fetches what it lacks into a local
 * cache, checking every hash. So workers share no file system with the coordinator, never read a
 * path a job names, and a changed file is a different hash, never a stale copy.
 */

export const BLOB_KEY = `${KEY_PREFIX}blob:`;
/** Stored blobs expire this long after a coordinator last stored or touched them. */
export const BLOB_TTL_SECONDS = 7 * 24 * 3600;
const SHA256 = /^[0-9a-f]{64}$/;

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
export const isSha256 = (s: unknown): s is string => typeof s === 'string' && SHA256.test(s);
/** A stored file named by its hash and, optionally, its extension. */
const FILE_REF = /^([0-9a-f]{64})(\.[a-z0-9]{1,8})?$/;
export const isFileRef = (s: unknown): s is string => typeof s === 'string' && FILE_REF.test(s);

/** A folder (a supernet checkpoint) as one blob: its file names and their hashes. */
interface FolderManifest {
  format: 'opnas-folder';
  files: Record<string, string>;
}

/** Coordinator side: store blobs (once per hash, refreshed) and remember what it stored, to store it again after Redis lost it. */
export class BlobStore {
  /** Everything stored by this process: hash -> how to read its bytes again. */
  private readonly known = new Map<string, () => Buffer>();
  /** A folder manifest's hash -> its files' hashes. */
  private readonly children = new Map<string, string[]>();

  constructor(private readonly redis: Redis) {}

  /** Store bytes; returns their hash. */
  async put(read: () => Buffer): Promise<string> {
    const data = read();
    const hash = sha256(data);
    this.known.set(hash, read);
    await this.write(hash, data);
    return hash;
  }

  putJson(value: unknown): Promise<string> {
    const text = JSON.stringify(value);
    return this.put(() => Buffer.from(text));
  }

  putFile(path: string): Promise<string> {
    return this.put(() => readFileSync(path));
  }

  /** A folder's regular files (not its sub-folders, not *.tmp) and a manifest naming them. */
  async putFolder(dir: string): Promise<string> {
    const files: Record<string, string> = {};
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (name.endsWith('.tmp') || !statSync(p).isFile()) continue;
      files[name] = await this.putFile(p);
    }
    const hash = await this.putJson({ format: 'opnas-folder', files } satisfies FolderManifest);
    this.children.set(hash, Object.values(files));
    return hash;
  }

  /** Say that `hash` needs `children` (a setup, its task files and base checkpoint): ensure() stores them together. */
  depends(hash: string, children: string[]): void {
    this.children.set(hash, [...(this.children.get(hash) ?? []), ...children]);
  }

  /** Make sure each hash is in Redis (a restarted server without persistence has lost them): store again what is missing. */
  async ensure(hashes: Iterable<string>): Promise<void> {
    for (const h of hashes) {
      const read = this.known.get(h);
      if (!read) continue;
      if ((await this.redis.expire(BLOB_KEY + h, BLOB_TTL_SECONDS)) !== 1) await this.write(h, read());
      await this.ensure(this.children.get(h) ?? []);
    }
  }

  private async write(hash: string, data: Buffer): Promise<void> {
    await this.redis.set(BLOB_KEY + hash, data, 'EX', BLOB_TTL_SECONDS);
  }
}

/** Worker side: blobs fetched from Redis into `dir`, verified, kept for the next job. */
export class BlobCache {
  constructor(
    private readonly redis: Redis,
    readonly dir: string,
  ) {
    mkdirSync(join(dir, 'blobs'), { recursive: true });
  }

  /**
   * The local path of a blob, fetched when missing. A file reference may end in the original file's
   * extension (`<hash>.tsv`), which the local copy keeps: task files are read by their extension.
   */
  async file(ref: string): Promise<string> {
    const m = FILE_REF.exec(String(ref));
    if (!m) throw new Error(`not a file hash: ${String(ref).slice(0, 80)}`);
    const hash = m[1];
    const path = join(this.dir, 'blobs', ref);
    if (existsSync(path)) return path;
    const data = await this.redis.getBuffer(BLOB_KEY + hash);
    if (!data) throw new Error(`blob ${hash.slice(0, 12)} is not in Redis (expired, or the server lost it)`);
    if (sha256(data) !== hash) throw new Error(`blob ${hash.slice(0, 12)} does not match its hash: refused`);
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, data);
    renameSync(tmp, path);
    return path;
  }

  async json(hash: string): Promise<unknown> {
    return JSON.parse(readFileSync(await this.file(hash), 'utf8'));
  }

  /** A folder stored with BlobStore.putFolder, rebuilt under the cache (once per hash). */
  async folder(hash: string): Promise<string> {
    const dir = join(this.dir, 'folders', hash);
    if (existsSync(join(dir, '.complete'))) return dir;
    const m = (await this.json(hash)) as FolderManifest;
    if (m?.format !== 'opnas-folder' || typeof m.files !== 'object' || m.files === null) throw new Error(`blob ${hash.slice(0, 12)} is not a folder manifest`);
    mkdirSync(dir, { recursive: true });
    for (const [name, h] of Object.entries(m.files)) {
      // names only, never paths: a manifest cannot write outside its folder
      if (!/^[\w][\w.-]*$/.test(name)) throw new Error(`folder ${hash.slice(0, 12)}: bad file name '${name.slice(0, 80)}'`);
      copyFileSync(await this.file(h), join(dir, name));
    }
    writeFileSync(join(dir, '.complete'), '');
    return dir;
  }
}
