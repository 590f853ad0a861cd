/**
 * Multi-host clusters on one machine, for tests, benches and the demo.
 *
 * Each "host" is a network namespace with one veth (`eth0`) into a bridge that lives in
 * a namespace of its own (the underlay). Everything is named with a prefix unique to the
 * run, tracked, and removed by `destroy()` — or, if the process dies first, by an exit
 * handler. Nothing this module did not create is ever touched.
 *
 *   const cluster = await createCluster({ hosts: 3 });
 *   try {
 *     const [a, b] = cluster.hosts;
 *     await cluster.exec(a, ['ping', '-c1', '-W1', b.ip], { check: true });
 *     const agent = cluster.spawn(a, ['node', 'agent.js'], { stdout: `${cluster.dir}/a.log` });
 *   } finally {
 *     await cluster.destroy();
 *   }
 *
 * Layout (underlay namespace `<prefix>-ul`):
 *
 *   <prefix>-h0: eth0 10.77.X.10/24 ──veth── h0 ─┐
 *   <prefix>-h1: eth0 10.77.X.11/24 ──veth── h1 ─┼─ br0   (br1: the far side of a partition)
 *   <prefix>-h2: eth0 10.77.X.12/24 ──veth── h2 ─┘
 */
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trackDir, trackNamespace, untrackDir, untrackNamespace } from './cleanup.js';
import {
  ExecError,
  nsArgv,
  run,
  spawnTracked,
  type ExecOptions,
  type ExecResult,
  type ProcessHandle,
  type SpawnOptions,
} from './proc.js';
import { sleep } from './wait.js';
import { NETNS_PREREQUISITES, requirePrerequisites, type Prerequisite } from './prerequisites.js';

export { waitFor, sleep, WaitTimeoutError, type WaitForOptions } from './wait.js';
export { ExecError, type ExecOptions, type ExecResult, type ExitInfo, type ProcessHandle, type SpawnOptions } from './proc.js';

export interface CreateClusterOptions {
  /** Start of every name this cluster makes; 4 random hex digits are always appended. Default "mp". */
  prefix?: string;
  /** Number of hosts (1..200). */
  hosts: number;
  /** MTU of the underlay veths (both ends, hence the bridge too). Default: kernel default (1500). */
  underlayMtu?: number;
  /** Underlay subnet, "a.b.c.0/24". Default 10.77.<random>.0/24. Host i gets a.b.c.(10+i). */
  subnet?: string;
  /** Tools the caller needs besides the harness's own (root, ip, ping, nsenter): checked first, one line if missing. */
  needs?: readonly Prerequisite[];
}

export interface Host {
  /** Network namespace name (as in /run/netns and `ip netns exec`). */
  readonly name: string;
  /** Underlay address, without prefix length. */
  readonly ip: string;
  /** Position in `cluster.hosts`, from 0. */
  readonly index: number;
  /** /run/netns/<name>, for nsenter --net= or setns. */
  readonly netnsPath: string;
  /** Underlay interface inside the host namespace: always "eth0". */
  readonly iface: string;
  /** The bridge-side veth of this host, in the underlay namespace ("h<index>"). */
  readonly port: string;
}

export interface Container {
  /** Network namespace name. */
  readonly name: string;
  readonly netnsPath: string;
  /** The name given to addContainer. */
  readonly shortName: string;
  /** The host it belongs to (attaching it is the agent's job). */
  readonly host: Host;
}

/** A namespace to run something in: a host, a container, a host index, or a namespace name. */
export type Target = Host | Container | number | string;

export interface PingOptions {
  /** Packets to send (default 1). */
  count?: number;
  /** Seconds to wait for each reply (ping -W, default 1). */
  timeoutS?: number;
  /** Payload size (ping -s). */
  size?: number;
  /** Set don't-fragment (ping -M do). */
  dontFragment?: boolean;
}

export interface Cluster {
  /** The unique prefix of this run, e.g. "mp3fa2". */
  readonly prefix: string;
  /** Namespace holding the bridges (br0, and br1 for partitions). */
  readonly underlay: string;
  /** Underlay subnet, e.g. "10.77.183.0/24". */
  readonly subnet: string;
  readonly prefixLength: number;
  readonly underlayMtu: number | undefined;
  readonly hosts: readonly Host[];
  readonly containers: readonly Container[];
  /** A temp directory of this run for logs, sockets and data; removed by destroy() unless MESHPLANE_KEEP_TMP=1. */
  readonly dir: string;
  readonly destroyed: boolean;

