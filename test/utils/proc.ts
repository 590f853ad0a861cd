/**
 * Running commands inside network namespaces, with every child tracked so it can be
 * killed (by pid / process group, never by name) when a cluster is destroyed or the
 * test process dies.
 */
import { spawn as spawnChild, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { signalGroup, trackPid, untrackPid } from './cleanup.js';

export interface ExecOptions {
  /** Written to the command's stdin (stdin is closed after). */
  input?: string | Uint8Array;
  /** Kill the command (SIGKILL, whole process group) after this long. Default 60 000 ms. */
  timeoutMs?: number;
  /** Extra environment, merged over process.env (an `undefined` value removes a variable). */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Throw an ExecError when the command exits non-zero or times out. Default false. */
  check?: boolean;
  /** Enter the namespace with `nsenter --net=…` instead of `ip netns exec` (keeps /sys and mounts as they are). */
  nsenter?: boolean;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit code; 128+signal number when killed by a signal. */
  code: number;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
}

export class ExecError extends Error {
  override readonly name = 'ExecError';
  constructor(
    readonly argv: readonly string[],
    readonly result: ExecResult,
  ) {
    const why = result.timedOut ? 'timed out' : result.signal ? `was killed by ${result.signal}` : `exited ${result.code}`;
    const err = result.stderr.trim();
    super(`Command ${JSON.stringify(argv.join(' '))} ${why}${err ? `: ${err.slice(-2000)}` : ''}`);
  }
}

export interface SpawnOptions {
  /** Extra environment, merged over process.env (an `undefined` value removes a variable). */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Append stdout to this file. Without it stdout+stderr are kept in memory (last 256 KiB, see `output()`). */
  stdout?: string;
  /** Append stderr to this file. Default: same as `stdout` (when given). */
  stderr?: string;
  /** Enter the namespace with `nsenter --net=…` instead of `ip netns exec` (needed e.g. for dockerd). */
  nsenter?: boolean;
  /** Also echo captured output to this process's stderr, each line prefixed with `label`. */
  echo?: boolean;
  /** Label used in `echo` and in errors. Default: argv[0]. */
  label?: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A long-running process started inside a namespace. */
export interface ProcessHandle {
  readonly pid: number;
  /** The namespace the process runs in. */
  readonly netns: string;
  readonly argv: readonly string[];
  /** Resolves (never rejects) when the process has exited. */
  readonly exited: Promise<ExitInfo>;
  /** Set once the process has exited. */
  readonly exitInfo: ExitInfo | undefined;
  readonly alive: boolean;
  /**
   * Sends a signal to the process's group (the process and any children it did not
   * move to a group of their own). Returns false when nothing was there to signal.
   */
  kill(signal?: NodeJS.Signals | number): boolean;
  /** SIGTERM, then SIGKILL after `graceMs` (default 3000); resolves when it has exited. */
  stop(graceMs?: number): Promise<ExitInfo>;
  /** Captured stdout+stderr tail (only when no `stdout` file was given). */
  output(): string;
}

const OUTPUT_LIMIT = 256 * 1024;

/** argv that runs `argv` inside namespace `netns` (by name, as in /run/netns). */
export function nsArgv(netns: string, argv: readonly string[], nsenter = false): string[] {
  if (argv.length === 0) throw new Error('empty argv');
  return nsenter
    ? ['nsenter', `--net=/run/netns/${netns}`, '--', ...argv]
    : ['ip', 'netns', 'exec', netns, ...argv];
}

function mergeEnv(env: Record<string, string | undefined> | undefined): NodeJS.ProcessEnv | undefined {
  if (!env) return undefined;
  const merged: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete merged[k];
    else merged[k] = v;
  }
  return merged;
}

function signalNumber(signal: NodeJS.Signals | null): number {
  if (!signal) return 0;
  return (osConstants.signals as Record<string, number>)[signal] ?? 0;
}

/**
 * Runs a command (plain argv, no shell) to completion. Never throws unless `check` is set.
 * Used both for host-side `ip` commands and, through `nsArgv`, inside namespaces.
 */
export function run(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error('empty argv'));
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise<ExecResult>((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawnChild(file, args, {
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true, // own process group, so a timeout kills children too
        env: mergeEnv(opts.env),
        cwd: opts.cwd,
      });
    } catch (err) {
      reject(err);
      return;
    }
    const pid = child.pid;
    if (pid !== undefined) trackPid(pid);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let spawnError: Error | undefined;
    let timedOut = false;
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.stdin!.on('error', () => {}); // EPIPE when the command ignores its input
    child.on('error', (e) => {
      spawnError = e;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      if (pid !== undefined) signalGroup(pid, 'SIGKILL');
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (pid !== undefined) untrackPid(pid);
      const result: ExecResult = {
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8') + (spawnError ? `\n${spawnError.message}` : ''),
        code: code ?? (signal ? 128 + signalNumber(signal) : 127),
        signal,
        timedOut,
      };
      if (opts.check && (result.code !== 0 || timedOut)) reject(new ExecError(argv, result));
      else resolve(result);
    });
    child.stdin!.end(opts.input ?? undefined);
  });
}

