// The runtime area's views and commands beyond the first ones (the Runtimes view, its
// context actions, idle-shutdown countdowns), wired from extension.ts in one call.

import type * as vscode from 'vscode';
import type { Disposable } from '../events';
import { IdleNotifier, defaultIdleTimeoutMinutes, idleTimeoutSetting } from './idle';
import { RuntimeMemory } from './memory';
import { RuntimesView, registerRuntimesViewCommands, runtimesViewId } from './runtimesView';
import type { RuntimeDaemon, RuntimeLog, RuntimeSession } from './session';

export function wireRuntimeViews(
  vscodeApi: typeof vscode,
  daemon: RuntimeDaemon,
  session: RuntimeSession,
  log: RuntimeLog,
  context: Pick<vscode.ExtensionContext, 'workspaceState' | 'secrets'>,
): Disposable[] {
  const memory = new RuntimeMemory({ daemon, session, state: context.workspaceState, secrets: context.secrets, window: vscodeApi.window, log });
  const view = new RuntimesView(vscodeApi, daemon, log);
  const tree = vscodeApi.window.createTreeView(runtimesViewId, { treeDataProvider: view, showCollapseAll: false });
  view.setVisible(tree.visible);
  const idle = new IdleNotifier({
    vscode: vscodeApi,
    daemon,
    log,
    timeoutMinutes: () => vscodeApi.workspace.getConfiguration().get<number>(idleTimeoutSetting, defaultIdleTimeoutMinutes),
    runtimes: () => session.list(),
  });
  return [
    memory,
    view,
    tree,
    tree.onDidChangeVisibility((e) => view.setVisible(e.visible)),
    idle,
    vscodeApi.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(idleTimeoutSetting)) {
        void idle.sendTimeout();
      }
    }),
    ...registerRuntimesViewCommands({ vscode: vscodeApi, daemon, view, log }),
  ];
}
