/**
 * Builds an HTTP_PROXY backend URL from the integration `uri` template (pure, no I/O).
 *
 * `http://${stageVariables.backend}/pets/{petId}/{proxy+}?v=1` + the request →
 * `{ origin: 'http://127.0.0.1:3000', path: '/pets/1%202/a/b?v=1&caller=query' }`.
 */
import type { IntegrationRequest } from './integration.js';
import { IntegrationError } from './integration.js';

export interface ProxyTarget {
  /** `scheme://host[:port]`, the key undici pools connections by. */
  readonly origin: string;
  /** Path and query as sent on the request line; never empty. */
  readonly path: string;
}

export type TargetRequest = Pick<IntegrationRequest, 'pathParameters' | 'resourcePath' | 'stageVariables' | 'rawQuery'>;

// AWS: stage variable names are letters, digits and underscores; referenced as ${stageVariables.name}.
const STAGE_VARIABLE = /\$\{stageVariables\.([A-Za-z0-9_]+)\}/g;
const PATH_PLACEHOLDER = /\{([A-Za-z0-9._-]+)(\+?)\}/g;
const GREEDY_IN_RESOURCE = /\{([A-Za-z0-9._-]+)\+\}/;
const URI_PARTS = /^(https?:\/\/[^/?#]*)([^?#]*)(?:\?([^#]*))?/i;

export class TargetUriTemplate {
  /** The URI split once, when it names no stage variable (its origin and literals never change). */
  private readonly fixed: CompiledUri | undefined;

  constructor(private readonly template: string) {
    this.fixed = STAGE_VARIABLE_NAMED.test(template) ? undefined : compileOrUndefined(template);
  }

  resolve(request: TargetRequest): ProxyTarget {
    // Stage variables first: they may hold the host (`http://${stageVariables.backend}/…`).
    // A variable the stage does not define becomes '' (AWS does the same), which compileUri
    // turns into a clear error when it leaves the URI without a host.
    const uri = this.fixed ?? compileUri(this.template.replace(STAGE_VARIABLE, (_, name: string) => request.stageVariables[name] ?? ''));
    const greedyName = uri.hasPlaceholders ? GREEDY_IN_RESOURCE.exec(request.resourcePath)?.[1] : undefined;
    let path = uri.pieces[0]!;
    for (let i = 1; i < uri.pieces.length; i += 3) {
      const name = uri.pieces[i]!;
      const value = request.pathParameters[name] ?? '';
      // `{proxy+}` in the uri, or `{proxy}` naming the resource's greedy parameter (the AWS
      // console's form), keeps the caller's `/` separators; any other value is one segment.
      path += (uri.pieces[i + 1] === '+' || name === greedyName ? encodeGreedy(value) : encodeSegment(value)) + uri.pieces[i + 2]!;
    }
    const query = uri.query === '' ? request.rawQuery : request.rawQuery === '' ? uri.query : `${uri.query}&${request.rawQuery}`;
    return { origin: uri.origin, path: (path === '' ? '/' : path) + (query === '' ? '' : `?${query}`) };
  }
}

interface CompiledUri {
  readonly origin: string;
  /** The path as [literal, name, plus, literal, name, plus, literal, …]. */
  readonly pieces: readonly string[];
  readonly hasPlaceholders: boolean;
  readonly query: string;
}

const STAGE_VARIABLE_NAMED = /\$\{stageVariables\./;

/** A URI that cannot be compiled is reported per request (as `unreachable`), like a bad stage variable. */
function compileOrUndefined(uri: string): CompiledUri | undefined {
  try {
    return compileUri(uri);
  } catch {
    return undefined;
  }
}

function compileUri(uri: string): CompiledUri {
  const parts = URI_PARTS.exec(uri);
  const origin = parts?.[1] ?? '';
  if (!parts || !/^https?:\/\/[^\s/?#@]+$/i.test(origin)) {
    throw new IntegrationError('unreachable', `integration URI has no usable host: ${JSON.stringify(uri)}`);
  }
  // split() with capture groups yields literal, name, plus, literal, …
  const pieces = (parts[2] ?? '').split(PATH_PLACEHOLDER);
  return { origin, pieces, hasPlaceholders: pieces.length > 1, query: parts[3] ?? '' };
}

/**
 * One decoded value as one path segment. `.` and `..` are escaped because a segment that is
 * exactly a dot-segment would be removed or climb a level (RFC 3986 §5.2.4) and reach a
 * different backend resource than the caller named.
 */
export function encodeSegment(value: string): string {
  if (value === '.' || value === '..') return value.replaceAll('.', '%2E');
  return encodeURIComponent(value);
}

function encodeGreedy(value: string): string {
  return value.split('/').map(encodeSegment).join('/');
}
