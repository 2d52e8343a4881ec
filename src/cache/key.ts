/**
 * Cache keys (pure). A key names the method, the cache namespace (default: the resource), every
 * path parameter (always — safer than AWS, which keys only listed ones), and the values of the
 * method's cacheKeyParameters. Every part is length-prefixed, so no value can imitate a separator
 * (`a=b&c` vs `a=b%26c`); absent and empty values differ. The key is a string used directly as a
 * Map key; stores that need fixed-size keys hash it.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { REQUEST_PARAMETER } from '../config/schema.js';
import { pathParameterNames } from '../config/naming.js';

export interface KeyPlan {
  /** Method and namespace, already encoded. */
  readonly prefix: string;
  readonly pathParameters: readonly string[];
  readonly queryNames: readonly string[];
  readonly queryNameSet: ReadonlySet<string>;
  /** Lower-case header names. */
  readonly headerNames: readonly string[];
  /** undefined: the body is not in the key; []: the whole body; else a JSON path. */
  readonly body: readonly string[] | undefined;
}

export interface KeyParts {
  readonly method: string;
  readonly pathParameters: Readonly<Record<string, string>>;
  readonly rawQuery: string;
  readonly headers: IncomingHttpHeaders;
  readonly body?: Buffer;
}

/** Length-prefixes a part: `5:hello`. */
const part = (value: string) => `${value.length}:${value}`;
const ABSENT = '~';

export function compileKeyPlan(method: string, resourcePath: string, cacheKeyParameters: readonly string[], namespace?: string): KeyPlan {
  const queryNames: string[] = [];
  const headerNames: string[] = [];
  let body: string[] | undefined;
  for (const parameter of cacheKeyParameters) {
    const [, location, name, isBody, jsonPath] = REQUEST_PARAMETER.exec(parameter) ?? [];
    if (location === 'querystring' || location === 'multivaluequerystring') queryNames.push(name!);
    else if (location === 'header' || location === 'multivalueheader') headerNames.push(name!.toLowerCase());
    else if (isBody) body = jsonPath ? jsonPath.replace(/^\$\.?/, '').split(/\.|\[(\d+)\]/).filter((s) => s !== undefined && s !== '') : [];
  }
  const unique = (names: string[]) => [...new Set(names)].sort();
  const sortedQuery = unique(queryNames);
  return {
    prefix: part(method) + part(namespace ?? resourcePath),
    pathParameters: pathParameterNames(resourcePath).sort(),
    queryNames: sortedQuery,
    queryNameSet: new Set(sortedQuery),
    headerNames: unique(headerNames),
    body,
  };
}

export function buildCacheKey(plan: KeyPlan, parts: KeyParts): string {
  let key = plan.prefix;
  for (const name of plan.pathParameters) key += part(parts.pathParameters[name] ?? '');
  if (plan.queryNames.length > 0) {
    const values = keyedQueryValues(parts.rawQuery, plan.queryNameSet);
    for (const name of plan.queryNames) {
      const found = values.get(name);
      // Multi-valued parameters keep their order: ?a=1&a=2 and ?a=2&a=1 differ.
      key += found ? `q${found.length}` + found.map(part).join('') : ABSENT;
    }
  }
  for (const name of plan.headerNames) {
    const value = parts.headers[name];
    key += value === undefined ? ABSENT : `h${part(Array.isArray(value) ? value.join('\n') : value)}`;
  }
  if (plan.body) key += `b${part(bodyKeyPart(plan.body, parts.body))}`;
  return key;
}

/** Decodes only the keyed query parameters, form-style (`+` is a space); malformed escapes stay raw. */
function keyedQueryValues(rawQuery: string, names: ReadonlySet<string>): Map<string, string[]> {
  const values = new Map<string, string[]>();
  if (rawQuery === '') return values;
  for (const pair of rawQuery.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decodeForm(eq < 0 ? pair : pair.slice(0, eq));
    if (!names.has(name)) continue;
    const value = eq < 0 ? '' : decodeForm(pair.slice(eq + 1));
    const list = values.get(name);
    if (list) list.push(value);
    else values.set(name, [value]);
  }
  return values;
}

function decodeForm(text: string): string {
  if (!text.includes('%') && !text.includes('+')) return text;
  const spaced = text.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}

/** The whole body as a hash, or the canonical JSON of the value at a JSON path (absent: `~`). */
function bodyKeyPart(path: readonly string[], body: Buffer | undefined): string {
  if (!body || body.length === 0) return ABSENT;
  if (path.length === 0) return createHash('sha256').update(body).digest('base64');
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    // Not JSON: key on the whole body rather than collapse every such request into one entry.
    return `raw:${createHash('sha256').update(body).digest('base64')}`;
  }
  for (const step of path) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, step)) return ABSENT;
    value = (value as Record<string, unknown>)[step];
  }
  return canonicalJson(value);
}

function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const record = value as Record<string, unknown>;
  return `{${Object.keys(record).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
}
