/**
 * The data plane's cache step: one flow for every policy (AWS stage cache, Alibaba plug-in).
 *
 *   policy.begin → (refresh?) → store.get → fresh: hit
 *                                         → stale within stale-while-revalidate: serve it, refresh once in the background
 *                                         → otherwise: forward (coalesced per key) → policy.admit → store → answer
 *
 * Concurrent misses for one key make one integration call; the others wait for it, each no
 * longer than its own integration timeout, and get the same entry (`collapsed`, coalescing.ts).
 * An answer that cannot be shared releases every waiter at once to the integration, and the key
 * is marked hit-for-pass (hit-for-pass.ts) so later requests do not queue at all. A stale entry
 * within stale-if-error answers when the integration fails. A cache failure never fails the
 * request (STYLE.md practice 6), and with the store down answers are still shared in memory.
 * Threads sharing one store (`--workers N`) coalesce across threads too: the leader of a key on
 * one thread holds its fill lease (stores/shared/leases.ts), and a miss of that key on another
 * thread waits for the lease, then reads the store (followLease).
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { GatewayError } from '../errors.js';
import type { RequestContext } from '../gateway/context.js';
import { writeIntegrationResponse, type CacheStep as DataPlaneCacheStep } from '../gateway/data-plane.js';
import { IntegrationError, type CallerLink, type IntegrationResponse } from '../integrations/integration.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import { collectUpTo } from './body.js';
import type { CachePolicy, CacheRequest } from './cache-policy.js';
import { CACHE_ENTRY_VERSION, type CacheEntry } from './entry.js';
import type { FillLeases, Lease, LeaseOutcome } from './stores/shared/leases.js';
import { notModified, writeEntry, writeRange } from './entry-writer.js';
import { forwardedHeaders } from './forwarded-headers.js';
import { freshness, MAX_CACHEABLE_BODY_BYTES, type EntryTimes } from './policies/aws/rules.js';
import {
  ageSeconds, cacheStatus, collapsedStatus, forwardReason, forwardStatus, hitStatus, staleIfErrorStatus, staleWhileRevalidateStatus, ttlSeconds,
  type CacheOutcome, type ForwardOutcome,
} from './status.js';
import { DEADLINE, deadlineError, DeadlineLink, FAILED_STALE, Flights, LeaderLink, UNSHARED, waitForFlight, type Shared } from './coalescing.js';
import { HitForPass } from './hit-for-pass.js';
import type { CacheStore } from './store.js';
import { entryTags } from './tags.js';
import { keyTooLong } from './limits.js';

export interface CacheStepDeps {
  /** The store; policies may wrap it (encryption) but entries of this store are the plain ones. */
  store: CacheStore;
  storeType: string;
  metrics: GatewayMetrics;
  logger: Logger;
  now: () => number;
  /** Picks the policy of a route (or undefined: no cache for it). */
  policyFor: (ctx: RequestContext) => CachePolicy | undefined;
  /** Fill leases shared with the other threads of one store (absent: one thread, or Redis). */
  leases?: FillLeases;
}

export class CacheStep implements DataPlaneCacheStep {
  private readonly flights = new Flights();
  private readonly passes: HitForPass;

  constructor(private readonly deps: CacheStepDeps) {
    this.passes = new HitForPass({ now: deps.now, onEvict: () => deps.metrics.hitForPassEvictions.inc() });
  }

  serve(ctx: RequestContext): Promise<boolean> | boolean {
    const policy = this.deps.policyFor(ctx);
    if (!policy) return false;
    const begun = policy.begin(ctx);
    if (begun === undefined) return false;
    if (begun instanceof Promise) {
      return begun.then(async (request) => {
        if (!request) return false;
        await this.run(request);
        return true;
      });
    }
    const served = this.run(begun);
    return served === true ? true : served.then(() => true);
  }

