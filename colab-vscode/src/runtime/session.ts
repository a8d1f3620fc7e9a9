// Which runtime this window runs notebooks on: the one the user connected, else the
// local runtime (connected on first use). The runtimes themselves live in the daemon;
// this only remembers the daemon's RuntimeInfo of the chosen one, and forgets it when
// the daemon says it is gone (colab/runtime/changed) or the daemon itself goes away.

import type { DaemonSnapshot } from '../daemon/client';
import { Emitter, type Disposable, type Event } from '../events';
import {
  runtimeMethods,
  type RuntimeConnectParams,
  type RuntimeDisconnectParams,
  type RuntimeInfo,
  type RuntimeListResult,
  type RuntimesChanged,
} from './methods';

export interface RuntimeDaemon {
  readonly onDidChange: Event<DaemonSnapshot>;
  request<R>(method: string, params?: unknown): Promise<R>;
  onNotification<P>(method: string, listener: (params: P) => void): Disposable;
}

export interface RuntimeLog {
  info(message: string): void;
  error(message: string): void;
}

/** What the notebook controller shows: "Local runtime" or the remote URL. */
export function runtimeLabel(info: RuntimeInfo | undefined): string {
  return info?.kind === 'remote' ? info.url : 'Local runtime';
}

export class RuntimeSession implements Disposable {
  private active: RuntimeInfo | undefined;
  private connecting: Promise<RuntimeInfo> | undefined;
  private readonly changed = new Emitter<RuntimeInfo | undefined>();
  private readonly subscriptions: Disposable[];

  /** Fires with the new active runtime (undefined: none). */
  readonly onDidChange: Event<RuntimeInfo | undefined> = this.changed.event;

  constructor(
    private readonly daemon: RuntimeDaemon,
    private readonly log: RuntimeLog,
  ) {
    this.subscriptions = [
      daemon.onNotification<RuntimesChanged>(runtimeMethods.runtimeChanged, (p) => this.runtimesChanged(p.runtimes ?? [])),
      // A new daemon has no runtimes: whatever was active went with the old one.
      daemon.onDidChange((s) => {
        if (s.phase !== 'running') {
          this.set(undefined);
        }
      }),
    ];
  }

  get current(): RuntimeInfo | undefined {
    return this.active;
  }

  /** The active runtime, connecting the local one when there is none. */
  async ensure(): Promise<RuntimeInfo> {
    if (this.active?.state === 'connected') {
      return this.active;
    }
    return this.connecting ?? this.connect({ kind: 'local' });
  }

  /** Connects a runtime and makes it the active one. */
  async connect(params: RuntimeConnectParams): Promise<RuntimeInfo> {
    const connecting = this.daemon.request<RuntimeInfo>(runtimeMethods.runtimeConnect, params);
    this.connecting = connecting;
    try {
      const info = await connecting;
      this.log.info(`Connected to ${info.kind} runtime ${info.url} (${info.id}).`);
      this.set(info);
      return info;
    } finally {
      if (this.connecting === connecting) {
        this.connecting = undefined;
      }
    }
  }

  async list(): Promise<RuntimeInfo[]> {
    const result = await this.daemon.request<RuntimeListResult>(runtimeMethods.runtimeList, {});
    return result?.runtimes ?? [];
  }

  async disconnect(runtimeId: string): Promise<void> {
    const params: RuntimeDisconnectParams = { runtimeId };
    await this.daemon.request<null>(runtimeMethods.runtimeDisconnect, params);
    this.log.info(`Disconnected runtime ${runtimeId}.`);
    if (this.active?.id === runtimeId) {
      this.set(undefined);
    }
  }

  private runtimesChanged(runtimes: RuntimeInfo[]): void {
    const active = this.active;
    if (!active) {
      return;
    }
    const now = runtimes.find((r) => r.id === active.id);
    this.set(now && now.state === 'connected' ? now : undefined);
  }

  private set(info: RuntimeInfo | undefined): void {
    const before = this.active;
    this.active = info;
    if (before?.id !== info?.id || before?.state !== info?.state || before?.url !== info?.url) {
      this.changed.fire(info);
    }
  }

  dispose(): void {
    this.subscriptions.forEach((s) => s.dispose());
    this.changed.dispose();
  }
}
