/**
 * RFC 9213 targeted cache-control fields (`CDN-Cache-Control`, …): a Structured Fields Dictionary
 * (RFC 8941 §3.2). A field that does not parse as one is ignored as a whole (RFC 9213 §2.1: "If
 * the field is not a valid Dictionary, the cache MUST ignore it"); a member of the wrong type is
 * ignored alone (§2.1: max-age must be an Integer). Parsed into the same CacheDirectives as
 * Cache-Control, so one set of rules reads both.
 */
import { CacheDirectives, parseCacheControl } from './cache-control.js';

const SF_KEY = /^[a-z*][a-z0-9_\-.*]*$/;
const SF_BARE_ITEM = /^(?:-?\d{1,15}(?:\.\d{1,3})?|[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*|"(?:[^"\\]|\\["\\])*"|\?[01]|:[A-Za-z0-9+/=]*:)$/;
/** Directives whose argument must be an sf-integer (RFC 9213 §2.1 names max-age and s-maxage; RFC 5861 fields alike). */
const INTEGER_MEMBERS: ReadonlySet<string> = new Set(['max-age', 's-maxage', 'stale-while-revalidate', 'stale-if-error']);

/** The directives of a targeted field, or undefined when it is absent or not a valid Dictionary. */
export function parseTargetedField(field: string | readonly string[] | undefined): CacheDirectives | undefined {
  if (field === undefined) return undefined;
  const joined = typeof field === 'string' ? field : field.join(', ');
  for (const member of splitMembers(joined)) {
    const trimmed = member.trim();
    const eq = trimmed.indexOf('=');
    const key = eq < 0 ? trimmed.split(';')[0]! : trimmed.slice(0, eq);
    if (!SF_KEY.test(key)) return undefined;
    if (eq >= 0 && !SF_BARE_ITEM.test(trimmed.slice(eq + 1).split(';')[0]!)) return undefined;
  }
  const parsed = parseCacheControl(joined);
  const directives = new CacheDirectives();
  for (const name of parsed.names()) {
    const value = parsed.get(name);
    // Wrong type: an Integer member given as anything else is ignored (a String "10" included).
    if (INTEGER_MEMBERS.has(name) && (value === undefined || !/^\d+$/.test(value) || /"/.test(memberText(joined, name)))) continue;
    directives.add(name, value);
  }
  return directives;
}

function splitMembers(value: string): string[] {
  const members: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const char = value[i];
    if (quoted && char === '\\') i++;
    else if (char === '"') quoted = !quoted;
    else if (char === ',' && !quoted) {
      members.push(value.slice(start, i));
      start = i + 1;
    }
  }
  members.push(value.slice(start));
  return members.filter((member) => member.trim() !== '');
}

function memberText(value: string, name: string): string {
  return splitMembers(value).find((member) => member.trim().toLowerCase().startsWith(`${name}=`)) ?? '';
}