  private run(request: CacheRequest): true | Promise<void> {
    if (request.refresh) {
      // An unsafe method under httpCache never reads the cache: it is no client refresh.
      if (request.passThrough) return this.forward(request, 'miss', undefined);
      const { labels } = request.ctx;
      this.deps.metrics.invalidations.inc({ api: labels.api, stage: labels.stage, reason: 'client' });
      return this.forward(request, 'refresh', undefined);
    }
    let found: ReturnType<CacheStore['get']>;
    try {
      found = request.store.get(request.space, request.key);
    } catch (error) {
      return this.forward(request, this.storeFailed('get', error), undefined);
    }
    if (!(found instanceof Promise)) {
      return this.useEntry(request, found);
    }
    return found.then(
      (entry) => {
        const used = this.useEntry(request, entry);
        return used === true ? undefined : used;
      },
      (error: unknown) => this.forward(request, this.storeFailed('get', error), undefined),
    );
  }

  /** Serves what the store found if it may be served (true), else goes to the integration. */
  private useEntry(request: CacheRequest, entry: CacheEntry | undefined): true | Promise<void> {
    if (!this.readable(request, entry)) return this.forward(request, 'miss', undefined);
    const now = this.deps.now();
    const usable = this.usability(request, entry, now);
    // RFC 9111 §5.2.1.7: only-if-cached takes what may be served without going forward, or a 504.
    if (request.onlyIfCached && usable !== 'fresh' && usable !== 'stale-while-revalidate') return this.forward(request, 'miss', undefined);
    switch (usable) {
      case 'fresh':
        this.answerFromCache(request, entry, now, 'hit', hitStatus(ttlSeconds(entry, now)));
        return true;
      case 'stale-while-revalidate':
        this.answerFromCache(request, entry, now, 'stale', staleWhileRevalidateStatus(ttlSeconds(entry, now)));
        this.revalidate(request);
        return true;
      case 'stale-if-error-only':
        return this.forward(request, 'expired', entry, true);
      default:
        // Too old to serve, but its validators let the integration answer 304 instead of the body.
        return this.forward(request, 'expired', entry, false);
    }
  }

  /** Another format, or a sealed entry read without its key, is a miss (STYLE.md practice 5). */
  private readable(request: CacheRequest, entry: CacheEntry | undefined): entry is CacheEntry {
    return entry !== undefined && entry.version === CACHE_ENTRY_VERSION && !(request.store === this.deps.store && entry.sealed !== undefined);
  }

  private usability(request: CacheRequest, entry: CacheEntry, now: number): ReturnType<typeof freshness> {
    return request.policy.usability ? request.policy.usability(request, entry, now) : freshness(entry, now, request.windows);
  }

  private answerFromCache(request: CacheRequest, entry: CacheEntry, now: number, outcome: CacheOutcome, status: string): void {
    const { ctx } = request;
    ctx.cacheOutcome = outcome;
    ctx.metrics.hits.inc();
    const headers = ctx.req.headers;
    const unchanged = (headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined)
      && entry.statusCode === 200 && notModified(entry, headers['if-none-match'], headers['if-modified-since']);
    const extra = ['age', String(ageSeconds(entry, now)), 'cache-status', status, 'x-amzn-requestid', ctx.requestId, ...request.extraHeaders, ...request.hitHeaders];
    // RFC 9110 §14: a Range request answered from a complete stored 200 (policies that serve ranges).
    const range = !unchanged && request.policy.range ? request.policy.range(request, entry) : undefined;
    if (range) return writeRange(ctx.res, entry, extra, ctx.method === 'HEAD', range);
    writeEntry(ctx.res, entry, extra, unchanged || ctx.method === 'HEAD', unchanged ? 304 : entry.statusCode);
  }

