// Wiring only: the output channel, the daemon client, the status bar, the Status
// view, the notebook controller, the runtime session and the commands. Everything else is in the modules it connects.

import * as vscode from 'vscode';
import { commandIds, registerCommands } from './commands';
import { DaemonClient } from './daemon/client';
import { languageClientConnections } from './daemon/languageClient';
import { locateDaemon } from './daemon/locate';
import { GpuStatusBar, gpuPollIntervalSetting } from './gpu/gpuStatusBar';
import { RestartPolicy } from './daemon/restartPolicy';
import { ColabNotebookController } from './notebook/controller';
import { registerRuntimeCommands } from './runtime/commands';
import { RuntimeSession } from './runtime/session';
import { offerRestartOnChange, readSettings } from './settings';
import { StatusBar } from './status/statusBar';
import { StatusDocument } from './status/statusDocument';
import { StatusView, statusViewId } from './status/statusView';
import { registerDriveCommands, restoreDriveFolder } from './drive/driveCommands';
import { DriveFileSystem } from './drive/driveFileSystem';
import { DriveTree, driveScheme, driveViewId } from './drive/driveTree';

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
  const runtimes = new RuntimeSession(client, output);
  const notebooks = new ColabNotebookController(vscode, client, runtimes, output);
  // Colab is the preferred kernel for .ipynb files, so opening one and pressing Run needs no picking.
  const prefer = (notebook: vscode.NotebookDocument) => {
    if (notebook.notebookType === 'jupyter-notebook') {
      notebooks.controller.updateNotebookAffinity(notebook, vscode.NotebookControllerAffinity.Preferred);
    }
  };
  vscode.workspace.notebookDocuments.forEach(prefer);
  context.subscriptions.push(vscode.workspace.onDidOpenNotebookDocument(prefer));
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
    runtimes,
    notebooks,
    ...registerRuntimeCommands({ vscode, session: runtimes, kernels: notebooks, secrets: context.secrets, log: output }),
  );
  // Each area wires its views and commands below its marker (one owner per area).
  // -- runtime wiring (issue 3) --

  // -- terminal wiring (issue 3, terminals/files) --
  // -- gpu wiring (issue 4) --

  // -- training wiring (issue 5) --

  // -- drive wiring (issue 6) --
  const driveTree = new DriveTree(vscode, client);
  context.subscriptions.push(
    vscode.window.registerTreeDataProvider(driveViewId, driveTree),
    vscode.workspace.registerFileSystemProvider(driveScheme, new DriveFileSystem(vscode, client), { isCaseSensitive: true }),
    ...registerDriveCommands({ vscode, daemon: client, tree: driveTree, state: context.globalState }),
    client.onDidChange((s) => {
      if (s.phase === 'running') void restoreDriveFolder(client, context.globalState).then(() => driveTree.refresh(), () => undefined);
    }),
  );

  // -- github wiring (issue 7) --

  void client.start();
}

export async function deactivate(): Promise<void> {
  await daemon?.stop();
  daemon = undefined;
}
