// The status bar item "Colab: starting | ready | failed | stopped"; a click runs
// Colab: Show Status. It follows DaemonClient, which follows the language client's
// state and colab/serverStatusChanged.

import type * as vscode from 'vscode';
import type { DaemonSnapshot } from '../daemon/client';
import type { Disposable, Event } from '../events';
import { daemonHealth, statusBarText, statusBarTooltip } from './summary';

export const statusBarItemId = 'colab.daemonStatus';

export interface DaemonState {
  readonly snapshot: DaemonSnapshot;
  readonly onDidChange: Event<DaemonSnapshot>;
}

export class StatusBar implements Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly subscription: Disposable;

  constructor(
    private readonly vscodeApi: Pick<typeof vscode, 'window' | 'StatusBarAlignment' | 'ThemeColor'>,
    daemon: DaemonState,
    showStatusCommand: string,
  ) {
    this.item = vscodeApi.window.createStatusBarItem(statusBarItemId, vscodeApi.StatusBarAlignment.Left);
    this.item.name = 'Colab Daemon';
    this.item.command = showStatusCommand;
    this.render(daemon.snapshot);
    this.subscription = daemon.onDidChange((snapshot) => this.render(snapshot));
    this.item.show();
  }

  private render(snapshot: DaemonSnapshot): void {
    const health = daemonHealth(snapshot);
    this.item.text = statusBarText(health);
    this.item.tooltip = statusBarTooltip(snapshot);
    this.item.backgroundColor = health === 'failed' ? new this.vscodeApi.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  dispose(): void {
    this.subscription.dispose();
    this.item.dispose();
  }
}
