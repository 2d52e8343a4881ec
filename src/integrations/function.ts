/**
 * FUNCTION: a local module's handler called the way AWS Lambda calls it behind an API Gateway
 * proxy integration: a payload 1.0 event in, `{statusCode, headers, multiValueHeaders, body,
 * isBase64Encoded}` out. Async and callback-style handlers are both supported.
 */
import { validateHeaderName, validateHeaderValue } from 'node:http';
import { basename, extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FunctionIntegrationConfig } from '../config/schema.js';
import { responseHeaders } from './headers.js';
import { IntegrationError, type Integration, type IntegrationRequest, type IntegrationResponse } from './integration.js';
import { buildProxyEvent, readEventBody, type LambdaProxyEvent } from './lambda-event.js';

export interface FunctionIntegrationDeps {
  /** Directory `handler` paths are relative to (the config file's). */
  readonly baseDir: string;
  /** `requestContext.accountId`; AWS's placeholder account when not configured. */
  readonly accountId?: string;
}

/** The context object a Lambda handler gets (the subset that means something in one process). */
export interface FunctionContext {
  readonly awsRequestId: string;
  readonly functionName: string;
  readonly functionVersion: string;
  /** Kept for handlers that set it; there is no separate process whose event loop could be awaited. */
  callbackWaitsForEmptyEventLoop: boolean;
  getRemainingTimeInMillis(): number;
}

type Callback = (error?: unknown, result?: unknown) => void;
type LambdaHandler = (event: LambdaProxyEvent, context: FunctionContext, callback: Callback) => unknown;

export function createFunctionIntegration(config: FunctionIntegrationConfig, deps: FunctionIntegrationDeps): Integration {
  return new FunctionIntegration(config, deps);
}

class FunctionIntegration implements Integration {
  private readonly moduleUrl: string;
  private readonly exportName: string;
  private readonly functionName: string;
  private readonly accountId: string;
  private loading: Promise<LambdaHandler> | undefined;

  constructor(private readonly config: FunctionIntegrationConfig, deps: FunctionIntegrationDeps) {
    const [modulePath = '', exportName = 'handler'] = config.handler.split('#');
    const file = resolve(deps.baseDir, modulePath);
    this.moduleUrl = pathToFileURL(file).href;
    this.exportName = exportName;
    this.functionName = basename(file, extname(file));
    this.accountId = deps.accountId ?? '000000000000';
  }

  async invoke(request: IntegrationRequest): Promise<IntegrationResponse> {
    const handler = await this.handler();
    const body = await readEventBody(request.body, request.headers, request.caller);
    const event = buildProxyEvent(request, body, this.accountId);
    const result = await this.call(handler, event, request);
    return toIntegrationResponse(result);
  }

  /** Imported on first use, then cached; a failed import is retried by the next request. */
  private handler(): Promise<LambdaHandler> {
    this.loading ??= import(this.moduleUrl).then(
      (module: Record<string, unknown>) => {
        const handler = module[this.exportName];
        if (typeof handler !== 'function') throw new Error(`export "${this.exportName}" is not a function`);
        return handler as LambdaHandler;
      },
    ).catch((error: unknown) => {
      this.loading = undefined;
      throw new IntegrationError('bad-response', `cannot load handler ${this.config.handler}: ${messageOf(error)}`, { cause: error });
    });
    return this.loading;
  }

