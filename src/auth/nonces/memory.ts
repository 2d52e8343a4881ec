/**
 * Nonces in this process, with O(1) amortised work per claim however many are on record: a Map
 * for membership, and one-second expiry buckets swept in order, so a claim only ever looks at
 * records that have expired (each exactly once). Every record expires at most 30 minutes after
 * it was made (its timestamp is at most 15 minutes ahead), so the buckets in use span at most
 * 1,801 seconds; after a longer pause everything has expired and is dropped at once.
 * A record refuses replays until its expiry exactly; it stops counting toward its app's limit
 * when its bucket is swept, within the second after.
 */
import { NONCE_WINDOW_MS, type NonceStore, type NonceVerdict } from './nonce-store.js';

const BUCKET_MS = 1000;
/** Buckets a live record can be ahead of the last claim: 2 windows (timestamp skew + window) + 1. */
const MAX_SPAN_BUCKETS = (2 * NONCE_WINDOW_MS) / BUCKET_MS + 1;

export class MemoryNonceStore implements NonceStore {
  /** `appId NUL nonce` → expiresAt. The NUL keeps app namespaces apart (app ids never contain it). */
  private readonly expiries = new Map<string, number>();
  private readonly perApp = new Map<string, number>();
  /** Expiry second (rounded up) → records that expire in it. */
  private readonly buckets = new Map<number, string[]>();
  /** The oldest bucket not swept yet. */
  private nextBucket = 0;
  /** Records examined by sweeps so far: tests assert it grows with claims, not with history. */
  visited = 0;

  get size(): number {
    return this.expiries.size;
  }

  claim(appId: string, nonce: string, expiresAt: number, limit: number, now: number): NonceVerdict {
    this.sweep(now);
    const key = `${appId}\u0000${nonce}`;
    const known = this.expiries.get(key);
    if (known !== undefined && known > now) return 'replayed';
    if (known === undefined) {
      const count = this.perApp.get(appId) ?? 0;
      if (count >= limit) return 'full';
      this.perApp.set(appId, count + 1);
    }
    // An expired record not yet swept is reused in place (it already counts for its app).
    this.expiries.set(key, expiresAt);
    const bucket = Math.ceil(expiresAt / BUCKET_MS);
    const records = this.buckets.get(bucket);
    if (records) records.push(key);
    else this.buckets.set(bucket, [key]);
    return 'fresh';
  }

  private sweep(now: number): void {
    const due = Math.floor(now / BUCKET_MS);
    if (this.nextBucket > due) return;
    if (this.buckets.size === 0 || due - this.nextBucket > MAX_SPAN_BUCKETS) {
      // Nothing on record, or a pause longer than any record lives: all of it has expired.
      this.visited += this.expiries.size;
      this.expiries.clear();
      this.perApp.clear();
      this.buckets.clear();
      this.nextBucket = due + 1;
      return;
    }
    for (; this.nextBucket <= due; this.nextBucket++) {
      const records = this.buckets.get(this.nextBucket);
      if (!records) continue;
      this.buckets.delete(this.nextBucket);
      for (const key of records) {
        this.visited++;
        const expiresAt = this.expiries.get(key);
        // Re-recorded since (a later bucket holds it now) or already gone: not this bucket's.
        if (expiresAt === undefined || expiresAt > now) continue;
        this.expiries.delete(key);
        const appId = key.slice(0, key.indexOf('\u0000'));
        const count = (this.perApp.get(appId) ?? 1) - 1;
        if (count > 0) this.perApp.set(appId, count);
        else this.perApp.delete(appId);
      }
    }
  }
}
