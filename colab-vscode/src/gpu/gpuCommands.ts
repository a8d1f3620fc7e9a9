// The GPU commands and the runtime GPU items. Each command sends one request to the
// daemon and shows the answer: Check GPU (colab/gpu/check → a document), Show GPU
// History (colab/gpu/history → a webview of charts, refreshed while visible), Benchmark
// Runtime (colab/gpu/benchmark → a document). A newly connected runtime is checked
// against `colab.gpu.required`, with Disconnect / Keep when it does not match.

import type * as vscode from 'vscode';
import { messageOf } from '../daemon/client';
import type { Disposable } from '../events';
import {
  methods,
  type GpuCheckParams,
  type GpuCheckResult,
  type GpuHistoryResult,
  type GpuRuntimeChangedParams,
  type GpuSnapshot,
  type RuntimeBenchmarkResult,
  type RuntimeInfo,
  type RuntimeListResult,
} from '../protocol';
import type { GpuDaemon } from './gpuStatusBar';
import { gpuHistoryHtml } from './gpuHistoryHtml';
import { gpuStatusText, gpuTooltip } from './gpuText';

export const gpuCommandIds = {
  checkGpu: 'colab.checkGpu',
  showGpuHistory: 'colab.showGpuHistory',
  benchmarkRuntime: 'colab.benchmarkRuntime',
} as const;

export const gpuRequiredSetting = 'colab.gpu.required';
export const historyMinutes = 5;

type Api = Pick<typeof vscode, 'window' | 'workspace' | 'commands' | 'StatusBarAlignment' | 'ThemeColor' | 'MarkdownString' | 'ViewColumn' | 'ProgressLocation'>;

export interface GpuCommandContext {
  readonly vscode: Api;
  readonly daemon: GpuDaemon;
  /** The required GPU names from the settings (e.g. ["A100", "H100"]). */
  readonly required: () => string[];
}

/** The required names as typed in settings: strings only, trimmed, empty ones dropped. */
export function readRequired(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string').map((v) => v.trim()).filter((v) => v.length > 0) : [];
}

async function connectedRuntimes(ctx: GpuCommandContext): Promise<RuntimeInfo[]> {
  const list = await ctx.daemon.request<RuntimeListResult>(methods.runtimeList.name, {});
  return list.runtimes.filter((r) => r.state === 'connected');
}

function label(r: RuntimeInfo): string {
  return r.kind === 'remote' ? r.url : 'Local runtime';
}

/** The runtime to act on: the only one, or the user's pick; `allowHost` adds "This machine". */
async function pickRuntime(ctx: GpuCommandContext, title: string, allowHost: boolean): Promise<RuntimeInfo | 'host' | undefined> {
  const runtimes = await connectedRuntimes(ctx);
  if (runtimes.length === 0) {
    return allowHost ? 'host' : undefined;
  }
  if (runtimes.length === 1 && !allowHost) {
    return runtimes[0];
  }
  const items: { label: string; description?: string; target: RuntimeInfo | 'host' }[] = runtimes.map((r) => ({ label: label(r), description: r.id, target: r }));
  if (allowHost) {
    items.push({ label: 'This machine', description: 'the GPUs of the daemon\'s host', target: 'host' });
  }
  const pick = await ctx.vscode.window.showQuickPick(items, { title, placeHolder: 'Which runtime' });
  return pick?.target;
}

async function showText(ctx: GpuCommandContext, content: string): Promise<void> {
  const document = await ctx.vscode.workspace.openTextDocument({ content, language: 'plaintext' });
  await ctx.vscode.window.showTextDocument(document, { preview: false });
}

