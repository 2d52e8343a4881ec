/**
 * The shared header parsers (src/cache/headers): Cache-Control (RFC 9111 §5.2), targeted fields
 * (RFC 9213) and HTTP-date (RFC 9110 §5.6.7), with generated spellings (fast-check, seeded).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DELTA_SECONDS_MAX, parseCacheControl } from '../../src/cache/headers/cache-control.js';
import { formatHttpDate, parseHttpDate } from '../../src/cache/headers/http-date.js';
import { parseTargetedField } from '../../src/cache/headers/targeted.js';

describe('Cache-Control parser', () => {
  it('reads names case-insensitively, unquotes arguments, keeps the first of repeats', () => {
    const directives = parseCacheControl(['Max-Age="60", no-cache="Set-Cookie, X-A"', 'max-age=5, PUBLIC']);
    assert.equal(directives.seconds('max-age'), 60);
    assert.ok(directives.repeated.has('max-age'));
    assert.deepEqual(directives.fieldNames('no-cache'), ['set-cookie', 'x-a']);
    assert.ok(directives.has('public'));
  });

  it('skips malformed directives only, and never splits inside quotes', () => {
    const directives = parseCacheControl('max-age =60, s-maxage= 5, x="a, max-age=9", no-store');
    assert.equal(directives.has('max-age'), false);
    assert.equal(directives.has('s-maxage'), false);
    assert.equal(directives.get('x'), 'a, max-age=9');
    assert.ok(directives.has('no-store'));
  });

  it('treats non-digits as invalid and caps large values at 2^31', () => {
    for (const value of ['1.5', '-1', 'a1', '1a', "'1'"]) assert.equal(parseCacheControl(`max-age=${value}`).seconds('max-age'), 'invalid', value);
    assert.equal(parseCacheControl('max-age=99999999999999').seconds('max-age'), DELTA_SECONDS_MAX);
    assert.equal(parseCacheControl('max-age=003600').seconds('max-age'), 3600);
  });

  it('finds a directive however its name is cased and spaced around commas (generated)', () => {
    const casing = fc.string({ minLength: 8, maxLength: 8, unit: fc.constantFrom('0', '1') });
    fc.assert(fc.property(casing, fc.constantFrom('', ' ', '\t', ' ,, '), fc.nat({ max: 1_000_000 }), (mask, space, seconds) => {
      const name = [...'no-store'].map((char, i) => (mask[i] === '1' ? char.toUpperCase() : char)).join('');
      const directives = parseCacheControl(`${space}${name}${space},${space}max-age=${seconds}${space}`);
      return directives.has('no-store') && directives.seconds('max-age') === seconds;
    }), { seed: 14, numRuns: 200 });
  });
});

describe('targeted fields (RFC 9213)', () => {
  it('ignores a field that is no valid Dictionary, and an Integer member of the wrong type', () => {
    assert.equal(parseTargetedField('max-age=10000, &&&&&'), undefined);
    assert.equal(parseTargetedField('Max-Age=10'), undefined);
    const wrongType = parseTargetedField('max-age="10", no-store')!;
    assert.equal(wrongType.has('max-age'), false);
    assert.ok(wrongType.has('no-store'));
    assert.equal(parseTargetedField('max-age=10')!.seconds('max-age'), 10);
  });
});

describe('HTTP-date parser', () => {
  it('accepts the three forms, names in any case, and nothing Date.parse alone accepts', () => {
    const at = Date.UTC(1994, 10, 6, 8, 49, 37);
    for (const value of ['Sun, 06 Nov 1994 08:49:37 GMT', 'Sunday, 06-Nov-94 08:49:37 GMT', 'Sun Nov  6 08:49:37 1994', 'SUN, 06 NOV 1994 08:49:37 gmt']) {
      assert.equal(parseHttpDate(value, Date.UTC(2026, 0, 1)), at, value);
    }
    for (const value of ['0', '1994-11-06', 'Sun, 06 Nov 1994 08:49:37 UTC', 'Sun, 06 Nov 94 08:49:37 GMT', 'Sun 06 Nov 1994 08:49:37 GMT',
      'Sun, 06  Nov  1994 08:49:37 GMT', 'Sun, 06-Nov-1994 08:49:37 GMT', 'Sun, 06 Nov 1994 8:49:37 GMT', 'Sun, 31 Feb 1994 08:49:37 GMT']) {
      assert.equal(parseHttpDate(value), undefined, value);
    }
    assert.equal(parseHttpDate(['Sun, 06 Nov 1994 08:49:37 GMT', 'Sun, 06 Nov 1994 08:49:38 GMT']), undefined, 'several lines');
  });

  it('reads back every IMF-fixdate it writes (generated)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 253_402_300_799 }), (seconds) => parseHttpDate(formatHttpDate(seconds * 1000)) === seconds * 1000), { seed: 15, numRuns: 500 });
  });

  it('takes a two-digit year more than 50 years ahead as the past century (§5.6.7)', () => {
    const now = Date.UTC(2026, 0, 1);
    assert.equal(new Date(parseHttpDate('Thursday, 18-Aug-50 02:01:18 GMT', now)!).getUTCFullYear(), 2050);
    assert.equal(new Date(parseHttpDate('Saturday, 18-Aug-90 02:01:18 GMT', now)!).getUTCFullYear(), 1990);
  });
});
