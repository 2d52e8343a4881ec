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

/** What a leader's integration call produced for its waiters: an entry to share, or nothing. */
export type Shared = { entry: CacheEntry; outcome: ForwardOutcome } | undefined;

export const UNSHARED = Symbol('unshared');
export const DEADLINE = Symbol('deadline');

/** The calls under way, one per key (bounded by the requests in flight: one entry per leader). */
export class Flights {
  private readonly flights = new Map<string, Promise<Shared>>();

  get(key: string): Promise<Shared> | undefined {
    return this.flights.get(key);
  }

  has(key: string): boolean {
    return this.flights.has(key);
  }

  /** Registers `flight` for `key` until it settles. */
  add(key: string, flight: Promise<Shared>): void {
    this.flights.set(key, flight);
    const forget = (): void => {
      if (this.flights.get(key) === flight) this.flights.delete(key);
    };
    flight.then(forget, forget);
  }

  /** Starts a flight for `key`; the caller settles it with what its waiters may share. */
  lead(key: string): (shared: Shared) => void {
    let settle!: (shared: Shared) => void;
    this.add(key, new Promise<Shared>((resolve) => (settle = resolve)));
    return settle;
  }

  get size(): number {
    return this.flights.size;
  }
}

/** Waits for `flight` until `deadline` (epoch ms, real time). */
export function waitForFlight(flight: Promise<Shared>, deadline: number): Promise<NonNullable<Shared> | typeof UNSHARED | typeof DEADLINE> {
  const left = deadline - Date.now();
  if (left <= 0) return Promise.resolve(DEADLINE);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(DEADLINE), left);
    flight.then((shared) => {
      clearTimeout(timer);
      resolve(shared ?? UNSHARED);
    });
  });
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
