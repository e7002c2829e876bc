import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/**
 * A throw-away redis-server (Debian's package, which .ci/run installs when it is missing) on a free
 * loopback port, without persistence: the distributed search's tests and `npm run bench:queue` run
 * against it and stop it afterwards.
 */

export interface RedisServer {
  port: number;
  url: string;
  /** Stop the server (SIGTERM, then wait for its exit). */
  stop(): Promise<void>;
  /** Stop and start it again on the same port (a restart mid-search), empty. */
  restart(): Promise<void>;
}

/** A TCP port nothing listens on now, from the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A certificate and key (PEM files) to serve TLS only, on the port (`rediss://`). */
export interface TlsFiles {
  cert: string;
  key: string;
}

function launch(port: number, password?: string, tls?: TlsFiles): Promise<ChildProcess> {
  const listen = tls ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-auth-clients', 'no'] : ['--port', String(port)];
  const args = [...listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...(password ? ['--requirepass', password] : [])];
  return new Promise((resolve, reject) => {
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (/Ready to accept connections/.test(out)) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', (e) => reject(new Error(`cannot start redis-server (is it installed? apt-get install redis-server): ${e.message}`)));
    child.on('exit', (code) => reject(new Error(`redis-server exited (code ${code}) before it was ready:\n${out}`)));
  });
}

export async function startRedis(o: { password?: string; tls?: TlsFiles } = {}): Promise<RedisServer> {
  const port = await freePort();
  let child = await launch(port, o.password, o.tls);
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  return {
    port,
    url: `${o.tls ? 'rediss' : 'redis'}://${o.password ? `:${o.password}@` : ''}127.0.0.1:${port}`,
    stop,
    async restart() {
      await stop();
      child = await launch(port, o.password, o.tls);
    },
  };
}
