/**
 * Self-test of the namespace cluster harness (test/utils/netns.ts): underlay
 * reachability, cut/heal, partitions, MTU, containers, process tracking, cleanup.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ExecError, WaitTimeoutError, createCluster, waitFor, type Cluster, type Host } from '../utils/netns.js';

const MTU = 1400;
let cluster: Cluster;

function namespacesWithPrefix(prefix: string): string[] {
  try {
    return readdirSync('/run/netns').filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
}

/** True while `pid` exists and is not a zombie. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Pings (underlay) from `a` to `b`, retrying briefly before giving up. */
async function reachable(a: Host, b: Host): Promise<boolean> {
  for (let i = 0; i < 3; i++) if (await cluster.ping(a, b.ip)) return true;
  return false;
}

/** Asserts every pair in `groups` reaches exactly the hosts of its own group. */
async function assertConnectivity(t: import('ava').ExecutionContext, groups: Host[][]): Promise<void> {
  const all = groups.flat();
  for (const a of all) {
    for (const b of all) {
      if (a === b) continue;
      const same = groups.some((g) => g.includes(a) && g.includes(b));
      if (same) {
        await waitFor(() => cluster.ping(a, b.ip), { timeoutMs: 20_000, intervalMs: 100, what: `${a.name} -> ${b.ip}` });
        t.pass();
      } else {
        t.false(await cluster.ping(a, b.ip), `${a.name} must not reach ${b.ip}`);
      }
    }
  }
}

test.before(async () => {
  cluster = await createCluster({ hosts: 3, underlayMtu: MTU });
});

test.after.always(async () => {
  await cluster?.destroy();
});

test.serial('names are short and unique to the run, addresses share one /24', (t) => {
  t.regex(cluster.prefix, /^mp[0-9a-f]{4}$/);
  t.is(cluster.hosts.length, 3);
  const m = /^10\.77\.(\d+)\.0\/24$/.exec(cluster.subnet);
  t.truthy(m, cluster.subnet);
  cluster.hosts.forEach((h, i) => {
    t.is(h.index, i);
    t.is(h.ip, `10.77.${m![1]}.${10 + i}`);
    t.true(h.name.startsWith(cluster.prefix));
    t.is(h.netnsPath, `/run/netns/${h.name}`);
    t.true(existsSync(h.netnsPath));
    t.true(h.iface.length <= 15 && h.port.length <= 15);
  });
  t.deepEqual(namespacesWithPrefix(cluster.prefix).sort(), [cluster.underlay, ...cluster.hosts.map((h) => h.name)].sort());
  t.true(statSync(cluster.dir).isDirectory());
});

test.serial('every host pings every other over the underlay', async (t) => {
  await assertConnectivity(t, [[...cluster.hosts]]);
});

