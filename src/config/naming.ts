/** AWS's names for things, derived from resource paths and methods; used by config, routing and the control plane. */
import { ROUTE_METHODS, type RouteMethod } from './schema.js';

/** `/pets/{petId}` + `GET` → `pets/{petId}/GET` (AWS methodSettings key). */
export function methodSettingsKey(resourcePath: string, method: string): string {
  return `${resourcePath.slice(1)}/${method}`;
}

/** Inverse of methodSettingsKey; `*\/*` stays as it is; undefined when malformed. */
export function parseMethodSettingsKey(key: string): '*/*' | { resourcePath: string; method: RouteMethod } | undefined {
  if (key === '*/*') return key;
  const slash = key.lastIndexOf('/');
  if (slash < 0) return undefined;
  const method = key.slice(slash + 1);
  if (!(ROUTE_METHODS as readonly string[]).includes(method)) return undefined;
  return { resourcePath: `/${key.slice(0, slash)}`, method: method as RouteMethod };
}

/** `/pets/{petId}/{proxy+}` → `['petId', 'proxy']`. */
export function pathParameterNames(resourcePath: string): string[] {
  return [...resourcePath.matchAll(/\{([^}+]+)\+?\}/g)].map((match) => match[1]!);
}