  /**
   * Goes to the integration for this request — or waits for a call already under way for the same
   * key (coalescing.ts), unless the key is marked hit-for-pass (hit-for-pass.ts). `previous`: the
   * entry found, to revalidate conditionally, and (`staleUsable`) to fall back on if the
   * integration fails (stale-if-error).
   */
  private async forward(request: CacheRequest, outcome: ForwardOutcome, previous: CacheEntry | undefined, staleUsable = false): Promise<void> {
    const { ctx } = request;
    const flightKey = `${request.space}\u0000${request.key}`;
    if (request.onlyIfCached) {
      // RFC 9111 §5.2.1.7: "respond with a 504 (Gateway Timeout)" rather than go forward.
      ctx.cacheOutcome = outcome;
      ctx.res.writeHead(504, { 'content-type': 'application/json', 'cache-status': forwardStatus(outcome, 'no-freshness'), 'x-amzn-requestid': ctx.requestId });
      ctx.res.end('{"message":"Not in cache (only-if-cached)"}');
      return;
    }
    if (request.passThrough) {
      // An unsafe method under httpCache shares its URL's key but never its answers: it neither
      // leads the key's flight (GETs would queue behind a POST's upload and processing) nor marks
      // or clears the key's hit-for-pass.
      await this.fetchAlone(request, outcome, previous, staleUsable, undefined, undefined);
      return;
    }
    const passId = HitForPass.id(flightKey);
    // What an answer to this request says about the key (hit-for-pass): nothing, when its own headers made it.
    const markId = request.ownAnswer ? undefined : passId;
    const timeoutMs = integrationTimeoutMs(ctx);
    // SPEC §7 Guarantees: no caller waits beyond its integration timeout, counted from its arrival.
    const deadline = ctx.receivedAt + timeoutMs;
    if (!request.refresh && this.passes.has(passId)) {
      // The key's answers are not shareable: no queue behind a leader (Varnish hit-for-miss).
      this.deps.metrics.hitForPass.inc({ api: ctx.labels.api, stage: ctx.labels.stage });
      await this.fetchAlone(request, outcome, previous, staleUsable, markId, undefined);
      return;
    }
    const flight = request.refresh ? undefined : this.flights.get(flightKey);
    if (flight) {
      const waited = await waitForFlight(flight, deadline);
      if (waited === DEADLINE) this.waitTimedOut(request, outcome, timeoutMs);
      // The integration failed and the leader served stale (stale-if-error): so does a waiter that
      // may, without calling a failing integration again; one that may not goes on its own.
      if (waited === FAILED_STALE && staleUsable && previous) {
        this.serveStaleOnError(request, previous, undefined);
        return;
      }
      // An answer chosen by request headers (Vary) goes only to waiters it was chosen for; another
      // waiter goes forward on its own at once, like the waiters of an unshareable answer.
      if (waited !== UNSHARED && waited !== FAILED_STALE && (!request.policy.shares || request.policy.shares(request, waited.entry))) {
        return this.answerCollapsed(request, waited.entry, waited.outcome);
      }
      // The leader's answer could not be shared (the key is now marked): every waiter goes on
      // its own, all at once, within what is left of its own timeout.
      // A leader that was answered (its integration works, its answer just cannot be shared) gives
      // each waiter a whole timeout of its own from its release: the rest of its timeout alone
      // would turn a slow unshareable answer into a 504 for every waiter (caching off: all 200).
      // A leader that failed or timed out leaves only the rest (a hanging backend doubles no wait).
      const now = Date.now();
      const own = flight.answered ? now + timeoutMs : deadline;
      await this.fetchAlone(request, outcome, previous, staleUsable, markId, new DeadlineLink(ctx, own, timeoutMs));
      return;
    }
    if (request.ownAnswer) {
      await this.fetchAlone(request, outcome, previous, staleUsable, undefined, undefined);
      return;
    }
    // Issue 17: the first miss of the key on any thread takes its lease; a later one on another
    // thread leads this thread's waiters in waiting for it. A refresh goes forward regardless.
    // Once answered, the lease lasts a timeout more for the body (waiters elsewhere wait for it).
    // A fill that can never reach the store (a key too long to store; the store failed the lookup,
    // so the answer is not stored) takes no lease: another thread would wait for the whole call,
    // find nothing, and call again (test/security/threads-attack.test.ts).
    const storable = !keyTooLong(request.key) && outcome !== 'bypass';
    const lease = request.refresh || !storable ? undefined : this.deps.leases?.take(flightKey, deadline);
    const { settle, link } = lease?.kind === 'taken'
      ? this.flights.lead(flightKey, ctx, () => lease.answered(Date.now() + timeoutMs), () => lease.followed())
      : this.flights.lead(flightKey, ctx);
    if (lease?.kind === 'none') this.deps.metrics.leaseTableFull.inc({ api: ctx.labels.api, stage: ctx.labels.stage });
    if (lease?.kind === 'held') return this.followLease(request, outcome, previous, staleUsable, passId, lease, settle, link);
    let shared: Shared = undefined;
    let ended: LeaseOutcome = 'failed';
    try {
      shared = await this.fetchAlone(request, outcome, previous, staleUsable, passId, link);
      // An answer this request's own headers made (ownAnswer, set in admit) marks nothing here: nor elsewhere.
      ended = shared === undefined ? (request.ownAnswer ? 'own' : 'unshareable') : shared === FAILED_STALE ? 'failed-stale' : 'shared';
    } finally {
      settle(shared);
      if (lease?.kind === 'taken') lease.release(ended, shared !== undefined && shared !== FAILED_STALE ? shared.entry.storedAt : undefined);
    }
  }

