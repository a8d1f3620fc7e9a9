// Runtimes survive a daemon restart: the connected runtimes are remembered in the
// workspace state as {kind, url} — never a token — and when a daemon starts with no
// runtimes they are connected again, a remote one with its token from SecretStorage.
// A local runtime comes back as a fresh server (the old one died with the old daemon);
// a remote one is the same server, so notebooks re-attach to their kernels by id.

import type * as vscode from 'vscode';
import type { Disposable } from '../events';
import type { RuntimeInfo, RuntimesChanged } from './methods';
import { runtimeMethods } from './methods';
import { runtimeLabel, type RuntimeDaemon, type RuntimeLog, type RuntimeSession } from './session';
import { tokenSecretKey } from './commands';

export const runtimeMemoryKey = 'colab.runtimes';

/** What is remembered of a runtime: no id (the daemon's ids do not survive it), no token. */
export interface RememberedRuntime {
  kind: 'local' | 'remote';
  url?: string;
  active?: boolean;
}

export interface RuntimeMemoryOptions {
  readonly daemon: RuntimeDaemon;
  readonly session: Pick<RuntimeSession, 'connect' | 'list' | 'current' | 'onDidChange'>;
  readonly state: Pick<vscode.Memento, 'get' | 'update'>;
  readonly secrets: Pick<vscode.SecretStorage, 'get'>;
  readonly window: Pick<typeof vscode.window, 'showWarningMessage'>;
  readonly log: RuntimeLog;
}

export class RuntimeMemory implements Disposable {
  private readonly subscriptions: Disposable[];
  private restoring: Promise<void> | undefined;

  constructor(private readonly o: RuntimeMemoryOptions) {
    this.subscriptions = [
      o.daemon.onNotification<RuntimesChanged>(runtimeMethods.runtimeChanged, (p) => {
        if (!this.restoring) {
          void this.remember(p.runtimes ?? []);
        }
      }),
      // The active runtime changed (a connect answered): its flag is stored with it.
      o.session.onDidChange(() => {
        if (!this.restoring) {
          void o.session.list().then((r) => this.remember(r), () => undefined);
        }
      }),
      o.daemon.onDidChange((s) => {
        if (s.phase === 'running') {
          void this.restore();
        }
      }),
    ];
  }

  get remembered(): RememberedRuntime[] {
    const value = this.o.state.get<unknown>(runtimeMemoryKey);
    return Array.isArray(value) ? value.filter(isRemembered) : [];
  }

  /** Stores the connected runtimes (kind and URL only). */
  async remember(runtimes: RuntimeInfo[]): Promise<void> {
    const active = this.o.session.current?.id;
    const entries: RememberedRuntime[] = runtimes
      .filter((r) => r.state === 'connected')
      .map((r) => (r.kind === 'remote' ? { kind: 'remote', url: r.url, active: r.id === active } : { kind: 'local', active: r.id === active }));
    await this.o.state.update(runtimeMemoryKey, entries);
  }

  /** Connects the remembered runtimes again when the daemon has none (the active one last, so it is active again). */
  restore(): Promise<void> {
    this.restoring ??= (async () => {
      try {
        const wanted = this.remembered;
        if (wanted.length === 0 || (await this.o.session.list()).length > 0) {
          return;
        }
        const ordered = [...wanted.filter((r) => !r.active), ...wanted.filter((r) => r.active)];
        for (const r of ordered) {
          try {
            if (r.kind === 'local') {
              await this.o.session.connect({ kind: 'local' });
            } else {
              const token = (await this.o.secrets.get(tokenSecretKey(r.url!))) || undefined;
              await this.o.session.connect({ kind: 'remote', url: r.url!, token });
            }
            this.o.log.info(`Reconnected ${r.kind === 'local' ? 'the local runtime' : r.url} after the daemon restarted.`);
          } catch (error) {
            const message = error instanceof Error ? error.message : String(error);
            this.o.log.error(`Reconnecting ${r.url ?? 'the local runtime'} failed: ${message}`);
            void this.o.window.showWarningMessage(`Colab: could not reconnect ${r.kind === 'local' ? runtimeLabel(undefined) : r.url}: ${message}`);
          }
        }
      } finally {
        this.restoring = undefined;
        await this.remember(await this.o.session.list().catch(() => []));
      }
    })();
    return this.restoring;
  }

  dispose(): void {
    this.subscriptions.forEach((s) => s.dispose());
  }
}

function isRemembered(value: unknown): value is RememberedRuntime {
  const r = value as RememberedRuntime;
  return (
    typeof r === 'object' &&
    r !== null &&
    (r.kind === 'local' || (r.kind === 'remote' && typeof r.url === 'string' && /^https?:\/\//.test(r.url)))
  );
}
