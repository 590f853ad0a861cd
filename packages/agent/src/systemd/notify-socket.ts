/**
 * A datagram to $NOTIFY_SOCKET, the way sd_notify(3) sends it, without libsystemd.
 *
 * Node's dgram does UDP only, and Node cannot open an AF_UNIX SOCK_DGRAM socket. What
 * was tried (npm registry, this machine, Node 24):
 *  - unix-dgram (native, node-gyp + nan): builds only against Node headers it downloads
 *    or finds; here it built against the system Node 20 headers and then refused to load
 *    in Node 24 (NODE_MODULE_VERSION 115 vs 137). Not an install that works from `npm ci`.
 *  - node-unix-socket (napi-rs prebuilt): sends to path sockets, but has no abstract
 *    namespace ("@name"), which systemd and its test tools use.
 *  - koffi (FFI with prebuilt binaries shipped in the registry packages, N-API so no ABI
 *    tie to the Node version, no install script needed): calls libc's socket(2) and
 *    sendto(2) directly. Both address kinds work; no process is spawned per message.
 * So this file is the only one that touches koffi, and only when NOTIFY_SOCKET is set.
 */
import { AF_UNIX, MSG_NOSIGNAL, SOCK_CLOEXEC, SOCK_DGRAM, SOCKADDR_UN_SIZE, SUN_PATH_MAX } from './constants.js'

export interface NotifyAddress {
  /** As given in NOTIFY_SOCKET. */
  text: string
  /** struct sockaddr_un, and how many of its bytes count (abstract names are not NUL-terminated). */
  sockaddr: Buffer
  length: number
}

/**
 * Parses NOTIFY_SOCKET: an absolute path, or "@name" for the abstract namespace.
 * Returns a reason string for anything else (e.g. systemd 254's "vsock:" addresses).
 */
export function parseNotifyAddress (text: string): NotifyAddress | string {
  let path: Buffer
  let length: number
  if (text.startsWith('/')) {
    path = Buffer.from(text)
    length = 2 + path.length + 1
  } else if (text.startsWith('@') && text.length > 1) {
    path = Buffer.concat([Buffer.from([0]), Buffer.from(text.slice(1))])
    length = 2 + path.length
  } else {
    return `NOTIFY_SOCKET=${JSON.stringify(text)} is neither an absolute path nor an @abstract name`
  }
  if (path.length >= SUN_PATH_MAX) return `NOTIFY_SOCKET is longer than ${SUN_PATH_MAX - 1} bytes`
  const sockaddr = Buffer.alloc(SOCKADDR_UN_SIZE)
  sockaddr.writeUInt16LE(AF_UNIX, 0) // sa_family_t is host order: little-endian on every Linux target Node supports
  path.copy(sockaddr, 2)
  return { text, sockaddr, length }
}

/** A send that failed, with errno; the caller decides whether it matters. */
export class NotifySendError extends Error {
  constructor (readonly errno: number, readonly address: string) {
    super(`sendto ${address} failed: errno ${errno}`)
    this.name = 'NotifySendError'
  }
}

export interface NotifySocket {
  send: (message: string) => void
  close: () => void
}

interface Libc {
  socket: (domain: number, type: number, protocol: number) => number
  sendto: (fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number) => number
  close: (fd: number) => number
  errno: () => number
}

let libcPromise: Promise<Libc> | undefined

async function loadLibc (): Promise<Libc> {
  const { default: koffi } = await import('koffi')
  const lib = koffi.load('libc.so.6')
  return {
    socket: lib.func('int socket(int, int, int)'),
    sendto: lib.func('long sendto(int, const void *, size_t, int, const void *, uint32_t)'),
    close: lib.func('int close(int)'),
    errno: () => koffi.errno()
  }
}

/** Opens one unbound datagram socket, reused for every message. */
export async function openNotifySocket (address: NotifyAddress): Promise<NotifySocket> {
  libcPromise ??= loadLibc()
  const libc = await libcPromise
  const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)
  if (fd < 0) throw new NotifySendError(libc.errno(), address.text)
  let open = true
  return {
    send (message: string): void {
      if (!open) return
      const buf = Buffer.from(message)
      // A datagram either goes whole or not at all, and sendto on an unconnected
      // AF_UNIX socket does not block for a listening manager: no partial sends to handle.
      if (libc.sendto(fd, buf, buf.length, MSG_NOSIGNAL, address.sockaddr, address.length) < 0) {
        throw new NotifySendError(libc.errno(), address.text)
      }
    },
    close (): void {
      if (!open) return
      open = false
      libc.close(fd)
    }
  }
}
