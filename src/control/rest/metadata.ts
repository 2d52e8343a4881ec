/**
 * What AWS reports but the API definitions do not hold: creation and update times, deployments,
 * and which deployment a stage points at. Kept in memory per gateway (a restart starts a new
 * history; the definitions themselves persist through gateway.stateFile).
 */
import { randomBytes } from 'node:crypto';
import type { Gateway } from '../../gateway/gateway.js';

export interface DeploymentRecord {
  readonly id: string;
  readonly description?: string;
  /** Epoch seconds (the SDK reads timestamps as JSON numbers). */
  readonly createdDate: number;
}

export interface ApiMetadata {
  createdDate: number;
  version?: string;
  warnings: string[];
  deployments: DeploymentRecord[];
}

export interface StageMetadata {
  createdDate: number;
  lastUpdatedDate: number;
  deploymentId?: string;
}

export class ControlMetadata {
  private readonly apis = new Map<string, ApiMetadata>();
  private readonly stages = new Map<string, StageMetadata>();

  constructor(private readonly now: () => number) {}

  api(apiId: string): ApiMetadata {
    let found = this.apis.get(apiId);
    if (!found) this.apis.set(apiId, (found = { createdDate: this.seconds(), warnings: [], deployments: [] }));
    return found;
  }

  stage(apiId: string, stage: string): StageMetadata {
    const key = stageKey(apiId, stage);
    let found = this.stages.get(key);
    if (!found) {
      const now = this.seconds();
      this.stages.set(key, (found = { createdDate: now, lastUpdatedDate: now }));
    }
    return found;
  }

  touchStage(apiId: string, stage: string): StageMetadata {
    const found = this.stage(apiId, stage);
    found.lastUpdatedDate = this.seconds();
    return found;
  }

  /** A new deployment record; stage pointers are set by the caller. */
  addDeployment(apiId: string, description: string | undefined): DeploymentRecord {
    const record: DeploymentRecord = { id: randomId(6), createdDate: this.seconds(), ...(description ? { description } : {}) };
    this.api(apiId).deployments.push(record);
    return record;
  }

  forgetStage(apiId: string, stage: string): void {
    this.stages.delete(stageKey(apiId, stage));
  }

  forgetApi(apiId: string): void {
    this.apis.delete(apiId);
    for (const key of [...this.stages.keys()]) if (key.startsWith(`${apiId}\u0000`)) this.stages.delete(key);
  }

  seconds(): number {
    return Math.floor(this.now() / 1000);
  }
}

const registry = new WeakMap<Gateway, ControlMetadata>();

export function metadataOf(gateway: Gateway): ControlMetadata {
  let found = registry.get(gateway);
  if (!found) registry.set(gateway, (found = new ControlMetadata(gateway.now)));
  return found;
}

/** AWS-like identifiers: lower-case letters and digits (REST API ids have 10, deployment ids 6). */
export function randomId(length: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(length)].map((byte) => alphabet[byte % alphabet.length]).join('');
}

function stageKey(apiId: string, stage: string): string {
  return `${apiId}\u0000${stage}`;
}
