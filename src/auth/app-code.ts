/**
 * AppCode in the query string, as Alibaba documents for simple authentication (`?AppCode=…`).
 * The parameter is a credential: it is removed before the request is forwarded or keyed.
 */
const APP_CODE = 'appcode';

/** The AppCode query parameter's value (first one; the name is matched case-insensitively). */
export function appCodeFromQuery(rawUrl: string): string | undefined {
  const query = rawUrl.indexOf('?');
  if (query < 0 || !/appcode|%/i.test(rawUrl)) return undefined;
  for (const pair of rawUrl.slice(query + 1).split('&')) {
    const eq = pair.indexOf('=');
    // Named as withoutAppCode() matches it, so the parameter that authenticates is the one removed.
    if (eq < 0 || decodeName(pair.slice(0, eq)).toLowerCase() !== APP_CODE) continue;
    try {
      return decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' '));
    } catch {
      return pair.slice(eq + 1);
    }
  }
  return undefined;
}

/** The raw query without any AppCode parameter (every spelling of its name), else unchanged. */
export function withoutAppCode(rawQuery: string): string {
  if (!/appcode|%/i.test(rawQuery)) return rawQuery;
  return rawQuery.split('&').filter((pair) => {
    const eq = pair.indexOf('=');
    return decodeName(eq < 0 ? pair : pair.slice(0, eq)).toLowerCase() !== APP_CODE;
  }).join('&');
}

function decodeName(name: string): string {
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    return name;
  }
}
