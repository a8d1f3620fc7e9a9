// The 'Colab' notebook controller for Jupyter notebooks. It only dispatches: the
// runtime comes from RuntimeSession, each notebook gets one kernel in the daemon
// (colab/kernel/start on its first run, colab/kernel/shutdown when it closes), and each
// cell is one colab/kernel/execute whose colab/kernel/output notifications become cell
// outputs (the mapping is in outputs.ts).

import { randomUUID } from 'node:crypto';
import type * as vscode from 'vscode';
import { messageOf, type CancellationToken } from '../daemon/client';
import type { Disposable } from '../events';
import {
  runtimeMethods,
  type KernelExecuteParams,
  type KernelExecuteResult,
  type KernelInputParams,
  type KernelInputResult,
  type KernelOutputParams,
  type KernelRef,
  type KernelStartParams,
  type RuntimeKernelInfo,
} from '../runtime/methods';
import { runtimeLabel, type RuntimeLog, type RuntimeSession } from '../runtime/session';
import { notebookLabel } from './notebookLabel';
import { CellOutputModel, type OutputEdit, type PlainItem, type PlainOutput } from './outputs';

export const controllerId = 'colab';
export const notebookType = 'jupyter-notebook';

export interface NotebookDaemon {
  request<R>(method: string, params?: unknown, token?: CancellationToken): Promise<R>;
  onNotification<P>(method: string, listener: (params: P) => void): Disposable;
  onRequest<P, R>(method: string, handler: (params: P) => R | Promise<R>): Disposable;
}

export type NotebookApi = Pick<typeof vscode, 'notebooks' | 'window' | 'workspace' | 'NotebookCellOutput' | 'NotebookCellOutputItem'>;

export class ColabNotebookController implements Disposable {
  readonly controller: vscode.NotebookController;
  /** The kernel of each notebook, by notebook URI. */
  private readonly kernels = new Map<string, Promise<KernelRef>>();
  /** Each runtime's URL, by runtime id (to know a reconnected runtime is the same server). */
  private readonly runtimeUrls = new Map<string, string>();
  /** Kernels of runtimes that went away (a daemon restart), by notebook URI: re-attached when the same server is back. */
  private readonly detached = new Map<string, { url: string; kernelId: string }>();
  /** Outputs with a display id, by notebook URI then display id: update_display_data from a later cell finds them here. */
  private readonly displays = new Map<string, Map<string, { cell: vscode.NotebookCell; output: vscode.NotebookCellOutput }>>();
  /** Where each running execution's outputs go, by executionId. */
  private readonly sinks = new Map<string, (output: KernelOutputParams['output']) => void>();
  private readonly subscriptions: Disposable[];

  constructor(
    private readonly vscodeApi: NotebookApi,
    private readonly daemon: NotebookDaemon,
    private readonly runtimes: RuntimeSession,
    private readonly log: RuntimeLog,
    private readonly newId: () => string = randomUUID,
  ) {
    const controller = vscodeApi.notebooks.createNotebookController(controllerId, notebookType, 'Colab');
    controller.supportedLanguages = ['python'];
    controller.supportsExecutionOrder = true;
    controller.executeHandler = (cells, notebook) => this.execute(cells, notebook, controller);
    controller.interruptHandler = async (notebook) => {
      await this.interrupt(notebook);
    };
    this.controller = controller;
    this.describe();
    this.subscriptions = [
      controller,
      daemon.onNotification<KernelOutputParams>(runtimeMethods.kernelOutput, (p) => this.sinks.get(p.executionId)?.(p.output)),
      daemon.onRequest<KernelInputParams, KernelInputResult>(runtimeMethods.kernelInput, (p) => this.input(p)),
      vscodeApi.workspace.onDidCloseNotebookDocument((notebook) => {
        this.displays.delete(notebook.uri.toString());
        void this.shutdown(notebook);
      }),
      runtimes.onDidChange(() => {
        this.describe();
        this.forgetKernelsOfOtherRuntimes();
      }),
    ];
  }

  /** Runs the cells in order; after one fails, the rest are not run. */
  async execute(cells: readonly vscode.NotebookCell[], notebook: vscode.NotebookDocument, controller: vscode.NotebookController): Promise<void> {
    const executions = cells.map((cell) => controller.createNotebookCellExecution(cell));
    let stopped = false;
    for (const execution of executions) {
      if (stopped || execution.token.isCancellationRequested) {
        execution.end(undefined);
        continue;
      }
      stopped = !(await this.runCell(execution, notebook));
    }
  }

