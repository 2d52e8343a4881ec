/** `cachegate flush`: FlushStageCache through the admin API, authenticated by API key or SigV4. */
import { callAdmin } from './admin-client.js';

export interface FlushOptions {
  api: string;
  stage: string;
  admin: string;
  apiKey?: string;
  region: string;
}

export async function runFlush(options: FlushOptions): Promise<void> {
  const url = new URL(`/restapis/${encodeURIComponent(options.api)}/stages/${encodeURIComponent(options.stage)}/cache/data`, options.admin);
  await callAdmin('DELETE', url, options, 'flush');
  process.stdout.write(`flushed the cache of ${options.api}/${options.stage}\n`);
}
