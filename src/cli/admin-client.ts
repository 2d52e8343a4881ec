/**
 * One call to the admin API from the command line, authenticated by API key (`--api-key` or
 * $CACHEGATE_API_KEY) or else SigV4 ($AWS_ACCESS_KEY_ID / $AWS_SECRET_ACCESS_KEY, service
 * `apigateway`). Failures the user can fix are CliErrors naming what failed.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { request } from 'undici';
import { CliError } from './cli-error.js';

export interface AdminCallOptions {
  admin: string;
  apiKey?: string;
  region: string;
}

/** Sends the request and resolves with the answer's text; a status of 300 or more is a CliError led by `what`. */
export async function callAdmin(method: 'DELETE' | 'GET', url: URL, options: AdminCallOptions, what: string): Promise<string> {
  const headers = await authHeaders(method, url, options);
  let response;
  try {
    response = await request(url, { method, headers });
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
    throw new CliError(`${what} failed: ${response.statusCode} ${message}`);
  }
  return text;
}

async function authHeaders(method: string, url: URL, options: AdminCallOptions): Promise<Record<string, string>> {
  const apiKey = options.apiKey ?? process.env.CACHEGATE_API_KEY;
  if (apiKey) return { 'x-api-key': apiKey };
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new CliError('no credentials: pass --api-key, set CACHEGATE_API_KEY, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
  }
  const signer = new SignatureV4({ service: 'apigateway', region: options.region, credentials: { accessKeyId, secretAccessKey }, sha256: Sha256 });
  const signed = await signer.sign({
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port) || undefined,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: { host: url.host },
  });
  return signed.headers as Record<string, string>;
}
