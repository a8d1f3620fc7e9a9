// The colab.* settings the extension reads. Secrets are never settings.

import type * as vscode from 'vscode';

export const settingNames = {
  daemonPath: 'colab.daemon.path',
  python: 'colab.python',
  logLevel: 'colab.daemon.logLevel',
} as const;

export const logLevels = ['Trace', 'Debug', 'Information', 'Warning', 'Error'] as const;

export interface Settings {
  readonly daemonPath: string;
  readonly python: string;
  readonly logLevel: string;
}

export function readSettings(vscodeApi: Pick<typeof vscode, 'workspace'>): Settings {
  const config = vscodeApi.workspace.getConfiguration();
  // settings.json can hold anything; read what is not a string as unset.
  const text = (name: string) => {
    const value = config.get<unknown>(name);
    return typeof value === 'string' ? value.trim() : '';
  };
  const logLevel = text(settingNames.logLevel);
  return {
    daemonPath: text(settingNames.daemonPath),
    python: text(settingNames.python),
    logLevel: (logLevels as readonly string[]).includes(logLevel) ? logLevel : 'Information',
  };
}

/** Offers a restart when a setting the daemon starts with changes. */
export function offerRestartOnChange(
  vscodeApi: Pick<typeof vscode, 'workspace' | 'window'>,
  restart: () => Promise<void>,
): vscode.Disposable {
  return vscodeApi.workspace.onDidChangeConfiguration(async (event) => {
    if (!Object.values(settingNames).some((name) => event.affectsConfiguration(name))) {
      return;
    }
    const action = 'Restart Daemon';
    const choice = await vscodeApi.window.showInformationMessage('Restart the Colab daemon to use the changed settings?', action);
    if (choice === action) {
      await restart();
    }
  });
}
