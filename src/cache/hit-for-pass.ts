/**
 * Hit-for-pass (Varnish's "hit-for-miss"): a key whose last answer could not be shared — not
 * storable (Set-Cookie, a status that is not cached, over 1 MB, no-store, …) or a leader that
 * failed or timed out — is remembered for a while, and requests for it go straight to the
 * integration instead of queueing behind one leader (SPEC §7 Guarantees: "a key whose answers
 * cannot be shared is not queued behind one leader"). Such a request may still store its answer:
 * a storable answer clears the mark, so a transient failure costs coalescing, never caching.
 *
 * Bounded (STYLE.md practice 15): at most HIT_FOR_PASS_MAX_KEYS marks, each for
 * HIT_FOR_PASS_TTL_MS; the oldest mark goes first when full. Marks are named by a 128-bit digest
 * of the key, so an attacker's long keys cost a fixed ~100 bytes each, not their length.
 */
import { createHash } from 'node:crypto';

/** Varnish's default: a hit-for-miss object lives 120 s (beresp.ttl of an uncacheable answer). */
export const HIT_FOR_PASS_TTL_MS = 120_000;
/** At most this many keys are remembered (~100 bytes each: ~1 MB). */
export const HIT_FOR_PASS_MAX_KEYS = 10_000;

export interface HitForPassOptions {
  /** The cache's clock (injected, like every TTL; STYLE.md practice 10). */
  now: () => number;
  maxKeys?: number;
  ttlMs?: number;
  /** Called when a mark is dropped to make room (counted by a metric). */
  onEvict?: () => void;
}

export class HitForPass {
  /** digest → until (ms on the cache clock); Map order is the order of marking, oldest first. */
  private readonly marks = new Map<string, number>();
  readonly maxKeys: number;
  readonly ttlMs: number;

  constructor(private readonly options: HitForPassOptions) {
    this.maxKeys = options.maxKeys ?? HIT_FOR_PASS_MAX_KEYS;
    this.ttlMs = options.ttlMs ?? HIT_FOR_PASS_TTL_MS;
  }

  /** The name a key is remembered by. */
  static id(key: string): string {
    return createHash('sha256').update(key).digest('base64url').slice(0, 22);
  }

  /** Whether the key's answers are known not to be shareable (a mark still within its TTL). */
  has(id: string): boolean {
    if (this.marks.size === 0) return false;
    const until = this.marks.get(id);
    if (until === undefined) return false;
    if (this.options.now() < until) return true;
    this.marks.delete(id);
    return false;
  }

  /** Remembers (again, for a full TTL) that the key's answer could not be shared. */
  mark(id: string): void {
    this.marks.delete(id);
    if (this.marks.size >= this.maxKeys) {
      this.marks.delete(this.marks.keys().next().value!);
      this.options.onEvict?.();
    }
    this.marks.set(id, this.options.now() + this.ttlMs);
  }

  /** A shareable answer came back: coalesce the key again. */
  clear(id: string): void {
    if (this.marks.size !== 0) this.marks.delete(id);
  }

  get size(): number {
    return this.marks.size;
  }
}
