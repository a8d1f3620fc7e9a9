// The extension's side of the daemon: starts it, restarts it after a crash (within
// the RestartPolicy), stops it, and passes requests and the daemon's status through.
// It holds no state of the daemon's own beyond the last ServerStatus the daemon sent.
// The JSON-RPC connection comes from an injected factory (languageClient.ts in VS
// Code, a fake in the unit tests), so this module never loads `vscode`.

import type * as vscode from 'vscode';
import { Emitter, type Disposable, type Event } from '../events';
import { methods, type ServerStatus } from '../protocol';
import type { LocateResult } from './locate';
import type { DaemonLaunch } from './process';
import type { RestartPolicy } from './restartPolicy';

/** The shape of vscode.CancellationToken (and vscode-jsonrpc's), without loading `vscode`. */
export interface CancellationToken {
  readonly isCancellationRequested: boolean;
  readonly onCancellationRequested: (listener: (e: unknown) => unknown) => Disposable;
}

export type ConnectionState = 'starting' | 'running' | 'stopped' | 'startFailed';

/** One JSON-RPC connection to one daemon process. */
export interface DaemonConnection {
  readonly state: ConnectionState;
  start(): Promise<void>;
  /** Sends shutdown and exit when running, and makes sure the process is gone. */
  stop(): Promise<void>;
  /** Cancelling `token` sends $/cancelRequest for this request. */
  sendRequest<R>(method: string, params?: unknown, token?: CancellationToken): Promise<R>;
  onNotification(method: string, handler: (params: unknown) => void): Disposable;
  /** Answers a server→client request; what the handler throws becomes an error answer. */
  onRequest(method: string, handler: (params: unknown) => unknown): Disposable;
  onDidChangeState(listener: (state: ConnectionState) => void): Disposable;
}

/**
 * Makes a connection. `closed` is called when its daemon goes away without being
 * asked to (the language client's ErrorHandler.closed); the connection itself never
 * restarts: DaemonClient decides, and starts a fresh connection.
 */
export type ConnectionFactory = (launch: DaemonLaunch, closed: () => void) => DaemonConnection;

export type DaemonPhase = 'starting' | 'running' | 'failed' | 'stopped';

export interface DaemonSnapshot {
  readonly phase: DaemonPhase;
  /** Why it failed, stopped or is restarting. */
  readonly reason?: string;
  /** The last status the running daemon sent (absent until it sends one). */
  readonly status?: ServerStatus;
  /** What was started. */
  readonly launch?: DaemonLaunch;
}

export interface DaemonSettings {
  readonly logLevel: string;
  readonly python: string;
}

export interface DaemonLog {
  info(message: string): void;
  error(message: string): void;
}

export interface DaemonClientOptions {
  readonly locate: () => LocateResult;
  readonly settings: () => DaemonSettings;
  readonly connect: ConnectionFactory;
  readonly policy: RestartPolicy;
  readonly log: DaemonLog;
  readonly showLog: () => void;
}

export const showDaemonLogAction = 'Show Daemon Log';

export class DaemonNotRunningError extends Error {}

export class DaemonClient implements Disposable {
  private connection: DaemonConnection | undefined;
  private subscriptions: Disposable[] = [];
  /** Bumped for every connection; events of an older one are ignored. */
  private generation = 0;
  private current: DaemonSnapshot = { phase: 'stopped', reason: 'The Colab daemon has not been started.' };
  /** Set while a crashed daemon is being restarted. */
  private restarting: string | undefined;
  /** Set when the daemon will not come back by itself. */
  private failure: string | undefined;
  private readonly changed = new Emitter<DaemonSnapshot>();
  /** Notification listeners by method; they outlive daemon restarts. */
  private readonly listeners = new Map<string, Emitter<unknown>>();
  /** The methods the current connection forwards to `listeners`. */
  private forwarded = new Set<string>();
  /** The methods the current connection answers from `requestHandlers`. */
  private answered = new Set<string>();
  /** Server→client request handlers by method (one each); they outlive daemon restarts. */
  private readonly requestHandlers = new Map<string, (params: unknown) => unknown>();

  readonly onDidChange: Event<DaemonSnapshot> = this.changed.event;

  /** Listens to a daemon notification, across restarts (each new daemon is wired up too). */
  onNotification<P>(method: string, listener: (params: P) => void): Disposable {
    let emitter = this.listeners.get(method);
    if (!emitter) {
      emitter = new Emitter<unknown>();
      this.listeners.set(method, emitter);
    }
    this.forward(method, this.generation);
    return emitter.event((params) => listener(params as P));
  }

