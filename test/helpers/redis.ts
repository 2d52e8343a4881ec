/**
 * Real Redis servers for tests: `redis-server` processes on free loopback ports, without
 * persistence, in temporary directories; and a 3-master Redis Cluster made with
 * `redis-cli --cluster create`. Every process started here is stopped by its owner's stop(), and
 * killed on exit should a test file die first.
 *
 * Without redis-server the Redis suites skip loudly; with CI=true they fail instead.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Why the Redis suites cannot run here, or undefined when they can. */
export const redisMissing: string | undefined = (() => {
  const server = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  const cli = spawnSync('redis-cli', ['--version'], { encoding: 'utf8' });
  return server.status === 0 && cli.status === 0 ? undefined : 'redis-server/redis-cli not found on PATH (apt-get install redis-server)';
})();

/**
 * The `skip` option for a Redis describe(): false when Redis is here; a reason, printed loudly,
 * when it is not; and in CI (CI=true) a missing Redis is an error, not a skip.
 */
export function redisSkip(): string | false {
  if (!redisMissing) return false;
  if (process.env.CI === 'true') throw new Error(`CI=true and the Redis suites cannot run: ${redisMissing}`);
  process.stderr.write(`\n*** SKIPPING the Redis suites: ${redisMissing} ***\n\n`);
  return `no Redis: ${redisMissing}`;
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free loopback port below 55535, so that its cluster bus port (+10000) is a port too and free. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 25000);
    if ((await canBind(port)) && (await canBind(port + 10000))) return port;
  }
  throw new Error('no free port pair found for redis-server');
}

/** Sends one inline command and returns the first reply chunk, or '' when nothing answers. */
function inlineCommand(port: number, command: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const timer = setTimeout(() => socket.destroy(), 500);
    let reply = '';
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      socket.end();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(reply);
    });
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export class RedisServer {
  private child: ChildProcess | undefined;

  private constructor(readonly port: number, readonly dir: string, private readonly cluster: boolean, private readonly extraArgs: readonly string[]) {}

  /** `args`: more redis-server options, e.g. `['--cluster-require-full-coverage', 'no']`. */
  static async start(options: { port?: number; cluster?: boolean; args?: readonly string[] } = {}): Promise<RedisServer> {
    const server = new RedisServer(options.port ?? (await freePort()), mkdtempSync(join(tmpdir(), 'cachegate-redis-')), options.cluster ?? false, options.args ?? []);
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /**
   * (Re)starts the server on its port without automatic snapshots, and waits until it answers
   * PING. It starts empty unless a `dump.rdb` is in `dir` (a SAVE made earlier, see persistence tests).
   */
  async restart(): Promise<void> {
    if (this.child) throw new Error(`redis-server on ${this.port} is still running`);
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir,
      '--daemonize', 'no', '--protected-mode', 'no', '--loglevel', 'warning'];
    if (this.cluster) args.push('--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${this.port}.conf`, '--cluster-node-timeout', '2000');
    args.push(...this.extraArgs);
    const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    running.add(child);
    child.once('exit', () => {
      running.delete(child);
      if (this.child === child) this.child = undefined;
    });
    await waitFor(`redis-server on ${this.port}`, async () => (await inlineCommand(this.port, 'PING')).startsWith('+PONG'));
  }

  /** Stops the server abruptly (SIGKILL), as a crash would. */
  async kill(): Promise<void> {
    await this.terminate('SIGKILL');
  }

  /** Freezes the server (SIGSTOP): connections stay open and nothing answers, as a hung server. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }
  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    this.resume();
    await this.terminate('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async terminate(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }
}

/** A Redis Cluster of three masters (no replicas), all slots assigned. */
export class RedisCluster {
  private constructor(readonly servers: RedisServer[]) {}

  /** `partialCoverage`: masters keep serving their slots while another master is down (cluster-require-full-coverage no). */
  static async start(options: { partialCoverage?: boolean } = {}): Promise<RedisCluster> {
    const servers: RedisServer[] = [];
    const args = options.partialCoverage ? ['--cluster-require-full-coverage', 'no'] : [];
    try {
      for (let i = 0; i < 3; i++) servers.push(await RedisServer.start({ cluster: true, args }));
      const create = spawnSync('redis-cli', ['--cluster', 'create', ...servers.map((s) => s.address), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 20_000 });
      if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stderr || create.stdout}`);
      for (const server of servers) {
        await waitFor(`cluster state ok on ${server.port}`, async () => (await inlineCommand(server.port, 'CLUSTER INFO')).includes('cluster_state:ok'));
      }
      return new RedisCluster(servers);
    } catch (error) {
      await Promise.all(servers.map((server) => server.stop()));
      throw error;
    }
  }

  get nodes(): string[] {
    return this.servers.map((server) => server.address);
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((server) => server.stop()));
  }
}
