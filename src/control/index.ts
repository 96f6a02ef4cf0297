/** Local control API: protocol codec, node-side server and client. */
export {
  MAX_LINE_BYTES,
  MAX_RESPONSE_LINE_BYTES,
  CONTROL_SOCKET_NAME,
  CONTROL_METHODS,
  controlSocketPath,
  encodeLine,
  okResponse,
  errorResponse,
  progressEvent,
  parseServerMessage,
} from './protocol.js';
export type {
  RequestId,
  ControlParams,
  ControlResults,
  ControlMethod,
  ControlRequest,
  ControlErrorBody,
  ControlResponse,
  ControlProgressEvent,
  ControlServerMessage,
} from './protocol.js';
export { LineSplitter, type SplitResult } from './lines.js';
export { parseRequest, type ParsedRequest } from './request.js';
export { dispatch, toErrorBody } from './dispatch.js';
export { MAX_IN_FLIGHT, MAX_PENDING_OUTPUT_BYTES, type ControlLog } from './connection.js';
export {
  startControlServer,
  MAX_SOCKET_PATH_BYTES,
  type ControlServer,
  type ControlServerOptions,
  type ControlServerCounters,
} from './server.js';
export { connectControl, remoteError, type ControlClient } from './client.js';
