// A real redis-server and real `rift` processes for each test.
//
// Redis runs on a unix socket in a temporary directory; Rift on 127.0.0.1:0. Readiness is read,
// never guessed: Redis logs "ready to accept connections" on stdout, Rift logs its bound
// addresses as JSON on stderr. A missing binary fails the test with what provides it.
import assert from 'node:assert/strict';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';

import type { Notification, Subscription } from '../src';

export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');
const REPO = path.resolve(PACKAGE_ROOT, '..', '..');
const READY_TIMEOUT_MS = 30_000; // only bounds a failure; readiness itself is read

/** One `rift serve` process. */
export interface RiftProcess {
  grpcAddr: string;
  httpAddr: string;
  /** SIGTERM, resolved once it has exited (its port is free again). */
  stop(): Promise<void>;
}

/** A redis-server and the Rift processes started on it; `stop()` ends them all. */
export interface Live extends RiftProcess {
  redisSocket: string;
  /** The first Rift (whose addresses these are), to stop on its own. */
  rift: RiftProcess;
  /** Another Rift on the same Redis, on `grpcAddr` when given (to restart one where its clients look). */
  startRift(riftArgs?: string[], grpcAddr?: string): Promise<RiftProcess>;
}

function executable(candidate: string | undefined): candidate is string {
  if (!candidate) return false;
  try {
    fs.accessSync(candidate, fs.constants.X_OK);
    return fs.statSync(candidate).isFile();
  } catch {
    return false;
  }
}

function redisServer(): string {
  const candidates = [
    process.env.RIFT_REDIS_SERVER,
    ...(process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, 'redis-server')),
    '/usr/bin/redis-server',
    '/usr/sbin/redis-server',
    '/usr/local/bin/redis-server',
  ];
  const found = candidates.find(executable);
  if (!found) {
    throw new Error(
      'redis-server not found. Install it with `apt-get install -y redis-server`, or run ' +
        '`bash scripts/test.sh`, which does; or set RIFT_REDIS_SERVER=/path/to/redis-server.',
    );
  }
  return found;
}

function riftBinary(): string {
  const binary = process.env.RIFT_BIN ?? path.join(REPO, 'target', 'debug', 'rift');
  if (!executable(binary)) {
    throw new Error(
      `the rift binary is not at ${binary}. Build it with \`cargo build --locked\` (or run ` +
        '`bash scripts/test.sh`, which does), or set RIFT_BIN to its path.',
    );
  }
  return binary;
}

/** Reads `stream` line by line until `ready` returns a value; the rest keeps draining. */
function readUntil<T>(
  child: ChildProcess,
  stream: NodeJS.ReadableStream,
  what: string,
  ready: (line: string) => T | undefined,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const seen: string[] = [];
    const lines = readline.createInterface({ input: stream });
    const timer = setTimeout(() => {
      reject(new Error(`${what} not ready within ${READY_TIMEOUT_MS} ms:\n${seen.join('\n')}`));
    }, READY_TIMEOUT_MS);
    let done = false;
    lines.on('line', (line) => {
      if (done) return;
      seen.push(line);
      const value = ready(line);
      if (value !== undefined) {
        done = true;
        clearTimeout(timer);
        resolve(value);
      }
    });
    child.once('exit', (code, signal) => {
      if (done) return;
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code ?? signal}) before it was ready:\n${seen.join('\n')}`));
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

function stopped(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** `rift serve` flags, read from its --help once: lets a test use a flag only where it exists. */
let serveHelp: string | undefined;
export function riftServeHas(flag: string): boolean {
  serveHelp ??= execFileSync(riftBinary(), ['serve', '--help'], { encoding: 'utf8' });
  return serveHelp.includes(flag);
}

/**
 * The flags that let a page at `origin` call Rift's grpc-web: none while Rift allows every
 * origin, `--allowed-origins <origin>` once Rift has that flag.
 */
export function originArgs(origin: string): string[] {
  return riftServeHas('--allowed-origins') ? ['--allowed-origins', origin] : [];
}

/** A redis-server and a rift on it; `riftArgs` are extra `rift serve` flags. */
export async function startLive(riftArgs: string[] = []): Promise<Live> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rift-ts-'));
  const redisSocket = path.join(dir, 'redis.sock');
  const children: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    for (const child of children.reverse()) await stopped(child);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('RIFT_') && k !== 'REDIS_URL'),
  );
  const startRift = async (args: string[] = [], grpcAddr = '127.0.0.1:0'): Promise<RiftProcess> => {
    // prettier-ignore
    const rift = spawn(riftBinary(), [
      '--log-format', 'json', 'serve',
      '--grpc-addr', grpcAddr, '--http-addr', '127.0.0.1:0',
      '--redis-url', `unix://${redisSocket}`, ...args,
    ], { stdio: ['ignore', 'ignore', 'pipe'], env });
    children.push(rift);
    const addresses = await readUntil(rift, rift.stderr!, 'rift', (line) => {
      try {
        const fields = JSON.parse(line).fields ?? {};
        if (typeof fields.grpc === 'string' && typeof fields.http === 'string') {
          return { grpcAddr: fields.grpc as string, httpAddr: fields.http as string };
        }
      } catch {
        // Not a JSON line: keep reading.
      }
      return undefined;
    });
    return { ...addresses, stop: () => stopped(rift) };
  };
  try {
    // prettier-ignore
    const redis = spawn(redisServer(), [
      '--port', '0', '--unixsocket', redisSocket, '--unixsocketperm', '700',
      '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', '', '--daemonize', 'no',
    ], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(redis);
    // 7.0: "ready to accept connections at <path>"; 7.2: "Ready to accept connections unix".
    await readUntil(redis, redis.stdout!, 'redis-server', (line) =>
      line.toLowerCase().includes('ready to accept connections') ? true : undefined,
    );
    const first = await startRift(riftArgs);
    return { grpcAddr: first.grpcAddr, httpAddr: first.httpAddr, redisSocket, rift: first, startRift, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export const WAIT_MS = 30_000;

/** `promise`, or a failure naming `what` once WAIT_MS pass. */
export function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${WAIT_MS} ms`)), WAIT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The next `count` notifications, each within WAIT_MS. */
export async function take(subscription: Subscription, count: number): Promise<Notification[]> {
  const events: Notification[] = [];
  while (events.length < count) {
    const event = await within(subscription.next(), `event ${events.length + 1} of ${count}`);
    assert.ok(event, `the subscription ended after ${events.length} of ${count} events`);
    events.push(event);
  }
  return events;
}
