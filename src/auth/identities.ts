/**
 * The callers the gateway knows (SPEC §3 `identities`), built once from the validated config:
 * who is calling (SigV4 access key or `x-api-key`) and what their policy lets them do.
 */
import { createHash } from 'node:crypto';
import type { IdentityConfig } from '../config/schema.js';
import type { ErrorCode } from '../errors.js';
import { compilePolicy, type CompiledPolicy } from './policy.js';
import { headerValues, verifySigV4, type SigV4Service, type SignedRequest } from './sigv4.js';

export interface Identity {
  readonly name: string;
  readonly policy: CompiledPolicy;
}

export type AuthResult =
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'identity'; readonly identity: Identity; readonly via: 'sigv4' | 'apiKey' }
  | { readonly kind: 'rejected'; readonly code: ErrorCode; readonly message?: string };

const ANONYMOUS: AuthResult = Object.freeze({ kind: 'anonymous' });

/** AWS answers a wrong or unknown API key with 403 `{"message":"Forbidden"}` (ForbiddenException). */
const UNKNOWN_API_KEY: AuthResult = Object.freeze({ kind: 'rejected', code: 'FORBIDDEN' });

/** API keys are looked up by digest, so no comparison ever runs over the plain-text key. */
const apiKeyDigest = (apiKey: string): string => createHash('sha256').update(apiKey, 'utf8').digest('hex');

export class IdentityRegistry {
  private readonly byAccessKey = new Map<string, { identity: Identity; secretAccessKey: string }>();
  private readonly byApiKeyDigest = new Map<string, Identity>();

  /** @param region the gateway's region: SigV4 credential scopes must name it. */
  constructor(
    identities: readonly IdentityConfig[],
    private readonly region: string,
  ) {
    for (const [index, config] of identities.entries()) {
      const identity: Identity = Object.freeze({ name: config.name, policy: compilePolicy(config.policy) });
      if (config.accessKeyId !== undefined && config.secretAccessKey !== undefined) {
        if (this.byAccessKey.has(config.accessKeyId))
          throw new Error(`identities[${index}].accessKeyId: ${config.accessKeyId} is already used by another identity`);
        this.byAccessKey.set(config.accessKeyId, { identity, secretAccessKey: config.secretAccessKey });
      }
      if (config.apiKey !== undefined) {
        const digest = apiKeyDigest(config.apiKey);
        if (this.byApiKeyDigest.has(digest)) throw new Error(`identities[${index}].apiKey: already used by another identity`);
        this.byApiKeyDigest.set(digest, identity);
      }
    }
  }

  byAccessKeyId(accessKeyId: string): Identity | undefined {
    return this.byAccessKey.get(accessKeyId)?.identity;
  }

  byApiKey(apiKey: string): Identity | undefined {
    return this.byApiKeyDigest.get(apiKeyDigest(apiKey));
  }

  /**
   * Who is calling. A SigV4 signature (Authorization header or presigned query) wins: when it is
   * present it must verify, and `x-api-key` is then ignored. Otherwise `x-api-key` must name a
   * known key. Neither: anonymous (the caller decides whether that is enough).
   */
  async authenticate(request: SignedRequest, service: SigV4Service, now: number): Promise<AuthResult> {
    const sigv4 = await verifySigV4(request, {
      service,
      region: this.region,
      now,
      secretFor: (accessKeyId) => this.byAccessKey.get(accessKeyId)?.secretAccessKey,
    });
    if (sigv4 !== undefined) {
      if (!sigv4.ok) return { kind: 'rejected', code: sigv4.code, message: sigv4.message };
      return { kind: 'identity', identity: this.byAccessKey.get(sigv4.accessKeyId)!.identity, via: 'sigv4' };
    }
    const apiKeys = headerValues(request.rawHeaders, 'x-api-key');
    if (apiKeys.length === 0) return ANONYMOUS;
    // Several x-api-key headers are ambiguous: refuse rather than pick one.
    const identity = apiKeys.length === 1 ? this.byApiKey(apiKeys[0]!) : undefined;
    return identity ? { kind: 'identity', identity, via: 'apiKey' } : UNKNOWN_API_KEY;
  }

  /** Whether `identity` may perform `action` on `resource`; anonymous callers may do nothing. */
  can(identity: Identity | undefined, action: string, resource: string): boolean {
    return identity !== undefined && identity.policy.allows(action, resource);
  }
}
