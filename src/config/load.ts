/**
 * Loading a config: read YAML or JSON, substitute `${VAR}` from the environment, validate the
 * shape (schema.ts) and the cross-references (semantics.ts), then freeze. All problems are
 * collected and reported together.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument, type YAMLError } from 'yaml';
import { z } from 'zod';
import { apiSchema, configSchema, FIELD_SECTIONS, KNOWN_FIELDS, ROUTE_METHODS, type ApiConfig, type Config } from './schema.js';
import { ConfigError, closest, describeValue, formatPath, type ConfigIssue, type PathSegment } from './errors.js';
import { checkSemantics } from './semantics.js';
import { importOpenApi, mergeResources } from './openapi.js';

export interface LoadedConfig {
  readonly config: Config;
  /** Directory relative paths in the config (function handlers, openapi files) resolve against. */
  readonly baseDir: string;
  /** The file it came from, or a label such as `<demo>`. */
  readonly source: string;
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message;
    throw new ConfigError(file, [{ path: [], message: `cannot read ${file}: ${reason}` }]);
  }
  return parseConfigText(text, { source: file, baseDir: dirname(path), env });
}

export function parseConfigText(
  text: string,
  options: { source: string; baseDir: string; env?: NodeJS.ProcessEnv },
): LoadedConfig {
  // The yaml parser reads JSON too (JSON is YAML 1.2), with line numbers in its errors.
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    // The first syntax error is the cause; YAML's parser then reports every token after it (one
    // unquoted `${VAR}` in a `{ … }` map gave 298 lines), so the rest is counted, not listed.
    const more = document.errors.length - 1;
    const message = syntaxMessage(document.errors[0]!, text) + (more > 0 ? ` (${more} more syntax error${more === 1 ? '' : 's'} after it, most likely caused by it)` : '');
    throw new ConfigError(options.source, [{ path: [], message }]);
  }
  const raw: unknown = document.toJS();
  if (raw === null || raw === undefined) {
    throw new ConfigError(options.source, [{ path: [], message: 'the file is empty: expected a mapping with gateway, store, identities and apis (see the README)' }]);
  }
  return validateConfig(raw, options);
}

/** `syntax error at line 3, column 1: <what> (near "<that line>")` — one line, with the line it points at. */
function syntaxMessage(error: YAMLError, text: string): string {
  const reason = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  const position = error.linePos?.[0];
  if (!position) return `syntax error: ${reason}`;
  const line = text.split(/\r?\n/)[position.line - 1]?.trim();
  const near = line ? ` (near ${describeValue(line)})` : '';
  // `{ key: ${VAR} }`: in a flow map YAML reads the `{` of an unquoted ${VAR} as a nested map.
  const quote = line && /\{[^}]*[:,]\s*\$\{/.test(line) ? '; quote "${VAR}" inside a { … } map' : '';
  return `syntax error at line ${position.line}, column ${position.col}: ${reason}${near}${quote}`;
}

/**
 * Shape and cross-references are reported in one run: where the shape is wrong, the offending
 * values are set aside (pruned) and the cross-reference checks run over the rest, so fixing the
 * schema errors never reveals a second batch. One cause is said once: an unset `${VAR}` is not
 * reported again as the empty value it left behind.
 */
export function validateConfig(
  raw: unknown,
  options: { source: string; baseDir: string; env?: NodeJS.ProcessEnv },
): LoadedConfig {
  const issues: ConfigIssue[] = [];
  const substituted = withOpenApiResources(substituteEnv(raw, options.env ?? process.env, [], issues), options.baseDir, issues);
  const causes = issues.map((issue) => issue.path);
  const parsed = configSchema.safeParse(substituted, { reportInput: true });
  if (parsed.success) {
    issues.push(...checkSemantics(parsed.data, options.baseDir).filter((issue) => !underAny(issue.path, causes)));
    if (issues.length > 0) throw new ConfigError(options.source, issues);
    return { config: deepFreeze(parsed.data), baseDir: options.baseDir, source: options.source };
  }
  // An unset variable explains the rule its empty value then breaks, there and in what holds it.
  const shapeIssues = parsed.error.issues.flatMap(toConfigIssues).filter((issue) => !underAny(issue.path, causes) && !causes.some((cause) => underAny(cause, [issue.path])));
  issues.push(...shapeIssues);
  const pruned = pruneUntilValid(substituted, parsed.error.issues);
  if (pruned) {
    const setAside = [...causes, ...pruned.removed];
    issues.push(...checkSemantics(pruned.config, options.baseDir).filter((issue) => !underAny(issue.path, setAside) && !issues.some((known) => sameIssue(known, issue))));
  }
  throw new ConfigError(options.source, issues.length > 0 ? issues : [{ path: [], message: 'invalid config' }]);
}

/** Most passes needed to prune a config into shape; past it the cross-reference pass is skipped. */
const MAX_PRUNE_PASSES = 8;

/**
 * Removes the values the schema rejected (their parent when the field was required), until the
 * rest parses; the removed paths are returned so no cross-reference error is reported under them.
 */
function pruneUntilValid(value: unknown, first: readonly z.core.$ZodIssue[]): { config: Config; removed: PathSegment[][] } | undefined {
  let current = structuredClone(value);
  const removed: PathSegment[][] = [];
  let failures = first;
  for (let pass = 0; pass < MAX_PRUNE_PASSES; pass++) {
    for (const issue of failures) {
      const path = issue.path.filter((p): p is PathSegment => typeof p !== 'symbol');
      // A missing required field is cured by removing what holds it.
      const target = issue.code === 'invalid_type' && issue.input === undefined ? path.slice(0, -1) : path;
      if (target.length === 0) return undefined;
      removeAt(current, target);
      removed.push(target);
    }
    const parsed = configSchema.safeParse(current);
    if (parsed.success) return { config: parsed.data, removed };
    failures = parsed.error.issues;
    current = structuredClone(current);
  }
  return undefined;
}

function removeAt(root: unknown, path: readonly PathSegment[]): void {
  let parent: unknown = root;
  for (const segment of path.slice(0, -1)) {
    if (!parent || typeof parent !== 'object') return;
    parent = (parent as Record<PathSegment, unknown>)[segment];
  }
  if (!parent || typeof parent !== 'object') return;
  const last = path.at(-1)!;
  if (Array.isArray(parent) && typeof last === 'number') parent[last] = undefined;
  else delete (parent as Record<PathSegment, unknown>)[last];
}

function underAny(path: readonly PathSegment[], prefixes: readonly (readonly PathSegment[])[]): boolean {
  return prefixes.some((prefix) => prefix.length <= path.length && prefix.every((segment, i) => String(segment) === String(path[i])));
}

function sameIssue(a: ConfigIssue, b: ConfigIssue): boolean {
  return a.message === b.message && formatPath(a.path) === formatPath(b.path);
}

/**
 * Validates a new set of APIs (from the control plane) against the rest of a running config.
 * Paths in errors start at `apis`. Returns them frozen.
 */
export function validateApis(config: Config, apis: unknown, baseDir: string): readonly ApiConfig[] {
  const parsed = z.array(apiSchema).safeParse(apis, { reportInput: true });
  if (!parsed.success) {
    throw new ConfigError('api definition', parsed.error.issues.flatMap((issue) => toConfigIssues({ ...issue, path: ['apis', ...issue.path] })));
  }
  const issues = checkSemantics({ ...config, apis: parsed.data }, baseDir);
  if (issues.length > 0) throw new ConfigError('api definition', issues);
  return deepFreeze(parsed.data);
}

/**
 * `apis[].openapi`: resources imported from the OpenAPI file (relative to the config), under any
 * inline `resources`, which win method by method. A missing file is reported by checkSemantics.
 */
function withOpenApiResources(raw: unknown, baseDir: string, issues: ConfigIssue[]): unknown {
  if (!raw || typeof raw !== 'object' || !Array.isArray((raw as { apis?: unknown }).apis)) return raw;
  const apis = (raw as { apis: unknown[] }).apis.map((api, i) => {
    if (!api || typeof api !== 'object' || typeof (api as { openapi?: unknown }).openapi !== 'string') return api;
    const file = resolve(baseDir, (api as { openapi: string }).openapi);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return api;
    }
    try {
      const imported = importOpenApi(text);
      return { ...api, resources: mergeResources(imported.resources, (api as { resources?: unknown }).resources) };
    } catch (error) {
      issues.push({ path: ['apis', i, 'openapi'], message: `${file}: ${(error as Error).message}` });
      return api;
    }
  });
  return { ...raw, apis };
}