  /**
   * This thread's leader of a key another thread is filling: waits for that thread's lease (bounded
   * by this caller's own deadline and by the lease's expiry), then serves what it stored, as a
   * waiter on this thread would (`collapsed`), and so do this thread's waiters. With nothing to
   * serve, this request and its waiters are released at once, each to the integration on its own,
   * by the rules of local waiters: an unshareable answer marks the key hit-for-pass here too, and
   * a remote leader that was answered gives each a whole timeout; a failed or lost one, the rest.
   */
  private async followLease(request: CacheRequest, outcome: ForwardOutcome, previous: CacheEntry | undefined, staleUsable: boolean, passId: string,
    lease: Extract<Lease, { kind: 'held' }>, settle: (shared: Shared) => void, link: LeaderLink): Promise<void> {
    const timeoutMs = integrationTimeoutMs(request.ctx);
    const deadline = request.ctx.receivedAt + timeoutMs;
    let shared: Shared = undefined;
    // Whether the remote leader's integration answered: then this thread's waiters, like this
    // request, wait for its body, and whoever then goes on its own has a whole timeout.
    let answered = false;
    const remoteAnswered = (): void => {
      answered = true;
      link.answered();
    };
    try {
      this.deps.metrics.leaseWaits.inc({ api: request.ctx.labels.api, stage: request.ctx.labels.stage });
      const waited = await lease.wait(deadline, remoteAnswered);
      if (waited === 'deadline') this.waitTimedOut(request, outcome, timeoutMs);
      if (waited === 'failed-stale' && staleUsable && previous) {
        this.serveStaleOnError(request, previous, undefined);
        shared = FAILED_STALE;
        return;
      }
      if (waited === 'unshareable') this.markUnshareable(passId);
      else {
        const stored = await this.storedFor(request, lease.sharedStoredAt);
        if (stored) {
          this.answerCollapsed(request, stored, outcome);
          shared = { entry: stored, outcome };
          return;
        }
      }
      if (waited === 'unshareable' || waited === 'own' || waited === 'shared') remoteAnswered();
    } finally {
      settle(shared);
    }
    const own = answered ? Date.now() + timeoutMs : deadline;
    await this.fetchAlone(request, outcome, previous, staleUsable, passId, new DeadlineLink(request.ctx, own, timeoutMs));
  }

  /**
   * The entry the store holds now, if this request may be served it: fresh, or the very entry the
   * other thread's leader stored (`leaderStoredAt`), which its own waiters were served whatever its
   * freshness (a `no-cache` answer is stored but never fresh: followers would otherwise all call).
   */
  private async storedFor(request: CacheRequest, leaderStoredAt?: number): Promise<CacheEntry | undefined> {
    let entry: CacheEntry | undefined;
    try {
      const found = request.store.get(request.space, request.key);
      entry = found instanceof Promise ? await found : found;
    } catch (error) {
      this.storeFailed('get', error);
      return undefined;
    }
    if (!this.readable(request, entry)) return undefined;
    if (entry.storedAt !== leaderStoredAt && this.usability(request, entry, this.deps.now()) !== 'fresh') return undefined;
    return !request.policy.shares || request.policy.shares(request, entry) ? entry : undefined;
  }

