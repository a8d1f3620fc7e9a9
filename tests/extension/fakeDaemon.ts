// A fake DaemonConnection that behaves like vscode-languageclient around a daemon:
// states change as the real client's do, crash() plays the daemon dying (the client
// calls `closed`, then reads stopped), notify() plays a notification from it.

import type { CancellationToken, ConnectionFactory, ConnectionState, DaemonConnection } from '../../colab-vscode/src/daemon/client';
import type {
  KernelExecuteParams,
  KernelExecuteResult,
  KernelOutput,
  RuntimeConnectParams,
  RuntimeInfo,
} from '../../colab-vscode/src/runtime/methods';
import type { DaemonLaunch } from '../../colab-vscode/src/daemon/process';
import type { ServerStatus } from '../../colab-vscode/src/protocol';
import type { TrainingDaemon } from '../../colab-vscode/src/training/training';

export function serverStatus(overrides: Partial<ServerStatus> = {}): ServerStatus {
  return {
    health: 'ready',
    version: '0.1.0',
    startedAt: '2026-11-21T20:25:54.168+00:00',
    uptimeSeconds: 12.5,
    pid: 1234,
    platform: 'linux-x64',
    runtime: '.NET 10.0.0',
    capabilities: [
      { name: 'gpu', state: 'unavailable', detail: 'no NVIDIA driver' },
      { name: 'python', state: 'available', detail: '/usr/bin/python3 (Python 3.11.2)' },
      { name: 'localRuntime', state: 'available', detail: 'jupyter-server and ipykernel in /usr/bin/python3' },
      { name: 'torch', state: 'unavailable', detail: '/usr/bin/python3 lacks torch' },
    ],
    ...overrides,
  };
}

/** What the fake kernel does with one cell: the outputs it sends, then its answer. */
export interface FakeRun {
  outputs: KernelOutput[];
  status: KernelExecuteResult['status'];
  /** Leave the answer pending until the request is cancelled. */
  hang?: boolean;
}

/**
 * The default fake kernel: echoes the code to stdout; code containing 'raise' fails
 * with a ValueError; code containing 'sleep' hangs until interrupted.
 */
export function defaultRun(code: string, count: number): FakeRun {
  const input: KernelOutput = { type: 'execute_input', code, executionCount: count };
  if (code.includes('raise')) {
    return {
      outputs: [input, { type: 'error', ename: 'ValueError', evalue: 'boom', traceback: ['Traceback (most recent call last)', 'ValueError: boom'] }],
      status: 'error',
    };
  }
  return { outputs: [input, { type: 'stream', name: 'stdout', text: `${code}\n` }], status: 'ok', hang: code.includes('sleep') };
}

export class FakeConnection implements DaemonConnection {
  state: ConnectionState = 'stopped';
  starts = 0;
  stops = 0;
  /** Set to make the next start fail the way a daemon that cannot be spawned does. */
  failNextStart: Error | undefined;
  /** What colab/serverStatus answers (undefined: the request never returns). */
  status: ServerStatus | undefined;
  /** When set, answers wait for it (to make an answer arrive after a notification). */
  answerGate: Promise<void> | undefined;
  readonly requests: { method: string; params: unknown }[] = [];
  /** The runtimes connected (colab/runtime/*). */
  runtimes: RuntimeInfo[] = [];
  /** Kernels started, by id (colab/kernel/*). */
  readonly kernels = new Map<string, { runtimeId: string; executionCount: number; restarts: number; interrupts: number; shutdown: boolean }>();
  /** Execute requests whose token was cancelled, by executionId. */
  readonly cancelled: string[] = [];
  /** The fake kernel; replace to script a cell. */
  run: (code: string, count: number) => FakeRun = defaultRun;
  private readonly requestHandlers = new Map<string, (params: unknown) => unknown>();
  private stateListeners: ((s: ConnectionState) => void)[] = [];
  private readonly handlers = new Map<string, (params: unknown) => void>();

  constructor(
    readonly launch: DaemonLaunch,
    private readonly closed: () => void,
  ) {}

  private setState(state: ConnectionState): void {
    if (state !== this.state) {
      this.state = state;
      this.stateListeners.forEach((l) => l(state));
    }
  }

  async start(): Promise<void> {
    this.starts++;
    this.setState('starting');
    await Promise.resolve();
    const failure = this.failNextStart;
    if (failure) {
      this.failNextStart = undefined;
      this.setState('startFailed');
      throw failure;
    }
    this.setState('running');
  }

  async stop(): Promise<void> {
    this.stops++;
    this.setState('stopped');
  }

  /** The daemon process died. */
  async crash(): Promise<void> {
    this.closed();
    this.setState(this.state === 'starting' ? 'startFailed' : 'stopped');
    await settle();
  }

  notify(method: string, params: unknown): void {
    this.handlers.get(method)?.(params);
  }

  /** Plays a server→client request; resolves with the extension's answer. */
  async serverRequest(method: string, params: unknown): Promise<unknown> {
    const handler = this.requestHandlers.get(method);
    if (!handler) {
      throw new Error(`no handler for ${method}`);
    }
    return handler(params);
  }

  onRequest(method: string, handler: (params: unknown) => unknown) {
    this.requestHandlers.set(method, handler);
    return { dispose: () => this.requestHandlers.delete(method) };
  }

