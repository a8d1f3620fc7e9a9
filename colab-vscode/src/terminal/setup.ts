// Setup commands once per runtime: when a runtime is connected and the setting
// colab.runtime.setupCommands is not empty, ask the daemon to run them (it skips them
// when the runtime's marker says they already ran); "Run Setup Commands Again" forces them.

import type * as vscode from 'vscode';
import { messageOf } from '../daemon/client';
import type { Disposable, Event } from '../events';
import { methods, type RuntimeInfo, type SetupParams, type SetupResult } from '../protocol';

export const setupCommandsSetting = 'colab.runtime.setupCommands';
export const setupCommandIds = { runSetupAgain: 'colab.runSetupAgain' } as const;

export interface SetupContext {
  readonly vscode: Pick<typeof vscode, 'window' | 'commands' | 'workspace' | 'ProgressLocation'>;
  readonly daemon: { request<R>(method: string, params?: unknown, token?: vscode.CancellationToken): Promise<R> };
  readonly session: { readonly current: RuntimeInfo | undefined; readonly onDidChange: Event<RuntimeInfo | undefined> };
  readonly log: { info(message: string): void; error(message: string): void };
}

/** The setting's commands: strings, trimmed, blanks left out. */
export function readSetupCommands(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((c): c is string => typeof c === 'string').map((c) => c.trim()).filter((c) => c.length > 0) : [];
}

export async function runSetup(ctx: SetupContext, runtime: RuntimeInfo, force: boolean): Promise<SetupResult | undefined> {
  const commands = readSetupCommands(ctx.vscode.workspace.getConfiguration().get(setupCommandsSetting));
  if (commands.length === 0) {
    if (force) {
      void ctx.vscode.window.showInformationMessage(`Colab: there are no setup commands (setting ${setupCommandsSetting}).`);
    }
    return undefined;
  }
  const params: SetupParams = { runtimeId: runtime.id, commands, force };
  try {
    const result = await ctx.vscode.window.withProgress(
      { location: ctx.vscode.ProgressLocation.Notification, title: 'Colab: running the setup commands on the runtime', cancellable: true },
      (_p, token) => ctx.daemon.request<SetupResult>(methods.runtimeSetup.name, params, token),
    );
    if (result.ran) {
      ctx.log.info(`Setup commands on ${runtime.id}:\n${result.output}`);
    }
    if (!result.ok) {
      void ctx.vscode.window.showErrorMessage(`Colab: a setup command failed on the runtime: ${result.output.trim().split('\n').slice(-1)[0] ?? ''}`);
    } else if (result.ran) {
      void ctx.vscode.window.showInformationMessage(`Colab: setup commands done (${commands.length}).`);
    }
    return result;
  } catch (error) {
    void ctx.vscode.window.showErrorMessage(`Colab: the setup commands could not run: ${messageOf(error)}`);
    return undefined;
  }
}

export function registerSetup(ctx: SetupContext): Disposable[] {
  let last: string | undefined;
  return [
    // Once per newly connected runtime (the daemon's marker makes repeats cheap and safe).
    ctx.session.onDidChange((info) => {
      if (info?.state === 'connected' && info.id !== last) {
        last = info.id;
        void runSetup(ctx, info, false);
      }
    }),
    ctx.vscode.commands.registerCommand(setupCommandIds.runSetupAgain, async () => {
      const runtime = ctx.session.current;
      if (!runtime) {
        void ctx.vscode.window.showInformationMessage('Colab: connect a runtime first.');
        return;
      }
      await runSetup(ctx, runtime, true);
    }),
  ];
}