  /**
   * Answers a server→client request, across restarts. One handler per method: a later
   * one replaces an earlier one (disposing the earlier one then does nothing).
   */
  onRequest<P, R>(method: string, handler: (params: P) => R | Promise<R>): Disposable {
    const entry = (params: unknown) => handler(params as P);
    this.requestHandlers.set(method, entry);
    this.answer(method, this.generation);
    return {
      dispose: () => {
        if (this.requestHandlers.get(method) === entry) {
          this.requestHandlers.delete(method);
        }
      },
    };
  }

  private answer(method: string, generation: number): void {
    const connection = this.connection;
    if (!connection || this.answered.has(method)) {
      return;
    }
    this.answered.add(method);
    this.subscriptions.push(
      connection.onRequest(method, (params) => {
        const handler = this.requestHandlers.get(method);
        if (generation !== this.generation || !handler) {
          throw new Error(`The Colab extension does not answer ${method} now.`);
        }
        return handler(params);
      }),
    );
  }

  private forward(method: string, generation: number): void {
    const connection = this.connection;
    if (!connection || this.forwarded.has(method)) {
      return;
    }
    this.forwarded.add(method);
    this.subscriptions.push(
      connection.onNotification(method, (params) => {
        if (generation === this.generation) {
          this.listeners.get(method)?.fire(params);
        }
      }),
    );
  }

  constructor(
    private readonly vscodeApi: Pick<typeof vscode, 'window'>,
    private readonly options: DaemonClientOptions,
  ) {}

  get snapshot(): DaemonSnapshot {
    return this.current;
  }

  /** Locates and starts the daemon; a no-op while one is starting or running. Never throws. */
  async start(): Promise<void> {
    if (!this.connection) {
      await this.connect(undefined);
    }
  }

  private async connect(restarting: string | undefined): Promise<void> {
    const generation = ++this.generation;
    this.restarting = restarting;
    this.failure = undefined;
    const located = this.options.locate();
    if (!located.ok) {
      this.options.log.error(located.reason);
      this.fail(located.reason);
      return;
    }
    const settings = this.options.settings();
    const launch: DaemonLaunch = {
      path: located.daemon.path,
      command: located.daemon.command,
      args: [...located.daemon.args, 'daemon', `--LogLevel=${settings.logLevel}`, '--stdio'],
      env: settings.python ? { COLAB_PYTHON: settings.python } : {},
    };
    const connection = this.options.connect(launch, () => this.closed(generation));
    this.connection = connection;
    this.subscriptions = [
      connection.onDidChangeState((state) => this.stateChanged(generation, state)),
      connection.onNotification(methods.serverStatusChanged.name, (status) =>
        this.statusArrived(generation, status as ServerStatus),
      ),
    ];
    this.forwarded = new Set();
    for (const method of this.listeners.keys()) {
      this.forward(method, generation);
    }
    this.answered = new Set();
    for (const method of this.requestHandlers.keys()) {
      this.answer(method, generation);
    }
    this.update({ phase: 'starting', reason: restarting, launch });
    try {
      await connection.start();
    } catch (error) {
      // A daemon that crashed while starting is handled by closed(); this is one that could not start.
      if (generation === this.generation && this.failure === undefined) {
        this.fail(`The Colab daemon did not start: ${messageOf(error)}`, launch);
      }
    }
  }

  /** Stops the daemon on purpose (shutdown, exit). */
  async stop(reason = 'The Colab daemon was stopped.'): Promise<void> {
    await this.disconnect();
    this.update({ phase: 'stopped', reason });
  }

  /** Starts a fresh daemon whatever the state, and forgets earlier crashes. */
  async restart(): Promise<void> {
    this.options.policy.reset();
    this.options.log.info('Restarting the Colab daemon.');
    const previous = this.detach();
    this.update({ phase: 'starting', reason: 'Restarting.' });
    if (previous) {
      await this.stopConnection(previous); // one daemon at a time
    }
    await this.start(); // a no-op if another restart got there first
  }

  /**
   * Sends one request to the daemon. Throws DaemonNotRunningError when there is none to
   * ask. Cancelling `token` cancels the request ($/cancelRequest).
   */
  async request<R>(method: string, params?: unknown, token?: CancellationToken): Promise<R> {
    const connection = this.connection;
    if (!connection || connection.state === 'stopped' || connection.state === 'startFailed') {
      const why = this.current.reason ? ` ${this.current.reason}` : '';
      throw new DaemonNotRunningError(`The Colab daemon is not running.${why}`);
    }
    return token === undefined ? connection.sendRequest<R>(method, params) : connection.sendRequest<R>(method, params, token);
  }

