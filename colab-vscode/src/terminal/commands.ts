// The terminal and file commands: open a terminal on the active runtime, upload workspace
// files or folders to it, download results from it. Each asks what it needs, sends one
// request to the daemon (which does the work, with progress) and shows the answer.

import type * as vscode from 'vscode';
import { runtimeOfNode } from '../runtime/commands';
import { messageOf } from '../daemon/client';
import type { Disposable } from '../events';
import {
  errorCodes,
  methods,
  type FilesDownloadParams,
  type FilesListResult,
  type FilesUploadParams,
  type RuntimeFileEntry,
  type RuntimeInfo,
  type TransferResult,
} from '../protocol';
import { asPseudoterminal, RuntimeTerminal, type TerminalDaemon } from './runtimeTerminal';

export const terminalCommandIds = {
  openTerminal: 'colab.openTerminal',
  uploadToRuntime: 'colab.uploadToRuntime',
  downloadFromRuntime: 'colab.downloadFromRuntime',
} as const;

export interface TerminalCommandContext {
  readonly vscode: typeof vscode;
  readonly daemon: TerminalDaemon & {
    request<R>(method: string, params?: unknown, token?: vscode.CancellationToken): Promise<R>;
  };
  /** The active runtime, connecting the local one when there is none. */
  ensureRuntime(): Promise<RuntimeInfo>;
}

/** A runtime path for a workspace file: its path relative to the workspace folder, else its name. */
export function defaultRemotePath(relative: string | undefined, basename: string): string {
  const path = (relative ?? basename).replace(/\\/g, '/').replace(/^\/+/, '');
  return path.length > 0 && !path.split('/').some((s) => s === '..' || s === '.') ? path : basename;
}

/** Mirrors the daemon's checks so the input box can say what is wrong before sending. */
export function checkRemotePath(path: string): string | undefined {
  if (path.trim().length === 0) {
    return 'Enter a path on the runtime, e.g. data/train.csv';
  }
  if (/[\u0000-\u001f\u007f-\u009f]/.test(path)) {
    return 'The path contains control characters';
  }
  if (path.startsWith('/') || path.startsWith('~') || /^[A-Za-z]:/.test(path)) {
    return "Give a path relative to the runtime's root (no leading / or ~)";
  }
  if (path.includes('\\')) {
    return "Use '/' between folders";
  }
  if (path.replace(/\/+$/, '').split('/').some((s) => s === '' || s === '.' || s === '..')) {
    return "The path must not contain '.', '..' or '//'";
  }
  return undefined;
}

function errorCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

function describe(result: TransferResult): string {
  const size = result.bytes < 1024 * 1024 ? `${(result.bytes / 1024).toFixed(1)} KiB` : `${(result.bytes / 1024 / 1024).toFixed(1)} MiB`;
  const skipped = result.skipped.length > 0 ? ` (${result.skipped.length} skipped: links or unsafe names)` : '';
  return `${result.files} file${result.files === 1 ? '' : 's'}, ${size}${skipped}`;
}

export function openTerminal(ctx: TerminalCommandContext): () => Promise<void> {
  return async () => {
    const runtime = await ctx.ensureRuntime();
    const terminal = new RuntimeTerminal(ctx.daemon, runtime.id);
    const label = runtime.kind === 'remote' ? runtime.url : 'local runtime';
    ctx.vscode.window.createTerminal({ name: `Colab: ${label}`, pty: asPseudoterminal(terminal) }).show();
  };
}

/** Runs a transfer under a cancellable notification; asks before replacing an existing target. */
async function transfer<P extends { overwrite?: boolean }>(ctx: TerminalCommandContext, title: string, method: string, params: P, target: string): Promise<TransferResult | undefined> {
  const window = ctx.vscode.window;
  const run = (overwrite: boolean) =>
    window.withProgress(
      { location: ctx.vscode.ProgressLocation.Notification, title, cancellable: true },
      (_progress, token) => ctx.daemon.request<TransferResult>(method, { ...params, overwrite }, token),
    );
  try {
    return await run(false);
  } catch (error) {
    if (errorCode(error) === errorCodes.RequestCancelled) {
      return undefined;
    }
    if (errorCode(error) !== errorCodes.TargetExists) {
      throw error;
    }
    const replace = await window.showWarningMessage(`${target} already exists. Replace it?`, { modal: true }, 'Replace');
    if (replace !== 'Replace') {
      return undefined;
    }
    try {
      return await run(true);
    } catch (again) {
      if (errorCode(again) === errorCodes.RequestCancelled) {
        return undefined;
      }
      throw again;
    }
  }
}

/** A file URI, as the Explorer passes one (a Runtimes view row is not). */
function isUri(value: unknown): value is vscode.Uri {
  return typeof (value as vscode.Uri | undefined)?.scheme === 'string' && typeof (value as vscode.Uri | undefined)?.fsPath === 'string';
}

