/**
 * netns-configure: the fallback for configuring a container's end of a veth pair when the
 * agent cannot enter the namespace itself (see netns-enter.ts). Run only as
 * `nsenter --net=<netns> <node> netns-configure.js '<json NetnsConfig>'` by
 * NetlinkKernel.configureNetns: started inside the namespace, its netlink socket sees the
 * container's kernel tables. Exit 0 on success; otherwise one line on stderr and exit 1.
 */
import { createRtNetlink } from 'netlink'
import { configureInside } from './netns-config.js'
import type { NetnsConfig } from './netlink.js'

const raw = process.argv[2]
if (raw === undefined) {
  process.stderr.write('usage: netns-configure.js <json>\n')
  process.exit(2)
}
const socket = createRtNetlink()
try {
  await configureInside(socket, JSON.parse(raw) as NetnsConfig)
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
} finally {
  socket.socket.close()
}
