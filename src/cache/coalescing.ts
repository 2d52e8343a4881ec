/**
 * Request coalescing (SPEC §7): concurrent misses for one key make one integration call; the
 * other callers wait for it. Every wait is bounded by the waiter's own deadline — its
 * integration timeout counted from its arrival — so a hanging leader never holds a waiter past
 * the 504 it would have had on its own (nginx bounds the same wait with proxy_cache_lock_timeout;
 * here the bound is the integration timeout itself, SPEC §7 Guarantees).
 *
 * What a wait can end with:
 * - the leader's entry, to serve as it is (`collapsed`);
 * - `UNSHARED`: the leader's answer could not be shared (or it failed): every waiter then goes
 *   to the integration itself, all at once — never one at a time behind a new leader;
 * - `DEADLINE`: the waiter's own time ran out first.
 */
import type { CallerLink } from '../integrations/integration.js';
import { IntegrationError } from '../integrations/integration.js';
import type { CacheEntry } from './entry.js';
import type { ForwardOutcome } from './status.js';

/**
 * What a leader's integration call produced for its waiters: an entry to share, `FAILED_STALE`
 * (the integration failed and the leader served its stale entry: each waiter serves its own stale
 * entry too, if it may), or nothing.
 */
export type Shared = { entry: CacheEntry; outcome: ForwardOutcome } | typeof FAILED_STALE | undefined;

export const FAILED_STALE = Symbol('failed-stale');

export const UNSHARED = Symbol('unshared');
export const DEADLINE = Symbol('deadline');

/**
 * One call under way for a key, and how many callers wait for it. The leader's integration call
 * goes on while anyone waits, even if the leader's own caller has gone (LeaderLink).
 */
export class Flight {
  waiters = 0;
  /**
   * The leader's integration answered (its head arrived) within the leader's timeout: from then on
   * a waiter's deadline no longer applies, as on its own call (its body is bounded by the
   * integration's time between chunks, and by the 1 MB a shareable answer can have).
   */
  answered = false;
  private readonly idle = new Set<() => void>();

  constructor(readonly promise: Promise<Shared>) {}

  /** Counts one more waiter; the result says it no longer waits (once). */
  join(): () => void {
    this.waiters++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      if (--this.waiters === 0) for (const listener of [...this.idle]) listener();
    };
  }

  /** Calls `listener` each time the last waiter stops waiting; the result stops listening. */
  whenIdle(listener: () => void): () => void {
    this.idle.add(listener);
    return () => this.idle.delete(listener);
  }
}

/** The calls under way, one per key (bounded by the requests in flight: one entry per leader). */
export class Flights {
  private readonly flights = new Map<string, Flight>();

  get(key: string): Flight | undefined {
    return this.flights.get(key);
  }

  has(key: string): boolean {
    return this.flights.has(key);
  }

  /** Registers `promise` as the flight of `key` until it settles. */
  add(key: string, promise: Promise<Shared>): Flight {
    const flight = new Flight(promise);
    this.flights.set(key, flight);
    const forget = (): void => {
      if (this.flights.get(key) === flight) this.flights.delete(key);
    };
    promise.then(forget, forget);
    return flight;
  }

  /**
   * Starts a flight for `key` led by `leader`: the caller settles it with what its waiters may
   * share, and calls the integration with `link`, which is gone only once the leader's caller has
   * gone and nobody waits for the answer (Varnish and nginx finish such a fetch too): a caller
   * that hangs up after leading a hot key cannot throw every waiter onto the integration.
   * `onAnswered`: told when the integration answered (waiters elsewhere, leases.ts).
   */
  lead(key: string, leader: CallerLink, onAnswered?: () => void, remoteWaiting?: () => boolean): { settle: (shared: Shared) => void; link: LeaderLink } {
    let settle!: (shared: Shared) => void;
    const flight = this.add(key, new Promise<Shared>((resolve) => (settle = resolve)));
    return { settle, link: new LeaderLink(leader, flight, onAnswered, remoteWaiting) };
  }

  get size(): number {
    return this.flights.size;
  }
}

