/**
 * IAM-style policy evaluation for identities (SPEC §3 `identities[].policy`, §5 per-key
 * invalidation, §8 control-plane authorisation), and the ARNs requests are checked against.
 *
 * Evaluation follows IAM: an explicit Deny wins over any Allow; without a matching Allow the
 * answer is deny. Patterns are compiled once per identity (STYLE.md practice 9), never per request.
 */
import type { PolicyStatement } from '../config/schema.js';

export interface CompiledPolicy {
  /** True when some statement allows `action` on `resource` and none denies it. */
  allows(action: string, resource: string): boolean;
  /** True when some statement explicitly denies `action` on `resource`. */
  denies(action: string, resource: string): boolean;
}

interface CompiledStatement {
  readonly action: RegExp;
  readonly resource: RegExp;
}

export function compilePolicy(statements: readonly PolicyStatement[]): CompiledPolicy {
  const compile = (statement: PolicyStatement): CompiledStatement => ({
    // IAM: action names are case-insensitive (apigateway:GET = apigateway:get); ARNs are not.
    action: patternsToRegExp(statement.action, 'i'),
    resource: patternsToRegExp(statement.resource, ''),
  });
  const denies = statements.filter((statement) => statement.effect === 'Deny').map(compile);
  const allows = statements.filter((statement) => statement.effect === 'Allow').map(compile);
  const matches = (statement: CompiledStatement, action: string, resource: string) =>
    statement.action.test(action) && statement.resource.test(resource);
  return Object.freeze({
    allows(action: string, resource: string): boolean {
      // IAM: an explicit Deny overrides every Allow.
      if (denies.some((statement) => matches(statement, action, resource))) return false;
      return allows.some((statement) => matches(statement, action, resource));
    },
    denies(action: string, resource: string): boolean {
      return denies.some((statement) => matches(statement, action, resource));
    },
  });
}

/** One-off evaluation; callers on the request path hold a `compilePolicy` result instead. */
export function isAllowed(statements: readonly PolicyStatement[], action: string, resource: string): boolean {
  return compilePolicy(statements).allows(action, resource);
}

/**
 * IAM wildcards: `*` is any run of characters (including `/` and `:`), `?` exactly one; everything
 * else is literal. Several patterns become one anchored alternation.
 */
function patternsToRegExp(patterns: readonly string[], flags: string): RegExp {
  if (patterns.length === 0) return /(?!)/; // an empty list matches nothing
  const alternatives = patterns.map((pattern) =>
    pattern
      .split('')
      .map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
      .join(''),
  );
  // `s`: `.` must also match line breaks, so `*` really is "anything".
  return new RegExp(`^(?:${alternatives.join('|')})$`, `s${flags}`);
}

/**
 * `arn:aws:execute-api:{region}:{accountId}:{apiId}/{stage}/{METHOD}/{path}` — the resource of
 * `execute-api:Invoke` and `execute-api:InvalidateCache` (SPEC §5), e.g.
 * `arn:aws:execute-api:us-east-1:000000000000:petstore/prod/GET/pets/123`.
 * A leading `/` on the path is dropped, so `/pets/123` and `pets/123` give the same ARN.
 */
export function executeApiArn(region: string, accountId: string, apiId: string, stage: string, method: string, requestPath: string): string {
  const path = requestPath.startsWith('/') ? requestPath.slice(1) : requestPath;
  return `arn:aws:execute-api:${region}:${accountId}:${apiId}/${stage}/${method.toUpperCase()}/${path}`;
}

/** `arn:aws:apigateway:{region}::{path}` — the resource of control-plane actions (SPEC §8), e.g. `arn:aws:apigateway:us-east-1::/restapis/petstore/stages/prod`. */
export function apigatewayArn(region: string, path: string): string {
  return `arn:aws:apigateway:${region}::${path}`;
}