/**
 * `${NAME}` and `${NAME:-default}` read the environment. `${stageVariables.x}` (a dotted name)
 * is left for the integration to substitute per request.
 */
function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, path: PathSegment[], issues: ConfigIssue[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (whole, name: string, fallback?: string) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      issues.push({ path, message: `environment variable ${name} is not set (used as ${whole})` });
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => substituteEnv(item, env, [...path, i], issues));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, substituteEnv(item, env, [...path, key], issues)]),
    );
  }
  return value;
}

function toConfigIssues(issue: z.core.$ZodIssue): ConfigIssue[] {
  const path = issue.path.filter((p): p is PathSegment => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    // Under apis[i].resources["/path"] the keys are HTTP methods, not fields.
    const isResource = path.length === 4 && path[0] === 'apis' && path[2] === 'resources';
    return issue.keys.map((key) => {
      if (isResource) return { path: [...path, key], message: `method must be one of ${ROUTE_METHODS.join(', ')}, got ${describeValue(key)}` };
      // A real field in the wrong section: say where it belongs rather than "did you mean" itself.
      const places = FIELD_SECTIONS.get(key);
      if (places) return { path: [...path, key], message: `unknown field here ("${key}" belongs in ${places.join(' or ')})` };
      const hint = closest(key, KNOWN_FIELDS);
      return { path: [...path, key], message: `unknown field${hint ? ` (did you mean "${hint}"?)` : ''}` };
    });
  }
  let input: unknown = issue.input;
  if (issue.code === 'invalid_union' && 'discriminator' in issue && input && typeof input === 'object') {
    input = (input as Record<string, unknown>)[String(issue.discriminator)];
  }
  if (issue.code === 'invalid_key') {
    return [{ path, message: `${issue.issues[0]?.message ?? issue.message}, got ${describeValue(path.at(-1))}` }];
  }
  const message = rewordDefault(issue.message);
  const got = input === undefined && issue.code === 'invalid_type' ? 'is required' : `got ${describeValue(input)}`;
  return [{ path, message: input === undefined && issue.code === 'invalid_type' ? got : `${message}, ${got}` }];
}

/** zod's stock messages, said the way the rest of our messages are. */
function rewordDefault(message: string): string {
  const expected = /^Invalid input: expected (\w+)/.exec(message);
  if (expected) return `must be ${expected[1] === 'array' ? 'a list' : `a${/^[aeiou]/.test(expected[1]!) ? 'n' : ''} ${expected[1]}`}`;
  return message;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
