/**
 * The hit-for-pass marks (src/cache/hit-for-pass.ts) as a bounded structure: pushed past its
 * named key limit it keeps the newest marks and counts what it dropped; marks end after their
 * TTL on the injected clock; long keys cost a fixed-size name.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HIT_FOR_PASS_MAX_KEYS, HIT_FOR_PASS_TTL_MS, HitForPass } from '../../src/cache/hit-for-pass.js';

describe('hit-for-pass marks', () => {
  it('are bounded by HIT_FOR_PASS_MAX_KEYS: past it the oldest marks go, counted', () => {
    let evicted = 0;
    const passes = new HitForPass({ now: () => 0, onEvict: () => evicted++ });
    const extra = 500;
    for (let i = 0; i < HIT_FOR_PASS_MAX_KEYS + extra; i++) passes.mark(HitForPass.id(`key ${i}`));
    assert.equal(passes.size, HIT_FOR_PASS_MAX_KEYS);
    assert.equal(evicted, extra);
    assert.equal(passes.has(HitForPass.id('key 0')), false, 'the oldest mark was dropped');
    assert.equal(passes.has(HitForPass.id(`key ${HIT_FOR_PASS_MAX_KEYS + extra - 1}`)), true);
  });

  it('last HIT_FOR_PASS_TTL_MS (Varnish: 120 s), renewed by another unshareable answer, cleared by a shareable one', () => {
    const clock = { now: 1_000 };
    const passes = new HitForPass({ now: () => clock.now });
    const id = HitForPass.id('GET /cookie');
    passes.mark(id);
    clock.now += HIT_FOR_PASS_TTL_MS - 1;
    assert.equal(passes.has(id), true);
    passes.mark(id);
    clock.now += HIT_FOR_PASS_TTL_MS - 1;
    assert.equal(passes.has(id), true, 'renewed');
    clock.now += 1;
    assert.equal(passes.has(id), false, 'expired');
    assert.equal(passes.size, 0, 'an expired mark is dropped when seen');
    passes.mark(id);
    passes.clear(id);
    assert.equal(passes.has(id), false);
  });

  it('name a key by a fixed-size digest, whatever its length', () => {
    assert.equal(HitForPass.id('x'.repeat(100_000)).length, 22);
    assert.notEqual(HitForPass.id('a\u0000b'), HitForPass.id('a\u0000c'));
  });
});
