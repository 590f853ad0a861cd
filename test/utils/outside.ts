/**
 * Servers in an "outside" namespace (Cluster.addOutside) for the egress and published-port
 * tests: a TCP and a UDP echo that answer with the address they saw the client come from,
 * so a test reads the NAT (or its absence) from the answer.
 */
import type { Cluster } from './netns.js'

export function startPeerEchoServers (cluster: Cluster, outside: string, ports: { tcp: number, udp: number }): void {
  cluster.spawn(outside, ['socat', `TCP-LISTEN:${ports.tcp},fork,reuseaddr`, 'SYSTEM:echo from $SOCAT_PEERADDR'], { label: 'out-tcp' })
  cluster.spawn(outside, ['socat', `UDP-RECVFROM:${ports.udp},fork,reuseaddr`, 'SYSTEM:echo from $SOCAT_PEERADDR'], { label: 'out-udp' })
}
