/**
 * A shared nonce store (Redis, or the primary process of `--workers`) with this process's memory
 * behind it: when the shared one fails or is slow, the request is checked against local memory
 * instead — replay protection narrows to this process for the outage, signed traffic keeps
 * flowing, and each fallback is counted (SPEC: a store failure degrades to serving, counted).
 * Local memory records every nonce too, so a replay to the same process is refused even then.
 *
 * Nonces admitted from local memory alone are kept (bounded, BACKLOG_LIMIT) and written to the
 * shared store once it answers again: otherwise a request signed during the outage could be
 * replayed on another node for the rest of its window, long after the outage (a3/store finding 1).
 */
import type { NonceStore, NonceVerdict } from './nonce-store.js';
import { MemoryNonceStore } from './memory.js';

/** Locally admitted nonces kept for the shared store at most; past it the oldest are dropped (counted). */
export const BACKLOG_LIMIT = 50_000;
/** Backlog records sent to the shared store at once while it is drained. */
const DRAIN_BATCH = 100;

interface Admitted { appId: string; nonce: string; expiresAt: number; limit: number }

export class FallbackNonceStore implements NonceStore {
  readonly local = new MemoryNonceStore();
  /** Nonces admitted by local memory alone, oldest first, not yet on the shared store. */
  private backlog: Admitted[] = [];
  private draining = false;
  /** Backlog records dropped past BACKLOG_LIMIT (their replays to other nodes are not refused). */
  dropped = 0;

  constructor(private readonly shared: NonceStore, private readonly onFallback: (error: unknown) => void) {}

  claim(appId: string, nonce: string, expiresAt: number, limit: number, now: number): NonceVerdict | Promise<NonceVerdict> {
    const local = this.local.claim(appId, nonce, expiresAt, limit, now);
    if (local !== 'fresh') return local;
    let shared: NonceVerdict | Promise<NonceVerdict>;
    try {
      shared = this.shared.claim(appId, nonce, expiresAt, limit, now);
    } catch (error) {
      this.fellBack(error, { appId, nonce, expiresAt, limit });
      return local;
    }
    if (!(shared instanceof Promise)) {
      this.drain(now);
      return shared;
    }
    return shared.then(
      (verdict) => {
        this.drain(now);
        return verdict;
      },
      (error: unknown) => {
        this.fellBack(error, { appId, nonce, expiresAt, limit });
        return local;
      },
    );
  }

  close(): void {
    this.shared.close?.();
  }

  private fellBack(error: unknown, admitted: Admitted): void {
    this.onFallback(error);
    this.backlog.push(admitted);
    if (this.backlog.length > BACKLOG_LIMIT) {
      const over = this.backlog.length - BACKLOG_LIMIT;
      this.backlog.splice(0, over);
      this.dropped += over;
    }
  }

  /** The shared store answered: write the backlog to it, a batch at a time, in the background. */
  private drain(now: number): void {
    if (this.draining || this.backlog.length === 0) return;
    this.draining = true;
    const run = async (): Promise<void> => {
      while (this.backlog.length > 0) {
        const batch = this.backlog.splice(0, DRAIN_BATCH).filter((record) => record.expiresAt > now);
        const results = await Promise.allSettled(batch.map(async (record) =>
          this.shared.claim(record.appId, record.nonce, record.expiresAt, record.limit, now)));
        const failed = batch.filter((_, i) => results[i]!.status === 'rejected');
        if (failed.length > 0) {
          // Away again: keep them for the next time it answers.
          this.backlog.unshift(...failed);
          return;
        }
      }
    };
    run().catch(() => undefined).finally(() => {
      this.draining = false;
    });
  }
}
