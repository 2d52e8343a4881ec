/**
 * A shared nonce store (Redis, or the primary process of `--workers`) with this process's memory
 * behind it: when the shared one fails or is slow, the request is checked against local memory
 * instead — replay protection narrows to this process for the outage, signed traffic keeps
 * flowing, and each fallback is counted (SPEC: a store failure degrades to serving, counted).
 * Local memory records every nonce too, so a replay to the same process is refused even then.
 */
import type { NonceStore, NonceVerdict } from './nonce-store.js';
import { MemoryNonceStore } from './memory.js';

export class FallbackNonceStore implements NonceStore {
  readonly local = new MemoryNonceStore();

  constructor(private readonly shared: NonceStore, private readonly onFallback: (error: unknown) => void) {}

  claim(appId: string, nonce: string, expiresAt: number, limit: number, now: number): NonceVerdict | Promise<NonceVerdict> {
    const local = this.local.claim(appId, nonce, expiresAt, limit, now);
    if (local !== 'fresh') return local;
    let shared: NonceVerdict | Promise<NonceVerdict>;
    try {
      shared = this.shared.claim(appId, nonce, expiresAt, limit, now);
    } catch (error) {
      this.onFallback(error);
      return local;
    }
    if (!(shared instanceof Promise)) return shared;
    return shared.catch((error: unknown) => {
      this.onFallback(error);
      return local;
    });
  }

  close(): void {
    this.shared.close?.();
  }
}
