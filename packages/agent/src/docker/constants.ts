/**
 * Fixed values of the Docker plugin, each with where it comes from. Protocol facts:
 * docs/docker-plugin.md (libnetwork drivers/remote, ipams/remote).
 */

/** Docker finds the plugin by socket name in /run/docker/plugins: `-d meshplane`. */
export const PLUGIN_NAME = 'meshplane'
export const DEFAULT_DOCKER_SOCKET = `/run/docker/plugins/${PLUGIN_NAME}.sock`
/** `--docker-socket off` (or an empty value) serves no plugin socket. */
export const DOCKER_SOCKET_OFF = 'off'

/** What Plugin.Activate answers: the subsystems this socket serves (driverapi / ipamapi names). */
export const IMPLEMENTS = ['NetworkDriver', 'IpamDriver'] as const

/** Requests are a few hundred bytes; a megabyte bounds a hostile or broken client. */
export const BODY_LIMIT_BYTES = 1 << 20

// ---- options Docker passes ---------------------------------------------------------

/** CreateNetwork Options: the user's `-o key=value` arrive in this map (LN network.go). */
export const GENERIC_OPTIONS = 'com.docker.network.generic'
/** CreateNetwork Options: `true` with `docker network create --internal`. */
export const INTERNAL_OPTION = 'com.docker.network.internal'
/** `-o meshplane.network=NAME`: the cluster-wide network this Docker network is. Docker never
 * passes the Docker network's name to a driver (moby/libnetwork#251), so the identity
 * has to travel in options, and the same option on every host names the same network. */
export const NETWORK_OPTION = 'meshplane.network'
/** `-o meshplane.vni=N`: VXLAN id when the network is created here (default: from the name). */
export const VNI_OPTION = 'meshplane.vni'
/** `-o com.docker.network.driver.mtu=N`: overlay MTU when the network is created here. */
export const MTU_OPTION = 'com.docker.network.driver.mtu'

/** RequestAddress Options key and value marking the gateway request (LN network.go). */
export const REQUEST_ADDRESS_TYPE = 'RequestAddressType'
export const GATEWAY_ADDRESS_TYPE = 'com.docker.network.gateway'
/** RequestPool Data key: a gateway given here spares Docker the gateway RequestAddress. */
export const POOL_GATEWAY_DATA = 'com.docker.network.gateway'

/** Address spaces answered by GetDefaultAddressSpaces; CreateNetwork checks the pool is in
 * ours (i.e. that `--ipam-driver meshplane` was given: another IPAM's addresses would
 * clash across hosts). */
export const LOCAL_ADDRESS_SPACE = 'meshplane-local'
export const GLOBAL_ADDRESS_SPACE = 'meshplane-global'

/** Pool ids are `meshplane:<subnet>`: the subnet names the cluster network (subnets of
 * meshplane networks never overlap), so a pool needs no state of its own and means the
 * same thing on every host and after every restart. */
export const POOL_ID_PREFIX = 'meshplane:'

/** Interface name prefix inside the container: libnetwork appends an index (eth0, eth1…). */
export const CONTAINER_IFNAME_PREFIX = 'eth'

/** Prefix of the owner the IPAM records for an address handed to Docker (`docker:<nonce>`,
 * one per request): RequestAddress comes before CreateEndpoint, so the endpoint id is not
 * known yet, and the IPAM treats a claim by the same owner as a repeat, so two requests
 * must never share one (two containers would get the same --ip). */
export const DOCKER_ALLOCATION_OWNER = 'docker'

// ---- persisted mapping (the agent's local sublevel) ----------------------------------

/** `docker/network/<Docker network id>` → DockerNetworkEntry */
export const NETWORK_KEY_PREFIX = 'docker/network/'
/** `docker/endpoint/<Docker endpoint id>` → DockerEndpointEntry */
export const ENDPOINT_KEY_PREFIX = 'docker/endpoint/'
