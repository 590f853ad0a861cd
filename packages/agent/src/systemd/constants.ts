/** Fixed values of the systemd notify protocol (sd_notify(3), systemd.service(5)). */

// <sys/socket.h> on Linux (every architecture systemd runs on).
export const AF_UNIX = 1
export const SOCK_DGRAM = 2
export const SOCK_CLOEXEC = 0o2000000
// A notify message must never raise SIGPIPE in the agent if the manager went away.
export const MSG_NOSIGNAL = 0x4000
export const MSG_DONTWAIT = 0x40

/** sizeof(struct sockaddr_un): sa_family_t (2 bytes) + sun_path[108]. */
export const SOCKADDR_UN_SIZE = 110
export const SUN_PATH_MAX = 108

/** How often STATUS= is refreshed (only sent when the text changed). */
export const DEFAULT_STATUS_INTERVAL_MS = 5_000

/** sd_watchdog_enabled(3) recommends pinging at half of WATCHDOG_USEC. */
export const WATCHDOG_FRACTION = 0.5
