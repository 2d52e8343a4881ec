/**
 * Adversarial request and response shapes for the memory invariant: what an outsider chooses
 * about an entry (path, keyed query value and header, the backend's tags and headers) at the sizes,
 * encodings and counts that make a cache keep the most bytes per counted byte.
 */
import fc from 'fast-check';

export type Alphabet = 'ascii' | 'percent' | 'utf8-2' | 'utf8-3' | 'utf8-4';

export interface Shape {
  readonly segments: number;
  readonly segmentChars: number;
  readonly alphabet: Alphabet;
  readonly queryChars: number;
  readonly queryAlphabet: Alphabet;
  readonly headerChars: number;
  readonly tags: number;
  readonly tagChars: number;
  readonly responseHeaders: number;
  readonly responseHeaderChars: number;
  readonly bodyBytes: number;
}

/** Characters of each alphabet as they go on the wire (percent-encoded where they must be); no `.` or `%2F`, which the canonical path refuses (400) in a segment. */
const UNITS: Record<Alphabet, readonly string[]> = {
  ascii: ['a', 'b', 'Z', '0', '-', '_', '~'],
  percent: ['%41', '%62', '%3D', '%25', '%20', '%3B'],
  'utf8-2': ['%C3%A9', '%c3%b1', '%D0%96'],
  'utf8-3': ['%E2%82%AC', '%e6%97%a5', '%EF%BF%BD'],
  'utf8-4': ['%F0%9F%98%80', '%f0%9f%a6%84'],
};
const ALPHABETS = Object.keys(UNITS) as Alphabet[];
/** Wire characters per unit, at most. */
const WIRE: Record<Alphabet, number> = { ascii: 1, percent: 3, 'utf8-2': 6, 'utf8-3': 9, 'utf8-4': 12 };
/** What Node accepts on a request line (half its 16 KiB header limit, listener.ts) and undici in a response head. */
const MAX_PATH_WIRE = 6000;
const MAX_QUERY_WIRE = 1500;
const MAX_RESPONSE_HEADER_CHARS = 11_000;

/** Large and many (what makes an entry big) or small and plain (what makes per-entry overhead count). */
export function adversarialShape(): fc.Arbitrary<Shape> {
  return fc.oneof(largeShape(), smallShape());
}

function smallShape(): fc.Arbitrary<Shape> {
  return fc.record({
    segments: fc.integer({ min: 1, max: 4 }),
    segmentChars: fc.integer({ min: 1, max: 12 }),
    alphabet: fc.constantFrom(...ALPHABETS),
    queryChars: fc.integer({ min: 0, max: 12 }),
    queryAlphabet: fc.constantFrom(...ALPHABETS),
    headerChars: fc.integer({ min: 0, max: 12 }),
    tags: fc.integer({ min: 0, max: 3 }),
    tagChars: fc.integer({ min: 1, max: 12 }),
    responseHeaders: fc.integer({ min: 0, max: 3 }),
    responseHeaderChars: fc.integer({ min: 0, max: 12 }),
    bodyBytes: fc.integer({ min: 0, max: 64 }),
  });
}

function largeShape(): fc.Arbitrary<Shape> {
  return fc.record({
    segments: fc.integer({ min: 1, max: 60 }),
    segmentChars: fc.integer({ min: 1, max: 2000 }),
    alphabet: fc.constantFrom(...ALPHABETS),
    queryChars: fc.integer({ min: 0, max: 1500 }),
    queryAlphabet: fc.constantFrom(...ALPHABETS),
    headerChars: fc.integer({ min: 0, max: 3000 }),
    tags: fc.integer({ min: 0, max: 100 }),
    tagChars: fc.integer({ min: 1, max: 1100 }),
    responseHeaders: fc.integer({ min: 0, max: 80 }),
    responseHeaderChars: fc.integer({ min: 0, max: 600 }),
    bodyBytes: fc.integer({ min: 0, max: 4096 }),
  }).map((shape) => {
    // Clamp to what HTTP lets through, keeping the generated proportions.
    const segmentChars = Math.max(1, Math.min(shape.segmentChars, Math.floor(MAX_PATH_WIRE / shape.segments / WIRE[shape.alphabet]) - 1));
    const queryChars = Math.min(shape.queryChars, Math.floor(MAX_QUERY_WIRE / WIRE[shape.queryAlphabet]));
    let { tags, tagChars, responseHeaders, responseHeaderChars } = shape;
    while (tags * (tagChars + 8) + responseHeaders * (responseHeaderChars + 12) > MAX_RESPONSE_HEADER_CHARS) {
      if (tags * tagChars >= responseHeaders * responseHeaderChars) tagChars = Math.max(1, Math.floor(tagChars / 2)), tags = Math.min(tags, Math.floor(MAX_RESPONSE_HEADER_CHARS / 2 / 8));
      else responseHeaderChars = Math.floor(responseHeaderChars / 2), responseHeaders = Math.min(responseHeaders, 60);
    }
    return { ...shape, segmentChars, queryChars, tags, tagChars, responseHeaders, responseHeaderChars };
  });
}

function text(alphabet: Alphabet, chars: number, salt: number): string {
  const units = UNITS[alphabet];
  let out = '';
  for (let i = 0; i < chars; i++) out += units[(i + salt) % units.length]!;
  return out;
}

/** The n-th distinct request of a shape: its path (after the stage) and headers. */
export function requestFor(shape: Shape, n: number): { path: string; headers: Record<string, string> } {
  let path = `/n${n}`;
  for (let s = 0; s < shape.segments; s++) path += `/${text(shape.alphabet, shape.segmentChars, s)}`;
  const query = `?q=${text(shape.queryAlphabet, shape.queryChars, n)}&unkeyed=${n}`;
  // Visible Latin-1 (a header value may carry bytes 0x80-0xff).
  const headers = { 'x-k': `${n}:${'v\u00e9'.repeat(Math.ceil(shape.headerChars / 2)).slice(0, shape.headerChars)}` };
  return { path: path + query, headers };
}

/** The backend's answer to a request of the shape: tags unique to the entry, many headers, a body. */
export function responseFor(shape: Shape, url: string): { headers: Record<string, string>; body: Buffer } {
  const n = /\/n(\d+)/.exec(url)?.[1] ?? 'x';
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'cache-control': 'max-age=3600' };
  if (shape.tags > 0) {
    const tags: string[] = [];
    for (let t = 0; t < shape.tags; t++) tags.push(`${n}.${t}.${'t'.repeat(shape.tagChars)}`.slice(0, Math.max(shape.tagChars, `${n}.${t}.`.length + 1)));
    headers['surrogate-key'] = tags.join(' ');
  }
  for (let h = 0; h < shape.responseHeaders; h++) headers[`x-h${h}`] = `${n}${'\u00e9h'.repeat(Math.ceil(shape.responseHeaderChars / 2))}`.slice(0, shape.responseHeaderChars + n.length);
  return { headers, body: Buffer.alloc(shape.bodyBytes, n.length) };
}