  private runtimeRequest(method: string, params: unknown, token?: CancellationToken): unknown {
    switch (method) {
      case 'colab/runtime/connect': {
        const p = params as RuntimeConnectParams;
        const url = p.kind === 'local' ? 'http://127.0.0.1:40123/' : p.url!;
        const info: RuntimeInfo = {
          id: `rt${this.runtimes.length + 1}`,
          kind: p.kind,
          url,
          serverVersion: '2.14.2',
          insecureTransport: url.startsWith('http:') && !/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(url),
          connectedAt: '2026-11-21T21:00:00Z',
          state: 'connected',
        };
        this.runtimes.push(info);
        return info;
      }
      case 'colab/runtime/list':
        return { runtimes: this.runtimes };
      case 'colab/runtime/disconnect': {
        const { runtimeId } = params as { runtimeId: string };
        this.runtimes = this.runtimes.filter((r) => r.id !== runtimeId);
        return null;
      }
      case 'colab/kernel/start': {
        const { runtimeId } = params as { runtimeId: string };
        const id = `k${this.kernels.size + 1}`;
        this.kernels.set(id, { runtimeId, executionCount: 0, restarts: 0, interrupts: 0, shutdown: false });
        return { runtimeId, id, name: 'python3', executionState: 'idle', connections: 1, startedHere: true, connected: true };
      }
      case 'colab/kernel/interrupt':
      case 'colab/kernel/restart':
      case 'colab/kernel/shutdown': {
        const kernel = this.kernels.get((params as { kernelId: string }).kernelId);
        if (!kernel) {
          throw new Error('no such kernel');
        }
        if (method.endsWith('interrupt')) kernel.interrupts++;
        if (method.endsWith('restart')) {
          kernel.restarts++;
          kernel.executionCount = 0;
        }
        if (method.endsWith('shutdown')) kernel.shutdown = true;
        return null;
      }
      case 'colab/kernel/execute': {
        const p = params as KernelExecuteParams;
        const kernel = this.kernels.get(p.kernelId);
        if (!kernel || kernel.shutdown) {
          throw new Error('no such kernel');
        }
        const count = ++kernel.executionCount;
        const run = this.run(p.code, count);
        for (const output of run.outputs) {
          this.notify('colab/kernel/output', { executionId: p.executionId, output });
        }
        if (!run.hang) {
          return Promise.resolve({ status: run.status, executionCount: count });
        }
        return new Promise((_resolve, reject) => {
          token?.onCancellationRequested(() => {
            this.cancelled.push(p.executionId);
            kernel.interrupts++;
            reject(new Error('Request cancelled'));
          });
        });
      }
    }
    return undefined;
  }

  async sendRequest<R>(method: string, params?: unknown, token?: CancellationToken): Promise<R> {
    this.requests.push({ method, params });
    if (method.startsWith('colab/runtime/') || method.startsWith('colab/kernel/')) {
      return (await this.runtimeRequest(method, params, token)) as R;
    }
    if (method === 'colab/serverStatus') {
      const status = this.status;
      await this.answerGate;
      if (status === undefined) {
        return new Promise<R>(() => undefined);
      }
      return status as R;
    }
    if (method === 'colab/gpu/snapshot') {
      return { state: 'noDriver', source: 'none', reason: 'fake: no NVIDIA driver', takenAt: '', devices: [], notes: [] } as R;
    }
    if (method === 'colab/gpu/watch') {
      const p = params as { enabled: boolean; intervalMs?: number };
      return { enabled: p.enabled, intervalMs: p.intervalMs ?? 2000 } as R;
    }
    throw new Error(`fake daemon: no handler for ${method}`);
  }

  onNotification(method: string, handler: (params: unknown) => void) {
    this.handlers.set(method, handler);
    return { dispose: () => this.handlers.delete(method) };
  }

  onDidChangeState(listener: (state: ConnectionState) => void) {
    this.stateListeners.push(listener);
    return { dispose: () => (this.stateListeners = this.stateListeners.filter((l) => l !== listener)) };
  }
}

export interface FakeDaemons {
  connect: ConnectionFactory;
  connections: FakeConnection[];
  latest(): FakeConnection;
  /** Applied to every new connection. */
  configure: (c: FakeConnection) => void;
}

export function fakeDaemons(configure: (c: FakeConnection) => void = () => undefined): FakeDaemons {
  const connections: FakeConnection[] = [];
  const result: FakeDaemons = {
    connections,
    configure,
    latest: () => {
      const last = connections[connections.length - 1];
      if (!last) {
        throw new Error('no daemon was started');
      }
      return last;
    },
    connect: (launch, closed) => {
      const c = new FakeConnection(launch, closed);
      result.configure(c);
      connections.push(c);
      return c;
    },
  };
  return result;
}

/** Lets pending promise callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The training controller's view of the daemon: records requests, answers from a function, keeps one listener per notification. */
export class FakeTrainingDaemon implements TrainingDaemon {
  readonly requests: { method: string; params: unknown }[] = [];
  readonly listeners = new Map<string, (p: unknown) => void>();
  constructor(private readonly answer: (method: string, params: unknown) => unknown) {}
  async request<R>(method: string, params?: unknown): Promise<R> {
    this.requests.push({ method, params });
    const a = this.answer(method, params);
    if (a instanceof Error) throw a;
    return a as R;
  }
  onNotification<P>(method: string, listener: (params: P) => void) {
    this.listeners.set(method, listener as (p: unknown) => void);
    return { dispose: () => this.listeners.delete(method) };
  }
}
