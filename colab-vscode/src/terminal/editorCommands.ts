// The notebook toolbar's Connect / Disconnect button and Colab's "Disconnect and delete
// runtime", plus the `colab.runtimeConnected` context key the menus and the palette use.

import type * as vscode from 'vscode';
import { messageOf } from '../daemon/client';
import type { Disposable, Event } from '../events';
import type { RuntimeInfo } from '../protocol';

export const editorCommandIds = {
  connectRuntimeFromToolbar: 'colab.connectRuntimeFromToolbar',
  disconnectRuntimeFromToolbar: 'colab.disconnectRuntimeFromToolbar',
  disconnectAndDeleteRuntime: 'colab.disconnectAndDeleteRuntime',
} as const;

export const runtimeConnectedContextKey = 'colab.runtimeConnected';

export interface EditorCommandContext {
  readonly vscode: Pick<typeof vscode, 'window' | 'commands'>;
  readonly session: {
    readonly current: RuntimeInfo | undefined;
    readonly onDidChange: Event<RuntimeInfo | undefined>;
    disconnect(runtimeId: string): Promise<void>;
  };
}

/** Toolbar Connect: pick local or remote, then run that connect command. */
export function connectFromToolbar(ctx: EditorCommandContext): () => Promise<void> {
  return async () => {
    const picked = await ctx.vscode.window.showQuickPick(
      [
        { label: '$(vm) Local runtime', description: 'a Jupyter server on this machine', command: 'colab.connectLocalRuntime' },
        { label: '$(remote) Remote runtime…', description: 'a Jupyter server by URL and token', command: 'colab.connectRemoteRuntime' },
      ],
      { title: 'Connect to a runtime' },
    );
    if (picked) {
      await ctx.vscode.commands.executeCommand(picked.command);
    }
  };
}

/** Colab's "Disconnect and delete runtime": confirm, then disconnect (its kernels end; a local server stops). */
export function disconnectAndDelete(ctx: EditorCommandContext): () => Promise<void> {
  return async () => {
    const runtime = ctx.session.current;
    if (!runtime) {
      void ctx.vscode.window.showInformationMessage('Colab: no runtime is connected.');
      return;
    }
    const what = runtime.kind === 'remote' ? `the runtime at ${runtime.url}` : 'the local runtime';
    const answer = await ctx.vscode.window.showWarningMessage(
      `Disconnect and delete ${what}? Its kernels started here are shut down and their state (variables, files in memory) is lost.`,
      { modal: true },
      'Disconnect and delete',
    );
    if (answer !== 'Disconnect and delete') {
      return;
    }
    try {
      await ctx.session.disconnect(runtime.id);
      void ctx.vscode.window.showInformationMessage(`Colab: disconnected and deleted ${what}.`);
    } catch (error) {
      void ctx.vscode.window.showErrorMessage(`Colab: could not disconnect ${what}: ${messageOf(error)}`);
    }
  };
}

export function registerEditorCommands(ctx: EditorCommandContext): Disposable[] {
  const commands = ctx.vscode.commands;
  const setConnected = (info: RuntimeInfo | undefined) =>
    void commands.executeCommand('setContext', runtimeConnectedContextKey, info?.state === 'connected');
  setConnected(ctx.session.current);
  return [
    ctx.session.onDidChange(setConnected),
    commands.registerCommand(editorCommandIds.connectRuntimeFromToolbar, connectFromToolbar(ctx)),
    commands.registerCommand(editorCommandIds.disconnectRuntimeFromToolbar, () => commands.executeCommand('colab.disconnectRuntime')),
    commands.registerCommand(editorCommandIds.disconnectAndDeleteRuntime, disconnectAndDelete(ctx)),
  ];
}
