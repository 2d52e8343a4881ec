/**
 * Resource routing as on API Gateway: path templates with `{param}` segments and a trailing greedy
 * `{proxy+}`; at every segment a literal beats a parameter, which beats a greedy match (the most
 * specific resource wins). Built once per API when the config changes; matching allocates only
 * the parameter record.
 */

export interface RouteMatch<T> {
  readonly resourcePath: string;
  readonly value: T;
  /** Decoded parameter values; a greedy parameter holds the rest of the path, `/` included. */
  readonly pathParameters: Record<string, string>;
}

interface Endpoint<T> {
  resourcePath: string;
  value: T;
  /** The template's non-greedy parameter names, in order (captured values pair with them). */
  names: string[];
}

interface Node<T> {
  literals: Map<string, Node<T>>;
  param?: { name: string; node: Node<T> };
  greedy?: Endpoint<T> & { name: string };
  resource?: Endpoint<T>;
}

const newNode = <T>(): Node<T> => ({ literals: new Map() });

export class Router<T> {
  private readonly root: Node<T> = newNode();

  add(resourcePath: string, value: T): void {
    let node = this.root;
    const names = [...resourcePath.matchAll(/\{([^}+]+)\}/g)].map((match) => match[1]!);
    for (const segment of splitTemplate(resourcePath)) {
      const greedy = /^\{(.+)\+\}$/.exec(segment);
      if (greedy) {
        node.greedy = { name: greedy[1]!, resourcePath, value, names };
        return;
      }
      const param = /^\{(.+)\}$/.exec(segment);
      if (param) {
        node.param ??= { name: param[1]!, node: newNode() };
        node = node.param.node;
      } else {
        let next = node.literals.get(segment);
        if (!next) node.literals.set(segment, (next = newNode()));
        node = next;
      }
    }
    node.resource = { resourcePath, value, names };
  }

  /**
   * Matches decoded path segments (`['pets', '42']` for `/pets/42`). Backtracks, so `/a/{x}/c`
   * and `/a/b/{y}` both stay reachable.
   */
  match(segments: readonly string[]): RouteMatch<T> | undefined {
    return this.matchFrom(this.root, segments, 0, []);
  }

  private matchFrom(node: Node<T>, segments: readonly string[], index: number, captured: string[]): RouteMatch<T> | undefined {
    if (index === segments.length) {
      const { resource } = node;
      if (resource) return { resourcePath: resource.resourcePath, value: resource.value, pathParameters: toParameters(resource.names, captured) };
      return undefined;
    }
    const segment = segments[index]!;
    const literal = node.literals.get(segment);
    if (literal) {
      const found = this.matchFrom(literal, segments, index + 1, captured);
      if (found) return found;
    }
    // A parameter never matches an empty segment (`/pets//x`).
    if (node.param && segment !== '') {
      captured.push(segment);
      const found = this.matchFrom(node.param.node, segments, index + 1, captured);
      if (found) return found;
      captured.pop();
    }
    if (node.greedy) {
      const rest = segments.slice(index).join('/');
      if (rest !== '') {
        const parameters = toParameters(node.greedy.names, captured);
        parameters[node.greedy.name] = rest;
        return { resourcePath: node.greedy.resourcePath, value: node.greedy.value, pathParameters: parameters };
      }
    }
    return undefined;
  }
}

function splitTemplate(resourcePath: string): string[] {
  return resourcePath === '/' ? [] : resourcePath.slice(1).split('/');
}

/** Pairs captured values with the template's (non-greedy) parameter names, in order. */
function toParameters(names: readonly string[], captured: readonly string[]): Record<string, string> {
  const parameters: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) parameters[names[i]!] = captured[i]!;
  return parameters;
}

/**
 * Splits a raw request path (after the stage) into decoded segments. A trailing slash is ignored
 * (`/pets/` routes as `/pets`). Returns undefined for malformed percent-encoding. Lenient: used for
 * purge prefixes and tags; requests go through canonicalRequestPath, which also refuses spellings.
 */
export function decodePathSegments(rawPath: string): string[] | undefined {
  if (rawPath === '' || rawPath === '/') return [];
  const trimmed = rawPath.endsWith('/') ? rawPath.slice(1, -1) : rawPath.slice(1);
  const segments = trimmed.split('/');
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (segment.includes('%')) {
      try {
        segments[i] = decodeURIComponent(segment);
      } catch {
        return undefined;
      }
    }
  }
  return segments;
}