  /** Interrupts the notebook's kernel; false when it has none. */
  async interrupt(notebook: vscode.NotebookDocument): Promise<boolean> {
    return this.kernelRequest(notebook, runtimeMethods.kernelInterrupt);
  }

  /** Restarts the notebook's kernel; false when it has none. */
  async restart(notebook: vscode.NotebookDocument): Promise<boolean> {
    return this.kernelRequest(notebook, runtimeMethods.kernelRestart);
  }

  /** Shuts the notebook's kernel down and forgets it (the notebook was closed). */
  async shutdown(notebook: vscode.NotebookDocument): Promise<void> {
    const key = notebook.uri.toString();
    this.detached.delete(key);
    const kernel = this.kernels.get(key);
    if (!kernel) {
      return;
    }
    this.kernels.delete(key);
    try {
      await this.daemon.request<null>(runtimeMethods.kernelShutdown, await kernel);
    } catch (error) {
      this.log.error(`Shutting down the kernel of ${key} failed: ${messageOf(error)}`);
    }
  }

  private async kernelRequest(notebook: vscode.NotebookDocument, method: string): Promise<boolean> {
    const kernel = this.kernels.get(notebook.uri.toString());
    if (!kernel) {
      return false;
    }
    let ref: KernelRef;
    try {
      ref = await kernel;
    } catch {
      return false;
    }
    await this.daemon.request<null>(method, ref);
    return true;
  }

  private async runCell(execution: vscode.NotebookCellExecution, notebook: vscode.NotebookDocument): Promise<boolean> {
    execution.start(Date.now());
    await execution.clearOutput();
    const displays = this.displaysOf(notebook);
    const forgetThisCell = () => {
      for (const [id, shown] of [...displays]) {
        if (shown.cell === execution.cell) {
          displays.delete(id);
        }
      }
    };
    forgetThisCell(); // its outputs were just cleared
    const outputs = new ExecutionOutputs(this.vscodeApi, execution, {
      shown: (displayId, output) => displays.set(displayId, { cell: execution.cell, output }),
      cleared: forgetThisCell,
      elsewhere: (displayId, items) => this.updateDisplayElsewhere(displays, displayId, items),
    });
    const model = new CellOutputModel();
    const executionId = this.newId();
    this.sinks.set(executionId, (output) => {
      outputs.apply(model.apply(output));
      if (model.executionCount !== undefined) {
        execution.executionOrder = model.executionCount;
      }
    });
    try {
      const kernel = await this.kernelFor(notebook);
      const params: KernelExecuteParams = {
        ...kernel,
        code: execution.cell.document.getText(),
        executionId,
        allowStdin: true,
        stopOnError: true,
      };
      const result = await this.daemon.request<KernelExecuteResult>(runtimeMethods.kernelExecute, params, execution.token);
      if (result?.executionCount !== undefined) {
        execution.executionOrder = result.executionCount;
      }
      await outputs.idle();
      const ok = result?.status === 'ok';
      execution.end(ok, Date.now());
      return ok;
    } catch (error) {
      await outputs.idle();
      if (!execution.token.isCancellationRequested) {
        // The run never reached the kernel (no runtime, no kernel, no daemon): say so in the cell.
        outputs.apply([{ edit: 'append', output: failureOutput(error) }]);
        await outputs.idle();
      }
      execution.end(false, Date.now());
      return false;
    } finally {
      this.sinks.delete(executionId);
    }
  }

  private displaysOf(notebook: vscode.NotebookDocument): Map<string, { cell: vscode.NotebookCell; output: vscode.NotebookCellOutput }> {
    const key = notebook.uri.toString();
    let displays = this.displays.get(key);
    if (!displays) {
      displays = new Map();
      this.displays.set(key, displays);
    }
    return displays;
  }

  /**
   * update_display_data for a display another cell shows (a handle from cell 1 updated in
   * cell 5): VS Code changes a cell's outputs only through an execution of that cell, so a
   * short one is made that keeps the cell's order, timing and status as they were.
   */
  private async updateDisplayElsewhere(
    displays: Map<string, { cell: vscode.NotebookCell; output: vscode.NotebookCellOutput }>,
    displayId: string,
    items: vscode.NotebookCellOutputItem[],
  ): Promise<void> {
    const shown = displays.get(displayId);
    if (!shown) {
      return; // a display nobody shows (cleared, or from before this window): nothing to update
    }
    const summary = shown.cell.executionSummary;
    let update: vscode.NotebookCellExecution;
    try {
      update = this.controller.createNotebookCellExecution(shown.cell);
    } catch (error) {
      // The cell is queued or running itself: its own run will show fresh outputs.
      this.log.info(`display ${displayId}: not updated, its cell is busy (${messageOf(error)})`);
      return;
    }
    update.executionOrder = summary?.executionOrder;
    update.start(summary?.timing?.startTime);
    try {
      await update.replaceOutputItems(items, shown.output);
    } catch (error) {
      this.log.info(`display ${displayId}: could not be updated (${messageOf(error)})`);
    } finally {
      update.end(summary?.success, summary?.timing?.endTime);
    }
  }

