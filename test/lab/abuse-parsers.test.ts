/**
 * The pure pieces of the abuse suite, without the lab: the /proc parsers behind the memory,
 * descriptor and CPU figures, and the BENCHMARKS.md section replacement of bench/abuse.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { replaceSection } from '../../bench/abuse.js';
import { CLOCK_TICKS_PER_S, parseStatCpuMs, parseStatus, usage } from './abuse/proc.js';

describe('abuse suite: /proc parsers', () => {
  it('reads VmRSS and VmHWM from /proc/<pid>/status', () => {
    const text = 'Name:\tnode\nVmPeak:\t 1234 kB\nVmHWM:\t   90060 kB\nVmRSS:\t   82232 kB\nThreads:\t11\n';
    assert.deepEqual(parseStatus(text), { rssKiB: 82232, peakRssKiB: 90060 });
    assert.throws(() => parseStatus('Name:\tnode\n'), /VmRSS/);
  });

  it('reads utime + stime from /proc/<pid>/stat, whatever the command name holds', () => {
    // Fields 14 and 15 are 250 and 50 ticks; the name has a space and a parenthesis.
    const text = '4242 (node (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 11 0 1000 100000 2000';
    assert.equal(parseStatCpuMs(text), ((250 + 50) * 1000) / CLOCK_TICKS_PER_S);
    assert.throws(() => parseStatCpuMs('1 (x) S'), /unreadable/);
  });

  it('reads this very process', async () => {
    const u = await usage(process.pid);
    assert.ok(u.rssKiB > 0 && u.peakRssKiB >= u.rssKiB, JSON.stringify(u));
    assert.ok(u.fds >= 3 && u.cpuMs >= 0, JSON.stringify(u));
  });
});

describe('abuse suite: the BENCHMARKS.md section', () => {
  const doc = '# Title\n\nIntro.\n\n## A\n\na text\n\n## Abuse\n\nold table\n\n(1 s)\n\n## C\n\nc text\n';

  it('replaces only its own section, up to the next one', () => {
    const out = replaceSection(doc, 'Abuse', '## Abuse\n\nnew table\n');
    assert.equal(out, '# Title\n\nIntro.\n\n## A\n\na text\n\n## Abuse\n\nnew table\n\n## C\n\nc text\n');
  });

  it('replaces a last section to the end, and appends a missing one', () => {
    const last = replaceSection('# T\n\n## Abuse\n\nold\n', 'Abuse', '## Abuse\n\nnew\n');
    assert.equal(last, '# T\n\n## Abuse\n\nnew\n');
    const added = replaceSection('# T\n\n## A\n\na\n', 'Abuse', '## Abuse\n\nnew\n');
    assert.equal(added, '# T\n\n## A\n\na\n\n## Abuse\n\nnew\n');
  });

  it('does not take a section whose title merely starts the same way', () => {
    const out = replaceSection('# T\n\n## Abuse suite old\n\nkeep\n', 'Abuse', '## Abuse\n\nnew\n');
    assert.ok(out.includes('## Abuse suite old\n\nkeep'), out);
  });
});
