/** Control-plane request bodies: JSON objects, or BadRequestException (never a 5xx the SDK would retry). */
import { GatewayError } from '../../errors.js';

export function parseJsonObject(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new GatewayError('INVALID_INPUT', `Could not parse request body into json: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new GatewayError('INVALID_INPUT', 'Could not parse request body into json: expected an object');
  }
  return parsed as Record<string, unknown>;
}

export function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new GatewayError('INVALID_INPUT', `${field} must be a string`);
  return value;
}

export function optionalBoolean(body: Record<string, unknown>, field: string): boolean | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new GatewayError('INVALID_INPUT', `${field} must be true or false`);
  return value;
}

export function optionalStringMap(body: Record<string, unknown>, field: string): Record<string, string> | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value) || Object.values(value).some((item) => typeof item !== 'string')) {
    throw new GatewayError('INVALID_INPUT', `${field} must be a map of strings`);
  }
  return value as Record<string, string>;
}

/** `limit` and `position` of AWS list calls: position is the index of the next item. */
export function page<T>(items: readonly T[], query: URLSearchParams): { item: T[]; position?: string } {
  const limitText = query.get('limit');
  const limit = limitText === null ? 25 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new GatewayError('INVALID_INPUT', 'limit must be an integer 1..500');
  const positionText = query.get('position');
  const start = positionText === null ? 0 : Number(positionText);
  if (!Number.isInteger(start) || start < 0) throw new GatewayError('INVALID_INPUT', `Invalid position ${positionText}`);
  const item = items.slice(start, start + limit);
  return start + limit < items.length ? { item, position: String(start + limit) } : { item };
}