  dispose(): void {
    void this.disconnect();
    this.changed.dispose();
    this.listeners.forEach((e) => e.dispose());
  }

  private async disconnect(): Promise<void> {
    const connection = this.detach();
    if (connection) {
      await this.stopConnection(connection);
    }
  }

  /** Lets go of the current connection: nothing it reports counts any more. */
  private detach(): DaemonConnection | undefined {
    const connection = this.connection;
    this.connection = undefined;
    this.generation++;
    this.restarting = undefined;
    this.failure = undefined;
    this.subscriptions.forEach((s) => s.dispose());
    this.subscriptions = [];
    this.forwarded = new Set();
    this.answered = new Set();
    return connection;
  }

  private async stopConnection(connection: DaemonConnection): Promise<void> {
    try {
      await connection.stop();
    } catch (error) {
      this.options.log.error(`Stopping the Colab daemon failed: ${messageOf(error)}`);
    }
  }

  /** The daemon went away without being asked to: start a fresh one, or give up and say so. */
  private closed(generation: number): void {
    if (generation !== this.generation) {
      return;
    }
    const policy = this.options.policy;
    const decision = policy.recordCrash();
    if (!decision.restart) {
      this.fail(
        `The Colab daemon crashed ${decision.crashes} times in ${policy.windowText} and will not be restarted. ` +
          `Use 'Colab: Restart Daemon' to try again.`,
      );
      return;
    }
    const reason = `The Colab daemon stopped unexpectedly and is being restarted (crash ${decision.crashes} of at most ${policy.maxRestarts} in ${policy.windowText}).`;
    this.options.log.info(reason);
    const crashed = this.detach();
    if (crashed) {
      void this.stopConnection(crashed);
    }
    void this.connect(reason);
  }

  /** The daemon will not come back by itself: say why, in the status and once to the user. */
  private fail(reason: string, launch = this.current.launch): void {
    this.restarting = undefined;
    this.failure = reason;
    this.update({ phase: 'failed', reason, launch });
    void Promise.resolve(this.vscodeApi.window.showErrorMessage(firstLine(reason), showDaemonLogAction)).then((choice) => {
      if (choice === showDaemonLogAction) {
        this.options.showLog();
      }
    });
  }

  private stateChanged(generation: number, state: ConnectionState): void {
    if (generation !== this.generation) {
      return;
    }
    const launch = this.current.launch;
    switch (state) {
      case 'starting':
        this.update({ phase: 'starting', reason: this.restarting, launch });
        return;
      case 'running':
        this.restarting = undefined;
        this.failure = undefined;
        this.update({ phase: 'running', status: this.current.status, launch });
        void this.refreshStatus(generation);
        return;
      case 'stopped':
        this.update({ phase: 'failed', reason: this.failure ?? 'The Colab daemon stopped unexpectedly.', launch });
        return;
      case 'startFailed':
        this.update({ phase: 'failed', reason: this.failure ?? 'The Colab daemon failed to start; see the daemon log.', launch });
        return;
    }
  }

  /** Asks once for the status when a daemon comes up, in case a serverStatusChanged went by first. */
  private async refreshStatus(generation: number): Promise<void> {
    try {
      const status = await this.request<ServerStatus>(methods.serverStatus.name);
      this.statusArrived(generation, status);
    } catch (error) {
      if (generation === this.generation) {
        this.options.log.error(`colab/serverStatus failed: ${messageOf(error)}`);
      }
    }
  }

  private statusArrived(generation: number, status: ServerStatus): void {
    if (generation !== this.generation || this.current.phase !== 'running') {
      return;
    }
    const previous = this.current.status;
    // Answers and notifications can cross: keep the newer snapshot of the same process.
    if (previous && previous.pid === status.pid && previous.uptimeSeconds > status.uptimeSeconds) {
      return;
    }
    this.update({ ...this.current, status });
  }

  private update(snapshot: DaemonSnapshot): void {
    // A daemon's status belongs to that daemon: drop it unless running.
    this.current = snapshot.phase === 'running' ? snapshot : { ...snapshot, status: undefined };
    this.changed.fire(this.current);
  }
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0];
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