  /** What the kernel's Jupyter session is called: the notebook's workspace-relative path or its name. */
  private label(notebook: vscode.NotebookDocument): string | undefined {
    let relative: string | undefined;
    try {
      relative = notebook.uri.scheme === 'file' ? this.vscodeApi.workspace.asRelativePath?.(notebook.uri, false) : undefined;
    } catch {
      relative = undefined;
    }
    return notebookLabel(notebook.uri, relative);
  }

  /** The notebook's kernel on the active runtime, started on first use. */
  private async kernelFor(notebook: vscode.NotebookDocument): Promise<KernelRef> {
    const key = notebook.uri.toString();
    const runtime = await this.runtimes.ensure();
    const existing = this.kernels.get(key);
    if (existing) {
      const ref = await existing.catch(() => undefined);
      if (ref && ref.runtimeId === runtime.id) {
        return ref;
      }
    }
    this.runtimeUrls.set(runtime.id, runtime.url);
    const previous = this.detached.get(key);
    this.detached.delete(key);
    const start = (params: KernelStartParams) =>
      this.daemon.request<RuntimeKernelInfo>(runtimeMethods.kernelStart, params).then((info) => {
        const verb = params.kernelId ? 'Re-attached' : 'Started';
        this.log.info(`${verb} kernel ${info.name} (${info.id}) on ${runtimeLabel(runtime)} for ${key}.`);
        return { runtimeId: info.runtimeId ?? runtime.id, kernelId: info.id };
      });
    // The same server again (the daemon restarted): keep the notebook's kernel and its variables if the server still has it.
    const started =
      previous && previous.url === runtime.url
        ? start({ runtimeId: runtime.id, kernelId: previous.kernelId }).catch((error) => {
            this.log.info(`Kernel ${previous.kernelId} is gone (${messageOf(error)}); starting a new one for ${key}.`);
            return start({ runtimeId: runtime.id, notebook: this.label(notebook) });
          })
        : start({ runtimeId: runtime.id, notebook: this.label(notebook) });
    this.kernels.set(key, started);
    started.catch(() => {
      if (this.kernels.get(key) === started) {
        this.kernels.delete(key);
      }
    });
    return started;
  }

  /** Kernels live in their runtime: when the active runtime changes, notebooks start afresh (or re-attach, when the same server comes back). */
  private forgetKernelsOfOtherRuntimes(): void {
    const active = this.runtimes.current?.id;
    for (const [key, kernel] of [...this.kernels]) {
      void kernel.then(
        (ref) => {
          if (ref.runtimeId !== active && this.kernels.get(key) === kernel) {
            this.kernels.delete(key);
            const url = this.runtimeUrls.get(ref.runtimeId);
            if (url) {
              this.detached.set(key, { url, kernelId: ref.kernelId });
            }
          }
        },
        () => undefined,
      );
    }
  }

  private async input(params: KernelInputParams): Promise<KernelInputResult> {
    const value = await this.vscodeApi.window.showInputBox({
      prompt: params.prompt || 'Input requested by the kernel',
      password: params.password,
      ignoreFocusOut: true,
    });
    if (value === undefined) {
      throw new Error('The input was cancelled.');
    }
    return { value };
  }

  private describe(): void {
    const runtime = this.runtimes.current;
    this.controller.description = runtimeLabel(runtime);
    this.controller.detail = runtime ? `Connected (${runtime.kind})` : 'Connects the local runtime on first run';
  }

  dispose(): void {
    this.subscriptions.forEach((s) => s.dispose());
  }
}

function failureOutput(error: unknown): PlainOutput {
  return { items: [{ kind: 'error', name: 'Colab', message: messageOf(error), stack: '' }], metadata: { outputType: 'error' } };
}

/**
 * Applies OutputEdits to one cell execution, in order (each VS Code call is async). Edits that
 * arrive while a call is in flight wait, and a run of them is coalesced before it is sent: stream
 * text appended to the same output becomes one item per stream, and of consecutive replacements of
 * the same output only the last is sent. A 100 MB print (~3,200 notifications) then costs VS Code a
 * handful of large appends instead of thousands of small ones, while what the cell shows is the same.
 */
