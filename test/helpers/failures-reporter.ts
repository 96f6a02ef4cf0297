// A second reporter for `npm test`: the TAP stream is long and CI logs may show only its
// tail, so this one prints every failed test again, with its file and error, at the very end.
import { inspect } from 'node:util';

interface FailEvent {
  name: string;
  nesting: number;
  file?: string;
  details?: { error?: unknown };
}

export default async function* failuresReporter(
  source: AsyncIterable<{ type: string; data: unknown }>,
): AsyncGenerator<string> {
  const failed: FailEvent[] = [];
  for await (const event of source) {
    if (event.type === 'test:fail') failed.push(event.data as FailEvent);
  }
  if (failed.length === 0) return;
  // A failing subtest also fails its suite; list the innermost failures first.
  const lines = [`\n# ==== ${failed.length} failed test(s) (suites included) ====`];
  for (const f of failed) {
    const err = f.details?.error;
    const cause = (err as { cause?: unknown } | undefined)?.cause ?? err;
    const text = inspect(cause, { depth: 4, breakLength: 120 }).split('\n').slice(0, 30);
    lines.push(`# FAILED ${'  '.repeat(f.nesting)}${f.name}  (${f.file ?? 'unknown file'})`);
    for (const l of text) lines.push(`#   ${l}`);
  }
  yield lines.join('\n') + '\n';
}
