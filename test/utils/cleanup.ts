/**
 * Last-resort cleanup: if a test process exits (normally, by an uncaught error, or by
 * SIGINT/SIGTERM/SIGHUP) without destroying its clusters, kill the processes it started
 * and delete the namespaces and directories it made. Only things registered here by
 * this process are touched.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

const pids = new Set<number>();
/** Namespace name -> number of registrations (normally 1). Insertion order is creation order. */
const namespaces = new Map<string, number>();
const dirs = new Set<string>();
/** Synchronous extra steps (e.g. dockerd's containerd and shims, which leave the process group). */
const exitHooks = new Set<() => void>();
let installed = false;

/** Signals a process group, falling back to the single pid. Returns false if neither existed. */
export function signalGroup(pid: number, signal: NodeJS.Signals | number): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

export function trackPid(pid: number): void {
  pids.add(pid);
  install();
}
export function untrackPid(pid: number): void {
  pids.delete(pid);
}
export function trackNamespace(name: string): void {
  namespaces.set(name, (namespaces.get(name) ?? 0) + 1);
  install();
}
export function untrackNamespace(name: string): void {
  namespaces.delete(name);
}
export function trackDir(path: string): void {
  dirs.add(path);
  install();
}
export function untrackDir(path: string): void {
  dirs.delete(path);
}
export function trackExitHook(fn: () => void): void {
  exitHooks.add(fn);
  install();
}
export function untrackExitHook(fn: () => void): void {
  exitHooks.delete(fn);
}

/** Synchronous: kill every tracked process group, delete every tracked namespace and dir. */
export function emergencyCleanup(): void {
  for (const fn of exitHooks) {
    try {
      fn();
    } catch {
      /* best effort */
    }
  }
  exitHooks.clear();
  for (const pid of pids) signalGroup(pid, 'SIGKILL');
  pids.clear();
  // Newest first: containers and hosts before the underlay they hang off.
  for (const name of [...namespaces.keys()].reverse()) {
    try {
      execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore', timeout: 10_000 });
    } catch {
      /* already gone */
    }
  }
  namespaces.clear();
  if (process.env.MESHPLANE_KEEP_TMP === '1') dirs.clear();
  for (const dir of dirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      /* ignore */
    }
  }
  dirs.clear();
}

const SIGNALS = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', emergencyCleanup);
  for (const [sig, num] of Object.entries(SIGNALS) as [NodeJS.Signals, number][]) {
    const onSignal = () => {
      const hasWork = pids.size > 0 || namespaces.size > 0 || dirs.size > 0 || exitHooks.size > 0;
      if (hasWork) process.stderr.write(`\n[netns harness] ${sig}: removing this run's namespaces and processes\n`);
      emergencyCleanup();
      // If we are the only listener, keep the default meaning of the signal (terminate).
      if (process.listenerCount(sig) <= 1) process.exit(128 + num);
    };
    process.on(sig, onSignal);
  }
}
