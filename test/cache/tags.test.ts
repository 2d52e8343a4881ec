/**
 * Purge tags are bounded whatever the backend or the path (SPEC §7: what is kept is bounded, not
 * trusted), and a prefix purge still finds every entry under it. Generated cases, seeded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  backendTags, MAX_BACKEND_TAG_TOTAL_BYTES, MAX_BACKEND_TAGS, MAX_PATH_TAG_DEPTH, MAX_PATH_TAG_LENGTH, MAX_TAG_BYTES, PATH_TAG_MARK, pathPrefixTag, pathTags,
} from '../../src/cache/tags.js';

const tagText = fc.oneof(
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
  fc.integer({ min: 1, max: 1400 }).map((length) => 'x'.repeat(length)),
  fc.integer({ min: 1, max: 400 }).map((length) => '\u00e9\u2603'.repeat(length)),
);
const segment = fc.oneof(
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }).map(encodeURIComponent),
  fc.integer({ min: 1, max: 300 }).map((length) => '%20%C3%A9'.repeat(length)),
);

describe('purge tags are bounded', () => {
  it('backend tags: at most MAX_BACKEND_TAGS, each within MAX_TAG_BYTES, together within MAX_BACKEND_TAG_TOTAL_BYTES', () => {
    fc.assert(
      fc.property(fc.array(tagText, { maxLength: 200 }), fc.array(tagText, { maxLength: 50 }), (surrogate, cacheTag) => {
        const tags = backendTags({ 'surrogate-key': surrogate.join(' '), 'cache-tag': cacheTag.join(', ') });
        assert.ok(tags.length <= MAX_BACKEND_TAGS);
        assert.equal(new Set(tags).size, tags.length, 'no duplicates');
        let total = 0;
        for (const tag of tags) {
          const bytes = Buffer.byteLength(tag);
          assert.ok(bytes <= MAX_TAG_BYTES);
          total += bytes;
        }
        assert.ok(total <= MAX_BACKEND_TAG_TOTAL_BYTES, `${total} bytes of tags`);
      }),
      { seed: 4242, numRuns: 200 },
    );
  });

  it('path tags: one per prefix down to MAX_PATH_TAG_DEPTH, none longer than the mark + MAX_PATH_TAG_LENGTH', () => {
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 40 }), (segments) => {
        const tags = pathTags(`/${segments.join('/')}`);
        assert.equal(tags.length, 1 + Math.min(segments.length, MAX_PATH_TAG_DEPTH));
        for (const tag of tags) {
          assert.ok(tag.startsWith(PATH_TAG_MARK));
          assert.ok(tag.length <= PATH_TAG_MARK.length + MAX_PATH_TAG_LENGTH, `${tag.length} chars`);
        }
      }),
      { seed: 4243, numRuns: 200 },
    );
  });

  it('a purge of any whole-segment prefix, encoded or decoded, finds the entry; a longer sibling prefix does not', () => {
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 12 }), fc.nat(), fc.boolean(), (segments, cut, decoded) => {
        const tags = pathTags(`/${segments.join('/')}`);
        const depth = 1 + (cut % Math.min(segments.length, MAX_PATH_TAG_DEPTH));
        const prefix = segments.slice(0, depth).map((part) => (decoded ? decodeURIComponent(part).replace(/[/%?#]/g, encodeURIComponent) : part));
        assert.ok(tags.includes(pathPrefixTag(`/${prefix.join('/')}`)!), `prefix of depth ${depth}`);
        const sibling = [...segments.slice(0, depth - 1), `${segments[depth - 1]}x`];
        assert.ok(!tags.includes(pathPrefixTag(`/${sibling.join('/')}`)!), 'not a segment prefix');
      }),
      { seed: 4244, numRuns: 200 },
    );
  });
});