class ExecutionOutputs {
  private readonly shown: vscode.NotebookCellOutput[] = [];
  private readonly pending: OutputEdit[] = [];
  private draining: Promise<void> | undefined;

  constructor(
    private readonly vscodeApi: Pick<typeof vscode, 'NotebookCellOutput' | 'NotebookCellOutputItem'>,
    private readonly execution: vscode.NotebookCellExecution,
    private readonly displays?: {
      /** An output with a display id was shown in this cell. */
      shown(displayId: string, output: vscode.NotebookCellOutput): void;
      /** This cell's outputs were cleared (clear_output). */
      cleared(): void;
      /** An update for a display this cell does not show. */
      elsewhere(displayId: string, items: vscode.NotebookCellOutputItem[]): Promise<void>;
    },
  ) {}

  apply(edits: OutputEdit[]): void {
    this.pending.push(...edits);
    if (this.pending.length > 0) {
      this.draining ??= this.drain();
    }
  }

  idle(): Promise<unknown> {
    return this.draining ?? Promise.resolve();
  }

  private async drain(): Promise<void> {
    // Never finish inside apply(): `draining` must be set before the loop can end and clear it.
    await Promise.resolve();
    try {
      for (let edit = takeCoalesced(this.pending); edit; edit = takeCoalesced(this.pending)) {
        try {
          await this.call(edit)();
        } catch {
          // an edit VS Code refused (the cell was closed): the later ones still get their chance
        }
      }
    } finally {
      this.draining = undefined;
    }
  }

  private call(edit: OutputEdit): () => Thenable<void> {
    const execution = this.execution;
    switch (edit.edit) {
      case 'clear':
        this.shown.length = 0;
        this.displays?.cleared();
        return () => execution.clearOutput();
      case 'append': {
        const output = new this.vscodeApi.NotebookCellOutput(edit.output.items.map((i) => this.item(i)), edit.output.metadata);
        this.shown.push(output);
        const displayId = edit.output.metadata.displayId;
        if (typeof displayId === 'string') {
          this.displays?.shown(displayId, output);
        }
        return () => execution.appendOutput(output);
      }
      case 'updateDisplay': {
        const items = edit.items.map((i) => this.item(i));
        const displays = this.displays;
        return () => displays?.elsewhere(edit.displayId, items) ?? Promise.resolve();
      }
      case 'appendItems': {
        const output = this.shown[edit.index];
        const items = edit.items.map((i) => this.item(i));
        return () => execution.appendOutputItems(items, output);
      }
      case 'replaceItems': {
        const output = this.shown[edit.index];
        const items = edit.items.map((i) => this.item(i));
        return () => execution.replaceOutputItems(items, output);
      }
    }
  }

  private item(item: PlainItem): vscode.NotebookCellOutputItem {
    const Item = this.vscodeApi.NotebookCellOutputItem;
    switch (item.kind) {
      case 'stdout':
        return Item.stdout(item.text);
      case 'stderr':
        return Item.stderr(item.text);
      case 'text':
        return Item.text(item.text, item.mime);
      case 'json':
        return Item.json(item.value, item.mime);
      case 'bytes':
        return new Item(item.bytes, item.mime);
      case 'error':
        return Item.error({ name: item.name, message: item.message, stack: item.stack });
    }
  }
}

/**
 * Takes the next edit off `pending`, folding into it the edits right behind it that it can absorb:
 * appends of items to the same output (adjacent stream texts of one stream joined into one item),
 * and replacements of the same output's items (the last one wins).
 */
export function takeCoalesced(pending: OutputEdit[]): OutputEdit | undefined {
  const first = pending.shift();
  if (!first || (first.edit !== 'appendItems' && first.edit !== 'replaceItems')) {
    return first;
  }
  let items = [...first.items];
  while (pending.length > 0) {
    const next = pending[0];
    if (next.edit !== first.edit || next.index !== first.index) {
      break;
    }
    pending.shift();
    items = first.edit === 'replaceItems' ? [...next.items] : joinStreams(items, next.items);
  }
  return { ...first, items };
}

function joinStreams(items: PlainItem[], more: PlainItem[]): PlainItem[] {
  for (const item of more) {
    const last = items[items.length - 1];
    if (last && (last.kind === 'stdout' || last.kind === 'stderr') && item.kind === last.kind) {
      items[items.length - 1] = { kind: last.kind, text: last.text + item.text };
    } else {
      items.push(item);
    }
  }
  return items;
}