export function checkGpu(ctx: GpuCommandContext): () => Promise<void> {
  return async () => {
    try {
      const target = await pickRuntime(ctx, 'Check GPU', true);
      if (target === undefined) {
        return;
      }
      const params: GpuCheckParams = { runtimeId: target === 'host' ? undefined : target.id, required: ctx.required() };
      const result = await ctx.daemon.request<GpuCheckResult>(methods.gpuCheck.name, params);
      await showText(ctx, result.text);
      const show = result.matches === false ? ctx.vscode.window.showWarningMessage : ctx.vscode.window.showInformationMessage;
      void show(`Colab: ${result.message}`);
    } catch (e) {
      void ctx.vscode.window.showErrorMessage(`Colab: Check GPU failed: ${messageOf(e)}`);
    }
  };
}

export function benchmarkRuntime(ctx: GpuCommandContext): () => Promise<void> {
  return async () => {
    try {
      const target = await pickRuntime(ctx, 'Benchmark Runtime', false);
      if (target === undefined || target === 'host') {
        void ctx.vscode.window.showInformationMessage('Colab: connect a runtime first (Colab: Connect to Local Runtime or Remote Runtime).');
        return;
      }
      const result = await ctx.vscode.window.withProgress(
        { location: ctx.vscode.ProgressLocation.Notification, title: `Colab: benchmarking ${label(target)}…` },
        () => ctx.daemon.request<RuntimeBenchmarkResult>(methods.gpuBenchmark.name, { runtimeId: target.id }),
      );
      await showText(ctx, result.text);
    } catch (e) {
      void ctx.vscode.window.showErrorMessage(`Colab: Benchmark Runtime failed: ${messageOf(e)}`);
    }
  };
}

/** One webview, refreshed every few seconds while visible; closed, it stops asking. */
export class GpuHistoryPanel implements Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly ctx: GpuCommandContext, private readonly labels: () => Map<string, string>, private readonly refreshMs = 3000) {}

  async show(): Promise<void> {
    if (this.panel) {
      this.panel.reveal();
      await this.refresh();
      return;
    }
    this.panel = this.ctx.vscode.window.createWebviewPanel('colab.gpuHistory', 'GPU History', this.ctx.vscode.ViewColumn.Beside, {
      enableScripts: false,
    });
    this.panel.onDidDispose(() => this.stop());
    this.timer = setInterval(() => {
      if (this.panel?.visible) {
        void this.refresh();
      }
    }, this.refreshMs);
    await this.refresh();
  }

  async refresh(): Promise<void> {
    const panel = this.panel;
    if (!panel) {
      return;
    }
    try {
      const history = await this.ctx.daemon.request<GpuHistoryResult>(methods.gpuHistory.name, { minutes: historyMinutes });
      const names = this.labels();
      panel.webview.html = gpuHistoryHtml(history, historyMinutes, Date.now(), (s) => (s === 'local' ? 'This machine' : names.get(s) ?? `Runtime ${s}`), panel.webview.cspSource);
    } catch (e) {
      panel.webview.html = `<!DOCTYPE html><html><body><p>GPU history is not available: ${messageOf(e).replace(/[<>&]/g, '')}</p></body></html>`;
    }
  }

  private stop(): void {
    if (this.timer) {
      clearInterval(this.timer);
    }
    this.timer = undefined;
    this.panel = undefined;
  }

  dispose(): void {
    this.panel?.dispose();
    this.stop();
  }
}

/**
 * One status bar item per runtime whose GPUs differ from this machine's (a remote runtime,
 * or a local one that reads differently), from colab/gpu/runtimeChanged; and the
 * required-GPU check when a runtime appears.
 */
export class RuntimeGpuItems implements Disposable {
  private readonly items = new Map<string, vscode.StatusBarItem>();
  private readonly known = new Set<string>();
  readonly labels = new Map<string, string>();
  private readonly subscriptions: Disposable[];
  private localText: string | undefined;

