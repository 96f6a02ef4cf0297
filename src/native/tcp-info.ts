/** TCP_INFO of a session's TCP socket, through the addon (native/ttl.c tcpInfo). */
import { loadNative } from './load.js';
import type { TcpInfo } from './types.js';

/**
 * A reader of TCP_INFO by fd, or null when the addon (or a build of it with tcpInfo) is
 * not there. The reader returns null for an fd that is not a TCP socket (never throws).
 */
export function tcpInfoReader(): ((fd: number) => TcpInfo | null) | null {
  const r = loadNative();
  if (!r.ok || typeof r.native.tcpInfo !== 'function') return null;
  const read = r.native.tcpInfo.bind(r.native);
  return (fd) => {
    try {
      return read(fd);
    } catch {
      return null;
    }
  };
}
