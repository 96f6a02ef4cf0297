/**
 * Abuse suite, what reaches the user and the disk (issue 8, findings 13-15): a peer's text
 * with escapes, unsafe key and data-dir permissions, an id prefix a stranger ground a key
 * to share. Real binaries in the NAT lab (root only; skipped with the reason otherwise,
 * failed when SENTINEL_LAB=required).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MIN_STRANGER_PREFIX } from '../../src/identity/index.js';
import { assertSurvived, context, figure, testScale } from './abuse/expect.js';
import { idPrefix, unsafeFiles, untrustedText } from './abuse/scenarios/local.js';
import { labAvailable } from './gate.js';

const labOk = await labAvailable('abuse: text, files and ids in the NAT lab');
const scale = testScale();

if (labOk) describe('abuse: text, files and ids', { timeout: 180_000 }, () => {
  it('finding 13, log and terminal injection: the log and the commands show peer text escaped, one line each', async (t) => {
    const r = await untrustedText.run(scale);
    assertSurvived(t, r);
    assert.equal(figure(r, 'log_reason_escaped'), 1, `the GOAWAY reason reached the log, escaped (so the checks below saw it)\n${context(r)}`);
    assert.equal(figure(r, 'log_unsafe_lines'), 0, `no raw control or bidi character in the log\n${context(r)}`);
    assert.equal(figure(r, 'log_forged_lines'), 0, `no forged log line\n${context(r)}`);
    assert.equal(figure(r, 'terminal_name_escaped'), 1, `\`sentinel peers\` shows the name escaped\n${context(r)}`);
    assert.equal(figure(r, 'terminal_text_escaped'), 1, `\`sentinel history\` shows the text escaped\n${context(r)}`);
    assert.equal(figure(r, 'terminal_unsafe_lines'), 0, `no raw control character on the terminal\n${context(r)}`);
  });

  it('finding 14, unsafe files: a 0644 or linked key and world-writable data dirs are refused in one line naming the fix', async (t) => {
    const r = await unsafeFiles.run(scale);
    t.diagnostic(r.notes.join(' | '));
    for (const c of ['key_0644', 'key_symlink', 'dir_0777_own', 'dir_0777_other_user']) assert.equal(figure(r, `${c}_refused_in_one_line`), 1, `${c}\n${r.notes.join('\n')}`);
    assert.equal(figure(r, 'key_0600_starts'), 1, `the same key at 0600 starts: the refusals were about the mode\n${r.notes.join('\n')}`);
  });

  it(`finding 15, id prefixes: a shared prefix picks the contact; a stranger needs ${MIN_STRANGER_PREFIX} characters; a typo is refused`, async (t) => {
    const r = await idPrefix.run(scale);
    assertSurvived(t, r);
    assert.equal(figure(r, 'stranger_connected'), 1, `the grinding stranger was connected while the user typed\n${context(r)}`);
    assert.equal(figure(r, 'shared_prefix_picks_contact'), 1, context(r));
    assert.equal(figure(r, 'stranger_prefix_12_refused'), 1, context(r));
    assert.equal(figure(r, 'typo_refused'), 1, context(r));
    assert.equal(figure(r, 'prefix_3_refused'), 1, context(r));
    assert.equal(figure(r, 'messages_at_stranger'), 0, `nothing reached the stranger\n${context(r)}`);
  });
});
