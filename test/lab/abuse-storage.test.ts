/**
 * Abuse suite, storage (issue 8, findings 11 and 12): a 23 MiB outbox drains over one
 * session, in order, exactly once; `sentinel history` answers on the flooded node, by
 * default and page by page. Real binaries in the NAT lab (root only; skipped with the
 * reason otherwise, failed when SENTINEL_LAB=required).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HISTORY_DEFAULT_LIMIT, HISTORY_MAX_REPLY_BYTES } from '../../src/control/limits.js';
import { MAX_OUTBOX_PEAK_RSS_KIB } from './abuse/bounds.js';
import { assertSurvived, context, figure, testScale } from './abuse/expect.js';
import { outboxLivelock } from './abuse/scenarios/storage.js';
import { labAvailable } from './gate.js';

const labOk = await labAvailable('abuse: storage attacks in the NAT lab');
const scale = testScale();

if (labOk) describe('abuse: storage', { timeout: 300_000 }, () => {
  it('findings 11 and 12: a 23 MiB outbox drains in order, once, over one session; history answers after it', async (t) => {
    const r = await outboxLivelock.run(scale);
    assertSurvived(t, r, MAX_OUTBOX_PEAK_RSS_KIB);
    const n = figure(r, 'messages');
    assert.equal(figure(r, 'sender_session_drops'), 0, `the session never went down while draining (the review saw 42 up/down cycles)\n${context(r)}`);
    assert.equal(figure(r, 'delivered_at_sender'), n, context(r));
    assert.equal(figure(r, 'stored_at_victim'), n, context(r));
    assert.equal(figure(r, 'stored_in_order_once'), 1, `stored in the order queued, each once\n${context(r)}`);
    assert.equal(figure(r, 'history_default_ok'), 1, `\`sentinel history --json\` answered\n${context(r)}`);
    assert.equal(figure(r, 'history_plain_ok'), 1, `\`sentinel history\` answered\n${context(r)}`);
    assert.ok(figure(r, 'history_default_entries') > 0 && figure(r, 'history_default_entries') <= HISTORY_DEFAULT_LIMIT, context(r));
    assert.ok(figure(r, 'history_default_bytes') <= HISTORY_MAX_REPLY_BYTES, context(r));
    assert.ok(figure(r, 'history_pages') > 1, `the history did not fit one page (so paging is exercised)\n${context(r)}`);
    assert.equal(figure(r, 'history_paged_entries'), n, `paging with --before reaches every message\n${context(r)}`);
    assert.equal(figure(r, 'history_paged_in_order'), 1, context(r));
    assert.equal(figure(r, 'history_failures'), 0, context(r));
  });
});
