/** Process plumbing shared by the long-running executables (sentinel-node, sentinel-signaler). */
import { errorMessage } from '../errors.js';
import { EXIT_FAILURE } from './args.js';

/** Resolves with `close()`'s exit code on the first SIGINT or SIGTERM. */
export function untilSignal(close: () => Promise<void>): Promise<number> {
  return new Promise((done) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      close().then(() => done(0), () => done(EXIT_FAILURE));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** Run `main` as the process: set the exit code, never print a stack trace, never hang on a stray handle. */
export function runAsProcess(name: string, main: (argv: string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // Let pending writes flush, then make sure no stray handle keeps us alive.
      setTimeout(() => process.exit(code), 200).unref();
    },
    (err) => {
      process.stderr.write(`${name}: internal error: ${errorMessage(err)}\n`);
      process.exit(EXIT_FAILURE);
    },
  );
}