  /** Resolves a host by index, namespace name or object (throws if it is not one of ours). */
  host(ref: Host | number | string): Host;
  /** Runs argv inside a namespace and collects its output; never throws unless `check` is set. */
  exec(target: Target, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** exec(target, ['sh', '-c', script], opts). */
  sh(target: Target, script: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Starts a long-running process inside a namespace, tracked so destroy() kills it. */
  spawn(target: Target, argv: readonly string[], opts?: SpawnOptions): ProcessHandle;
  /** True when `ip` answers a ping from `from` (an underlay or overlay address). */
  ping(from: Target, ip: string, opts?: PingOptions): Promise<boolean>;

  /** Cuts one host off the underlay (its bridge-side veth goes down). */
  cut(host: Host | number | string): Promise<void>;
  /** Undoes cut(host). */
  heal(host: Host | number | string): Promise<void>;
  /**
   * Splits the underlay: hosts in `b` move to a second bridge, every other host (a, and
   * anyone unlisted) stays on the first. Each side still reaches itself.
   */
  partition(a: readonly (Host | number | string)[], b: readonly (Host | number | string)[]): Promise<void>;
  /** Puts every host back on the main bridge, link up (undoes partition() and every cut()). */
  healAll(): Promise<void>;

  /** Creates one more namespace "<host ns>-<name>" (just the namespace, lo up), removed by destroy(). */
  addContainer(host: Host | number | string, name: string): Promise<Container>;

  /**
   * An "outside world": a namespace "<prefix>-out" on the underlay bridge with address
   * a.b.c.200, running no agent (a web server, a UDP echo, a DNS server for tests). Made
   * at most once; removed by destroy().
   */
  addOutside(): Promise<{ name: string, ip: string }>;

  /** Kills tracked processes (SIGTERM, SIGKILL after 3 s), deletes every namespace made here. Idempotent. */
  destroy(): Promise<void>;
}

const NETNS_DIR = '/run/netns';
const HOST_IFACE = 'eth0';
const NAME_RE = /^[A-Za-z0-9_.-]+$/;

function existingNamespaces(): string[] {
  try {
    return readdirSync(NETNS_DIR);
  } catch {
    return [];
  }
}

function pickPrefix(base: string): string {
  if (!/^[a-z][a-z0-9]{0,5}$/.test(base)) {
    throw new Error(`cluster prefix ${JSON.stringify(base)}: use 1-6 lowercase letters/digits, starting with a letter`);
  }
  const existing = existingNamespaces();
  for (let i = 0; i < 100; i++) {
    const prefix = base + randomBytes(2).toString('hex');
    if (!existing.some((n) => n.startsWith(prefix))) return prefix;
  }
  throw new Error(`no free namespace prefix starting with ${base}`);
}

function parseSubnet(subnet: string | undefined): { base: string; subnet: string } {
  if (subnet === undefined) {
    const x = randomInt(1, 255);
    return { base: `10.77.${x}`, subnet: `10.77.${x}.0/24` };
  }
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.0\/24$/.exec(subnet);
  if (!m || m.slice(1).some((o) => Number(o) > 255)) {
    throw new Error(`subnet ${JSON.stringify(subnet)}: expected "a.b.c.0/24"`);
  }
  return { base: `${m[1]}.${m[2]}.${m[3]}`, subnet };
}

/** Runs an `ip` command on the machine (not in a namespace); throws with stderr on failure. */
async function ip(args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return run(['ip', ...args], { timeoutMs: 30_000, ...opts, check: true });
}

/** Runs several `ip` commands inside one namespace with one process (`ip -n NS -batch -`). */
async function ipBatch(netns: string, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return;
  await ip(['-n', netns, '-batch', '-'], { input: lines.join('\n') + '\n' });
}

/** `ip netns add`, retried: on a loaded machine (or the very first one, when /run/netns gets mounted) it can fail transiently. */
async function addNamespace(name: string): Promise<void> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < 4; attempt++) {
    const r = await run(['ip', 'netns', 'add', name], { timeoutMs: 30_000 });
    if (r.code === 0) {
      trackNamespace(name);
      return;
    }
    lastErr = new ExecError(['ip', 'netns', 'add', name], r);
    if (/exists/i.test(r.stderr)) break; // not ours: never reuse or delete it
    await sleep(100 * (attempt + 1));
  }
  throw lastErr;
}

async function deleteNamespace(name: string): Promise<void> {
  if (existsSync(join(NETNS_DIR, name))) {
    const r = await run(['ip', 'netns', 'del', name], { timeoutMs: 30_000 });
    if (r.code !== 0 && existsSync(join(NETNS_DIR, name))) {
      process.stderr.write(`[netns harness] could not delete namespace ${name}: ${r.stderr.trim()}\n`);
      return; // keep it registered: the exit handler tries again
    }
  }
  // its /etc files (iproute2's /etc/netns/NAME, e.g. the resolv.conf `meshplane attach`
  // writes), if an attach was never undone
  rmSync(join('/etc/netns', name), { recursive: true, force: true });
  untrackNamespace(name);
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        errors.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length > 0) throw errors[0];
}