  constructor(private readonly ctx: GpuCommandContext) {
    this.subscriptions = [
      ctx.daemon.onNotification<GpuSnapshot>(methods.gpuChanged.name, (s) => (this.localText = gpuStatusText(s))),
      ctx.daemon.onNotification<GpuRuntimeChangedParams>(methods.gpuRuntimeChanged.name, (p) => this.render(p)),
      ctx.daemon.onNotification<RuntimeListResult>(methods.runtimeChanged.name, (p) => void this.runtimesChanged(p.runtimes)),
    ];
  }

  render(p: GpuRuntimeChangedParams): void {
    if (!p.snapshot) {
      this.items.get(p.runtimeId)?.dispose();
      this.items.delete(p.runtimeId);
      return;
    }
    const text = gpuStatusText(p.snapshot);
    const isLocal = p.runtimeId.startsWith('local-');
    let item = this.items.get(p.runtimeId);
    if (isLocal && text === this.localText) {
      item?.hide(); // same host, same reading: the machine's item says it all
      return;
    }
    if (!item) {
      item = this.ctx.vscode.window.createStatusBarItem(`colab.gpuStatus.${p.runtimeId}`, this.ctx.vscode.StatusBarAlignment.Left, -1.1);
      item.name = `Colab GPU (${p.runtimeId})`;
      item.command = gpuCommandIds.showGpuHistory;
      this.items.set(p.runtimeId, item);
    }
    item.text = text.replace('$(chip)', '$(cloud)');
    item.tooltip = new this.ctx.vscode.MarkdownString(`**${this.labels.get(p.runtimeId) ?? p.runtimeId}**\n\n${gpuTooltip(p.snapshot)}`);
    item.backgroundColor = runtimeWarning(p.snapshot) ? new this.ctx.vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    item.show();
  }

  /** A runtime seen for the first time is checked against the required GPUs. */
  async runtimesChanged(runtimes: RuntimeInfo[]): Promise<void> {
    for (const r of runtimes) {
      this.labels.set(r.id, label(r));
    }
    const fresh = runtimes.filter((r) => r.state === 'connected' && !this.known.has(r.id));
    fresh.forEach((r) => this.known.add(r.id));
    const required = this.ctx.required();
    if (required.length === 0) {
      return;
    }
    await Promise.all(fresh.map((r) => this.checkRequired(r, required)));
  }

  async checkRequired(runtime: RuntimeInfo, required: string[]): Promise<void> {
    let result: GpuCheckResult;
    try {
      result = await this.ctx.daemon.request<GpuCheckResult>(methods.gpuCheck.name, { runtimeId: runtime.id, required } satisfies GpuCheckParams);
    } catch {
      return; // disconnected meanwhile, or the daemon went away
    }
    if (result.matches !== false) {
      return;
    }
    const choice = await this.ctx.vscode.window.showWarningMessage(`Colab: ${result.message}`, 'Disconnect', 'Keep');
    if (choice === 'Disconnect') {
      try {
        await this.ctx.daemon.request(methods.runtimeDisconnect.name, { runtimeId: runtime.id });
      } catch (e) {
        void this.ctx.vscode.window.showErrorMessage(`Colab: could not disconnect: ${messageOf(e)}`);
      }
    }
  }

  dispose(): void {
    this.subscriptions.forEach((s) => s.dispose());
    this.items.forEach((i) => i.dispose());
    this.items.clear();
  }
}

function runtimeWarning(s: GpuSnapshot): boolean {
  return s.state !== 'ok' || s.devices.length === 0;
}

export function registerGpuCommands(ctx: GpuCommandContext): Disposable[] {
  const items = new RuntimeGpuItems(ctx);
  const history = new GpuHistoryPanel(ctx, () => items.labels);
  return [
    items,
    history,
    ctx.vscode.commands.registerCommand(gpuCommandIds.checkGpu, checkGpu(ctx)),
    ctx.vscode.commands.registerCommand(gpuCommandIds.showGpuHistory, () => history.show()),
    ctx.vscode.commands.registerCommand(gpuCommandIds.benchmarkRuntime, benchmarkRuntime(ctx)),
  ];
}