  /** Serves the entry another request of the key fetched (RFC 9211: `collapsed`). */
  private answerCollapsed(request: CacheRequest, entry: CacheEntry, leaderOutcome: ForwardOutcome): void {
    const { ctx } = request;
    ctx.cacheOutcome = 'collapsed';
    ctx.metrics.hits.inc();
    const extra = ['cache-status', collapsedStatus(leaderOutcome), 'x-amzn-requestid', ctx.requestId, ...request.extraHeaders];
    writeEntry(ctx.res, entry, extra, ctx.method === 'HEAD');
  }

  /** A caller whose own timeout ran out while it waited for another request: a 504 (SPEC §7 Guarantees). */
  private waitTimedOut(request: CacheRequest, outcome: ForwardOutcome, timeoutMs: number): never {
    const { ctx } = request;
    this.deps.metrics.waitTimeouts.inc({ api: ctx.labels.api, stage: ctx.labels.stage });
    ctx.cacheOutcome = 'collapsed';
    setStatusForFailure(ctx.res, cacheStatus({ fwd: forwardReason(outcome), collapsed: true, detail: 'integration-timeout' }));
    throw deadlineError(timeoutMs);
  }

  /**
   * One caller's own integration call: marks the key hit-for-pass when the answer cannot be
   * shared (or the call failed), clears the mark when it can; resolves with what may be shared.
   */
  private async fetchAlone(request: CacheRequest, outcome: ForwardOutcome, previous: CacheEntry | undefined, staleUsable: boolean, passId: string | undefined, link: CallerLink | undefined): Promise<Shared> {
    const { ctx } = request;
    ctx.cacheOutcome = outcome;
    ctx.metrics.misses.inc();
    let entry: CacheEntry | undefined;
    try {
      entry = await this.fetch(request, outcome, previous, staleUsable, true, link);
    } catch (error) {
      // A caller hanging up says nothing about the key's answers.
      if (!ctx.callerGone) this.markUnshareable(passId);
      if (error instanceof IntegrationError) {
        // Issue 16: a 502/504 of a cache-enabled method carries Cache-Status too (SPEC §5).
        setStatusForFailure(ctx.res, cacheStatus({ fwd: forwardReason(outcome), detail: `integration-${error.kind}` }));
      }
      throw error;
    } finally {
      if (link instanceof DeadlineLink) link.disarm();
    }
    if (entry) {
      if (passId !== undefined) this.passes.clear(passId);
      this.deps.metrics.hitForPassKeys.set(this.passes.size);
      return { entry, outcome };
    }
    // Served stale on an integration failure: its waiters may do the same, and the key stays
    // coalesced (a mark would send every later request to the failing integration on its own).
    if ((ctx.cacheOutcome as string) === 'stale-if-error') return FAILED_STALE;
    // The policy may learn only from the answer that this request's own headers made it (ownAnswer set in admit).
    if (!request.ownAnswer) this.markUnshareable(passId);
    return undefined;
  }

  private markUnshareable(passId: string | undefined): void {
    if (passId === undefined) return;
    this.passes.mark(passId);
    this.deps.metrics.hitForPassKeys.set(this.passes.size);
  }

  /** stale-while-revalidate: one background refresh per key; its failure only leaves the stale entry. */
  private revalidate(request: CacheRequest): void {
    const flightKey = `${request.space}\u0000${request.key}`;
    if (this.flights.has(flightKey)) return;
    // Across threads too: another thread refreshing the key is enough (its lease); no slot free, refresh anyway.
    const lease = this.deps.leases?.take(flightKey, Date.now() + integrationTimeoutMs(request.ctx));
    if (lease?.kind === 'held') return;
    // A failed (or timed-out) refresh releases its lease as `failed`, not `unshareable`: a waiter on
    // another thread then goes on with the rest of its own timeout, not a whole new one (a hanging
    // backend doubles no wait; test/security/threads-attack.test.ts).
    let ended: LeaseOutcome = 'failed';
    const flight: Promise<Shared> = this.fetch(request, 'expired', undefined, false, false, undefined).then(
      (entry) => {
        ended = entry ? 'shared' : 'unshareable';
        return entry && { entry, outcome: 'expired' as const };
      },
      (error: unknown) => {
        this.deps.logger.warn({ err: (error as Error)?.message, requestId: request.ctx.requestId }, 'background revalidation failed');
        return undefined;
      },
    );
    this.flights.add(flightKey, flight);
    if (lease?.kind === 'taken') void flight.then(() => lease.release(ended));
  }

