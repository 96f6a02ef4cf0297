export { loadNative, requireNative, type LoadResult } from './load.js';
export { DEFAULT_BACKLOG, dialErrno, fighterConnect, fighterListen, type FighterConnectOptions, type FighterListenOptions } from './fighter.js';
export type { ConnectCallback, ConnectHandle, FighterNative, NativeErrnoError, SockName } from './types.js';