/** Waits for `flight` until `deadline` (epoch ms, real time). */
export function waitForFlight(flight: Flight, deadline: number): Promise<NonNullable<Shared> | typeof UNSHARED | typeof DEADLINE> {
  const left = deadline - Date.now();
  if (left <= 0 && !flight.answered) return Promise.resolve(DEADLINE);
  const leave = flight.join();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      // Answered in time: wait for the body, as this caller's own call would.
      if (flight.answered) return;
      leave();
      resolve(DEADLINE);
    }, left);
    flight.promise.then((shared) => {
      clearTimeout(timer);
      leave();
      resolve(shared ?? UNSHARED);
    });
  });
}

/** The leader's caller as its integration sees it: gone only when nobody else waits for the answer. */
export class LeaderLink implements CallerLink {
  /**
   * `remoteWaiting`: whether another thread waits for this call (its fill lease, leases.ts). While
   * one does when the leader's caller goes, the call goes on to its end (bounded by its own
   * timeout): otherwise any caller could lead a hot key and hang up, releasing every waiter on the
   * other threads to the integration at once with what is left of their timeouts.
   */
  constructor(private readonly leader: CallerLink, private readonly flight: Flight, private readonly onAnswered?: () => void,
    private readonly remoteWaiting?: () => boolean) {}

  /** The integration's head arrived: the waiters' deadlines no longer apply. */
  answered(): void {
    this.flight.answered = true;
    this.onAnswered?.();
  }

  get goneReason(): Error | undefined {
    return this.flight.waiters === 0 && !this.remoteWaiting?.() ? this.leader.goneReason : undefined;
  }

  onGone(listener: (reason: Error) => void): () => void {
    let stopIdle = (): void => undefined;
    const gone = (reason: Error): void => {
      if (!this.remoteWaiting?.()) listener(reason);
    };
    const stopLeader = this.leader.onGone((reason) => {
      if (this.flight.waiters === 0) return gone(reason);
      stopIdle = this.flight.whenIdle(() => {
        stopIdle();
        gone(reason);
      });
    });
    return () => {
      stopLeader();
      stopIdle();
    };
  }

  interim(statusCode: number, headers: Record<string, string | string[]>): void {
    this.leader.interim?.(statusCode, headers);
  }
}

/** A 504 for a caller whose own integration timeout ran out (SPEC §4: integration timeout → 504). */
export function deadlineError(timeoutMs: number): IntegrationError {
  return new IntegrationError('timeout', `no answer within the integration timeout of ${timeoutMs} ms (counted from the request's arrival)`);
}

/**
 * The caller as an integration sees it, with a deadline: "gone" (so the integration stops and
 * rejects with a timeout) when the caller's own integration timeout, counted from its arrival, has
 * passed — for a caller that spent part of its time waiting for another request. Disarmed once
 * the integration has answered, so a body still streaming is never cut by it.
 */
export class DeadlineLink implements CallerLink {
  private expired: IntegrationError | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(reason: Error) => void>();

  constructor(private readonly caller: CallerLink, deadline: number, private readonly timeoutMs: number) {
    const left = deadline - Date.now();
    if (left <= 0) this.expired = deadlineError(timeoutMs);
    else this.timer = setTimeout(() => this.expire(), left);
  }

  get goneReason(): Error | undefined {
    return this.caller.goneReason ?? this.expired;
  }

  onGone(listener: (reason: Error) => void): () => void {
    const already = this.goneReason;
    if (already) {
      listener(already);
      return () => undefined;
    }
    this.listeners.add(listener);
    const stopCaller = this.caller.onGone(listener);
    return () => {
      this.listeners.delete(listener);
      stopCaller();
    };
  }

  /** The integration answered: the deadline no longer applies (its own body timeouts do). */
  disarm(): void {
    clearTimeout(this.timer);
    this.listeners.clear();
  }

  private expire(): void {
    this.expired = deadlineError(this.timeoutMs);
    for (const listener of [...this.listeners]) listener(this.expired);
    this.listeners.clear();
  }
}
