/**
 * The `meshplane` command. Each operator command is a thin call to the agent's control
 * API; `agent` runs the daemon. One catch at the top prints a one-line reason and exits
 * with the status mapped from the error's code (exit-codes.ts).
 */
import { Command, CommanderError, Option } from 'commander'
import { ApiClient, resolveApiSocket } from './client.js'
import { EXIT_CODE } from './exit-codes.js'
import { table, shortId, ago } from './format.js'
import { formatStatus } from './status-view.js'
import { parseSeed } from '../mesh/address.js'
import { isIPv4 } from 'node:net'
import { isMeshplaneError, MeshplaneError } from '../errors.js'
import { AGENT_VERSION } from '../version.js'

type Json = Record<string, any>

function print (value: unknown, json: boolean, human: () => string): void {
  process.stdout.write((json ? JSON.stringify(value, null, 2) : human()) + '\n')
}

function client (cmd: Command): ApiClient {
  return new ApiClient(resolveApiSocket(cmd.optsWithGlobals().apiSocket as string | undefined))
}

const jsonOption = (): Option => new Option('--json', 'print JSON for scripts')

export function buildProgram (): Command {
  const program = new Command('meshplane')
    .description('A multi-host container network with no central store.')
    .version(AGENT_VERSION)
    .option('--api-socket <path>', 'the agent\'s control socket (env MESHPLANE_API_SOCKET; default /run/meshplane/meshplane.sock)')
    .option('--debug', 'print stack traces on errors')
    .showHelpAfterError()
    .exitOverride()

  program.command('keygen')
    .description('print a new cluster key (every agent of a cluster needs the same one)')
    .action(async () => {
      const { newClusterKey } = await import('../identity.js')
      process.stdout.write(newClusterKey())
    })

  program.command('agent')
    .description('run the meshplane agent (the daemon)')
    .option('--data-dir <dir>', 'state directory (LevelDB)')
    .option('--cluster-key-file <file>', 'cluster key from meshplane keygen')
    .option('--listen <host:port>', 'mesh listen address (default 0.0.0.0:7946)')
    .option('--advertise-addr <ip>', 'underlay IPv4 address other hosts reach this one on')
    .option('--join <seed>', 'seed to join: host:port or a multiaddr (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--docker-socket <path>', 'Docker plugin socket (default /run/docker/plugins/meshplane.sock; off: none)')
    .option('--metrics-addr <host:port>', 'serve Prometheus metrics here')
    .option('--config <file>', 'JSON config file (env MESHPLANE_CONFIG)')
    .option('--log-level <level>', 'trace|debug|info|warn|error')
    .option('--dead-after-ms <ms>', 'a host that fails its probes is unreachable after this (default 2500)')
    .option('--probe-interval-ms <ms>', 'liveness: probe one host this often (default 500)')
    .option('--sync-interval-ms <ms>', 'anti-entropy interval')
    .option('--resync-interval-ms <ms>', 'kernel resync interval')
    .option('--vxlan-port <port>', 'VXLAN UDP port (default 4789)')
    .option('--restart-grace-ms <ms>', 'a stopped host\'s endpoints stay programmed this long (default 15000)')
    .option('--rmpeer-safety-ms <ms>', 'rmpeer refuses hosts unreachable for less than this (default 600000)')
    .option('--dns-address <ip>', 'the resolver\'s link-local service address, the same on every host (default 169.254.53.53; off: no resolver)')
    .option('--dns-resolv-conf <file>', 'where the resolver finds its upstream servers (default /etc/resolv.conf)')
    .option('--dns-source-qps <n>', 'queries per second one container may send the resolver (default 500, bursts of twice that)')
    .option('--docker-api-socket <path>', 'dockerd\'s API socket, for container names (default /var/run/docker.sock)')
    .action(async (opts: Json, cmd: Command) => {
      const { runAgent } = await import('./agent-command.js')
      const g = cmd.optsWithGlobals()
      await runAgent({
        'data-dir': opts.dataDir,
        'cluster-key-file': opts.clusterKeyFile,
        listen: opts.listen,
        'advertise-addr': opts.advertiseAddr,
        join: opts.join,
        'api-socket': g.apiSocket, // MESHPLANE_API_SOCKET is read by config.ts with the other variables
        'docker-socket': opts.dockerSocket,
        'metrics-addr': opts.metricsAddr,
        'log-level': opts.logLevel,
        'dead-after-ms': opts.deadAfterMs,
        'probe-interval-ms': opts.probeIntervalMs,
        'sync-interval-ms': opts.syncIntervalMs,
        'resync-interval-ms': opts.resyncIntervalMs,
        'vxlan-port': opts.vxlanPort,
        'restart-grace-ms': opts.restartGraceMs,
        'rmpeer-safety-ms': opts.rmpeerSafetyMs,
        'dns-address': opts.dnsAddress,
        'dns-resolv-conf': opts.dnsResolvConf,
        'dns-source-qps': opts.dnsSourceQps,
        'docker-api-socket': opts.dockerApiSocket
      }, opts.config)
    })

  program.command('join <seed>')
    .description('tell the running agent to join a cluster through a seed (host:port or multiaddr)')
    .addOption(jsonOption())
    .action(async (seed: string, opts: Json, cmd: Command) => {
      parseSeed(seed) // a bad address is the caller's mistake (exit 64), whether or not an agent runs
      const r = await client(cmd).call<Json>('POST', '/v1/join', { seed })
      print(r, opts.json === true, () => `joined through ${r.seed} (peer ${r.peer})`)
    })

  program.command('status')
    .description('this host at a glance: identity, addresses, peers, networks, endpoints, kernel health, last errors')
    .addOption(jsonOption())
    .action(async (opts: Json, cmd: Command) => {
      const api = client(cmd)
      const [status, peers, networks, endpoints] = await Promise.all([
        api.call<Json>('GET', '/v1/status'), api.call<Json[]>('GET', '/v1/peers'),
        api.call<Json[]>('GET', '/v1/networks'), api.call<Json[]>('GET', '/v1/endpoints')
      ])
      print(status, opts.json === true, () => formatStatus({ status, peers, networks, endpoints }))
    })

  program.command('peers')
    .description('the hosts of the cluster and their liveness')
    .addOption(jsonOption())
    .action(async (opts: Json, cmd: Command) => {
      const peers = await client(cmd).call<Json[]>('GET', '/v1/peers')
      print(peers, opts.json === true, () => table(['PEER', 'ADDRESS', 'STATE', 'LAST SEEN', 'CONNECTED', 'VERSION'],
        peers.map(p => [shortId(p.id) + (p.self === true ? ' (self)' : ''), p.address, p.state, p.self === true ? '-' : ago(p.lastSeenMsAgo), p.connected === true ? 'yes' : 'no', p.version])))
    })

  const network = program.command('network').description('cluster-wide networks')
  network.command('create <name>')
    .description('create a network on every host')
    .requiredOption('--subnet <cidr>', 'IPv4 subnet, e.g. 10.240.0.0/16')
    .option('--vni <n>', 'VXLAN id (default: derived from the name)', parseIntArg('--vni'))
    .option('--mtu <n>', 'overlay MTU (default: underlay MTU - 50)', parseIntArg('--mtu'))
    .option('--gateway <ip>', 'gateway address (default: first address of the subnet)')
    .option('--internal', 'no egress: containers reach nothing outside the subnet (default: egress through their host, masqueraded)')
    .addOption(jsonOption())
    .action(async (name: string, opts: Json, cmd: Command) => {
      const n = await client(cmd).call<Json>('POST', '/v1/networks', { name, subnet: opts.subnet, vni: opts.vni, mtu: opts.mtu, gateway: opts.gateway, internal: opts.internal === true ? true : undefined })
      print(n, opts.json === true, () => `network ${n.name} created: subnet ${n.subnet}, gateway ${n.gateway}, VNI ${n.vni}, ${n.internal === true ? 'internal (no egress)' : 'egress through each host'}`)
    })
  network.command('ls')
    .description('list networks')
    .addOption(jsonOption())
    .action(async (opts: Json, cmd: Command) => {
      const list = await client(cmd).call<Json[]>('GET', '/v1/networks')
      print(list, opts.json === true, () => table(['NAME', 'SUBNET', 'GATEWAY', 'VNI', 'MTU', 'EGRESS'], list.map(n => [n.name, n.subnet, n.gateway, n.vni, n.mtu ?? 'auto', n.internal === true ? 'internal' : 'nat'])))
    })
  network.command('inspect <name>')
    .description('one network with its endpoints (always JSON)')
    .addOption(jsonOption())
    .action(async (name: string, _opts: Json, cmd: Command) => {
      print(await client(cmd).call('GET', `/v1/networks/${encodeURIComponent(name)}`), true, () => '')
    })
  network.command('rm <name>')
    .description('remove a network (refused while it has endpoints)')
    .action(async (name: string, _opts: Json, cmd: Command) => {
      await client(cmd).call('DELETE', `/v1/networks/${encodeURIComponent(name)}`)
      process.stdout.write(`network ${name} removed\n`)
    })

  program.command('endpoints')
    .description('endpoints of the cluster')
    .option('--network <name>', 'only this network')
    .addOption(jsonOption())
    .action(async (opts: Json, cmd: Command) => {
      const q = opts.network === undefined ? '' : `?network=${encodeURIComponent(opts.network)}`
      const list = await client(cmd).call<Json[]>('GET', `/v1/endpoints${q}`)
      print(list, opts.json === true, () => table(['NETWORK', 'IP', 'MAC', 'HOST', 'STATE', 'NAME'],
        list.map(e => [e.network, e.ip, e.mac, `${shortId(e.host)} ${e.hostAddress ?? ''}`, e.state, e.name])))
    })

  program.command('attach <network>')
    .description('give a network namespace an interface on a network')
    .requiredOption('--netns <name|path>', 'namespace name (/run/netns/NAME) or path')
    .option('--ip <addr>', 'address (default: allocated)')
    .option('--ifname <name>', 'interface name inside the namespace', 'eth0')
    .option('--name <name>', 'DNS name on the network, resolvable from every host (one label, unique in the network)')
    .option('--alias <name>', 'another DNS name; several endpoints may share one (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .addOption(jsonOption())
    .action(async (net: string, opts: Json, cmd: Command) => {
      if (opts.ip !== undefined && !isIPv4(opts.ip)) throw new MeshplaneError('E_INVALID_ARGUMENT', `--ip ${JSON.stringify(opts.ip)} is not an IPv4 address`)
      const e = await client(cmd).call<Json>('POST', '/v1/attach', { network: net, netns: opts.netns, ip: opts.ip, ifname: opts.ifname, name: opts.name, aliases: opts.alias })
      const named = e.name !== undefined && e.name !== '' ? ` as ${e.name as string}` : ''
      print(e, opts.json === true, () => `attached ${opts.netns} to ${net}${named}: ${e.ip} (${e.mac})`)
    })
  program.command('detach <network>')
    .description('remove a namespace\'s interface on a network')
    .requiredOption('--netns <name|path>', 'namespace name or path')
    .addOption(jsonOption())
    .action(async (net: string, opts: Json, cmd: Command) => {
      const r = await client(cmd).call<Json>('POST', '/v1/detach', { network: net, netns: opts.netns })
      print(r, opts.json === true, () => `detached ${opts.netns} from ${net}`)
    })

  program.command('dns')
    .description('the names this host\'s resolver answers, per network (scoped: a name resolves only from its own network)')
    .addOption(jsonOption())
    .action(async (opts: Json, cmd: Command) => {
      const list = await client(cmd).call<Json[]>('GET', '/v1/dns')
      print(list, opts.json === true, () => list.length === 0
        ? 'no names (attach with --name, or run containers on a meshplane network)'
        : table(['NETWORK', 'NAME', 'ADDRESSES'], list.map(n => [n.network, n.name, (n.addresses as string[]).join(' ')])))
    })

  program.command('ipam')
    .description('who holds which addresses of each network, and how full it is')
    .option('--network <name>', 'only this network')
    .addOption(jsonOption())
    .action(async (opts: Json, cmd: Command) => {
      const q = opts.network === undefined ? '' : `?network=${encodeURIComponent(opts.network)}`
      const s = await client(cmd).call<Json>('GET', `/v1/ipam${q}`)
      print(s, opts.json === true, () => formatIpam(s))
    })
  program.command('rmpeer <peer>')
    .description('hand the address ranges of a host that is gone for good to this host (run it on ONE host)')
    .addOption(jsonOption())
    .action(async (peer: string, opts: Json, cmd: Command) => {
      const r = await client(cmd).call<Json>('POST', '/v1/rmpeer', { peer })
      const reclaimed = r.reclaimed as Json[]
      print(r, opts.json === true, () => reclaimed.length === 0
        ? `${peer} held no address ranges`
        : reclaimed.map(x => `${x.network}: reclaimed ${x.addresses} addresses (${(x.ranges as string[]).join(', ')}) from ${peer}`).join('\n'))
    })
  return program
}

function formatIpam (s: Json): string {
  const out: string[] = []
  for (const n of s.networks as Json[]) {
    out.push(`${n.network} ${n.subnet} (seeded by ${shortId(n.seeder)})`)
    out.push(table(['HOST', 'RANGES', 'SIZE', 'USED', 'FREE'], (n.hosts as Json[]).map(h => [
      shortId(h.peer) + (h.self === true ? ' (self)' : ''), (h.ranges as string[]).join(' ') || '-', h.size, h.exact === true ? h.used : '-',
      h.exact === true ? h.free : `~${h.free}`])).replace(/^/gm, '  '))
    for (const f of n.inFlight as Json[]) out.push(`  in flight: ${f.range} ${shortId(f.from)} -> ${shortId(f.to)}`)
    for (const c of n.conflicts as Json[]) out.push(`  CONFLICT (${c.reason}): ${c.detail}`)
  }
  return out.length === 0 ? 'no networks' : out.join('\n')
}

function parseIntArg (flag: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new MeshplaneError('E_INVALID_ARGUMENT', `${flag} must be a whole number, got ${JSON.stringify(v)}`)
    return Number(v)
  }
}

export async function main (argv: string[]): Promise<void> {
  const program = buildProgram()
  const debug = argv.includes('--debug')
  try {
    await program.parseAsync(argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version are "errors" to commander; usage mistakes get EX_USAGE.
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_CODE.E_INVALID_ARGUMENT
      return
    }
    const code = isMeshplaneError(err) ? err.code : 'E_INTERNAL'
    process.stderr.write(`meshplane: ${(err as Error).message}\n`)
    if (debug) process.stderr.write(`${(err as Error).stack ?? ''}\n`)
    process.exitCode = EXIT_CODE[code]
  }
}
