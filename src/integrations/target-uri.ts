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
  constructor(private readonly template: string) {}

  resolve(request: TargetRequest): ProxyTarget {
    // Stage variables first: they may hold the host (`http://${stageVariables.backend}/…`).
    // A variable the stage does not define becomes '' (AWS does the same), which a URI check below
    // turns into a clear error when it leaves the URI without a host.
    const uri = this.template.replace(STAGE_VARIABLE, (_, name: string) => request.stageVariables[name] ?? '');
    const parts = URI_PARTS.exec(uri);
    const origin = parts?.[1] ?? '';
    if (!parts || !/^https?:\/\/[^\s/?#@]+$/i.test(origin)) {
      throw new IntegrationError('unreachable', `integration URI has no usable host: ${JSON.stringify(uri)}`);
    }
    const greedyName = GREEDY_IN_RESOURCE.exec(request.resourcePath)?.[1];
    const path = (parts[2] ?? '').replace(PATH_PLACEHOLDER, (_, name: string, plus: string) => {
      const value = request.pathParameters[name] ?? '';
      // `{proxy+}` in the uri, or `{proxy}` naming the resource's greedy parameter (the AWS
      // console's form), keeps the caller's `/` separators; any other value is one segment.
      return plus === '+' || name === greedyName ? encodeGreedy(value) : encodeSegment(value);
    });
    const query = [parts[3], request.rawQuery].filter((part) => part !== undefined && part !== '').join('&');
    return { origin, path: (path === '' ? '/' : path) + (query === '' ? '' : `?${query}`) };
  }
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
