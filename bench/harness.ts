/**
 * What the benchmark scripts share: starting a Node server or redis-server on a free loopback
 * port, wrk, the CPU time a process tree used (from /proc), medians.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface Server { name: string; port: number; process?: ChildProcess; adminPort?: number; stop: () => void; /** Root of the server's process tree, for its CPU time. */ pid: () => number | undefined }

/** Starts `node script ...args` (with `env` added to this environment) and resolves once it prints `ready PORT [ADMIN_PORT …]`. */
export function startNode(name: string, script: string, args: string[], env: Record<string, string> = {}): Promise<Server & { readyLine: string }> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk;
      const line = /ready ([^\n]*)\n/.exec(output);
      if (line) {
        const [port, adminPort] = line[1]!.split(' ').map(Number);
        resolve({ name, port: port!, adminPort, process: child, readyLine: line[1]!, stop: () => child.kill('SIGTERM'), pid: () => child.pid });
      }
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
}

export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** redis-server without persistence on a loopback port; resolves once it answers PING. */
export async function startRedis(port: number): Promise<{ url: string; pid: number | undefined; stop: () => void }> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  for (let i = 0; i < 100 && spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout.trim() !== 'PONG'; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `redis://127.0.0.1:${port}`, pid: child.pid, stop: () => child.kill('SIGTERM') };
}

/**
 * One wrk run against a URL, 50 connections, optionally with a Lua script and its arguments:
 * req/s, the requests served, non-2xx answers and socket errors.
 */
export function wrk(url: string, seconds: number, script?: { file: string; args: string[] }): { rps: number; requests: number; errors: number } {
  const args = ['-t1', '-c50', `-d${seconds}s`, ...(script ? ['-s', script.file, url, '--', ...script.args] : [url])];
  const out = spawnSync('wrk', args, { encoding: 'utf8' }).stdout;
  const errors = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) + (/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)?.slice(1).reduce((a, b) => a + Number(b), 0) ?? 0);
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0), requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0), errors };
}

export const CLOCK_TICKS_PER_S = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** Clock ticks (user + system, all threads) used so far by a process and all its descendants. */
export function treeCpuTicks(root: number | undefined): number {
  return root === undefined ? NaN : cpuTicksOfTrees([root])[0]!;
}

/** Seconds of CPU (user + system, all threads, descendants included) used so far by each process tree. */
export function cpuTicks(roots: (number | undefined)[]): number[] {
  return cpuTicksOfTrees(roots).map((ticks) => ticks / CLOCK_TICKS_PER_S);
}

function cpuTicksOfTrees(roots: (number | undefined)[]): number[] {
  const children = new Map<number, number[]>();
  const ticks = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pid = Number(entry);
    const parent = Number(fields[1]);
    children.set(parent, [...(children.get(parent) ?? []), pid]);
    ticks.set(pid, Number(fields[11]) + Number(fields[12]));
  }
  return roots.map((root) => {
    if (root === undefined) return NaN;
    let total = 0;
    const pending = [root];
    while (pending.length > 0) {
      const pid = pending.pop()!;
      total += ticks.get(pid) ?? 0;
      pending.push(...(children.get(pid) ?? []));
    }
    return total;
  });
}

export const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** The machine's CPU counters from /proc/stat: total and stolen (by the hypervisor) ticks. */
export function cpuCounters(): { total: number; steal: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7] ?? 0 };
}

/** The share of the machine's CPU the hypervisor took between two readings of cpuCounters(). */
export function stealBetween(start: { total: number; steal: number }, end: { total: number; steal: number }): number {
  return (end.steal - start.steal) / Math.max(1, end.total - start.total);
}
