/**
 * `gateway.stateFile`: control-plane changes survive a restart of a single node. The file holds the
 * API definitions as JSON, replaced atomically (write a temporary file, then rename).
 */
import { existsSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { validateApis } from '../config/load.js';
import type { ApiConfig, Config } from '../config/schema.js';

const STATE_VERSION = 1;

/** The saved APIs, or undefined when there is no state file yet. A corrupt file is an error, not silently ignored. */
export function readStateFile(file: string, config: Config, baseDir: string): readonly ApiConfig[] | undefined {
  if (!existsSync(file)) return undefined;
  let saved: { version?: unknown; apis?: unknown };
  try {
    saved = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`state file ${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (saved.version !== STATE_VERSION) throw new Error(`state file ${file} has version ${String(saved.version)}, expected ${STATE_VERSION}`);
  return validateApis(config, saved.apis, baseDir);
}

/** Writes in flight per file: one at a time, in the order they were asked for. */
const writes = new Map<string, Promise<void>>();
let sequence = 0;

/**
 * Saves `apis` (serialised now, so the order of calls is the order of saves). Writes to one file
 * are queued: a SIGHUP reload and a control-plane change saving at once used to write the same
 * temporary file together, leaving a file that was not JSON (and a gateway that could not start).
 */
export function writeStateFile(file: string, apis: readonly ApiConfig[]): Promise<void> {
  const text = JSON.stringify({ version: STATE_VERSION, savedAt: new Date().toISOString(), apis }, null, 2);
  const next = (writes.get(file) ?? Promise.resolve()).catch(() => undefined).then(async () => {
    const temporary = `${file}.${process.pid}.${++sequence}.tmp`;
    await writeFile(temporary, text);
    await rename(temporary, file);
  });
  writes.set(file, next);
  const forget = () => {
    if (writes.get(file) === next) writes.delete(file);
  };
  next.then(forget, forget);
  return next;
}
