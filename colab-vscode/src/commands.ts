// The Colab commands. Each is a small factory: it sends (at most) one request to the
// daemon and shows the answer; the state and the logic live in the daemon.

import type * as vscode from 'vscode';
import { messageOf, showDaemonLogAction } from './daemon/client';
import type { Disposable } from './events';
import { methods, type ServerStatus } from './protocol';
import { statusSummary } from './status/summary';

export const commandIds = {
  showDaemonLog: 'colab.showDaemonLog',
  restartDaemon: 'colab.restartDaemon',
  showStatus: 'colab.showStatus',
} as const;

export const detailsAction = 'Details';
export const restartDaemonAction = 'Restart Daemon';

export interface CommandContext {
  readonly vscode: Pick<typeof vscode, 'window' | 'commands'>;
  readonly daemon: {
    request<R>(method: string, params?: unknown): Promise<R>;
    restart(): Promise<void>;
  };
  readonly showLog: () => void;
  readonly showDetails: (status: ServerStatus) => Promise<void>;
}

type Command = () => Promise<void>;

export function showDaemonLog(ctx: CommandContext): Command {
  return async () => ctx.showLog();
}

export function restartDaemon(ctx: CommandContext): Command {
  return () => ctx.daemon.restart();
}

export function showStatus(ctx: CommandContext): Command {
  return async () => {
    let status: ServerStatus;
    try {
      status = await ctx.daemon.request<ServerStatus>(methods.serverStatus.name);
    } catch (error) {
      const choice = await ctx.vscode.window.showErrorMessage(
        `Colab: could not get the daemon status. ${messageOf(error)}`,
        showDaemonLogAction,
        restartDaemonAction,
      );
      if (choice === showDaemonLogAction) {
        ctx.showLog();
      } else if (choice === restartDaemonAction) {
        await ctx.daemon.restart();
      }
      return;
    }
    const choice = await ctx.vscode.window.showInformationMessage(statusSummary(status), detailsAction);
    if (choice === detailsAction) {
      await ctx.showDetails(status);
    }
  };
}

export function registerCommands(ctx: CommandContext): Disposable[] {
  const factories: Record<keyof typeof commandIds, (ctx: CommandContext) => Command> = {
    showDaemonLog,
    restartDaemon,
    showStatus,
  };
  return Object.entries(factories).map(([key, factory]) =>
    ctx.vscode.commands.registerCommand(commandIds[key as keyof typeof commandIds], factory(ctx)),
  );
}
