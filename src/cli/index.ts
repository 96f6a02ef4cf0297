/** Command-line front ends: argument parsing, output formatting, `sentinel`, the shell. */
export {
  parseArgv,
  intOption,
  formatOptions,
  usage,
  isEntryPoint,
  EXIT_USAGE,
  EXIT_FAILURE,
  type OptionSpec,
  type OptionSpecs,
  type OptionValues,
  type ParsedArgv,
} from './args.js';
export {
  SHORT_ID_LENGTH,
  PEER_COLUMNS,
  printable,
  shortId,
  formatTime,
  formatClock,
  formatAgo,
  formatTable,
  labeler,
  connectionText,
  rttText,
  formatPeers,
  formatHistoryLine,
  formatProgress,
  formatDialResult,
  formatSendResult,
  formatStatus,
  formatDuration,
  formatEvent,
  type Labeler,
  type PeerColumn,
} from './format.js';
export { main as sentinelMain, DEFAULT_DATA_DIR, type CliIo } from './sentinel.js';
export { createShell, DEFAULT_HISTORY_COUNT, type Shell, type ShellOptions } from './shell.js';
