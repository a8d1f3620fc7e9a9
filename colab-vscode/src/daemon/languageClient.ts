// The one module that loads vscode-languageclient (which needs the real `vscode`):
// a DaemonConnection over LanguageClient, speaking JSON-RPC on the daemon's stdio.
// One LanguageClient per daemon process: when the daemon dies, the ErrorHandler's
// closed() tells DaemonClient, which applies the RestartPolicy and starts a fresh
// connection (the client's own in-place restart misbehaves when a daemon dies while
// starting). Only extension.ts imports this file; the unit tests use a fake connection.

import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import type * as vscode from 'vscode';
import { CloseAction, ErrorAction, LanguageClient, RevealOutputChannelOn, State } from 'vscode-languageclient/node';
import type { CancellationToken, ConnectionFactory, ConnectionState, DaemonConnection } from './client';
import { ensureExited, spawnDaemon, type DaemonLaunch } from './process';

/** How long shutdown+exit may take before the process is killed. */
const stopTimeoutMs = 3000;

export function languageClientConnections(outputChannel: vscode.LogOutputChannel): ConnectionFactory {
  return (launch, closed) => new LanguageClientConnection(launch, closed, outputChannel);
}

class LanguageClientConnection implements DaemonConnection {
  private readonly client: LanguageClient;
  private process: ChildProcessWithoutNullStreams | undefined;
  private closedReported = false;
  private readonly reportClosed: () => void;

  constructor(launch: DaemonLaunch, closed: () => void, outputChannel: vscode.LogOutputChannel) {
    // Once per connection: a broken pipe, a failed start and the close are one crash.
    this.reportClosed = () => {
      if (!this.closedReported) {
        this.closedReported = true;
        closed();
      }
    };
    const reportClosed = this.reportClosed;
    const serverOptions = async () => {
      this.process = await spawnDaemon(launch, outputChannel);
      return { reader: this.process.stdout, writer: this.process.stdin, detached: false };
    };
    this.client = new LanguageClient(
      'colab',
      'Colab Daemon',
      serverOptions,
      {
        outputChannel,
        traceOutputChannel: outputChannel,
        revealOutputChannelOn: RevealOutputChannelOn.Never,
        initializationFailedHandler: () => false,
        errorHandler: {
          error: (_error: Error, _message: unknown, count: number | undefined) => {
            if (count !== undefined && count <= 3) {
              return { action: ErrorAction.Continue, handled: true };
            }
            reportClosed(); // a connection that keeps failing counts as a crash
            return { action: ErrorAction.Shutdown, handled: true };
          },
          closed: () => {
            reportClosed();
            // DaemonClient restarts with a fresh connection, or tells the user it gave up.
            return { action: CloseAction.DoNotRestart, message: 'The Colab daemon exited.', handled: true };
          },
        },
      },
    );
    // The language client would pop up a notification of its own for each failed start
    // ("couldn't create connection to server"). DaemonClient tells the user once, in
    // words, and the status bar shows it; here those only go to the log.
    const logError = this.client.error.bind(this.client);
    this.client.error = (message: string, data?: unknown) => logError(message, data, false);
  }

  get state(): ConnectionState {
    return toConnectionState(this.client.state);
  }

  async start(): Promise<void> {
    try {
      await this.client.start();
    } catch (error) {
      // A daemon that was spawned and then failed to come up (it died, or initialize
      // failed) is a crash, for the RestartPolicy; one that could not be spawned is not.
      if (this.process) {
        this.reportClosed();
      }
      throw error;
    }
  }

  async stop(): Promise<void> {
    if (this.client.state === State.Starting) {
      // A starting client cannot be stopped: let it finish (or fail) first.
      await Promise.race([this.client.start().catch(() => undefined), delay(stopTimeoutMs)]);
    }
    if (this.client.state === State.Running) {
      await this.client.stop(stopTimeoutMs).catch(() => undefined);
    }
    // After this no restart can happen on this client.
    await this.client.dispose(stopTimeoutMs)?.catch(() => undefined);
    if (this.process) {
      await ensureExited(this.process, stopTimeoutMs);
    }
  }

  sendRequest<R>(method: string, params?: unknown, token?: CancellationToken): Promise<R> {
    if (params === undefined) {
      return token === undefined ? this.client.sendRequest(method) : this.client.sendRequest(method, token);
    }
    // vscode-jsonrpc takes a trailing undefined for a second positional param and
    // would send `[params, null]`: pass the token only when there is one.
    return token === undefined ? this.client.sendRequest(method, params) : this.client.sendRequest(method, params, token);
  }

  onRequest(method: string, handler: (params: unknown) => unknown): vscode.Disposable {
    return this.client.onRequest(method, (params: unknown) => handler(params));
  }

  onNotification(method: string, handler: (params: unknown) => void): vscode.Disposable {
    return this.client.onNotification(method, handler);
  }

  onDidChangeState(listener: (state: ConnectionState) => void): vscode.Disposable {
    return this.client.onDidChangeState((e: { newState: State }) => listener(toConnectionState(e.newState)));
  }
}

function toConnectionState(state: State): ConnectionState {
  switch (state) {
    case State.Starting:
      return 'starting';
    case State.Running:
      return 'running';
    case State.StartFailed:
      return 'startFailed';
    default:
      return 'stopped';
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
