import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bottomScrollTop, isAtBottom, visibleWindow } from '../../dashboard-static/src/logic/virtual.js';

describe('dashboard virtual window', () => {
  it('renders the rows in view plus the overscan, with spacers for the rest', () => {
    // 10,000 rows of 30 px, a 300 px viewport scrolled to row 100.
    const w = visibleWindow(3000, 300, 30, 10_000, 5);
    assert.deepEqual(w, { start: 95, end: 115, padTop: 95 * 30, padBottom: (10_000 - 115) * 30 });
    // The spacers and the rendered rows add up to the full height.
    assert.equal(w.padTop + (w.end - w.start) * 30 + w.padBottom, 10_000 * 30);
  });

  it('clamps at the top and the bottom of the list', () => {
    assert.deepEqual(visibleWindow(0, 300, 30, 10_000, 5), { start: 0, end: 15, padTop: 0, padBottom: (10_000 - 15) * 30 });
    const last = visibleWindow(10_000 * 30, 300, 30, 10_000, 5);
    assert.equal(last.end, 10_000);
    assert.equal(last.padBottom, 0);
    assert.ok(last.start >= 10_000 - 1 - 5);
    assert.deepEqual(visibleWindow(-50, 300, 30, 3, 5), { start: 0, end: 3, padTop: 0, padBottom: 0 });
  });

  it('renders a partly visible row at either edge', () => {
    // Scrolled 15 px into row 10: rows 10..20 are (partly) visible.
    const w = visibleWindow(315, 300, 30, 100, 0);
    assert.equal(w.start, 10);
    assert.equal(w.end, 21);
  });

  it('renders nothing for an empty list or a zero row height', () => {
    assert.deepEqual(visibleWindow(0, 300, 30, 0, 5), { start: 0, end: 0, padTop: 0, padBottom: 0 });
    assert.deepEqual(visibleWindow(0, 300, 0, 10, 5), { start: 0, end: 0, padTop: 0, padBottom: 0 });
  });

  it('renders at least one row in a viewport of no height (before layout)', () => {
    const w = visibleWindow(0, 0, 30, 100, 0);
    assert.equal(w.end - w.start, 1);
  });

  it('knows where the bottom is, for following a log', () => {
    assert.equal(bottomScrollTop(1000, 18, 360), 1000 * 18 - 360);
    assert.equal(bottomScrollTop(5, 18, 360), 0);
    assert.equal(isAtBottom(1000 * 18 - 360, 360, 1000 * 18, 18), true);
    assert.equal(isAtBottom(1000 * 18 - 360 - 10, 360, 1000 * 18, 18), true);
    assert.equal(isAtBottom(0, 360, 1000 * 18, 18), false);
  });
});
