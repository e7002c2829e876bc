import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { OpnasError } from '../spaces/base/errors.js';

/** Contents of `run.lock`: who holds the run. */
export interface LockInfo {
  pid: number;
  host: string;
  started: string;
  /**
   * The holder's start time in clock ticks since boot (/proc/PID/stat, field 22), where the system
   * has /proc: with it a pid reused by another process after a crash is not mistaken for the holder.
   */
  startTicks?: number;
}

/** A lock file younger than this that cannot be parsed is being written by its creator right now. */
const FRESH_MS = 10_000;

const held = new Map<string, LockInfo>();
let exitHookInstalled = false;

/** A process's start time in clock ticks since boot, from /proc/PID/stat; undefined without /proc. */
export function processStartTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[22 - 3]);
    return Number.isFinite(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the lock's holder is still running: its pid is alive and, where known, started when the lock says. */
function holderAlive(info: LockInfo): boolean {
  if (!pidAlive(info.pid)) return false;
  if (info.startTicks === undefined) return true;
  const now = processStartTicks(info.pid);
  return now === undefined || now === info.startTicks;
}

/** Whether a process with this pid is alive on this host (EPERM: alive, but someone else's). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readLock(path: string): LockInfo | undefined {
  try {
    const x = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
    return Number.isInteger(x?.pid) && x.pid > 0 ? x : undefined;
  } catch {
    return undefined;
  }
}

/** The live holder of a lock file, or undefined when there is none or it is stale. */
export function lockHolder(path: string): LockInfo | undefined {
  const info = readLock(path);
  if (!info) return undefined;
  return info.host !== hostname() || holderAlive(info) ? info : undefined;
}

/**
 * Take `path` for this process: created exclusively, so of two processes racing for it one wins.
 * A lock whose process is gone (a run killed with SIGKILL, a crashed machine) is taken over.
 */
export function acquireLock(path: string, what: string): void {
  for (let attempt = 0; attempt < 3; attempt++) {
    const ticks = processStartTicks(process.pid);
    const info: LockInfo = { pid: process.pid, host: hostname(), started: new Date().toISOString(), ...(ticks !== undefined ? { startTicks: ticks } : {}) };
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, JSON.stringify(info) + '\n');
      } finally {
        closeSync(fd);
      }
      held.set(path, info);
      installExitHook();
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') throw new OpnasError(`${what}: cannot write in ${dirname(path)} (${code}); the run folder must be writable`);
      if (code !== 'EEXIST') throw new OpnasError(`${what}: cannot create ${path} (${code ?? (e as Error).message})`);
    }
    if (isFolder(path)) throw new OpnasError(`${what}: ${path} is a folder, not a lock file; remove it if no opnas process is using the run`);
    const other = readLock(path);
    if (!other) {
      if (Date.now() - mtimeMs(path) < FRESH_MS) throw new OpnasError(`${what} is being opened by another process (${path} was just created)`);
    } else if (other.pid === process.pid && other.host === hostname()) {
      throw new OpnasError(`${what} is already open in this process`);
    } else if (other.host !== hostname()) {
      throw new OpnasError(
        `${what} is in use by process ${other.pid} on ${other.host} (started ${other.started}); if that process is gone, delete ${path}`,
      );
    } else if (holderAlive(other)) {
      throw new OpnasError(
        `${what} is in use by process ${other.pid} (started ${other.started}); if that is not an opnas process working on it, delete ${path}`,
      );
    }
    // stale (or unreadable and old): remove it and race for it again, unless another process
    // already replaced it
    if (!other || sameLock(readLock(path), other)) {
      try {
        unlinkSync(path);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT') throw new OpnasError(`${what}: cannot remove the stale lock ${path} (${code ?? (e as Error).message})`);
      }
    }
  }
  throw new OpnasError(`${what}: could not take ${path} (other processes keep taking it)`);
}

/** Remove the lock if this process still holds it. */
export function releaseLock(path: string): void {
  const mine = held.get(path);
  if (!mine) return;
  held.delete(path);
  if (!sameLock(readLock(path), mine)) return;
  try {
    unlinkSync(path);
  } catch {
    // already gone: nothing to release
  }
}

function sameLock(a: LockInfo | undefined, b: LockInfo | undefined): boolean {
  return !!a && !!b && a.pid === b.pid && a.host === b.host && a.started === b.started;
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function mtimeMs(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** A process that exits without closing its runs (an error, process.exit) still frees them. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const path of [...held.keys()]) releaseLock(path);
  });
}
