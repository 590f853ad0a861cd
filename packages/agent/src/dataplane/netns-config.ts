/**
 * Configures a container's end of a veth pair through a netlink socket that was opened
 * INSIDE the container's network namespace (the socket belongs to the namespace it was
 * created in, whatever the process does afterwards). Used in-process by
 * NetlinkKernel.configureNetns (socket opened after setns(2), see netns-enter.ts) and by
 * the netns-configure.js child (the fallback, run under nsenter).
 *
 * Steps, each idempotent so a repeated attach is harmless:
 *   1. find the peer by its temporary name (first run) or by ifname with our MAC (re-run);
 *   2. rename it to ifname (only while down: the kernel refuses to rename a running device),
 *      set MAC and MTU;
 *   3. bring lo and the interface up;
 *   4. add ipv4/prefixLen (REPLACE), then the default route via the gateway (REPLACE):
 *      the route last, because the gateway must already be on-link through the address's
 *      prefix route or the kernel rejects it (ENETUNREACH).
 */
import { FlagsNew } from 'netlink'
import type { RtNetlinkSocket, rt } from 'netlink'
import { bytesToMac, ipv4ToBytes, macToBytes } from './names.js'
import { AF_INET } from './batch.js'
import type { NetnsConfig } from './netlink.js'

const RT_TABLE_MAIN = 254
const CREATE_REPLACE = FlagsNew.CREATE | FlagsNew.REPLACE

export async function configureInside (socket: RtNetlinkSocket, config: NetnsConfig): Promise<void> {
  const links = await socket.getLinks()
  const byName = (name: string): rt.LinkMessage | undefined => links.find(link => link.attrs.ifname === name)
  const temporary = byName(config.peerName)
  const named = byName(config.ifname)
  let index: number | undefined
  if (temporary !== undefined) {
    if (named !== undefined && config.ifname !== config.peerName) throw new Error(`interface ${config.ifname} already exists in this namespace`)
    index = temporary.data.index
    if (index === undefined) throw new Error('peer has no index')
    await socket.setLink({ index, change: { up: true }, flags: {} }, { ifname: config.ifname })
  } else if (named?.attrs.address !== undefined && bytesToMac(named.attrs.address) === config.mac) {
    index = named.data.index
  } else {
    throw new Error(`neither ${config.peerName} nor ${config.ifname} with MAC ${config.mac} is in this namespace`)
  }
  if (index === undefined) throw new Error('interface has no index')

  await socket.setLink({ index }, { address: macToBytes(config.mac), mtu: config.mtu })
  const lo = byName('lo')
  if (lo?.data.index !== undefined) await socket.setLink({ index: lo.data.index, change: { up: true }, flags: { up: true } })
  await socket.setLink({ index, change: { up: true }, flags: { up: true } })

  const ip = ipv4ToBytes(config.ipv4)
  await socket.newAddress({ family: AF_INET, prefixlen: config.prefixLen, index }, { local: ip, address: ip }, { flags: CREATE_REPLACE })
  await socket.newRoute(
    { family: AF_INET, dstLen: 0, table: RT_TABLE_MAIN, protocol: 'BOOT', scope: 'UNIVERSE', type: 'UNICAST' },
    { gateway: ipv4ToBytes(config.gateway), oif: index },
    { flags: CREATE_REPLACE }
  )
}
