// A fake DaemonConnection that behaves like vscode-languageclient around a daemon:
// states change as the real client's do, crash() plays the daemon dying (the client
// calls `closed`, then reads stopped), notify() plays a notification from it.

import type { ConnectionFactory, ConnectionState, DaemonConnection } from '../../colab-vscode/src/daemon/client';
import type { DaemonLaunch } from '../../colab-vscode/src/daemon/process';
import type { ServerStatus } from '../../colab-vscode/src/protocol';

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

  async sendRequest<R>(method: string, params?: unknown): Promise<R> {
    this.requests.push({ method, params });
    if (method === 'colab/serverStatus') {
      const status = this.status;
      await this.answerGate;
      if (status === undefined) {
        return new Promise<R>(() => undefined);
      }
      return status as R;
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
