/**
 * For the DNS tests: the resolver's default service address, and an "outside" namespace
 * running dnsmasq (answering one name from a hosts file) as the agents' upstream.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Cluster } from './netns.js'
import type { Prerequisite } from './prerequisites.js'

/** dig in the containers, dnsmasq as the upstream. */
export const DNS_PREREQUISITES: readonly Prerequisite[] = ['dig', 'dnsmasq']

export const DNS_ADDRESS = '169.254.53.53'
export const OUTSIDE_NAME = 'www.outside.test'
export const OUTSIDE_ADDRESS = '192.0.2.80'

/** dnsmasq in the outside namespace answering OUTSIDE_NAME; resolvConf names it (the agents' --dns-resolv-conf). */
export async function startUpstream (cluster: Cluster): Promise<{ outside: { name: string, ip: string }, resolvConf: string }> {
  const outside = await cluster.addOutside()
  const hosts = join(cluster.dir, 'outside-hosts')
  writeFileSync(hosts, `${OUTSIDE_ADDRESS} ${OUTSIDE_NAME}\n`)
  cluster.spawn(outside.name, ['dnsmasq', '--no-daemon', '--no-resolv', '--no-hosts', `--addn-hosts=${hosts}`, `--listen-address=${outside.ip}`,
    '--bind-interfaces', '--user=root', '--pid-file', '--cache-size=0'], { label: 'dnsmasq' })
  const resolvConf = join(cluster.dir, 'upstream-resolv.conf')
  writeFileSync(resolvConf, `nameserver ${outside.ip}\n`)
  return { outside, resolvConf }
}
