/**
 * The dashboard's page, script and style sheet, read once at start (a handful of KiB) so
 * a missing file fails the start, not a request.
 *
 * The files live in `src/web/static/` and are not compiled: tsc copies nothing, so from
 * the compiled `dist/src/web/` they are found three levels up, in the package's `src/`.
 * A `static/` beside this module (a copy next to the output, or running from sources) is
 * tried first.
 */
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SentinelError } from '../errors.js';

/** One file served as is. */
export interface StaticFile {
  body: Buffer;
  contentType: string;
}

/** URL path → file name, and its content type. */
const FILES: ReadonlyArray<{ path: string; file: string; contentType: string }> = [
  { path: '/', file: 'index.html', contentType: 'text/html; charset=utf-8' },
  { path: '/app.js', file: 'app.js', contentType: 'text/javascript; charset=utf-8' },
  { path: '/style.css', file: 'style.css', contentType: 'text/css; charset=utf-8' },
];

/** Directories searched for the files, first match wins. */
export const STATIC_DIRS: readonly string[] = [
  fileURLToPath(new URL('./static/', import.meta.url)),
  fileURLToPath(new URL('../../../src/web/static/', import.meta.url)),
];

/** Loads every file from the first directory holding them; throws E_INTERNAL if none does. */
export function loadStaticFiles(dirs: readonly string[] = STATIC_DIRS): Map<string, StaticFile> {
  const dir = dirs.find((d) => existsSync(`${d}index.html`));
  if (dir === undefined) throw new SentinelError('E_INTERNAL', `dashboard files not found (looked in ${dirs.join(', ')})`);
  return new Map(FILES.map((f) => [f.path, { body: readFileSync(`${dir}${f.file}`), contentType: f.contentType }]));
}