/** Starts a long-running process (plain argv), in its own process group, tracked for cleanup. */
export function spawnTracked(
  argv: readonly string[],
  netns: string,
  displayArgv: readonly string[],
  opts: SpawnOptions = {},
): ProcessHandle {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('empty argv');
  const label = opts.label ?? displayArgv[0] ?? file;
  const fds: number[] = [];
  let stdio: ['ignore', 'pipe' | number, 'pipe' | number];
  try {
    if (opts.stdout !== undefined) {
      const outFd = openSync(opts.stdout, 'a');
      fds.push(outFd);
      let errFd = outFd;
      if (opts.stderr !== undefined && opts.stderr !== opts.stdout) {
        errFd = openSync(opts.stderr, 'a');
        fds.push(errFd);
      }
      stdio = ['ignore', outFd, errFd];
    } else if (opts.stderr !== undefined) {
      const errFd = openSync(opts.stderr, 'a');
      fds.push(errFd);
      stdio = ['ignore', 'pipe', errFd];
    } else {
      stdio = ['ignore', 'pipe', 'pipe'];
    }
  } catch (err) {
    for (const fd of fds) closeSync(fd);
    throw err;
  }

  let child: ChildProcess;
  try {
    child = spawnChild(file, args, { stdio, detached: true, env: mergeEnv(opts.env), cwd: opts.cwd });
  } finally {
    for (const fd of fds) closeSync(fd); // the child has its own copies
  }
  const pid = child.pid;
  if (pid === undefined) {
    // Spawning `ip`/`nsenter` itself failed (ENOENT, EAGAIN…): surface it synchronously.
    child.on('error', () => {});
    throw new Error(`could not start ${JSON.stringify(displayArgv.join(' '))} in ${netns}`);
  }
  trackPid(pid);

  let captured = '';
  const capture = (b: Buffer) => {
    const s = b.toString('utf8');
    captured += s;
    if (captured.length > OUTPUT_LIMIT) captured = captured.slice(-OUTPUT_LIMIT);
    if (opts.echo) {
      for (const line of s.split('\n')) if (line) process.stderr.write(`[${label}@${netns}] ${line}\n`);
    }
  };
  child.stdout?.on('data', capture);
  child.stderr?.on('data', capture);
  child.on('error', (e) => capture(Buffer.from(`\n[spawn error] ${e.message}\n`)));

  let exitInfo: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    let closed = false;
    child.on('close', () => {
      closed = true;
    });
    child.on('exit', (code, signal) => {
      untrackPid(pid);
      const info: ExitInfo = { code, signal };
      exitInfo = info; // no longer alive, even while output drains
      const done = () => resolve(info);
      // Let captured output drain first, but don't wait on a pipe that a leftover child keeps open.
      if (closed || !child.stdout) done();
      else {
        const timer = setTimeout(done, 200);
        child.once('close', () => {
          clearTimeout(timer);
          done();
        });
      }
    });
  });

  const kill = (signal: NodeJS.Signals | number = 'SIGTERM'): boolean => {
    if (exitInfo) {
      // The leader is gone; children left in its group may still be there.
      try {
        process.kill(-pid, signal);
        return true;
      } catch {
        return false;
      }
    }
    return signalGroup(pid, signal);
  };

  const stop = async (graceMs = 3000): Promise<ExitInfo> => {
    if (!exitInfo) {
      kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const graceOver = await Promise.race([
        exited.then(() => false),
        new Promise<boolean>((r) => {
          timer = setTimeout(() => r(true), graceMs);
        }),
      ]);
      clearTimeout(timer);
      if (graceOver) kill('SIGKILL');
    }
    const info = await exited;
    // Leftovers in the group (children of the process) are ours too.
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* group empty */
    }
    return info;
  };

  return {
    pid,
    netns,
    argv: displayArgv,
    exited,
    get exitInfo() {
      return exitInfo;
    },
    get alive() {
      return exitInfo === undefined;
    },
    kill,
    stop,
    output: () => captured,
  };
}