  /**
   * Calls the integration, stores the answer when the policy admits it, and (when `respond`)
   * writes it to the caller. Resolves with the entry others may share, if any.
   */
  private async fetch(request: CacheRequest, outcome: ForwardOutcome, previous: CacheEntry | undefined, staleUsable: boolean, respond: boolean, link: CallerLink | undefined): Promise<CacheEntry | undefined> {
    const { ctx } = request;
    const { req, res } = ctx;
    const stale = staleUsable ? previous : undefined;
    const forwarded = forwardedHeaders(request.forwarded);
    const entryValidated = previous !== undefined && addValidators(forwarded, previous);
    const call = ctx.integrationRequest({
      method: request.keyMethod,
      rawQuery: request.forwarded.query,
      headers: forwarded.headers,
      rawHeaders: forwarded.rawHeaders,
      body: request.forwardsBody ? request.body ?? ctx.bufferedBody ?? req : null,
    });
    let response: IntegrationResponse;
    try {
      // A caller that waited for another request calls with what is left of its own timeout.
      response = await ctx.invoke(link ? { ...call, caller: link } : call);
      if (link instanceof DeadlineLink) link.disarm();
      else if (link instanceof LeaderLink) link.answered();
    } catch (error) {
      if (stale && respond && (error instanceof IntegrationError || error instanceof GatewayError)) return this.serveStaleOnError(request, stale, undefined);
      throw error;
    }
    if (stale && respond && response.statusCode >= 500) {
      if (!Buffer.isBuffer(response.body)) response.body.destroy();
      return this.serveStaleOnError(request, stale, response.statusCode);
    }
    if (previous && response.statusCode === 304 && entryValidated) {
      // The backend confirmed the entry's own validators: the entry is refreshed; the caller gets a
      // 304 when its own validators match the entry, else the entry.
      const own = req.headers['if-none-match'] !== undefined || req.headers['if-modified-since'] !== undefined;
      return this.refreshFromNotModified(request, previous, response, respond, own && notModified(previous, req.headers['if-none-match'], req.headers['if-modified-since']));
    }
    // A 304 to the caller's own validators (`If-None-Match: *`, a future If-Modified-Since) confirms
    // nothing stored: it is relayed (not storable), and the entry stays as stale as it was.

    const headOnly = ctx.method === 'HEAD';
    const extra: Record<string, string> = { 'x-amzn-requestid': ctx.requestId };
    for (let i = 0; i < request.extraHeaders.length; i += 2) extra[request.extraHeaders[i]!] = request.extraHeaders[i + 1]!;
    const admission = request.policy.admit(request, response, this.deps.now());
    if (!admission.store) {
      this.notStored(request, admission.reason);
      if (!respond) return discard(response);
      extra['cache-status'] = forwardStatus(outcome, admission.reason);
      writeIntegrationResponse(res, response, headOnly, extra);
      return undefined;
    }
    const collected = Buffer.isBuffer(response.body) ? { complete: true as const, body: response.body } : await collectUpTo(response.body, MAX_CACHEABLE_BODY_BYTES);
    if (!collected.complete || collected.body.length > MAX_CACHEABLE_BODY_BYTES) {
      this.notStored(request, 'too-large');
      if (!respond) return discard(response);
      // AWS: a response over 1 MB is returned but not cached.
      extra['cache-status'] = forwardStatus(outcome, 'too-large');
      writeIntegrationResponse(res, response, headOnly, extra, collected.complete ? [collected.body] : collected.prefix);
      return undefined;
    }
    const entry: CacheEntry = {
      version: CACHE_ENTRY_VERSION,
      statusCode: response.statusCode,
      headers: admission.headers,
      body: ownedCopy(collected.body),
      ...withRevalidationGrace(admission.times, admission.headers),
      tags: entryTags(request.ctx.path, response.headers),
    };
    let result: Parameters<typeof forwardStatus>[1] = 'stored';
    if (keyTooLong(request.key)) {
      // SPEC §7: what is kept is bounded, not trusted (limits.ts).
      result = 'key-too-long';
      this.notStored(request, result);
    } else if (outcome === 'bypass') {
      // The store failed the lookup (or its circuit is open): not stored, but the answer is still
      // shared in memory with the requests waiting for it (SPEC §7: coalescing keeps working).
      result = 'store-unavailable';
      this.notStored(request, result);
    } else if (request.policy.hasRoom && !request.policy.hasRoom(request, entry)) {
      result = 'space-full';
      this.notStored(request, result);
    } else {
      try {
        const stored = request.store.set(request.space, request.key, entry);
        if (stored instanceof Promise) await stored;
      } catch (error) {
        this.storeFailed('set', error);
        result = 'store-unavailable';
      }
    }
    if (respond) {
      // The caller who fetched gets the integration's own headers; the entry keeps what its policy admits.
      extra['cache-status'] = forwardStatus(outcome, result);
      // RFC 9111 §4.2.3: an answer already aged upstream or in transit says so (a policy that counts it sets storedAt back).
      const age = ageSeconds(entry, this.deps.now());
      if (age > 0) extra.age = String(age);
      writeIntegrationResponse(res, { ...response, body: collected.body }, headOnly, extra);
    }
    return entry;
  }

