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

export async function writeStateFile(file: string, apis: readonly ApiConfig[]): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, JSON.stringify({ version: STATE_VERSION, savedAt: new Date().toISOString(), apis }, null, 2));
  await rename(temporary, file);
}
