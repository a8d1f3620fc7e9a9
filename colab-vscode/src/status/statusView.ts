// The "Status" tree in the Colab activity-bar container: daemon health, version,
// pid, uptime, then each capability with its state and detail.

import type * as vscode from 'vscode';
import type { DaemonSnapshot } from '../daemon/client';
import type { Disposable } from '../events';
import type { DaemonState } from './statusBar';
import { capabilityIcon, daemonHealth, formatDuration, healthIcon } from './summary';

export const statusViewId = 'colab.status';

export interface StatusNode {
  readonly id: string;
  readonly label: string;
  readonly description?: string;
  readonly tooltip?: string;
  /** A codicon name. */
  readonly icon?: string;
}

/** The rows of the Status view. `now` is for the uptime, which moves on between updates. */
export function statusNodes(snapshot: DaemonSnapshot, now: number = Date.now()): StatusNode[] {
  const health = daemonHealth(snapshot);
  const nodes: StatusNode[] = [
    {
      id: 'health',
      label: 'Daemon',
      description: health,
      tooltip: snapshot.reason ?? `The Colab daemon is ${health}.`,
      icon: healthIcon[health],
    },
  ];
  const status = snapshot.status;
  if (!status) {
    if (snapshot.reason && health !== 'starting') {
      nodes.push({ id: 'reason', label: 'Reason', description: firstLine(snapshot.reason), tooltip: snapshot.reason, icon: 'info' });
    }
    return nodes;
  }
  const started = Date.parse(status.startedAt);
  const uptime = Number.isFinite(started) ? Math.max(status.uptimeSeconds, (now - started) / 1000) : status.uptimeSeconds;
  nodes.push(
    { id: 'version', label: 'Version', description: status.version, tooltip: `${status.runtime} on ${status.platform}`, icon: 'versions' },
    { id: 'pid', label: 'PID', description: String(status.pid), tooltip: snapshot.launch?.path, icon: 'server-process' },
    { id: 'uptime', label: 'Uptime', description: formatDuration(uptime), tooltip: `Started ${status.startedAt}`, icon: 'clock' },
  );
  for (const capability of status.capabilities) {
    nodes.push({
      id: `capability.${capability.name}`,
      label: capability.name,
      description: capability.detail ? `${capability.state} — ${capability.detail}` : capability.state,
      tooltip: capability.detail || capability.state,
      icon: capabilityIcon[capability.state] ?? 'question',
    });
  }
  return nodes;
}

export class StatusView implements vscode.TreeDataProvider<StatusNode>, Disposable {
  private readonly changed: vscode.EventEmitter<StatusNode | undefined | void>;
  private readonly subscription: Disposable;
  private readonly ticker: Disposable;

  readonly onDidChangeTreeData: vscode.Event<StatusNode | undefined | void>;

  constructor(
    private readonly vscodeApi: Pick<typeof vscode, 'EventEmitter' | 'TreeItem' | 'ThemeIcon' | 'TreeItemCollapsibleState'>,
    private readonly daemon: DaemonState,
    private readonly now: () => number = Date.now,
    every: (ms: number, tick: () => void) => Disposable = everyInterval,
  ) {
    this.changed = new vscodeApi.EventEmitter<StatusNode | undefined | void>();
    this.onDidChangeTreeData = this.changed.event;
    this.subscription = daemon.onDidChange(() => this.changed.fire());
    // The uptime row moves on between status pushes; redraw it while the daemon runs.
    this.ticker = every(uptimeTickMs, () => {
      if (this.daemon.snapshot.status) {
        this.changed.fire();
      }
    });
  }

  getChildren(element?: StatusNode): StatusNode[] {
    return element ? [] : statusNodes(this.daemon.snapshot, this.now());
  }

  getTreeItem(node: StatusNode): vscode.TreeItem {
    const item = new this.vscodeApi.TreeItem(node.label, this.vscodeApi.TreeItemCollapsibleState.None);
    item.id = node.id;
    item.description = node.description;
    item.tooltip = node.tooltip;
    if (node.icon) {
      item.iconPath = new this.vscodeApi.ThemeIcon(node.icon);
    }
    return item;
  }

  dispose(): void {
    this.ticker.dispose();
    this.subscription.dispose();
    this.changed.dispose();
  }
}

/** How often the Status view redraws so its uptime ticks. */
export const uptimeTickMs = 30_000;

function everyInterval(ms: number, tick: () => void): Disposable {
  const timer = setInterval(tick, ms);
  timer.unref?.();
  return { dispose: () => clearInterval(timer) };
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0];
}
