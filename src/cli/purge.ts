/**
 * `cachegate purge`: removes a stage's cached entries by backend tag (Surrogate-Key / Cache-Tag)
 * or by path prefix, through the admin API (control/rest/cache-purge.ts).
 */
import { callAdmin } from './admin-client.js';
import { CliError } from './cli-error.js';

export interface PurgeOptions {
  api: string;
  stage: string;
  tag?: string;
  prefix?: string;
  admin: string;
  apiKey?: string;
  region: string;
}

export async function runPurge(options: PurgeOptions): Promise<void> {
  if ((options.tag === undefined) === (options.prefix === undefined)) throw new CliError('purge: give exactly one of --tag and --prefix');
  const stagePath = `/restapis/${encodeURIComponent(options.api)}/stages/${encodeURIComponent(options.stage)}/cache`;
  const url = options.tag !== undefined
    ? new URL(`${stagePath}/tags/${encodeURIComponent(options.tag)}`, options.admin)
    : new URL(`${stagePath}/paths?${new URLSearchParams({ prefix: options.prefix! })}`, options.admin);
  const text = await callAdmin('DELETE', url, options, 'purge');
  const { purged } = JSON.parse(text) as { purged: number };
  const what = options.tag !== undefined ? `tag ${JSON.stringify(options.tag)}` : `path prefix ${JSON.stringify(options.prefix)}`;
  process.stdout.write(`purged ${purged} entr${purged === 1 ? 'y' : 'ies'} (${what}) from the cache of ${options.api}/${options.stage}\n`);
}
