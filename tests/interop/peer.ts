// Starts the built daemon and drives it with the real vscode-jsonrpc client, the same
// library the VS Code extension uses, so these tests see what the editor sees.
import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
// tests/tsconfig.json resolves modules the classic "node" (node10) way, which ignores
// package.json "exports", and vscode-jsonrpc 9 publishes its Node entry only through
// "exports". So: the types by file path, the module through Node's own resolver.
import type * as JsonRpcNode from '../../node_modules/vscode-jsonrpc/lib/node/main';

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const rpc: typeof JsonRpcNode = require('vscode-jsonrpc/node');
export type MessageConnection = JsonRpcNode.MessageConnection;
export type ResponseError<D> = JsonRpcNode.ResponseError<D>;
const { createMessageConnection, StreamMessageReader, StreamMessageWriter } = rpc;

/** The directory holding ColabDaemon.sln, found by walking up from this file. */
export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'ColabDaemon.sln'))) {
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new Error(`No ColabDaemon.sln above ${__dirname}: run the tests from inside the repository.`);
    }
    dir = parent;
  }
}

/**
 * The daemon executable: COLAB_DAEMON when set (e.g. a self-contained publish under
 * .artifacts/publish/linux-x64/colab), else the Release build's apphost.
 */
export function daemonPath(): string {
  const root = repoRoot();
  const exe = process.platform === 'win32' ? 'colab.exe' : 'colab';
  const file = process.env.COLAB_DAEMON
    ? path.resolve(process.env.COLAB_DAEMON)
    : path.join(root, 'daemon', 'bin', 'Release', 'net10.0', exe);
  if (!fs.existsSync(file)) {
    throw new Error(
      `The daemon is not built: ${file} does not exist. ` +
        `Build it first with \`dotnet build ColabDaemon.sln -c Release\` (in ${root}).`,
    );
  }
  return file;
}

export interface Notification {
  method: string;
  params: unknown;
}

export interface Daemon {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly connection: MessageConnection;
  /** Every notification the daemon sent, in arrival order. */
  readonly notifications: Notification[];
  /** What the daemon wrote to stderr (its log), for failure messages. */
  stderr(): string;
  /** Resolves with the exit code when the process ends. */
  readonly exited: Promise<number | null>;
  /** Resolves with the first notification of `method` that satisfies `match`. */
  waitForNotification<T>(method: string, match?: (params: T) => boolean, timeoutMs?: number): Promise<T>;
  /** Kills the process if it is still running and disposes the connection. */
  dispose(): Promise<void>;
}

/** Starts `colab daemon --stdio` and connects vscode-jsonrpc to its stdin/stdout. */
export function startDaemon(): Daemon {
  const proc = spawn(daemonPath(), ['daemon', '--stdio'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let log = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d: string) => {
    log += d;
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));

  const connection = createMessageConnection(new StreamMessageReader(proc.stdout), new StreamMessageWriter(proc.stdin));
  const notifications: Notification[] = [];
  const waiters: Array<{ method: string; match: (p: unknown) => boolean; resolve: (p: unknown) => void }> = [];
  connection.onNotification((method: string, params: unknown) => {
    notifications.push({ method, params });
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i];
      if (w.method === method && w.match(params)) {
        waiters.splice(i, 1);
        w.resolve(params);
      }
    }
  });
  // A write to a process that has gone away must not crash the test runner.
  proc.stdin.on('error', () => undefined);
  connection.onError(() => undefined);
  connection.listen();

  return {
    proc,
    connection,
    notifications,
    stderr: () => log,
    exited,
    waitForNotification<T>(method: string, match: (params: T) => boolean = () => true, timeoutMs = 10_000): Promise<T> {
      const seen = notifications.find((n) => n.method === method && match(n.params as T));
      if (seen) {
        return Promise.resolve(seen.params as T);
      }
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`No ${method} notification within ${timeoutMs} ms. Daemon log:\n${log}`));
        }, timeoutMs);
        waiters.push({
          method,
          match: (p) => match(p as T),
          resolve: (p) => {
            clearTimeout(timer);
            resolve(p as T);
          },
        });
      });
    },
    async dispose(): Promise<void> {
      connection.dispose();
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
      }
      await exited;
    },
  };
}

/** Minimal LSP InitializeParams, as a client would send them. */
export function initializeParams(): Record<string, unknown> {
  return {
    processId: process.pid,
    clientInfo: { name: 'colab-interop-tests', version: '0.0.0' },
    rootUri: null,
    capabilities: { window: { workDoneProgress: true } },
  };
}

/** Starts the daemon and completes initialize + initialized. */
export async function startInitialized(): Promise<Daemon> {
  const d = startDaemon();
  try {
    await d.connection.sendRequest('initialize', initializeParams());
    await d.connection.sendNotification('initialized', {});
  } catch (e) {
    await d.dispose();
    throw e;
  }
  return d;
}
