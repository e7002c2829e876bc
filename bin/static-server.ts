import { createReadStream, realpathSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, relative, resolve, sep, isAbsolute } from 'node:path';
import { OpnasError } from '../spaces/base/errors.js';

/**
 * A small static file server for `opnas serve`: GET and HEAD of files under one folder, with the
 * MIME types a page with WebAssembly needs (application/wasm, so browsers compile it streaming).
 * Paths that lead outside the folder (`..`, encoded or not, or a symbolic link out of it) are
 * refused with 403; a folder serves its index.html.
 */

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.safetensors': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
};

export function mimeType(path: string): string {
  return MIME[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

export interface StaticServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** Serve `dir` on host:port (port 0: a free one). Rejects with an OpnasError when the port is taken. */
export async function serveStatic(dirIn: string, opts: { port: number; host: string }): Promise<StaticServer> {
  const dir = resolve(dirIn);
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new OpnasError(`${dirIn}: no such folder (opnas export RUN --web DIR writes a page to serve)`);
  }
  if (!st.isDirectory()) throw new OpnasError(`${dirIn} is a file; give the folder to serve`);
  const root = realpathSync(dir);
  const server = createServer((req, res) => {
    const send = (code: number, text: string, extra: Record<string, string> = {}) => {
      res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', ...extra });
      res.end(req.method === 'HEAD' ? undefined : `${text}\n`);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed', { Allow: 'GET, HEAD' });
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      return send(400, 'bad request');
    }
    if (path.includes('\0')) return send(400, 'bad request');
    let file = join(root, path);
    if (!inside(root, file)) return send(403, 'forbidden');
    let real: string;
    try {
      real = realpathSync(file);
      if (statSync(real).isDirectory()) {
        file = join(real, 'index.html');
        real = realpathSync(file);
      }
    } catch {
      return send(404, 'not found');
    }
    // a symbolic link may lead out of the folder
    if (!inside(root, real)) return send(403, 'forbidden');
    let size: number;
    try {
      const s = statSync(real);
      if (!s.isFile()) return send(404, 'not found');
      size = s.size;
    } catch {
      return send(404, 'not found');
    }
    res.writeHead(200, { 'Content-Type': mimeType(real), 'Content-Length': String(size), 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' });
    if (req.method === 'HEAD') return res.end();
    const stream = createReadStream(real);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') fail(new OpnasError(`port ${opts.port} on ${opts.host} is in use: pick another with --port (--port 0 takes a free one)`));
      else if (e.code === 'EACCES') fail(new OpnasError(`port ${opts.port} on ${opts.host}: permission denied (ports below 1024 need privileges; pick another with --port)`));
      else if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') fail(new OpnasError(`--host ${opts.host}: not an address of this machine`));
      else fail(new OpnasError(`cannot listen on ${opts.host}:${opts.port} (${e.code ?? e.message})`));
    });
    server.listen(opts.port, opts.host, () => ok());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    server,
    url: `http://${host}:${addr.port}/`,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
