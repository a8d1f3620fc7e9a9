// Idle shutdown, the editor's half: tells the daemon the timeout from the
// `colab.runtime.idleTimeoutMinutes` setting, and turns its colab/runtime/idleWarning into
// a cancellable countdown notification — cancelling it ("Keep") sends colab/runtime/keepAlive.
// The daemon decides and disconnects; this only shows and answers.

import type * as vscode from 'vscode';
import type { Disposable } from '../events';
import { methods, type IdleDisconnectedParams, type IdleTimeoutParams, type IdleWarningParams, type RuntimeInfo } from '../protocol';
import { runtimeLabel, type RuntimeDaemon, type RuntimeLog } from './session';

export const idleTimeoutSetting = 'colab.runtime.idleTimeoutMinutes';
export const defaultIdleTimeoutMinutes = 60;

export interface IdleNotifierOptions {
  readonly vscode: Pick<typeof vscode, 'window'> & { ProgressLocation: { Notification: number } };
  readonly daemon: RuntimeDaemon;
  readonly log: RuntimeLog;
  /** The setting's value (minutes; 0 = never). */
  readonly timeoutMinutes: () => number;
  /** The runtimes the daemon knows, to name them in messages. */
  readonly runtimes: () => Promise<RuntimeInfo[]>;
  /** One countdown step (tests shorten it). */
  readonly tickMs?: number;
}

export class IdleNotifier implements Disposable {
  private readonly subscriptions: Disposable[];
  private readonly countdowns = new Map<string, () => void>();

  constructor(private readonly o: IdleNotifierOptions) {
    this.subscriptions = [
      o.daemon.onNotification<IdleWarningParams>(methods.runtimeIdleWarning.name, (p) => void this.warn(p)),
      o.daemon.onNotification<IdleDisconnectedParams>(methods.runtimeIdleDisconnected.name, (p) => void this.disconnected(p)),
      o.daemon.onDidChange((s) => {
        if (s.phase === 'running') {
          void this.sendTimeout();
        }
      }),
    ];
  }

  /** Sends the setting to the daemon (on start and when the setting changes). */
  async sendTimeout(): Promise<void> {
    let minutes = Number(this.o.timeoutMinutes());
    if (!Number.isFinite(minutes) || minutes < 0) {
      this.o.log.error(`${idleTimeoutSetting} must be 0 or more minutes; using ${defaultIdleTimeoutMinutes}.`);
      minutes = defaultIdleTimeoutMinutes;
    }
    const params: IdleTimeoutParams = { minutes };
    try {
      await this.o.daemon.request(methods.runtimeSetIdleTimeout.name, params);
    } catch (error) {
      this.o.log.error(`Setting the idle timeout failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private async name(runtimeId: string): Promise<string> {
    try {
      return runtimeLabel((await this.o.runtimes()).find((r) => r.id === runtimeId));
    } catch {
      return runtimeId;
    }
  }

  /** A countdown notification; Cancel keeps the runtime (colab/runtime/keepAlive). */
  private async warn(p: IdleWarningParams): Promise<void> {
    this.countdowns.get(p.runtimeId)?.();
    const name = await this.name(p.runtimeId);
    const tick = this.o.tickMs ?? 1000;
    const window = this.o.vscode.window;
    let kept = false;
    await window.withProgress(
      { location: this.o.vscode.ProgressLocation.Notification, title: `Colab: ${name} is idle`, cancellable: true },
      (progress, token) =>
        new Promise<void>((resolve) => {
          let left = Math.max(0, Math.round(p.secondsLeft));
          const total = Math.max(1, left);
          const finish = () => {
            clearInterval(timer);
            this.countdowns.delete(p.runtimeId);
            resolve();
          };
          const timer = setInterval(() => {
            left -= 1;
            progress.report({ message: `disconnecting in ${Math.max(0, left)} s — Cancel keeps it`, increment: 100 / total });
            if (left <= 0) {
              finish();
            }
          }, tick);
          progress.report({ message: `disconnecting in ${left} s — Cancel keeps it` });
          this.countdowns.set(p.runtimeId, finish);
          token.onCancellationRequested(() => {
            kept = true;
            finish();
          });
        }),
    );
    if (kept) {
      try {
        await this.o.daemon.request(methods.runtimeKeepAlive.name, { runtimeId: p.runtimeId });
        this.o.log.info(`Kept ${name} (${p.runtimeId}) connected.`);
      } catch (error) {
        await window.showErrorMessage(`Colab: could not keep ${name}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }

  private async disconnected(p: IdleDisconnectedParams): Promise<void> {
    this.countdowns.get(p.runtimeId)?.();
    const minutes = Math.round(p.idleSeconds / 60);
    this.o.log.info(`Runtime ${p.runtimeId} was disconnected after ${p.idleSeconds} s idle.`);
    await this.o.vscode.window.showInformationMessage(
      `Colab: a runtime was disconnected after ${minutes >= 1 ? `${minutes} min` : `${Math.round(p.idleSeconds)} s`} idle (${idleTimeoutSetting}).`,
    );
  }

  dispose(): void {
    [...this.countdowns.values()].forEach((finish) => finish());
    this.subscriptions.forEach((s) => s.dispose());
  }
}
