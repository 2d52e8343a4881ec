// The control-plane client: AWS API Gateway REST paths on this admin listener, authenticated with
// the API key the user signed in with (kept in sessionStorage: gone when the tab closes).

const KEY_STORAGE = 'cachegate.apiKey';

/** An error answered by the gateway ({"message"} + x-amzn-ErrorType), or a network failure. */
export class ApiError extends Error {
  constructor(status, type, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.type = type;
  }

  /** "BadRequestException: Invalid patch value …", as the AWS CLI would print it. */
  toString() {
    return this.type ? `${this.type}: ${this.message}` : this.message;
  }

  /** The key itself was refused: the user has to sign in again. */
  get isAuthentication() {
    return this.status === 403 && /^(ForbiddenException|MissingAuthenticationTokenException|UnrecognizedClientException)$/.test(this.type ?? '');
  }
}

export const session = {
  get apiKey() {
    return sessionStorage.getItem(KEY_STORAGE);
  },
  signIn(apiKey) {
    sessionStorage.setItem(KEY_STORAGE, apiKey);
  },
  signOut() {
    sessionStorage.removeItem(KEY_STORAGE);
  },
};

async function request(method, path, body) {
  const headers = { accept: 'application/json' };
  const apiKey = session.apiKey;
  if (apiKey) headers['x-api-key'] = apiKey;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch (error) {
    throw new ApiError(0, 'NetworkError', `Cannot reach the gateway admin API (${error.message})`);
  }
  const text = await response.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const type = response.headers.get('x-amzn-errortype')?.split(':')[0] ?? `HTTP ${response.status}`;
    const message = (parsed && typeof parsed.message === 'string' && parsed.message) || text || response.statusText;
    throw new ApiError(response.status, type, message);
  }
  return parsed;
}

const enc = encodeURIComponent;

export const api = {
  getRestApis: () => request('GET', '/restapis?limit=500'),
  getStages: (restApiId) => request('GET', `/restapis/${enc(restApiId)}/stages`),
  getStage: (restApiId, stageName) => request('GET', `/restapis/${enc(restApiId)}/stages/${enc(stageName)}`),
  getResources: (restApiId) => request('GET', `/restapis/${enc(restApiId)}/resources?embed=methods&limit=500`),
  /** UpdateStage with AWS patch operations ({op, path, value} with string values). */
  updateStage: (restApiId, stageName, patchOperations) =>
    request('PATCH', `/restapis/${enc(restApiId)}/stages/${enc(stageName)}`, { patchOperations }),
  flushStageCache: (restApiId, stageName) => request('DELETE', `/restapis/${enc(restApiId)}/stages/${enc(stageName)}/cache/data`),
  /** Purge by tag (one Surrogate-Key / Cache-Tag value, exact) → {purged: N}. */
  purgeCacheTag: (restApiId, stageName, tag) =>
    request('DELETE', `/restapis/${enc(restApiId)}/stages/${enc(stageName)}/cache/tags/${enc(tag)}`),
  /** Purge by path prefix (whole segments after the stage, `/pets`) → {purged: N}. */
  purgeCachePaths: (restApiId, stageName, prefix) =>
    request('DELETE', `/restapis/${enc(restApiId)}/stages/${enc(stageName)}/cache/paths?prefix=${enc(prefix)}`),
  stats: () => request('GET', '/console/api/stats'),
};

/** `pets/{petId}/GET` → `/~1pets~1{petId}/GET` (JSON-pointer escaping, as AWS patch paths use); `*\/*` stays. */
export function methodSettingPath(key) {
  if (key === '*/*') return '/*/*';
  const slash = key.lastIndexOf('/');
  const resourcePath = `/${key.slice(0, slash)}`;
  const method = key.slice(slash + 1);
  return `/${resourcePath.replaceAll('~', '~0').replaceAll('/', '~1')}/${method}`;
}