/** Explorer: (clicked file, selected files); Runtimes view: (the runtime's row); palette: (). */
export function uploadToRuntime(ctx: TerminalCommandContext): (uri?: unknown, selected?: unknown[]) => Promise<void> {
  return async (uri, selected) => {
    const { window, workspace } = ctx.vscode;
    const fromView = runtimeOfNode(uri);
    const picked = (selected ?? []).filter(isUri);
    let uris = picked.length > 0 ? picked : isUri(uri) ? [uri] : undefined;
    if (!uris) {
      uris = await window.showOpenDialog({ canSelectFiles: true, canSelectFolders: true, canSelectMany: true, openLabel: 'Upload to Runtime' });
      if (!uris || uris.length === 0) {
        return;
      }
    }
    const runtime = fromView ?? (await ctx.ensureRuntime());
    for (const source of uris.filter((u) => u.scheme === 'file')) {
      const basename = source.path.split('/').pop() ?? 'upload';
      const relative = workspace.getWorkspaceFolder(source) ? workspace.asRelativePath(source, false) : undefined;
      const remotePath = await window.showInputBox({
        title: `Upload ${basename} to the runtime`,
        prompt: "Path on the runtime, relative to its root",
        value: defaultRemotePath(relative, basename),
        ignoreFocusOut: true,
        validateInput: checkRemotePath,
      });
      if (remotePath === undefined) {
        return;
      }
      const params: FilesUploadParams = { runtimeId: runtime.id, localPath: source.fsPath, remotePath };
      try {
        const result = await transfer(ctx, `Uploading ${basename} to the runtime`, methods.filesUpload.name, params, `'${remotePath}' on the runtime`);
        if (result) {
          void window.showInformationMessage(`Colab: uploaded ${basename} to ${remotePath}: ${describe(result)}.`);
        }
      } catch (error) {
        void window.showErrorMessage(`Colab: upload of ${basename} failed: ${messageOf(error)}`);
        return;
      }
    }
  };
}

interface EntryPick extends vscode.QuickPickItem {
  readonly entry?: RuntimeFileEntry;
  readonly action?: 'up' | 'here';
}

/** Lets the user walk the runtime's folders and pick a file or folder; undefined when dismissed. */
export async function pickRuntimeEntry(ctx: TerminalCommandContext, runtimeId: string): Promise<RuntimeFileEntry | undefined> {
  const window = ctx.vscode.window;
  let folder = '';
  for (;;) {
    const listing = await ctx.daemon.request<FilesListResult>(methods.filesList.name, { runtimeId, path: folder });
    const items: EntryPick[] = [];
    if (folder) {
      items.push({ label: '$(arrow-up) ..', description: 'up one folder', action: 'up' });
      items.push({ label: '$(cloud-download) Download this folder', description: folder, action: 'here' });
    }
    for (const entry of listing.entries) {
      items.push({
        label: `${entry.type === 'directory' ? '$(folder)' : '$(file)'} ${entry.name}`,
        description: entry.type === 'directory' ? undefined : entry.size !== undefined ? `${entry.size} bytes` : undefined,
        entry,
      });
    }
    const picked = await window.showQuickPick(items, { title: `Download from the runtime: /${folder}`, placeHolder: 'Pick a file, or open a folder' });
    if (!picked) {
      return undefined;
    }
    if (picked.action === 'up') {
      folder = folder.split('/').slice(0, -1).join('/');
    } else if (picked.action === 'here') {
      return { name: folder.split('/').pop() ?? folder, path: folder, type: 'directory' };
    } else if (picked.entry?.type === 'directory') {
      folder = picked.entry.path;
    } else if (picked.entry) {
      return picked.entry;
    }
  }
}

/** Palette: (); a caller: (the runtime path); Runtimes view: (the runtime's row). */
export function downloadFromRuntime(ctx: TerminalCommandContext): (remotePath?: unknown) => Promise<void> {
  return async (remotePath) => {
    const { window, workspace, Uri } = ctx.vscode;
    const runtime = runtimeOfNode(remotePath) ?? (await ctx.ensureRuntime());
    let entry: RuntimeFileEntry | undefined;
    try {
      entry = typeof remotePath === 'string' ? { name: remotePath.split('/').pop() ?? remotePath, path: remotePath, type: 'file' } : await pickRuntimeEntry(ctx, runtime.id);
    } catch (error) {
      void window.showErrorMessage(`Colab: could not list the runtime's files: ${messageOf(error)}`);
      return;
    }
    if (!entry) {
      return;
    }
    const base = workspace.workspaceFolders?.[0]?.uri;
    let localPath: string | undefined;
    if (entry.type === 'directory') {
      const into = await window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, defaultUri: base, openLabel: `Download ${entry.name} here` });
      localPath = into?.[0] ? Uri.joinPath(into[0], entry.name).fsPath : undefined;
    } else {
      const to = await window.showSaveDialog({ defaultUri: base ? Uri.joinPath(base, entry.name) : undefined, saveLabel: 'Download' });
      localPath = to?.fsPath;
    }
    if (!localPath) {
      return;
    }
    // The save dialog already asked about replacing a file.
    const params: FilesDownloadParams = { runtimeId: runtime.id, remotePath: entry.path, localPath, overwrite: entry.type !== 'directory' };
    try {
      const result = await transfer(ctx, `Downloading ${entry.name} from the runtime`, methods.filesDownload.name, params, localPath);
      if (result) {
        void window.showInformationMessage(`Colab: downloaded ${entry.path} to ${localPath}: ${describe(result)}.`);
      }
    } catch (error) {
      void window.showErrorMessage(`Colab: download of ${entry.path} failed: ${messageOf(error)}`);
    }
  };
}

export function registerTerminalCommands(ctx: TerminalCommandContext): Disposable[] {
  const commands = ctx.vscode.commands;
  const guard = <A extends unknown[]>(what: string, run: (...args: A) => Promise<void>) => async (...args: A) => {
    try {
      await run(...args);
    } catch (error) {
      void ctx.vscode.window.showErrorMessage(`Colab: ${what} failed: ${messageOf(error)}`);
    }
  };
  return [
    commands.registerCommand(terminalCommandIds.openTerminal, guard('opening a terminal on the runtime', openTerminal(ctx))),
    commands.registerCommand(terminalCommandIds.uploadToRuntime, guard('upload', uploadToRuntime(ctx))),
    commands.registerCommand(terminalCommandIds.downloadFromRuntime, guard('download', downloadFromRuntime(ctx))),
  ];
}
