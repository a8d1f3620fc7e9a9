// The "Runtimes" tree in the Colab activity-bar container: each connected runtime, and
// under it its kernels with their notebook, state, idle time and last activity. The rows
// come from one request (colab/runtime/sessions); the view refreshes when the daemon
// says the runtimes changed, and every few seconds while it is visible (idle times move).

import type * as vscode from 'vscode';
import type { Disposable } from '../events';
import { methods, type KernelSessionsInfo, type RuntimeSessionsInfo, type RuntimeSessionsResult } from '../protocol';
import { formatDuration } from '../status/summary';
import { runtimeMethods } from './methods';
import { runtimeLabel, type RuntimeDaemon, type RuntimeLog } from './session';

export const runtimesViewId = 'colab.runtimes';

/** How often the visible view re-reads the sessions (idle times tick). */
export const runtimesRefreshMs = 5000;

export type RuntimesNode =
  | { readonly kind: 'runtime'; readonly id: string; readonly runtime: RuntimeSessionsInfo }
  | { readonly kind: 'kernel'; readonly id: string; readonly runtimeId: string; readonly kernel: KernelSessionsInfo }
  | { readonly kind: 'message'; readonly id: string; readonly label: string; readonly tooltip?: string };

const stateIcons: Record<string, string> = {
  idle: 'circle-outline',
  busy: 'loading~spin',
  starting: 'loading~spin',
  restarting: 'loading~spin',
  dead: 'error',
};

/** "idle 5m 3s", "busy", "dead" … — what a kernel row says after its name. */
export function kernelDescription(k: KernelSessionsInfo): string {
  const state = k.kernel.executionState;
  if (state === 'idle' && k.idleSeconds !== undefined) {
    return `idle ${formatDuration(k.idleSeconds)}`;
  }
  return state;
}

export function runtimeDescription(r: RuntimeSessionsInfo): string {
  if (r.runtime.state !== 'connected') {
    return r.runtime.state;
  }
  if (r.error) {
    return 'not answering';
  }
  const kernels = `${r.kernels.length} kernel${r.kernels.length === 1 ? '' : 's'}`;
  return r.busy ? `${kernels} · busy` : `${kernels} · idle ${formatDuration(r.idleSeconds)}`;
}

export class RuntimesView implements vscode.TreeDataProvider<RuntimesNode>, Disposable {
  private readonly changed: vscode.EventEmitter<RuntimesNode | undefined | void>;
  private readonly subscriptions: Disposable[];
  private rows: RuntimeSessionsInfo[] = [];
  private failure: string | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private refreshing: Promise<void> | undefined;

  readonly onDidChangeTreeData: vscode.Event<RuntimesNode | undefined | void>;

  constructor(
    private readonly vscodeApi: Pick<typeof vscode, 'EventEmitter' | 'TreeItem' | 'ThemeIcon' | 'TreeItemCollapsibleState'>,
    private readonly daemon: RuntimeDaemon,
    private readonly log: RuntimeLog,
    private readonly intervalMs: number = runtimesRefreshMs,
  ) {
    this.changed = new vscodeApi.EventEmitter<RuntimesNode | undefined | void>();
    this.onDidChangeTreeData = this.changed.event;
    this.subscriptions = [
      daemon.onNotification(runtimeMethods.runtimeChanged, () => void this.refresh()),
      daemon.onDidChange((s) => {
        if (s.phase === 'running') {
          void this.refresh();
        } else {
          this.rows = [];
          this.failure = undefined;
          this.changed.fire();
        }
      }),
    ];
  }

