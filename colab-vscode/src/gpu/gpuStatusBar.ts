// The GPU status bar item: `$(chip) H100 · 37% · 12.4/80 GB · 61°C`, or "No GPU" in
// the warning colour. It asks the daemon to poll (colab/gpu/watch) only while the
// window is focused and a daemon is running, and shows each colab/gpu/changed.

import type * as vscode from 'vscode';
import type { DaemonSnapshot } from '../daemon/client';
import type { Disposable, Event } from '../events';
import { methods, type GpuSnapshot, type GpuWatchParams, type GpuWatchResult } from '../protocol';
import { gpuStatusText, gpuTooltip } from './gpuText';

export const gpuStatusBarItemId = 'colab.gpuStatus';
/** Read on each request to poll; not a daemon start setting, so no restart is offered. */
export const gpuPollIntervalSetting = 'colab.gpu.pollIntervalMs';

export interface GpuDaemon {
  readonly snapshot: DaemonSnapshot;
  readonly onDidChange: Event<DaemonSnapshot>;
  request<R>(method: string, params?: unknown): Promise<R>;
  onNotification<P>(method: string, listener: (params: P) => void): Disposable;
}

export interface WindowFocus {
  readonly focused: boolean;
  readonly onDidChange: Event<boolean>;
}

export class GpuStatusBar implements Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly subscriptions: Disposable[];
  /** What the daemon was last asked for, so a repeated state sends nothing. */
  private watching: boolean | undefined;

  constructor(
    private readonly vscodeApi: Pick<typeof vscode, 'window' | 'StatusBarAlignment' | 'ThemeColor' | 'MarkdownString'>,
    private readonly daemon: GpuDaemon,
    private readonly focus: WindowFocus,
    private readonly intervalMs: () => number,
  ) {
    this.item = vscodeApi.window.createStatusBarItem(gpuStatusBarItemId, vscodeApi.StatusBarAlignment.Left, -1);
    this.item.name = 'Colab GPU';
    this.item.command = 'colab.showGpuHistory';
    this.subscriptions = [
      daemon.onNotification<GpuSnapshot>(methods.gpuChanged.name, (s) => this.render(s)),
      daemon.onDidChange(() => void this.sync()),
      focus.onDidChange(() => void this.sync()),
    ];
    void this.sync();
  }

  /**
   * Asks the daemon to poll exactly while it runs and the window has focus; a daemon
   * that has just come up is asked for one reading at once, focused or not.
   */
  async sync(): Promise<void> {
    const running = this.daemon.snapshot.phase === 'running';
    if (!running) {
      this.watching = undefined; // a new daemon starts with nothing enabled
      return;
    }
    if (this.watching === undefined) {
      void this.daemon.request<GpuSnapshot>(methods.gpuSnapshot.name).then(
        (s) => this.render(s),
        () => undefined, // the watch below, or the next start, tries again
      );
    }
    const want = this.focus.focused;
    if (want === this.watching) {
      return;
    }
    this.watching = want;
    const params: GpuWatchParams = { enabled: want, intervalMs: this.intervalMs() };
    try {
      await this.daemon.request<GpuWatchResult>(methods.gpuWatch.name, params);
    } catch {
      this.watching = undefined; // try again on the next change
    }
  }

  render(snapshot: GpuSnapshot): void {
    this.item.text = gpuStatusText(snapshot);
    const tooltip = new this.vscodeApi.MarkdownString(gpuTooltip(snapshot));
    this.item.tooltip = tooltip;
    this.item.backgroundColor =
      snapshot.state === 'ok' && snapshot.devices.length > 0
        ? undefined
        : new this.vscodeApi.ThemeColor('statusBarItem.warningBackground');
    this.item.show();
  }

  dispose(): void {
    this.subscriptions.forEach((s) => s.dispose());
    this.item.dispose();
  }
}
