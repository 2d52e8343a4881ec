/**
 * Nonces of `--workers N` with the memory store: the workers are separate processes, so each
 * claim is relayed over the cluster IPC channel to the primary, which keeps the one
 * MemoryNonceStore all workers share (a replay sent to two workers is refused by the second).
 * The primary answers in microseconds; a claim unanswered within `timeoutMs` (a primary busy or
 * gone) rejects, and the FallbackNonceStore around this checks local memory instead.
 */
import type { NonceStore, NonceVerdict } from './nonce-store.js';
import type { MemoryNonceStore } from './memory.js';

export const NONCE_CLAIM = 'cachegate:nonce-claim';
export const NONCE_VERDICT = 'cachegate:nonce-verdict';

export interface NonceClaimMessage {
  type: typeof NONCE_CLAIM;
  id: number;
  appId: string;
  nonce: string;
  expiresAt: number;
  limit: number;
  now: number;
}
export interface NonceVerdictMessage {
  type: typeof NONCE_VERDICT;
  id: number;
  verdict: NonceVerdict;
}

/** Claims waiting for the primary at once; past it a claim falls back at once instead of queueing. */
const MAX_PENDING_CLAIMS = 10_000;

export class RelayedNonceStore implements NonceStore {
  private readonly pending = new Map<number, { resolve: (verdict: NonceVerdict) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();
  private next = 0;

  constructor(
    private readonly send: (message: NonceClaimMessage) => void,
    onMessage: (listener: (message: unknown) => void) => void,
    private readonly timeoutMs: number,
  ) {
    onMessage((message) => {
      const verdict = message as Partial<NonceVerdictMessage> | undefined;
      if (verdict?.type !== NONCE_VERDICT || verdict.id === undefined) return;
      const waiter = this.pending.get(verdict.id);
      if (!waiter) return;
      this.pending.delete(verdict.id);
      clearTimeout(waiter.timer);
      waiter.resolve(verdict.verdict!);
    });
  }

  claim(appId: string, nonce: string, expiresAt: number, limit: number, now: number): Promise<NonceVerdict> {
    if (this.pending.size >= MAX_PENDING_CLAIMS) return Promise.reject(new Error('too many nonce claims waiting for the primary'));
    return new Promise((resolve, reject) => {
      const id = ++this.next;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`the primary did not answer a nonce claim within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      try {
        this.send({ type: NONCE_CLAIM, id, appId, nonce, expiresAt, limit, now });
      } catch (error) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(error as Error);
      }
    });
  }
}

/** In the primary: the answer to a worker's claim, or undefined when `message` is not one. */
export function answerNonceClaim(store: MemoryNonceStore, message: unknown): NonceVerdictMessage | undefined {
  const claim = message as Partial<NonceClaimMessage> | undefined;
  if (claim?.type !== NONCE_CLAIM || typeof claim.appId !== 'string' || typeof claim.nonce !== 'string') return undefined;
  // The primary's clock, not the worker's: one clock orders every worker's records.
  const verdict = store.claim(claim.appId, claim.nonce, Number(claim.expiresAt), Number(claim.limit), Date.now());
  return { type: NONCE_VERDICT, id: Number(claim.id), verdict };
}