/**
 * One canonical path per resource (SPEC §7 "One canonical request path"): routing, the
 * execute-api ARN, cache keys and path tags all read this, never the raw request target.
 *
 * - Percent-escapes are decoded once per segment (RFC 3986 §6.2.2.2: `%61dmin` is `admin`); the
 *   canonical text re-encodes each decoded segment one way (`canonicalSegment`), so every spelling
 *   of a segment (`%61`, `%2d` vs `%2D`, …) has one form.
 * - A single trailing `/` is dropped (`/pets/` is `/pets`), as routing always did.
 * - Refused (400), never normalised: a dot-segment (`.`, `..`, or their encodings `%2e`), an empty
 *   segment (`//`), an encoded `/` (`%2F`), and invalid UTF-8. A gateway that resolved them would
 *   hand the backend a path whose meaning depends on the backend's own normalisation (nginx merges
 *   `//`, some servers decode `%2F`), so the ARN checked here could name another resource than the
 *   one served; refusing keeps one spelling per resource. (Tomcat refuses encoded `/` by default too.)
 */
export type CanonicalPath =
  | { readonly ok: true; readonly segments: readonly string[]; readonly text: string }
  | { readonly ok: false; readonly problem: 'percent-encoding' | 'dot-segment' | 'empty-segment' | 'encoded-slash' };

const ROOT: CanonicalPath = Object.freeze({ ok: true as const, segments: Object.freeze([]) as readonly string[], text: '/' });

export function canonicalRequestPath(rawPath: string): CanonicalPath {
  if (rawPath === '' || rawPath === '/') return ROOT;
  const plainEnd = plainPathEnd(rawPath);
  if (plainEnd !== -1) {
    // Already canonical: nothing to decode, refuse or re-encode (the usual request).
    const text = plainEnd === rawPath.length ? rawPath : rawPath.slice(0, plainEnd);
    return { ok: true, segments: text.slice(1).split('/'), text };
  }
  const trimmed = rawPath.endsWith('/') ? rawPath.slice(1, -1) : rawPath.slice(1);
  const segments = trimmed.split('/');
  let text = '';
  for (let i = 0; i < segments.length; i++) {
    let segment = segments[i]!;
    if (segment === '') return { ok: false, problem: 'empty-segment' };
    if (segment.includes('%')) {
      if (/%2f/i.test(segment)) return { ok: false, problem: 'encoded-slash' };
      try {
        segment = decodeURIComponent(segment);
      } catch {
        // Malformed escapes and invalid UTF-8 (overlong forms, lone surrogates) alike.
        return { ok: false, problem: 'percent-encoding' };
      }
      segments[i] = segment;
    }
    // RFC 3986 §3.3: `.` and `..` are dot-segments, whichever way they were spelled.
    if (segment === '.' || segment === '..') return { ok: false, problem: 'dot-segment' };
    text += '/' + canonicalSegment(segment);
  }
  return { ok: true, segments, text };
}

/**
 * Where the canonical text of `rawPath` ends when the path is canonical already — `/`, then
 * non-empty segments of pchar characters only (no `%`), none `.` or `..`, and at most one
 * trailing `/` (dropped) — found in one scan; -1 for any other path (the full decoding above).
 */
function plainPathEnd(rawPath: string): number {
  if (rawPath.charCodeAt(0) !== 47 /* / */) return -1;
  const end = rawPath.charCodeAt(rawPath.length - 1) === 47 ? rawPath.length - 1 : rawPath.length;
  let segmentStart = 1;
  for (let i = 1; i <= end; i++) {
    const code = i === end ? 47 : rawPath.charCodeAt(i);
    if (code !== 47) {
      if (code >= 128 || PCHAR_CODES[code] === 0) return -1;
      continue;
    }
    const length = i - segmentStart;
    // Empty and dot segments are refused by the full path, with its reasons.
    if (length === 0 || (rawPath.charCodeAt(segmentStart) === 46 /* . */ && (length === 1 || (length === 2 && rawPath.charCodeAt(segmentStart + 1) === 46)))) return -1;
    segmentStart = i + 1;
  }
  return end;
}

/** Characters a path segment may carry unescaped (RFC 3986 §3.3 pchar): unreserved, sub-delims, `:` and `@`. */
const PCHAR_ONLY = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]*$/;
const PCHAR_ESCAPES = /%(?:24|26|2B|2C|3B|3D|3A|40)/g;
/** PCHAR_ONLY as a table by ASCII code, for plainPathEnd's one scan. */
const PCHAR_CODES = new Uint8Array(128).map((_, code) => (PCHAR_ONLY.test(String.fromCharCode(code)) ? 1 : 0));

/**
 * A decoded segment in its one canonical spelling: pchar characters as they are, everything else
 * percent-encoded from UTF-8 with upper-case hex (RFC 3986 §2.1, §6.2.2.1).
 */
export function canonicalSegment(segment: string): string {
  if (PCHAR_ONLY.test(segment)) return segment;
  // encodeURIComponent escapes these pchar characters too; restore them so one form remains.
  return encodeURIComponent(segment).replace(PCHAR_ESCAPES, decodeURIComponent);
}