  /** Re-reads the sessions (one request at a time) and redraws. */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const result = await this.daemon.request<RuntimeSessionsResult>(methods.runtimeSessions.name, {});
        this.rows = result?.runtimes ?? [];
        this.failure = undefined;
      } catch (error) {
        this.failure = error instanceof Error ? error.message : String(error);
        this.log.error(`Listing runtimes failed: ${this.failure}`);
      } finally {
        this.refreshing = undefined;
      }
      this.changed.fire();
    })();
    return this.refreshing;
  }

  /** The view shows or hides: poll only while it is visible. */
  setVisible(visible: boolean): void {
    if (visible && !this.timer) {
      void this.refresh();
      this.timer = setInterval(() => void this.refresh(), this.intervalMs);
    } else if (!visible && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  get polling(): boolean {
    return this.timer !== undefined;
  }

  getChildren(element?: RuntimesNode): RuntimesNode[] {
    if (!element) {
      if (this.failure) {
        return [{ kind: 'message', id: 'failure', label: 'Could not list the runtimes', tooltip: this.failure }];
      }
      return this.rows.map((runtime) => ({ kind: 'runtime', id: `runtime.${runtime.runtime.id}`, runtime }));
    }
    if (element.kind !== 'runtime') {
      return [];
    }
    const r = element.runtime;
    if (r.error) {
      return [{ kind: 'message', id: `${element.id}.error`, label: r.error, tooltip: r.error }];
    }
    if (r.kernels.length === 0) {
      return [{ kind: 'message', id: `${element.id}.none`, label: 'No kernels' }];
    }
    return r.kernels.map((kernel) => ({ kind: 'kernel', id: `kernel.${r.runtime.id}.${kernel.kernel.id}`, runtimeId: r.runtime.id, kernel }));
  }

  getTreeItem(node: RuntimesNode): vscode.TreeItem {
    const api = this.vscodeApi;
    if (node.kind === 'message') {
      const item = new api.TreeItem(node.label, api.TreeItemCollapsibleState.None);
      item.id = node.id;
      item.tooltip = node.tooltip;
      item.iconPath = new api.ThemeIcon('info');
      return item;
    }
    if (node.kind === 'runtime') {
      const r = node.runtime;
      const item = new api.TreeItem(runtimeLabel(r.runtime), api.TreeItemCollapsibleState.Expanded);
      item.id = node.id;
      item.description = runtimeDescription(r);
      item.tooltip = [
        `${r.runtime.kind} runtime ${r.runtime.id}`,
        r.runtime.url,
        r.runtime.serverVersion ? `Jupyter Server ${r.runtime.serverVersion}` : undefined,
        `Connected ${r.runtime.connectedAt}`,
        r.runtime.detail ?? r.error,
      ]
        .filter(Boolean)
        .join('\n');
      item.iconPath = new api.ThemeIcon(r.runtime.kind === 'local' ? 'vm' : 'remote');
      item.contextValue = 'colabRuntime';
      return item;
    }
    const k = node.kernel;
    const name = k.sessions.find((s) => s.path)?.path ?? k.sessions[0]?.name ?? k.kernel.name;
    const item = new api.TreeItem(name, api.TreeItemCollapsibleState.None);
    item.id = node.id;
    item.description = kernelDescription(k);
    item.tooltip = [
      `Kernel ${k.kernel.id} (${k.kernel.name})`,
      `State: ${k.kernel.executionState}`,
      k.kernel.lastActivity ? `Last activity: ${k.kernel.lastActivity}` : undefined,
      `Connections: ${k.kernel.connections}`,
      k.kernel.startedHere ? 'Started by Colab in this window' : 'Started elsewhere',
      ...k.sessions.map((s) => `Session: ${s.path ?? s.name ?? s.id}`),
    ]
      .filter(Boolean)
      .join('\n');
    item.iconPath = new api.ThemeIcon(stateIcons[k.kernel.executionState] ?? 'question');
    item.contextValue = k.kernel.executionState === 'idle' ? 'colabKernel.idle' : 'colabKernel';
    return item;
  }

  dispose(): void {
    this.setVisible(false);
    this.subscriptions.forEach((s) => s.dispose());
    this.changed.dispose();
  }
}

export const runtimesViewCommandIds = {
  refreshRuntimes: 'colab.refreshRuntimes',
  killKernel: 'colab.killKernel',
  killIdleKernels: 'colab.killIdleKernels',
} as const;

export interface RuntimesViewCommandContext {
  readonly vscode: Pick<typeof vscode, 'window' | 'commands'>;
  readonly daemon: Pick<RuntimeDaemon, 'request'>;
  readonly view: Pick<RuntimesView, 'refresh'>;
  readonly log: RuntimeLog;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The view's context actions; each sends one request and refreshes the view. */
export function registerRuntimesViewCommands(ctx: RuntimesViewCommandContext): Disposable[] {
  const window = ctx.vscode.window;
  const guarded = (name: string, run: (node?: RuntimesNode) => Promise<void>) => async (node?: RuntimesNode) => {
    try {
      await run(node);
    } catch (error) {
      ctx.log.error(`${name} failed: ${messageOf(error)}`);
      await window.showErrorMessage(`Colab: ${messageOf(error)}`);
    } finally {
      await ctx.view.refresh();
    }
  };
  return [
    ctx.vscode.commands.registerCommand(runtimesViewCommandIds.refreshRuntimes, () => ctx.view.refresh()),
    ctx.vscode.commands.registerCommand(
      runtimesViewCommandIds.killKernel,
      guarded(runtimesViewCommandIds.killKernel, async (node) => {
        if (node?.kind !== 'kernel') {
          await window.showInformationMessage('Colab: pick a kernel in the Runtimes view to kill.');
          return;
        }
        const name = node.kernel.sessions[0]?.path ?? node.kernel.kernel.id;
        const answer = await window.showWarningMessage(
          `Kill the kernel of ${name}? Its variables are lost.`,
          { modal: true },
          'Kill Kernel',
        );
        if (answer !== 'Kill Kernel') {
          return;
        }
        await ctx.daemon.request(methods.kernelShutdown.name, { runtimeId: node.runtimeId, kernelId: node.kernel.kernel.id });
        await window.showInformationMessage(`Colab: killed the kernel of ${name}.`);
      }),
    ),
    ctx.vscode.commands.registerCommand(
      runtimesViewCommandIds.killIdleKernels,
      guarded(runtimesViewCommandIds.killIdleKernels, async (node) => {
        if (node?.kind !== 'runtime') {
          await window.showInformationMessage('Colab: pick a runtime in the Runtimes view.');
          return;
        }
        const typed = await window.showInputBox({
          title: 'Kill Idle Kernels',
          prompt: 'Kill the kernels idle for at least this many minutes (0: every idle kernel)',
          value: '10',
          validateInput: (v) => (/^\s*\d+(\.\d+)?\s*$/.test(v) ? undefined : 'Enter a number of minutes, e.g. 10'),
        });
        if (typed === undefined) {
          return;
        }
        const minutes = Number(typed);
        if (!Number.isFinite(minutes) || minutes < 0) {
          await window.showErrorMessage('Colab: enter a number of minutes, e.g. 10.');
          return;
        }
        const result = await ctx.daemon.request<{ killed: string[] }>(methods.kernelKillIdle.name, {
          runtimeId: node.runtime.runtime.id,
          idleSeconds: minutes * 60,
        });
        const n = result?.killed?.length ?? 0;
        await window.showInformationMessage(n === 0 ? 'Colab: no kernel was idle that long.' : `Colab: killed ${n} idle kernel${n === 1 ? '' : 's'}.`);
      }),
    ),
  ];
}
