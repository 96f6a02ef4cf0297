/**
 * docs/PROTOCOL.md's control API table lists every control method: adding a method to
 * CONTROL_METHODS without documenting it fails here.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { CONTROL_METHODS } from '../../src/control/protocol.js';
import { REPO_ROOT } from '../helpers/procs.js';

/** The method names of the table under `## Local control API` (a row may name several: `allow, deny`). */
function documentedMethods(markdown: string): string[] {
  const section = markdown.split(/^## /m).find((s) => s.startsWith('Local control API'));
  assert.ok(section, 'docs/PROTOCOL.md has a "Local control API" section');
  const rows = section.split('\n').filter((l) => l.startsWith('|') && !/^\|\s*(method|-)/.test(l));
  return rows.flatMap((r) => (r.split('|')[1] ?? '').split(',').map((m) => m.trim())).filter((m) => m !== '');
}

it('docs/PROTOCOL.md documents every control method, and only those', async () => {
  const doc = documentedMethods(await readFile(join(REPO_ROOT, 'docs', 'PROTOCOL.md'), 'utf8'));
  assert.deepEqual([...doc].sort(), [...CONTROL_METHODS].sort());
});