test.serial('exec runs inside the host namespace and reports failures without throwing', async (t) => {
  const [h0, h1] = cluster.hosts as [Host, Host];
  const addr = await cluster.exec(h0, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
  t.is(addr.code, 0);
  t.true(addr.stdout.includes(`${h0.ip}/24`));
  t.false(addr.stdout.includes(h1.ip));
  const lo = await cluster.exec(0, ['ip', '-o', 'link', 'show', 'lo']);
  t.regex(lo.stdout, /[<,]UP[,>]/);

  const failed = await cluster.sh(h0, 'echo out; echo err >&2; exit 3');
  t.deepEqual([failed.stdout, failed.stderr, failed.code, failed.timedOut], ['out\n', 'err\n', 3, false]);
  await t.throwsAsync(cluster.exec(h0, ['false'], { check: true }), { instanceOf: ExecError });

  const input = await cluster.exec(h1, ['cat'], { input: 'hello' });
  t.is(input.stdout, 'hello');

  const slow = await cluster.exec(h1, ['sleep', '30'], { timeoutMs: 300 });
  t.true(slow.timedOut);
  t.not(slow.code, 0);
});

test.serial('underlay MTU is set on both ends of each veth', async (t) => {
  for (const h of cluster.hosts) {
    const inside = await cluster.exec(h, ['ip', '-o', 'link', 'show', 'dev', h.iface], { check: true });
    t.regex(inside.stdout, new RegExp(`\\bmtu ${MTU}\\b`));
    const port = await cluster.exec(cluster.underlay, ['ip', '-o', 'link', 'show', 'dev', h.port], { check: true });
    t.regex(port.stdout, new RegExp(`\\bmtu ${MTU}\\b`));
  }
  const [a, b] = cluster.hosts as [Host, Host];
  // 1400 - 20 (IPv4) - 8 (ICMP) = 1372 bytes of payload fit; one more does not.
  t.true(await cluster.ping(a, b.ip, { size: MTU - 28, dontFragment: true }));
  t.false(await cluster.ping(a, b.ip, { size: MTU - 27, dontFragment: true }));
});

test.serial('cut isolates one host and heal brings it back', async (t) => {
  const [h0, h1, h2] = cluster.hosts as [Host, Host, Host];
  await cluster.cut(h1);
  t.false(await cluster.ping(h0, h1.ip));
  t.false(await cluster.ping(h1, h2.ip));
  t.true(await reachable(h0, h2));
  await cluster.heal(h1);
  await assertConnectivity(t, [[h0, h1, h2]]);
});

test.serial('partition splits the underlay in two and healAll joins it', async (t) => {
  const [h0, h1, h2] = cluster.hosts as [Host, Host, Host];
  await cluster.partition([h0, h1], [h2]);
  await assertConnectivity(t, [[h0, h1], [h2]]);
  await cluster.healAll();
  await assertConnectivity(t, [[h0, h1, h2]]);

  // healAll also undoes cuts, and host refs may be indexes or names.
  await cluster.partition([0], [h1.name, 2]);
  await cluster.cut(2);
  await assertConnectivity(t, [[h0], [h1]]);
  t.false(await cluster.ping(h1, h2.ip));
  await cluster.healAll();
  await assertConnectivity(t, [[h0, h1, h2]]);
  await t.throwsAsync(cluster.partition([0], [0]), { message: /both sides/ });
});

test.serial('addContainer makes a tracked namespace with lo up', async (t) => {
  const c = await cluster.addContainer(1, 'c1');
  t.is(c.host, cluster.hosts[1]!);
  t.is(c.shortName, 'c1');
  t.true(c.name.startsWith(cluster.prefix));
  t.true(existsSync(c.netnsPath));
  const links = await cluster.exec(c, ['ip', '-o', 'link'], { check: true });
  t.is(links.stdout.trim().split('\n').length, 1); // just lo
  t.true(await cluster.ping(c, '127.0.0.1'));
  await t.throwsAsync(cluster.addContainer(1, 'c1'), { message: /already exists/ });
  await t.throwsAsync(cluster.addContainer(1, 'bad/name'));
  t.deepEqual(cluster.containers, [c]);
});

test.serial('spawn runs a process inside the namespace and reports its exit', async (t) => {
  const [h0] = cluster.hosts as [Host];
  const log = `${cluster.dir}/echo.log`;
  const p = cluster.spawn(h0, ['sh', '-c', 'echo "$GREETING from $(ip -4 -o addr show dev eth0 | wc -l)"; echo oops >&2'], {
    env: { GREETING: 'hi' },
    stdout: log,
  });
  t.true(p.pid > 0);
  t.deepEqual(await p.exited, { code: 0, signal: null });
  t.false(p.alive);
  t.is(readFileSync(log, 'utf8'), 'hi from 1\noops\n');

  const q = cluster.spawn(h0, ['sh', '-c', 'echo ready; exec sleep 1000']);
  await waitFor(() => q.output().includes('ready'), { timeoutMs: 10_000, what: 'sleep to start' });
  // The process really is in the host's namespace.
  t.is(statSync(`/proc/${q.pid}/ns/net`).ino, statSync(h0.netnsPath).ino);
  t.true(q.kill('SIGTERM'));
  t.is((await q.exited).signal, 'SIGTERM');
});

test.serial('waitFor returns the first truthy value and names what timed out', async (t) => {
  let n = 0;
  t.is(await waitFor(() => (++n >= 3 ? n : 0), { intervalMs: 10 }), 3);
  const err = await t.throwsAsync(waitFor(() => false, { timeoutMs: 300, intervalMs: 50, what: 'the moon' }), {
    instanceOf: WaitTimeoutError,
  });
  t.regex(err!.message, /the moon/);
  const threw = await t.throwsAsync(
    waitFor(
      () => {
        throw new Error('not yet ready');
      },
      { timeoutMs: 200, what: 'x' },
    ),
  );
  t.regex(threw!.message, /not yet ready/);
  // A predicate that hangs does not stall the wait past its deadline.
  const started = Date.now();
  await t.throwsAsync(waitFor(() => new Promise<boolean>(() => {}), { timeoutMs: 300, what: 'hang' }));
  t.true(Date.now() - started < 2000);
});

test.serial('destroy kills spawned processes and removes every namespace, once', async (t) => {
  const c2 = await createCluster({ hosts: 2, prefix: 'mpt' });
  t.not(c2.prefix, cluster.prefix);
  const [a] = c2.hosts as [Host];
  await c2.addContainer(a, 'web');
  const sleeper = c2.spawn(a, ['sleep', '1000']);
  // A process that ignores SIGTERM, with a child that does too: needs the SIGKILL escalation.
  const stubborn = c2.spawn(c2.hosts[1]!, ['sh', '-c', 'trap "" TERM; sleep 1000 & echo child=$!; wait']);
  const childPid = Number(
    (await waitFor(() => /child=(\d+)/.exec(stubborn.output())?.[1], { timeoutMs: 10_000, what: 'child pid' })),
  );
  t.true(running(sleeper.pid));
  t.true(running(stubborn.pid));
  t.true(running(childPid));
  t.is(namespacesWithPrefix(c2.prefix).length, 4);

  const started = Date.now();
  const d1 = c2.destroy();
  const d2 = c2.destroy();
  await Promise.all([d1, d2]);
  t.true(Date.now() - started >= 2500, 'stubborn process needed the SIGKILL after the grace period');
  t.true(c2.destroyed);
  await c2.destroy(); // idempotent

  t.deepEqual(namespacesWithPrefix(c2.prefix), []);
  t.false(existsSync(c2.dir));
  t.is((await sleeper.exited).signal, 'SIGTERM');
  t.is((await stubborn.exited).signal, 'SIGKILL');
  await waitFor(() => !running(sleeper.pid) && !running(childPid), { timeoutMs: 5000, what: 'processes gone' });
  t.false(running(sleeper.pid));
  t.false(running(childPid));
  t.throws(() => c2.spawn(a, ['true']), { message: /destroyed/ });

  // The other cluster is untouched.
  t.is(namespacesWithPrefix(cluster.prefix).length, 5);
  t.true(await cluster.ping(0, cluster.hosts[1]!.ip));
});

/** Runs a script that creates a cluster and then dies; checks that the safety net removed everything. */
async function crashAndCheck(t: import('ava').ExecutionContext, how: 'throw' | 'SIGTERM' | 'exit'): Promise<void> {
  const lib = pathToFileURL(fileURLToPath(new URL('../utils/netns.js', import.meta.url))).href;
  const script = `
    import { createCluster } from ${JSON.stringify(lib)};
    const c = await createCluster({ hosts: 2, prefix: 'mpx' });
    await c.addContainer(0, 'k');
    const p = c.spawn(0, ['sleep', '1000']);
    console.log(JSON.stringify({ prefix: c.prefix, pid: p.pid, dir: c.dir }));
    if (${JSON.stringify(how)} === 'throw') setTimeout(() => { throw new Error('boom'); }, 200);
    else if (${JSON.stringify(how)} === 'exit') setTimeout(() => process.exit(1), 200);
    else setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const line = await waitFor(() => out.split('\n').find((l) => l.startsWith('{')), {
    timeoutMs: 30_000,
    what: `crash script to start (stderr: ${err})`,
  });
  const info = JSON.parse(line) as { prefix: string; pid: number; dir: string };
  t.is(namespacesWithPrefix(info.prefix).length, 4);
  t.true(running(info.pid));
  if (how === 'SIGTERM') child.kill('SIGTERM');
  const code = await exited;
  t.not(code, 0);
  t.deepEqual(namespacesWithPrefix(info.prefix), []);
  t.false(existsSync(info.dir));
  await waitFor(() => !running(info.pid), { timeoutMs: 5000, what: 'sleep to die' });
}

test.serial('a test process that throws still removes its namespaces and processes', async (t) => {
  await crashAndCheck(t, 'throw');
});

test.serial('a test process killed by SIGTERM still removes its namespaces and processes', async (t) => {
  await crashAndCheck(t, 'SIGTERM');
});

test.serial('a test process that calls process.exit still removes its namespaces and processes', async (t) => {
  await crashAndCheck(t, 'exit');
});

test.serial('concurrent clusters get distinct names and separate underlays', async (t) => {
  const [x, y] = await Promise.all([
    createCluster({ hosts: 2, subnet: '10.77.250.0/24' }),
    createCluster({ hosts: 2, subnet: '10.77.250.0/24' }),
  ]);
  try {
    t.not(x.prefix, y.prefix);
    // Same addresses, but separate bridges: each reaches its own peer.
    t.is(x.hosts[1]!.ip, y.hosts[1]!.ip);
    t.true(await waitFor(() => x.ping(0, x.hosts[1]!.ip), { timeoutMs: 20_000, what: 'x ping' }));
    t.true(await waitFor(() => y.ping(0, y.hosts[1]!.ip), { timeoutMs: 20_000, what: 'y ping' }));
    await x.cut(1);
    t.false(await x.ping(0, x.hosts[1]!.ip));
    t.true(await y.ping(0, y.hosts[1]!.ip));
  } finally {
    await Promise.all([x.destroy(), y.destroy()]);
  }
  t.deepEqual(namespacesWithPrefix(x.prefix), []);
  t.deepEqual(namespacesWithPrefix(y.prefix), []);
});

test.serial('bad options are rejected before anything is made', async (t) => {
  const before = namespacesWithPrefix('mp').length;
  await t.throwsAsync(createCluster({ hosts: 0 }));
  await t.throwsAsync(createCluster({ hosts: 2, subnet: '10.77.0.0/16' }));
  await t.throwsAsync(createCluster({ hosts: 2, prefix: 'Way-Too-Long' }));
  await t.throwsAsync(createCluster({ hosts: 2, underlayMtu: 10 }));
  t.is(namespacesWithPrefix('mp').length, before);
});
