/** The mesh shapes of test/lab/gossip-mesh.ts (pure; no namespaces needed). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hopCounts, meshEdges } from './gossip-mesh.js';

describe('gossip mesh graph', () => {
  it('a line of 8 links neighbours only, and its ends are 7 hops apart', () => {
    const edges = meshEdges(8, 'line', 0, 1);
    assert.deepEqual(edges, [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 6], [6, 7]]);
    assert.deepEqual(hopCounts(8, edges, 0), [0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('a ring with chords has every edge once, no loops, the chords asked for, and stays connected', () => {
    const edges = meshEdges(30, 'ring', 20, 30);
    assert.equal(edges.length, 30 + 20);
    const keys = edges.map(([a, b]) => (a < b ? `${a}-${b}` : `${b}-${a}`));
    assert.equal(new Set(keys).size, keys.length, 'no edge twice');
    assert.ok(edges.every(([a, b]) => a !== b), 'no loops');
    assert.deepEqual(meshEdges(30, 'ring', 20, 30), edges, 'the same seed gives the same chords');
    const hops = hopCounts(30, edges, 0);
    assert.ok(hops.every((h) => h >= 0), 'connected');
    assert.ok(Math.max(...hops) < 15, 'the chords shorten the ring');
  });

  it('marks unreachable nodes', () => {
    assert.deepEqual(hopCounts(3, [[0, 1]], 0), [0, 1, -1]);
  });
});
