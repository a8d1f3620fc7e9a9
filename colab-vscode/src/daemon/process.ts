// Starting and stopping the daemon process. The extension spawns it itself (rather
// than letting vscode-languageclient do it) so that the daemon's stderr log lines
// reach the "Colab Daemon" channel as they are, and so that a daemon that does not
// exit after shutdown can be killed.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as readline from 'node:readline';

export interface DaemonLaunch {
  /** The daemon file, for messages. */
  readonly path: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Variables added to the extension host's environment (never logged). */
  readonly env: Readonly<Record<string, string>>;
}

export interface ProcessLog {
  /** A line the daemon wrote to stderr (its log), as it is. */
  appendLine(line: string): void;
  info(message: string): void;
  error(message: string): void;
}

/** Spawns the daemon; resolves once it runs, rejects with a clear message when it cannot start. */
export async function spawnDaemon(launch: DaemonLaunch, log: ProcessLog): Promise<ChildProcessWithoutNullStreams> {
  const child = spawn(launch.command, [...launch.args], {
    env: { ...process.env, ...launch.env },
    stdio: 'pipe',
    windowsHide: true,
  });
  readline.createInterface({ input: child.stderr, crlfDelay: Infinity, terminal: false }).on('line', (line) => log.appendLine(line));
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error) => reject(new Error(`Could not start the Colab daemon (${launch.command}): ${error.message}`)));
  });
  child.on('error', (error) => log.error(`Colab daemon process error: ${error.message}`));
  // Writing to a daemon that just died fails (EPIPE, or a destroyed stream); the close is
  // handled as a crash, so the write error only needs to be logged, not thrown.
  child.stdin.on('error', (error) => log.error(`Writing to the Colab daemon failed: ${error.message}`));
  child.on('exit', (code, signal) =>
    log.info(`The Colab daemon (pid ${child.pid}) exited with ${signal !== null ? `signal ${signal}` : `code ${code}`}.`),
  );
  log.info(`Started the Colab daemon (pid ${child.pid}): ${[launch.command, ...launch.args].join(' ')}`);
  return child;
}

export function hasExited(child: { exitCode: number | null; signalCode: NodeJS.Signals | null }): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Waits up to `graceMs` for the process to exit on its own, then kills it. Resolves once it is gone. */
export async function ensureExited(child: ChildProcessWithoutNullStreams, graceMs: number): Promise<void> {
  if (hasExited(child)) {
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    exited.then(() => false),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs))),
  ]);
  clearTimeout(timer);
  if (timedOut && !hasExited(child)) {
    child.kill('SIGKILL');
    await exited;
  }
}
