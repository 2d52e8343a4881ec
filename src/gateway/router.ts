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
 * (`/pets/` routes as `/pets`). Returns undefined for malformed percent-encoding.
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
