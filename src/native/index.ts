export { loadNative, requireNative, type LoadResult } from './load.js';
export { DEFAULT_BACKLOG, MAX_TTL, MIN_TTL, dialErrno, fighterConnect, fighterListen, type FighterConnectOptions, type FighterListenOptions } from './fighter.js';
export type { ConnectCallback, ConnectHandle, FighterNative, NativeErrnoError, SockName, TcpInfo, TtlInfo } from './types.js';
export { TUN_BATCH, TUN_NAME_MAX, TunFd, openTunFd, requireTunNative, type TunNative, type TunReadCallback } from './tun.js';
export { TtlUdpSocket, loadUdpNative, requireUdpNative, type TtlRemoteInfo, type TtlUdpSocketOptions, type UdpDatagram, type UdpNative, type UdpOption } from './udp.js';
export { tcpInfoReader } from './tcp-info.js';
