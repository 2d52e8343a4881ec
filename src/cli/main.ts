/**
 * `cachegate` command line (SPEC §2). Parsing only: each command calls into the rest. Failures
 * the user can fix are one line on stderr and exit code 1 — never a stack trace.
 */
import { existsSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError, formatPath } from '../config/errors.js';
import { configHints } from '../config/semantics.js';
import { loadConfigFile } from '../config/load.js';
import type { ListenAddress } from '../config/schema.js';
import { LOG_FORMATS, LOG_LEVELS } from '../logging.js';
import { ListenError } from '../gateway/listener.js';
import { runStart } from './start.js';
import { runFlush } from './flush.js';
import { runPurge } from './purge.js';
import { runImport } from './import.js';
import { CliError } from './cli-error.js';

export async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name('cachegate')
    .description('API gateway with the response cache of Amazon API Gateway and Alibaba Cloud API Gateway')
    .version(process.env.npm_package_version ?? '0.1.0')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });

  let exitCode = 0;
  program
    .command('start')
    .description('run the gateway (with no --config and no ./cachegate.yaml: the embedded demo)')
    .option('-c, --config <file>', 'config file (YAML or JSON)')
    .option('--listen <host:port>', 'data-plane address, overrides gateway.listen', parseAddress)
    .option('--admin <host:port>', 'admin address, overrides gateway.admin', parseAddress)
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .addOption(new Option('--log-format <format>', 'log lines: json (one JSON object a line) or pretty (readable)').choices(LOG_FORMATS).default('json'))
    .option('--workers <n|auto>', 'gateway threads sharing the ports and the cache (auto: one per core; default: 1 with the memory store, one per core with Redis)', validateWorkers)
    .action(async (options: { config?: string; listen?: ListenAddress; admin?: ListenAddress; logLevel: (typeof LOG_LEVELS)[number]; logFormat: (typeof LOG_FORMATS)[number]; workers?: string }) => {
      const config = options.config ?? (existsSync('cachegate.yaml') ? 'cachegate.yaml' : undefined);
      exitCode = await runStart({ ...options, config });
    });

  program
    .command('validate')
    .description('check a config file; prints every error with its path')
    .argument('<file>', 'config file')
    .action((file: string) => {
      try {
        const { config } = loadConfigFile(file);
        const stages = config.apis.reduce((n, api) => n + Object.keys(api.stages).length, 0);
        process.stdout.write(`${file}: valid (${config.apis.length} API${config.apis.length === 1 ? '' : 's'}, ${stages} stage${stages === 1 ? '' : 's'})\n`);
        for (const hint of configHints(config)) process.stdout.write(`hint: ${formatPath(hint.path)}: ${hint.message}\n`);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        for (const line of error.lines()) process.stderr.write(`${line}\n`);
        process.stderr.write(`${file}: ${error.issues.length} error${error.issues.length === 1 ? '' : 's'}\n`);
        exitCode = 1;
      }
    });

  program
    .command('flush')
    .description('flush a stage cache through the admin API')
    .requiredOption('--api <id>', 'REST API id')
    .requiredOption('--stage <name>', 'stage name')
    .option('--admin <url>', 'admin URL', 'http://127.0.0.1:9090')
    .option('--api-key <key>', 'API key of an identity allowed apigateway:DELETE (default: $CACHEGATE_API_KEY; else SigV4 with $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY)')
    .option('--region <region>', 'region for SigV4', process.env.AWS_REGION ?? 'us-east-1')
    .action(async (options: { api: string; stage: string; admin: string; apiKey?: string; region: string }) => {
      await runFlush(options);
    });

  program
    .command('purge')
    .description('purge a stage cache\'s entries by backend tag (Surrogate-Key / Cache-Tag) or path prefix, through the admin API')
    .requiredOption('--api <id>', 'REST API id')
    .requiredOption('--stage <name>', 'stage name')
    .option('--tag <tag>', 'one Surrogate-Key / Cache-Tag value')
    .option('--prefix <path>', 'a path after the stage, whole segments (/pets: /pets and everything under it)')
    .option('--admin <url>', 'admin URL', 'http://127.0.0.1:9090')
    .option('--api-key <key>', 'API key of an identity allowed apigateway:DELETE (default: $CACHEGATE_API_KEY; else SigV4 with $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY)')
    .option('--region <region>', 'region for SigV4', process.env.AWS_REGION ?? 'us-east-1')
    .action(async (options: { api: string; stage: string; tag?: string; prefix?: string; admin: string; apiKey?: string; region: string }) => {
      await runPurge(options);
    });

  program
    .command('import')
    .description('print a cachegate config built from an OpenAPI 3 document with x-amazon-apigateway-integration')
    .argument('<openapi-file>', 'OpenAPI 3 (or Swagger 2) document, YAML or JSON')
    .option('--id <id>', 'API id (default: from info.title)')
    .option('--stage <name>', 'name of the cached stage to create', 'prod')
    .action((file: string, options: { id?: string; stage: string }) => {
      runImport(file, options);
    });

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (error instanceof ConfigError) {
      const [first, ...rest] = error.lines();
      const more = rest.length ? ` (and ${rest.length} more; run: cachegate validate ${error.source})` : '';
      process.stderr.write(`cachegate: invalid config ${error.source}: ${first}${more}\n`);
      return 1;
    }
    if (error instanceof ListenError || error instanceof CliError) {
      process.stderr.write(`cachegate: ${error.message}\n`);
      return 1;
    }
    process.stderr.write(`cachegate: unexpected error: ${(error as Error)?.stack ?? error}\n`);
    return 2;
  }
}

function validateWorkers(value: string): string {
  if (value !== 'auto' && !/^[1-9]\d{0,2}$/.test(value)) throw new InvalidArgumentError('expected a number of processes or auto');
  return value;
}

function parseAddress(value: string): ListenAddress {
  const match = /^(?:(.*):)?(\d{1,5})$/.exec(value);
  if (!match || Number(match[2]) > 65535) throw new InvalidArgumentError('expected host:port');
  return { host: match[1] || '127.0.0.1', port: Number(match[2]) };
}