class NetnsCluster implements Cluster {
  readonly prefix: string;
  readonly underlay: string;
  readonly subnet: string;
  readonly prefixLength = 24;
  readonly underlayMtu: number | undefined;
  readonly hosts: Host[] = [];
  readonly containers: Container[] = [];
  readonly dir: string;

  /** Every namespace made here, in creation order. */
  private readonly namespaces: string[] = [];
  private readonly processes = new Set<ProcessHandle>();
  private destroying: Promise<void> | undefined;
  private readonly subnetBase: string;

  constructor(opts: CreateClusterOptions) {
    const count = opts.hosts;
    if (!Number.isInteger(count) || count < 1 || count > 200) throw new Error(`hosts: expected 1..200, got ${count}`);
    if (opts.underlayMtu !== undefined && (!Number.isInteger(opts.underlayMtu) || opts.underlayMtu < 576 || opts.underlayMtu > 65535)) {
      throw new Error(`underlayMtu: expected 576..65535, got ${opts.underlayMtu}`);
    }
    const { base, subnet } = parseSubnet(opts.subnet);
    this.subnetBase = base;
    this.subnet = subnet;
    this.underlayMtu = opts.underlayMtu;
    this.prefix = pickPrefix(opts.prefix ?? 'mp');
    this.underlay = `${this.prefix}-ul`;
    for (let index = 0; index < count; index++) {
      const name = `${this.prefix}-h${index}`;
      this.hosts.push({
        name,
        ip: `${base}.${10 + index}`,
        index,
        netnsPath: join(NETNS_DIR, name),
        iface: HOST_IFACE,
        port: `h${index}`,
      });
    }
    this.dir = mkdtempSync(join(tmpdir(), `meshplane-${this.prefix}-`));
    trackDir(this.dir);
  }

  get destroyed(): boolean {
    return this.destroying !== undefined;
  }

  /** Builds namespaces, bridges and veths. */
  async build(): Promise<void> {
    await this.makeNamespace(this.underlay);
    await eachLimit(this.hosts, 4, (h) => this.makeNamespace(h.name));

    const mtu = this.underlayMtu === undefined ? '' : ` mtu ${this.underlayMtu}`;
    const ul = [
      // No multicast snooping: plain flooding, like a dumb switch.
      'link add br0 type bridge mcast_snooping 0',
      'link add br1 type bridge mcast_snooping 0',
      'link set lo up',
      'link set br0 up',
      'link set br1 up',
    ];
    for (const h of this.hosts) {
      ul.push(`link add ${h.port}${mtu} type veth peer name ${h.iface}${mtu} netns ${h.name}`);
      ul.push(`link set ${h.port} master br0`);
      ul.push(`link set ${h.port} up`);
    }
    await ipBatch(this.underlay, ul);

    await eachLimit(this.hosts, 4, (h) =>
      ipBatch(h.name, [
        'link set lo up',
        `addr add ${h.ip}/${this.prefixLength} dev ${h.iface}`,
        `link set ${h.iface} up`,
      ]),
    );
  }

  private async makeNamespace(name: string): Promise<void> {
    if (this.destroying) throw new Error(`cluster ${this.prefix} is destroyed`);
    await addNamespace(name);
    this.namespaces.push(name);
  }

  host(ref: Host | number | string): Host {
    let h: Host | undefined;
    if (typeof ref === 'number') h = this.hosts[ref];
    else if (typeof ref === 'string') h = this.hosts.find((x) => x.name === ref);
    else h = this.hosts.find((x) => x.name === ref.name);
    if (!h) throw new Error(`not a host of cluster ${this.prefix}: ${typeof ref === 'object' ? ref.name : String(ref)}`);
    return h;
  }

  private netnsOf(target: Target): string {
    if (typeof target === 'number') return this.host(target).name;
    if (typeof target === 'string') {
      if (!NAME_RE.test(target)) throw new Error(`bad namespace name ${JSON.stringify(target)}`);
      return target;
    }
    return target.name;
  }

  exec(target: Target, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return run(nsArgv(this.netnsOf(target), argv, opts.nsenter), opts);
  }

  sh(target: Target, script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return this.exec(target, ['sh', '-c', script], opts);
  }

  spawn(target: Target, argv: readonly string[], opts: SpawnOptions = {}): ProcessHandle {
    if (this.destroying) throw new Error(`cluster ${this.prefix} is destroyed`);
    const netns = this.netnsOf(target);
    const handle = spawnTracked(nsArgv(netns, argv, opts.nsenter), netns, argv, opts);
    this.processes.add(handle);
    void handle.exited.then(() => {
      // Forget it once gone, unless destroy() is waiting on it (it holds its own list).
      this.processes.delete(handle);
    });
    return handle;
  }

