/**
 * `cachegate import openapi.yaml`: prints a cachegate config (YAML) whose API resources come from
 * an OpenAPI document with `x-amazon-apigateway-integration` extensions — the same importer as
 * ImportRestApi. Warnings (methods skipped or simplified) go to stderr.
 */
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { importOpenApi, OpenApiError } from '../config/openapi.js';
import { CliError } from './cli-error.js';

export interface ImportOptions {
  id?: string;
  stage: string;
}

export function runImport(file: string, options: ImportOptions): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message;
    throw new CliError(`cannot read ${file}: ${reason}`);
  }
  let imported;
  try {
    imported = importOpenApi(text);
  } catch (error) {
    if (error instanceof OpenApiError) throw new CliError(`${file}: ${error.message}`);
    throw error;
  }
  for (const warning of imported.warnings) process.stderr.write(`warning: ${warning}\n`);
  const id = options.id ?? slug(imported.title ?? 'api');
  const config = {
    apis: [
      {
        id,
        ...(imported.title !== undefined ? { name: imported.title } : {}),
        ...(imported.description !== undefined ? { description: imported.description } : {}),
        resources: imported.resources,
        stages: {
          [options.stage]: {
            cacheClusterEnabled: true,
            cacheClusterSize: '0.5',
            methodSettings: { '*/*': { cachingEnabled: true, cacheTtlInSeconds: 300 } },
          },
        },
      },
    ],
  };
  process.stdout.write(`# cachegate config imported from ${file}\n${stringify(config, { lineWidth: 0 })}`);
}

/** A title as an API id: letters, digits, - and _ only. */
function slug(title: string): string {
  const id = title.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 64);
  return id || 'api';
}
