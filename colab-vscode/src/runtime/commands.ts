// The runtime commands: connect the local or a remote runtime, disconnect one, and
// restart / interrupt the active notebook's kernel. Each sends a request or two to the
// daemon (through RuntimeSession or the notebook controller) and shows the answer.
// The remote token goes to SecretStorage and into the connect params, nowhere else.

import type * as vscode from 'vscode';
import { messageOf } from '../daemon/client';
import type { Disposable } from '../events';
import type { RuntimeInfo } from './methods';
import { runtimeLabel, type RuntimeLog, type RuntimeSession } from './session';

export const runtimeCommandIds = {
  connectLocalRuntime: 'colab.connectLocalRuntime',
  connectRemoteRuntime: 'colab.connectRemoteRuntime',
  disconnectRuntime: 'colab.disconnectRuntime',
  restartRuntime: 'colab.restartRuntime',
  interruptExecution: 'colab.interruptExecution',
  restartAndRunAll: 'colab.restartAndRunAll',
} as const;

/** The SecretStorage key of a remote runtime's token. */
export function tokenSecretKey(url: string): string {
  return `colab.runtime.token.${url}`;
}

export interface NotebookKernels {
  restart(notebook: vscode.NotebookDocument): Promise<boolean>;
  interrupt(notebook: vscode.NotebookDocument): Promise<boolean>;
}

export interface RuntimeCommandContext {
  readonly vscode: Pick<typeof vscode, 'window' | 'commands'>;
  readonly session: Pick<RuntimeSession, 'connect' | 'list' | 'disconnect' | 'current'>;
  readonly kernels: NotebookKernels;
  readonly secrets: Pick<vscode.SecretStorage, 'get' | 'store'>;
  readonly log: RuntimeLog;
}

type Command = (...args: unknown[]) => Promise<void>;

/** A remote URL as typed, normalised, with a `token` query parameter taken out. */
export function parseRuntimeUrl(text: string): { url: string; token?: string } | { error: string } {
  let parsed: URL;
  try {
    parsed = new URL(text.trim());
  } catch {
    return { error: 'Enter a URL such as https://host:8888/' };
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return { error: 'The URL must start with http:// or https://' };
  }
  const token = parsed.searchParams.get('token') ?? undefined;
  parsed.searchParams.delete('token');
  parsed.hash = '';
  return { url: parsed.toString(), token: token || undefined };
}

export function connectLocalRuntime(ctx: RuntimeCommandContext): Command {
  return async () => {
    const info = await ctx.session.connect({ kind: 'local' });
    await ctx.vscode.window.showInformationMessage(`Colab: connected to the local runtime${info.serverVersion ? ` (Jupyter Server ${info.serverVersion})` : ''}.`);
  };
}

export function connectRemoteRuntime(ctx: RuntimeCommandContext): Command {
  return async () => {
    const window = ctx.vscode.window;
    const typed = await window.showInputBox({
      title: 'Connect to Remote Runtime',
      prompt: 'The URL of a Jupyter server',
      placeHolder: 'https://host:8888/',
      ignoreFocusOut: true,
      validateInput: (value) => {
        const parsed = parseRuntimeUrl(value);
        return 'error' in parsed ? parsed.error : undefined;
      },
    });
    if (typed === undefined) {
      return;
    }
    const parsed = parseRuntimeUrl(typed);
    if ('error' in parsed) {
      await window.showErrorMessage(`Colab: ${parsed.error}`);
      return;
    }
    const key = tokenSecretKey(parsed.url);
    const saved = parsed.token ?? (await ctx.secrets.get(key));
    const entered = await window.showInputBox({
      title: 'Connect to Remote Runtime',
      prompt: saved ? `The token of ${parsed.url} (leave empty to use the saved one)` : `The token of ${parsed.url} (empty if it needs none)`,
      password: true,
      ignoreFocusOut: true,
    });
    if (entered === undefined) {
      return;
    }
    const token = entered || saved || undefined;
    if (token) {
      await ctx.secrets.store(key, token);
    }
    const info = await ctx.session.connect({ kind: 'remote', url: parsed.url, token });
    if (info.insecureTransport) {
      await window.showWarningMessage(
        `Colab: the connection to ${info.url} is not encrypted (plain http to another host); the token and your code can be read on the way.`,
      );
    } else {
      await window.showInformationMessage(`Colab: connected to ${info.url}${info.serverVersion ? ` (Jupyter Server ${info.serverVersion})` : ''}.`);
    }
  };
}