  async ping(from: Target, ip: string, opts: PingOptions = {}): Promise<boolean> {
    const count = opts.count ?? 1;
    const w = opts.timeoutS ?? 1;
    const argv = ['ping', '-n', '-q', '-c', String(count), '-W', String(w)];
    if (count > 1) argv.push('-i', '0.2');
    if (opts.size !== undefined) argv.push('-s', String(opts.size));
    if (opts.dontFragment) argv.push('-M', 'do');
    argv.push(ip);
    const r = await this.exec(from, argv, { timeoutMs: (count * w + 10) * 1000 });
    return r.code === 0;
  }

  async cut(ref: Host | number | string): Promise<void> {
    await ipBatch(this.underlay, [`link set ${this.host(ref).port} down`]);
  }

  async heal(ref: Host | number | string): Promise<void> {
    await ipBatch(this.underlay, [`link set ${this.host(ref).port} up`]);
  }

  async partition(a: readonly (Host | number | string)[], b: readonly (Host | number | string)[]): Promise<void> {
    const sideA = new Set(a.map((r) => this.host(r).index));
    const sideB = new Set(b.map((r) => this.host(r).index));
    for (const i of sideB) if (sideA.has(i)) throw new Error(`host ${i} is on both sides of the partition`);
    await ipBatch(
      this.underlay,
      this.hosts.map((h) => `link set ${h.port} master ${sideB.has(h.index) ? 'br1' : 'br0'}`),
    );
  }

  async healAll(): Promise<void> {
    await ipBatch(
      this.underlay,
      this.hosts.flatMap((h) => [`link set ${h.port} master br0`, `link set ${h.port} up`]),
    );
  }

  private outside: { name: string, ip: string } | undefined;

  async addOutside(): Promise<{ name: string, ip: string }> {
    if (this.outside !== undefined) return this.outside;
    const name = `${this.prefix}-out`;
    const ip = this.subnet.replace(/\.0\/\d+$/, '.200');
    await this.makeNamespace(name);
    await ipBatch(this.underlay, [`link add out0 type veth peer name eth0 netns ${name}`, 'link set out0 master br0', 'link set out0 up']);
    await ipBatch(name, ['link set lo up', `addr add ${ip}/${this.prefixLength} dev eth0`, 'link set eth0 up']);
    this.outside = { name, ip };
    return this.outside;
  }

  async addContainer(ref: Host | number | string, name: string): Promise<Container> {
    const host = this.host(ref);
    if (!NAME_RE.test(name) || name.length > 40) throw new Error(`container name ${JSON.stringify(name)}: use [A-Za-z0-9_.-], at most 40`);
    const ns = `${host.name}-${name}`;
    if (this.namespaces.includes(ns)) throw new Error(`container ${ns} already exists`);
    await this.makeNamespace(ns);
    const container: Container = { name: ns, netnsPath: join(NETNS_DIR, ns), shortName: name, host };
    this.containers.push(container);
    await ipBatch(ns, ['link set lo up']);
    return container;
  }

  destroy(): Promise<void> {
    this.destroying ??= this.doDestroy();
    return this.destroying;
  }

  private async doDestroy(): Promise<void> {
    const errors: unknown[] = [];
    // 1. Processes: SIGTERM to each group, SIGKILL after 3 s.
    const alive = [...this.processes].filter((p) => p.alive);
    await Promise.all(alive.map((p) => p.stop(3000).catch((e: unknown) => errors.push(e))));
    this.processes.clear();

    // 2. Namespaces, newest first (containers, hosts, then the underlay).
    for (const ns of [...this.namespaces].reverse()) {
      try {
        await deleteNamespace(ns);
      } catch (err) {
        errors.push(err);
      }
    }
    this.namespaces.length = 0;

    // 3. The run's directory.
    if (process.env.MESHPLANE_KEEP_TMP === '1') {
      process.stderr.write(`[netns harness] kept ${this.dir}\n`);
    } else {
      rmSync(this.dir, { recursive: true, force: true });
    }
    untrackDir(this.dir);
    if (errors.length > 0) throw errors[0];
  }
}

/**
 * Creates a cluster of `hosts` namespace hosts on one underlay bridge. On failure,
 * whatever was already made is removed before the error is rethrown.
 */
export async function createCluster(opts: CreateClusterOptions): Promise<Cluster> {
  requirePrerequisites([...NETNS_PREREQUISITES, ...(opts.needs ?? [])]);
  const cluster = new NetnsCluster(opts);
  try {
    await cluster.build();
  } catch (err) {
    await cluster.destroy().catch(() => {});
    throw err;
  }
  return cluster;
}