  /**
   * The integration confirmed the entry (RFC 9111 §4.3.4): its headers are updated from the 304,
   * its lifetime starts again, and it is stored and served without a body transfer.
   */
  private async refreshFromNotModified(request: CacheRequest, previous: CacheEntry, response: IntegrationResponse, respond: boolean, callerValidated = false): Promise<CacheEntry | undefined> {
    if (!Buffer.isBuffer(response.body)) response.body.resume();
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of previous.headers) {
      const had = headers[name];
      headers[name] = had === undefined ? value : [...(Array.isArray(had) ? had : [had]), value];
    }
    for (const name in response.headers) if (name !== 'content-length') headers[name] = response.headers[name]!;
    const admission = request.policy.admit(request, { statusCode: previous.statusCode, headers, body: previous.body }, this.deps.now());
    if (!admission.store) {
      // The refreshed answer may no longer be stored (e.g. the backend now says no-store): serve it once.
      if (respond) writeEntry(request.ctx.res, previous, ['cache-status', forwardStatus('expired', admission.reason), 'x-amzn-requestid', request.ctx.requestId, ...request.extraHeaders], request.ctx.method === 'HEAD');
      return undefined;
    }
    // Named, not only spread: a store may keep tags and headers behind getters (stores/shared/stored-entry.ts).
    const entry: CacheEntry = { ...previous, tags: previous.tags, headers: admission.headers, ...withRevalidationGrace(admission.times, admission.headers) };
    let detail: 'stored' | 'store-unavailable' = 'stored';
    try {
      const stored = request.store.set(request.space, request.key, entry);
      if (stored instanceof Promise) await stored;
    } catch (error) {
      this.storeFailed('set', error);
      detail = 'store-unavailable';
    }
    if (respond) {
      const status = detail === 'stored' ? REVALIDATED_STATUS : forwardStatus('expired', detail);
      // The caller's own validators matched: it gets the 304 (RFC 9111 §4.3.2), with the updated headers.
      writeEntry(request.ctx.res, entry, ['cache-status', status, 'x-amzn-requestid', request.ctx.requestId, ...request.extraHeaders],
        callerValidated || request.ctx.method === 'HEAD', callerValidated ? 304 : entry.statusCode);
    }
    return entry;
  }

  private serveStaleOnError(request: CacheRequest, stale: CacheEntry, status: number | undefined): undefined {
    const { ctx } = request;
    const now = this.deps.now();
    ctx.cacheOutcome = 'stale-if-error';
    const extra = ['age', String(ageSeconds(stale, now)), 'cache-status', staleIfErrorStatus(ttlSeconds(stale, now), status), 'x-amzn-requestid', ctx.requestId, ...request.extraHeaders, ...request.hitHeaders];
    writeEntry(ctx.res, stale, extra, ctx.method === 'HEAD');
    return undefined;
  }

  private notStored(request: CacheRequest, reason: string): void {
    const { api, stage } = request.ctx.labels;
    this.deps.metrics.notStored.inc({ api, stage, reason });
  }

  /** Counts a store failure; the request is then served from the integration. (Stores log an outage once.) */
  private storeFailed(operation: string, error: unknown): 'bypass' {
    this.deps.metrics.storeErrors.inc({ store: this.deps.storeType, operation });
    this.deps.logger.debug({ store: this.deps.storeType, operation, err: (error as Error)?.message }, 'cache store call failed; serving from the integration');
    return 'bypass';
  }
}

