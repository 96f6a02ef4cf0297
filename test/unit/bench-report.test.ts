/** `run.js --update`: one benchmark's section of BENCHMARKS.md is replaced, the rest kept. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { replaceSections, type BenchResult } from '../../bench/report.js';

const result = (title: string, figure: string): BenchResult => ({
  name: 'x',
  title,
  method: `how ${title} is measured`,
  rows: [{ metric: 'm', goal: '—', result: figure, ratio: '', verdict: null }],
  notes: [],
  durationMs: 1000,
});

const REPORT = '# Sentinel benchmarks\n\nheader\n\n## A\n\nold a\n\n## B\n\nold b\n\n## Fuzzing: every parser\n\nfuzz\n';

describe('bench report sections', () => {
  it('replaces the section with the same title and keeps every other one', () => {
    const out = replaceSections(REPORT, [result('A', 'new figure')], 'from a separate run');
    assert.match(out, /## A\n\nfrom a separate run\n\nhow A is measured/);
    assert.match(out, /new figure/);
    assert.doesNotMatch(out, /old a/);
    assert.match(out, /## B\n\nold b/);
    assert.ok(out.startsWith('# Sentinel benchmarks\n\nheader\n'));
    assert.ok(out.endsWith('## Fuzzing: every parser\n\nfuzz\n'));
  });

  it('puts a new section before the fuzzing one', () => {
    const out = replaceSections(REPORT, [result('C', 'c figure')], 'p');
    assert.ok(out.indexOf('## C') > out.indexOf('## B') && out.indexOf('## C') < out.indexOf('## Fuzzing'));
  });
});
