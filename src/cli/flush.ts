/** `cachegate flush`: FlushStageCache through the admin API, authenticated by API key or SigV4. */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { request } from 'undici';
import { CliError } from './cli-error.js';

export interface FlushOptions {
  api: string;
  stage: string;
  admin: string;
  apiKey?: string;
  region: string;
}

export async function runFlush(options: FlushOptions): Promise<void> {
  const url = new URL(`/restapis/${encodeURIComponent(options.api)}/stages/${encodeURIComponent(options.stage)}/cache/data`, options.admin);
  const headers = await authHeaders(url, options);
  let response;
  try {
    response = await request(url, { method: 'DELETE', headers });
  } catch (error) {
    throw new CliError(`cannot reach the admin API at ${options.admin}: ${(error as Error).message}`);
  }
  const text = await response.body.text();
  if (response.statusCode >= 300) {
    let message = text;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {
      // not JSON: show it as it is
    }
    throw new CliError(`flush failed: ${response.statusCode} ${message}`);
  }
  process.stdout.write(`flushed the cache of ${options.api}/${options.stage}\n`);
}

async function authHeaders(url: URL, options: FlushOptions): Promise<Record<string, string>> {
  const apiKey = options.apiKey ?? process.env.CACHEGATE_API_KEY;
  if (apiKey) return { 'x-api-key': apiKey };
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new CliError('no credentials: pass --api-key, set CACHEGATE_API_KEY, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
  }
  const signer = new SignatureV4({ service: 'apigateway', region: options.region, credentials: { accessKeyId, secretAccessKey }, sha256: Sha256 });
  const signed = await signer.sign({
    method: 'DELETE',
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port) || undefined,
    path: url.pathname,
    query: {},
    headers: { host: url.host },
  });
  return signed.headers as Record<string, string>;
}
