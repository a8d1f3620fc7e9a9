// Wiring only: the output channel, the daemon client, the status bar, the Status
// view and the commands. Everything else is in the modules it connects.

import * as vscode from 'vscode';
import { commandIds, registerCommands } from './commands';
import { DaemonClient } from './daemon/client';
import { languageClientConnections } from './daemon/languageClient';
import { locateDaemon } from './daemon/locate';
import { GpuStatusBar, gpuPollIntervalSetting } from './gpu/gpuStatusBar';
import { RestartPolicy } from './daemon/restartPolicy';
import { offerRestartOnChange, readSettings } from './settings';
import { StatusBar } from './status/statusBar';
import { StatusDocument } from './status/statusDocument';
import { StatusView, statusViewId } from './status/statusView';

let daemon: DaemonClient | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel('Colab Daemon', { log: true });
  const showLog = () => output.show(true);
  daemon = new DaemonClient(vscode, {
    locate: () =>
      locateDaemon({
        settingPath: readSettings(vscode).daemonPath,
        environmentPath: process.env.COLAB_DAEMON_PATH,
        extensionPath: context.extensionPath,
      }),
    settings: () => readSettings(vscode),
    connect: languageClientConnections(output),
    policy: new RestartPolicy(),
    log: output,
    showLog,
  });
  const client = daemon;
  const details = new StatusDocument(vscode);
  const statusView = new StatusView(vscode, client);
  context.subscriptions.push(
    output,
    client,
    details,
    statusView,
    new StatusBar(vscode, client, commandIds.showStatus),
    new GpuStatusBar(
      vscode,
      client,
      { get focused() { return vscode.window.state.focused; }, onDidChange: (l) => vscode.window.onDidChangeWindowState((s) => l(s.focused)) },
      () => vscode.workspace.getConfiguration().get<number>(gpuPollIntervalSetting, 2000),
    ),
    vscode.window.registerTreeDataProvider(statusViewId, statusView),
    ...registerCommands({ vscode, daemon: client, showLog, showDetails: (status) => details.show(status) }),
    offerRestartOnChange(vscode, () => client.restart()),
  );
  void client.start();
}

export async function deactivate(): Promise<void> {
  await daemon?.stop();
  daemon = undefined;
}
