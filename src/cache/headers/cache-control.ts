/**
 * The one Cache-Control parser (RFC 9111 §5.2) of all three policies; also reads the RFC 9213
 * targeted fields (`CDN-Cache-Control`), which share its syntax (RFC 9213 §2.1: a Dictionary, but
 * "parsers SHOULD accept the Cache-Control syntax" — the list form below).
 *
 *   Cache-Control   = #cache-directive
 *   cache-directive = token [ "=" ( token / quoted-string ) ]
 *
 * Rules where the grammar is silent:
 * - names are case-insensitive (§5.2); arguments keep their case;
 * - a quoted argument is unquoted (§5.2: recipients ought to accept `max-age="5"`), and a comma
 *   inside quotes does not split directives (`no-cache="a, b"`);
 * - a malformed directive (`max-age =5`, `max-age= 5`, `max-age='5'`) is skipped, nothing else;
 * - a repeated directive: the first occurrence counts (§4.2.1 "the first occurrence should be
 *   used"); repeats are remembered so the caller can see them.
 */

/** Parsed directives: lower-case name → argument (undefined when it had none). First occurrence wins. */
export class CacheDirectives {
  private readonly values = new Map<string, string | undefined>();
  /** Names given more than once. */
  readonly repeated = new Set<string>();

  has(name: string): boolean {
    return this.values.has(name);
  }

  get(name: string): string | undefined {
    return this.values.get(name);
  }

  get size(): number {
    return this.values.size;
  }

  names(): IterableIterator<string> {
    return this.values.keys();
  }

  /** @internal the parser's only writer. */
  add(name: string, value: string | undefined): void {
    if (this.values.has(name)) this.repeated.add(name);
    else this.values.set(name, value);
  }

  /**
   * A delta-seconds argument (RFC 9111 §1.2.2): the number, `'invalid'` when the directive is
   * present with anything but digits (§4.2.1: such freshness information means stale), or
   * undefined when absent. Values past 2^31 are 2^31 (§1.2.2).
   */
  seconds(name: string): number | 'invalid' | undefined {
    if (!this.values.has(name)) return undefined;
    return deltaSeconds(this.values.get(name));
  }

  /** The field names a `no-cache="…"` / `private="…"` argument lists, lower case (§5.2.2.4, §5.2.2.7). */
  fieldNames(name: string): readonly string[] {
    const value = this.values.get(name);
    if (value === undefined) return [];
    return value.split(',').map((item) => item.trim().toLowerCase()).filter((item) => item !== '');
  }
}

/** RFC 9111 §1.2.2: "a cache MUST consider the value to be 2147483648 (2^31)" past what it can represent. */
export const DELTA_SECONDS_MAX = 2 ** 31;

export function deltaSeconds(value: string | undefined): number | 'invalid' {
  if (value === undefined || value.length === 0) return 'invalid';
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 48 || code > 57) return 'invalid';
  }
  // Only digits: Number() is exact up to 2^53, and anything above 2^31 is 2^31.
  return value.length > 10 ? DELTA_SECONDS_MAX : Math.min(Number(value), DELTA_SECONDS_MAX);
}

/** Parses one or several field lines of Cache-Control (or a targeted field). */
export function parseCacheControl(field: string | readonly string[] | undefined): CacheDirectives {
  const directives = new CacheDirectives();
  if (field === undefined) return directives;
  if (typeof field === 'string') parseLine(field, directives);
  else for (const line of field) parseLine(line, directives);
  return directives;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

function isTchar(char: string): boolean {
  return TCHAR.test(char);
}

function parseLine(line: string, into: CacheDirectives): void {
  let i = 0;
  const n = line.length;
  while (i < n) {
    // OWS and empty list elements (RFC 9110 §5.6.1: recipients accept `a, , b`).
    while (i < n && (line[i] === ' ' || line[i] === '\t' || line[i] === ',')) i++;
    if (i >= n) break;
    const nameStart = i;
    while (i < n && isTchar(line[i]!)) i++;
    const name = line.slice(nameStart, i).toLowerCase();
    let value: string | undefined;
    let valid = name.length > 0;
    if (valid && line[i] === '=') {
      i++;
      if (line[i] === '"') {
        const quoted = readQuoted(line, i);
        if (quoted) {
          value = quoted.value;
          i = quoted.end;
        } else {
          valid = false;
        }
      } else {
        const valueStart = i;
        while (i < n && isTchar(line[i]!)) i++;
        value = line.slice(valueStart, i);
        if (value === '') valid = false;
      }
    }
    // After the directive only OWS may come before the next comma; anything else spoils it.
    while (i < n && (line[i] === ' ' || line[i] === '\t')) i++;
    if (i < n && line[i] !== ',') valid = false;
    if (valid) into.add(name, value);
    else i = skipElement(line, i);
  }
}

/** RFC 9110 §5.6.4 quoted-string starting at `start` (a DQUOTE): its value and the index after it. */
function readQuoted(line: string, start: number): { value: string; end: number } | undefined {
  let value = '';
  for (let i = start + 1; i < line.length; i++) {
    const char = line[i]!;
    if (char === '"') return { value, end: i + 1 };
    if (char === '\\') {
      i++;
      if (i >= line.length) return undefined;
      value += line[i];
    } else {
      value += char;
    }
  }
  return undefined;
}

/** Moves past the rest of a malformed element: to the next comma outside a quoted string. */
function skipElement(line: string, from: number): number {
  let quoted = false;
  for (let i = from; i < line.length; i++) {
    const char = line[i]!;
    if (quoted && char === '\\') i++;
    else if (char === '"') quoted = !quoted;
    else if (char === ',' && !quoted) return i + 1;
  }
  return line.length;
}