  /**
   * Settles with the handler's first answer: its returned promise, its callback, or — for a plain
   * function that takes no callback — its return value. The timeout ends the wait, not the handler:
   * JavaScript cannot stop it, so its late answer is ignored.
   */
  private call(handler: LambdaHandler, event: LambdaProxyEvent, request: IntegrationRequest): Promise<unknown> {
    const { timeoutMs } = this.config;
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolvePromise, rejectPromise) => {
      let settled = false;
      let stopWatching: (() => void) | undefined;
      const settle = (finish: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        stopWatching?.();
        finish();
      };
      const succeed = (result: unknown) => settle(() => resolvePromise(result));
      const fail = (error: unknown) => settle(() => rejectPromise(handlerError(this.config.handler, error)));
      const timer = setTimeout(
        () => settle(() => rejectPromise(new IntegrationError('timeout', `${this.config.handler} did not answer within ${timeoutMs} ms`))),
        timeoutMs,
      );
      stopWatching = request.caller.onGone((reason) => settle(() => rejectPromise(reason)));
      if (settled) return;

      const context: FunctionContext = {
        awsRequestId: request.requestId,
        functionName: this.functionName,
        functionVersion: '$LATEST',
        callbackWaitsForEmptyEventLoop: true,
        getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      };
      // Lambda's Node.js runtime: callback(error) fails the invocation, callback(null, result) answers.
      const callback: Callback = (error, result) => (error !== undefined && error !== null ? fail(error) : succeed(result));
      let returned: unknown;
      try {
        returned = handler(event, context, callback);
      } catch (error) {
        return fail(error);
      }
      if (isPromiseLike(returned)) returned.then(succeed, fail);
      else if (handler.length < 3) succeed(returned);
    });
  }
}

/** Maps a proxy-integration result to the gateway's response; anything malformed is AWS's 502. */
function toIntegrationResponse(result: unknown): IntegrationResponse {
  if (typeof result !== 'object' || result === null || Array.isArray(result)) {
    throw malformed(`the result is ${describe(result)}, not an object`);
  }
  const { statusCode, headers, multiValueHeaders, body, isBase64Encoded } = result as Record<string, unknown>;
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) {
    throw malformed(`statusCode is ${describe(statusCode)}, not an integer 100..599`);
  }
  if (body !== undefined && body !== null && typeof body !== 'string') {
    throw malformed(`body is ${describe(body)}, not a string`);
  }
  const bytes = Buffer.from(body ?? '', isBase64Encoded === true ? 'base64' : 'utf8');
  const merged = responseHeaders(mergeHeaders(headers, multiValueHeaders));
  // The real length wins; a handler's own could disagree with the decoded body.
  merged['content-length'] = String(bytes.length);
  return { statusCode, headers: merged, body: bytes };
}

/**
 * AWS: "If you specify values for both headers and multiValueHeaders, API Gateway merges them into a
 * single list. If the same key-value pair is specified in both, only the values from
 * multiValueHeaders will appear in the merged list." Names compare case-insensitively.
 */
function mergeHeaders(headers: unknown, multiValueHeaders: unknown): Record<string, string[]> {
  const merged = new Map<string, string[]>();
  for (const [name, values] of Object.entries(objectField('multiValueHeaders', multiValueHeaders))) {
    if (!Array.isArray(values)) throw malformed(`multiValueHeaders.${name} is ${describe(values)}, not a list`);
    merged.set(name.toLowerCase(), [...(merged.get(name.toLowerCase()) ?? []), ...values.map((v) => headerText(name, v))]);
  }
  for (const [name, value] of Object.entries(objectField('headers', headers))) {
    const values = merged.get(name.toLowerCase()) ?? [];
    const text = headerText(name, value);
    if (!values.includes(text)) merged.set(name.toLowerCase(), [...values, text]);
  }
  return Object.fromEntries(merged);
}

function objectField(field: string, value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw malformed(`${field} is ${describe(value)}, not an object`);
  return value as Record<string, unknown>;
}

/**
 * A header value as sent, checked as writeHead() checks it: a name that is no token, or a value with
 * CR, LF or characters beyond Latin-1, cannot be sent by Node. Taken as a response, it was stored,
 * and every hit on it failed in writeHead() with a 500 until it expired, without calling the function again.
 */
function headerText(name: string, value: unknown): string {
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') throw malformed(`header ${name} is ${describe(value)}, not a string`);
  const text = String(value);
  try {
    validateHeaderName(name);
    validateHeaderValue(name, text);
  } catch {
    throw malformed(`header ${JSON.stringify(name)} has a name or value HTTP cannot carry`);
  }
  return text;
}

function malformed(detail: string): IntegrationError {
  return new IntegrationError('bad-response', `malformed Lambda proxy response: ${detail}`);
}

function handlerError(handler: string, error: unknown): IntegrationError {
  if (error instanceof IntegrationError) return error;
  return new IntegrationError('bad-response', `${handler} failed: ${messageOf(error)}`, { cause: error });
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value === 'object' ? 'an object' : String(value);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
