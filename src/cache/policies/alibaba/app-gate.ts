/**
 * App authentication in front of the cache policies of an API that uses Alibaba apps (a caching
 * plug-in, `appAuth`, `authorizedApps` or `stageFrom: header`; SPEC §6). Every method of such an
 * API identifies its caller first — a wrong signature, a replayed nonce or an app the API does
 * not authorise is refused before the cache or the backend sees the request — and its errors
 * carry Alibaba's X-Ca-Request-Id / X-Ca-Error-Code / X-Ca-Error-Message. Then the method's own
 * policy (the plug-in, or the AWS stage cache) takes over, reading the caller via appCallerOf().
 */
import type { SignedRequest } from '../../../auth/alibaba-signature.js';
import type { AppCaller, AppRegistry } from '../../../auth/apps.js';
import { answerAsAlibaba, GatewayError } from '../../../errors.js';
import type { RequestContext } from '../../../gateway/context.js';
import type { IntegrationResponse } from '../../../integrations/integration.js';
import { readRequestBody } from '../../body.js';
import type { Admission, CachePolicy, CacheRequest } from '../../cache-policy.js';
import { MAX_KEYED_BODY_BYTES_BEFORE_AUTH } from '../../limits.js';

const STAGE_HEADER: readonly string[] = ['x-ca-stage'];
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A signed request with a form body (its parameters are part of the string to sign). */
function signsForm(ctx: RequestContext): boolean {
  const { headers } = ctx.req;
  return ctx.hasBody && headers['x-ca-signature'] !== undefined && /^application\/x-www-form-urlencoded\b/i.test(headers['content-type'] ?? '');
}

/** What the signature is checked against: the request as received (and its form body, when signed). */
function signedRequest(ctx: RequestContext, form?: string): SignedRequest {
  return { method: ctx.method, rawUrl: ctx.req.url ?? '/', headers: ctx.req.headers, rawHeaders: ctx.req.rawHeaders, ...(form !== undefined ? { form } : {}) };
}

const callers = new WeakMap<RequestContext, AppCaller>();

/** The app a request was authenticated as (anonymous when it named none, or went through no gate). */
export function appCallerOf(ctx: RequestContext): AppCaller {
  return callers.get(ctx) ?? { kind: 'anonymous' };
}

export interface AppGateDeps {
  /** The apps as configured now (a reload replaces them). */
  apps: () => AppRegistry;
  now: () => number;
  /** The policy that serves the route once its caller is known (undefined: no cache). */
  policyOf: (ctx: RequestContext) => CachePolicy | undefined;
}

export class AlibabaAppGate implements CachePolicy {
  constructor(private readonly deps: AppGateDeps) {}

  begin(ctx: RequestContext): CacheRequest | undefined | Promise<CacheRequest | undefined> {
    answerAsAlibaba(ctx.res, ctx.requestId);
    // X-Ca-Stage picks the stage (backend, data) of an API with stageFrom: header: a signature must cover it.
    const mustSign = ctx.route.api.config.stageFrom === 'header' ? STAGE_HEADER : undefined;
    if (signsForm(ctx)) return this.beginWithForm(ctx, mustSign);
    const caller = this.deps.apps().identify(signedRequest(ctx), this.deps.now(), mustSign);
    if (caller instanceof Promise) return caller.then((settled) => this.pass(ctx, settled));
    return this.pass(ctx, caller);
  }

  /**
   * Alibaba signs a form body's parameters with the query's (the SDKs' form POSTs): the body is read
   * first — at most MAX_KEYED_BODY_BYTES_BEFORE_AUTH from a caller not yet authenticated (413
   * beyond) — and forwarded from that buffer.
   */
  private async beginWithForm(ctx: RequestContext, mustSign: readonly string[] | undefined): Promise<CacheRequest | undefined> {
    // What the headers alone refuse (unknown key, stale timestamp, no nonce, …) is refused before
    // the body is waited for: else anyone could hold a request and 64 KiB until requestTimeout.
    const refusal = this.deps.apps().refusalBeforeBody(signedRequest(ctx), this.deps.now(), mustSign);
    if (refusal !== undefined) return this.pass(ctx, refusal);
    ctx.bufferedBody = await readRequestBody(ctx.req, MAX_KEYED_BODY_BYTES_BEFORE_AUTH);
    // Strict UTF-8, byte-order mark kept: a lenient decode maps many byte sequences to U+FFFD (or
    // drops a BOM), so one signature would cover several different bodies, each forwarded as sent.
    let form: string;
    try {
      form = STRICT_UTF8.decode(ctx.bufferedBody);
    } catch {
      throw new GatewayError('APP_INVALID_SIGNATURE', 'Invalid Signature: a signed form body must be UTF-8');
    }
    const caller = await this.deps.apps().identify(signedRequest(ctx, form), this.deps.now(), mustSign);
    return this.pass(ctx, caller);
  }

  // The flow calls the policy a CacheRequest names (the inner one); these only keep the interface whole.
  admit(request: CacheRequest, response: IntegrationResponse, now: number): Admission {
    return request.policy.admit(request, response, now);
  }

  private pass(ctx: RequestContext, caller: AppCaller): CacheRequest | undefined | Promise<CacheRequest | undefined> {
    if (caller.kind === 'rejected') throw new GatewayError(caller.code, caller.message);
    const { appAuth, authorizedApps } = ctx.route.api.config;
    if (caller.kind === 'anonymous' && (appAuth === 'required' || authorizedApps !== undefined)) {
      throw new GatewayError('APP_NEED_AUTHORIZATION', 'Need Authorization: sign with X-Ca-Key or send an AppCode');
    }
    // Alibaba: "Unauthorized — the app has not been authorised to call the API".
    if (caller.kind === 'app' && authorizedApps !== undefined && !authorizedApps.includes(caller.appId)) throw new GatewayError('APP_UNAUTHORIZED');
    callers.set(ctx, caller);
    return this.deps.policyOf(ctx)?.begin(ctx);
  }
}