/** The runtime of a Runtimes view row (the view passes its node to context actions). */
/** The runtime of a Runtimes view row passed as a command argument (undefined for anything else). */
export function runtimeOfNode(arg: unknown): RuntimeInfo | undefined {
  const node = arg as { kind?: string; runtime?: { runtime?: RuntimeInfo } } | undefined;
  return node?.kind === 'runtime' && typeof node.runtime?.runtime?.id === 'string' ? node.runtime.runtime : undefined;
}

export function disconnectRuntime(ctx: RuntimeCommandContext): Command {
  return async (arg?: unknown) => {
    const runtimes = (await ctx.session.list()).filter((r) => r.state === 'connected');
    let chosen: RuntimeInfo | undefined;
    const fromView = runtimeOfNode(arg);
    if (fromView) {
      chosen = fromView;
    } else if (runtimes.length === 0) {
      await ctx.vscode.window.showInformationMessage('Colab: no runtime is connected.');
      return;
    } else if (runtimes.length === 1) {
      chosen = runtimes[0];
    } else {
      const pick = await ctx.vscode.window.showQuickPick(
        runtimes.map((runtime) => ({
          label: runtimeLabel(runtime),
          description: runtime.id === ctx.session.current?.id ? 'active' : undefined,
          detail: runtime.kind === 'local' ? runtime.url : runtime.serverVersion ? `Jupyter Server ${runtime.serverVersion}` : undefined,
          runtime,
        })),
        { title: 'Disconnect Runtime', placeHolder: 'The runtime to disconnect' },
      );
      chosen = pick?.runtime;
    }
    if (!chosen) {
      return;
    }
    await ctx.session.disconnect(chosen.id);
    await ctx.vscode.window.showInformationMessage(`Colab: disconnected ${runtimeLabel(chosen)}.`);
  };
}

function activeNotebook(ctx: RuntimeCommandContext): vscode.NotebookDocument | undefined {
  return ctx.vscode.window.activeNotebookEditor?.notebook;
}

export function restartRuntime(ctx: RuntimeCommandContext): Command {
  return async () => {
    const notebook = activeNotebook(ctx);
    if (!notebook || !(await ctx.kernels.restart(notebook))) {
      await ctx.vscode.window.showInformationMessage('Colab: this notebook has no running kernel to restart.');
      return;
    }
    await ctx.vscode.window.showInformationMessage('Colab: the kernel restarted.');
  };
}

export function interruptExecution(ctx: RuntimeCommandContext): Command {
  return async () => {
    const notebook = activeNotebook(ctx);
    if (!notebook || !(await ctx.kernels.interrupt(notebook))) {
      await ctx.vscode.window.showInformationMessage('Colab: this notebook has no running kernel to interrupt.');
    }
  };
}

export function restartAndRunAll(ctx: RuntimeCommandContext): Command {
  return async () => {
    const notebook = activeNotebook(ctx);
    if (!notebook) {
      await ctx.vscode.window.showInformationMessage('Colab: open a notebook first.');
      return;
    }
    await ctx.kernels.restart(notebook); // no kernel yet: running all starts one
    await ctx.vscode.commands.executeCommand('notebook.execute');
  };
}

/** Shows a command's failure instead of letting it vanish into the extension host log. */
function reported(ctx: RuntimeCommandContext, name: string, command: Command): Command {
  return async (...args: unknown[]) => {
    try {
      await command(...args);
    } catch (error) {
      ctx.log.error(`${name} failed: ${messageOf(error)}`);
      await ctx.vscode.window.showErrorMessage(`Colab: ${messageOf(error)}`);
    }
  };
}

export function registerRuntimeCommands(ctx: RuntimeCommandContext): Disposable[] {
  const factories: Record<keyof typeof runtimeCommandIds, (ctx: RuntimeCommandContext) => Command> = {
    connectLocalRuntime,
    connectRemoteRuntime,
    disconnectRuntime,
    restartRuntime,
    interruptExecution,
    restartAndRunAll,
  };
  return Object.entries(factories).map(([key, factory]) => {
    const id = runtimeCommandIds[key as keyof typeof runtimeCommandIds];
    return ctx.vscode.commands.registerCommand(id, reported(ctx, id, factory(ctx)));
  });
}
