/**
 * The stage directory of the shared store: one slot per stage space, found by name from any
 * thread. A slot's epoch changes whenever it is created or dropped, so a thread's cached
 * name → slot answer is checked (under the store lock) before use and looked up again if stale.
 */
import { createHash } from 'node:crypto';
import { hashBytes } from './arena.js';
import {
  CONTROL_HASH_KEY_0, CONTROL_HASH_KEY_1, CONTROL_STAGE_SLOTS, MAX_STAGE_NAME_BYTES, STAGE_EPOCH, STAGE_INT_STRIDE, STAGE_IN_USE, STAGE_NAME_HASH, STAGE_NAME_LENGTH,
  type SharedStoreViews,
} from './layout.js';

export class StageDirectory {
  /** This thread's answers: name → [slot, epoch]. Bounded by the slots that exist (maxStages). */
  private readonly known = new Map<string, { slot: number; epoch: number }>();
  private readonly maxStages: number;

  constructor(private readonly views: SharedStoreViews) {
    this.maxStages = views.buffers.sizes.maxStages;
  }

  /**
   * The slot of a stage space, or -1. Normally under the lock; the lock-free hit calls it without,
   * and validates what it read by the store's change sequence — what is remembered here must hold
   * anyway (see the epoch below).
   */
  find(name: string): number {
    const { stageInts } = this.views;
    const known = this.known.get(name);
    if (known !== undefined) {
      const at = known.slot * STAGE_INT_STRIDE;
      if (stageInts[at + STAGE_EPOCH] === known.epoch && stageInts[at + STAGE_IN_USE] === 1) return known.slot;
      this.known.delete(name);
    }
    const bytes = nameBytes(name);
    const hash = this.nameHash(bytes);
    const slots = this.claimedSlots();
    for (let slot = 0; slot < slots; slot++) {
      const at = slot * STAGE_INT_STRIDE;
      // The epoch is read before the name (an atomic read, so it stays first): the lock-free hit
      // calls this without the lock, and a slot dropped and made another stage's after the name
      // matched must not be remembered under this name with the new stage's epoch.
      const epoch = Atomics.load(stageInts, at + STAGE_EPOCH);
      if (stageInts[at + STAGE_IN_USE] === 1 && stageInts[at + STAGE_NAME_HASH] === hash && this.nameEquals(slot, bytes)) {
        this.known.set(name, { slot, epoch });
        return slot;
      }
    }
    return -1;
  }

  /** One past the highest slot ever claimed (CONTROL_STAGE_SLOTS): no slot beyond it was ever in use. Read without the lock too, so bounded by maxStages. */
  claimedSlots(): number {
    return Math.min(Atomics.load(this.views.control, CONTROL_STAGE_SLOTS), this.maxStages);
  }

  /** A name's hash under the store's key (arena.ts keyedHash), as the slot keeps it. */
  private nameHash(bytes: Buffer): number {
    return hashBytes(bytes, bytes.length, this.views.control[CONTROL_HASH_KEY_0]!, this.views.control[CONTROL_HASH_KEY_1]!);
  }

  /** Claims a free slot for a new space, or -1 when every slot is taken. Caller holds the lock. */
  create(name: string): number {
    const bytes = nameBytes(name);
    const { stageInts, stageNames } = this.views;
    for (let slot = 0; slot < this.maxStages; slot++) {
      const at = slot * STAGE_INT_STRIDE;
      if (stageInts[at + STAGE_IN_USE] === 1) continue;
      stageNames.set(bytes, slot * MAX_STAGE_NAME_BYTES);
      stageInts[at + STAGE_NAME_LENGTH] = bytes.length;
      stageInts[at + STAGE_NAME_HASH] = this.nameHash(bytes);
      stageInts[at + STAGE_EPOCH]!++;
      stageInts[at + STAGE_IN_USE] = 1;
      if (slot >= this.views.control[CONTROL_STAGE_SLOTS]!) Atomics.store(this.views.control, CONTROL_STAGE_SLOTS, slot + 1);
      this.remember(name, slot);
      return slot;
    }
    return -1;
  }

  /** Frees a slot (its entries were already handed to the garbage list). Caller holds the lock. */
  release(slot: number): void {
    const at = slot * STAGE_INT_STRIDE;
    this.views.stageInts[at + STAGE_IN_USE] = 0;
    this.views.stageInts[at + STAGE_EPOCH]!++;
  }

  private remember(name: string, slot: number): void {
    this.known.set(name, { slot, epoch: this.views.stageInts[slot * STAGE_INT_STRIDE + STAGE_EPOCH]! });
  }

  private nameEquals(slot: number, bytes: Buffer): boolean {
    const { stageInts, stageNames } = this.views;
    if (stageInts[slot * STAGE_INT_STRIDE + STAGE_NAME_LENGTH] !== bytes.length) return false;
    const base = slot * MAX_STAGE_NAME_BYTES;
    for (let i = 0; i < bytes.length; i++) if (stageNames[base + i] !== bytes[i]) return false;
    return true;
  }
}

/**
 * A space's name as stored: its UTF-8, or for a name longer than a slot holds (plug-in spaces
 * append plug-in and app names to the stage's) a SHA-256 digest of it, the same on every thread.
 * The \u0001 prefix keeps digests apart from literal names, which never carry control characters.
 */
function nameBytes(name: string): Buffer {
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length <= MAX_STAGE_NAME_BYTES) return bytes;
  return Buffer.from(`\u0001sha256:${createHash('sha256').update(bytes).digest('hex')}`, 'utf8');
}
