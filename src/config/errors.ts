/** Config errors: every problem at once, each naming its path and the offending value. */

export type PathSegment = string | number;

export interface ConfigIssue {
  path: PathSegment[];
  message: string;
}

export class ConfigError extends Error {
  readonly issues: ConfigIssue[];

  constructor(readonly source: string, issues: ConfigIssue[]) {
    super(`${source}: ${issues.length} config error${issues.length === 1 ? '' : 's'}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }

  /** One line per issue: `apis[0].stages.prod.cacheClusterSize: must be one of …, got "3"`. */
  lines(): string[] {
    return this.issues.map(formatIssue);
  }
}

export function formatIssue(issue: ConfigIssue): string {
  const path = formatPath(issue.path);
  return path ? `${path}: ${issue.message}` : issue.message;
}

/** `apis[0].stages.prod.methodSettings["*\/*"].cacheTtlInSeconds` — JS-like, quoting keys that need it. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** Renders a rejected value briefly for `got …`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Levenshtein distance, for "did you mean" hints on unknown fields. */
export function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0]!;
    previous[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j]!;
      previous[j] = Math.min(above + 1, previous[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return previous[b.length]!;
}

export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}