/** RFC 9211: the integration was asked about a stale entry and confirmed it (304). */
const REVALIDATED_STATUS = cacheStatus({ fwd: 'stale', fwdStatus: 304, stored: true, detail: 'revalidated' });

/**
 * The entry's validators sent upstream (RFC 9110 §13.1), so an unchanged answer comes back as a 304.
 * A validator the caller sent itself is left as it is. Returns whether what goes upstream is exactly
 * the entry's validators — only then can a 304 confirm the entry (RFC 9111 §4.3.3, §4.3.4); a 304
 * to a caller's `If-None-Match: *` or future `If-Modified-Since` says nothing about what is stored.
 */
function addValidators(forwarded: { headers: IncomingHttpHeaders; rawHeaders: string[] }, previous: CacheEntry): boolean {
  const own: Record<string, string | undefined> = { 'if-none-match': undefined, 'if-modified-since': undefined };
  for (const [name, value] of previous.headers) {
    const header = name === 'etag' ? 'if-none-match' : name === 'last-modified' ? 'if-modified-since' : undefined;
    if (header === undefined || own[header] !== undefined) continue;
    own[header] = value;
    if (forwarded.headers[header] !== undefined) continue;
    forwarded.headers[header] = value;
    forwarded.rawHeaders.push(header, value);
  }
  let conditional = false;
  for (const header of ['if-none-match', 'if-modified-since'] as const) {
    const sent = forwarded.headers[header];
    if (sent === undefined) continue;
    if (sent !== own[header]) return false;
    conditional = true;
  }
  return conditional;
}

/**
 * An entry with a validator is kept one more TTL past its freshness (never served in that time
 * without the integration's 304), so an expired entry can be revalidated instead of refetched.
 */
function withRevalidationGrace(times: EntryTimes, headers: readonly (readonly [string, string])[]): EntryTimes {
  if (!headers.some(([name]) => name === 'etag' || name === 'last-modified')) return times;
  return { ...times, deleteAt: Math.max(times.deleteAt, times.staleAt + (times.staleAt - times.storedAt)) };
}

/**
 * The body an entry keeps, in a buffer of its own: a small body read from a socket may be a slice
 * of Node's shared 8 KiB pool or of a whole socket read, which the entry would otherwise keep alive
 * (and eviction would not free). Copied once per store, never on a hit.
 */
function ownedCopy(body: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(body.length);
  body.copy(copy);
  return copy;
}

function discard(response: IntegrationResponse): undefined {
  if (!Buffer.isBuffer(response.body)) response.body.resume();
  return undefined;
}

/** The method's integration timeout (MOCK has none: it answers at once; AWS's default then). */
function integrationTimeoutMs(ctx: RequestContext): number {
  const { integration } = ctx.route.definition;
  return integration && 'timeoutMs' in integration ? integration.timeoutMs : DEFAULT_INTEGRATION_TIMEOUT_MS;
}
const DEFAULT_INTEGRATION_TIMEOUT_MS = 29_000;

/** Cache-Status on an error answer written later by the data plane (sendError keeps headers set here). */
function setStatusForFailure(res: ServerResponse, status: string): void {
  if (!res.headersSent) res.setHeader('cache-status', status);
}
