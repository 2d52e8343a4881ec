/** SharedStore: the store contract, plus what only the off-heap store promises. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CACHE_ENTRY_VERSION, type CacheEntry } from '../../src/cache/entry.js';
import { stageId } from '../../src/cache/store.js';
import { SharedStore } from '../../src/cache/stores/shared/shared-store.js';
import { runStoreContract } from './store-contract.js';

runStoreContract('SharedStore', ({ now }) => new SharedStore({ now, arenaBytes: 8 << 20 }));
