// Wiring only: the output channel, the daemon client, the status bar, the Status
// view, the notebook controller, the runtime session and the commands. Everything else is in the modules it connects.

import * as vscode from 'vscode';
import { commandIds, registerCommands } from './commands';
import { DaemonClient } from './daemon/client';
import { languageClientConnections } from './daemon/languageClient';
import { locateDaemon } from './daemon/locate';
import { GpuStatusBar, gpuPollIntervalSetting } from './gpu/gpuStatusBar';
import { gpuRequiredSetting, readRequired, registerGpuCommands } from './gpu/gpuCommands';
import { RestartPolicy } from './daemon/restartPolicy';
import { ColabNotebookController } from './notebook/controller';
import { registerRuntimeCommands } from './runtime/commands';
import { gitHubUriHandler, registerGitHubCommands, type GitHubCommandContext } from './github/commands';
import { RuntimeSession } from './runtime/session';
import { wireRuntimeViews } from './runtime/wiring';
import { offerRestartOnChange, readSettings } from './settings';
import { StatusBar } from './status/statusBar';
import { StatusDocument } from './status/statusDocument';
import { StatusView, statusViewId } from './status/statusView';
import { TrainingController, trainingCommandIds, trainTaskType } from './training/training';
import { registerTerminalCommands } from './terminal/commands';
import { registerEditorCommands } from './terminal/editorCommands';
import { registerSetup } from './terminal/setup';
import { registerDriveCommands, restoreDriveFolder } from './drive/driveCommands';
import { registerDriveAuth, restoreDriveAccount, type DriveAuthDeps } from './drive/driveAuth';
import { DriveFileSystem } from './drive/driveFileSystem';
import { registerDriveLinkCommand } from './drive/driveLinkCommand';
import { registerDriveCopyToRuntime } from './drive/driveCopyToRuntime';
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
  context.subscriptions.push(...wireRuntimeViews(vscode, client, runtimes, output, context));

  // -- terminal wiring (issue 3, terminals/files) --
  context.subscriptions.push(
    ...registerTerminalCommands({ vscode, daemon: client, ensureRuntime: () => runtimes.ensure() }),
    ...registerEditorCommands({ vscode, session: runtimes }),
    ...registerSetup({ vscode, daemon: client, session: runtimes, log: output }),
  );
  // -- gpu wiring (issue 4) --
  context.subscriptions.push(
    ...registerGpuCommands({ vscode, daemon: client, required: () => readRequired(vscode.workspace.getConfiguration().get(gpuRequiredSetting)) }),
  );

  // -- training wiring (issue 5) --
  const training = new TrainingController(vscode, client, 500, context.secrets);
  context.subscriptions.push(
    training,
    vscode.tasks.registerTaskProvider(trainTaskType, training.taskProvider()),
    vscode.commands.registerCommand(trainingCommandIds.startTraining, () => training.startTraining()),
    vscode.commands.registerCommand(trainingCommandIds.tryTrainingExample, () => training.tryExample()),
    vscode.commands.registerCommand(trainingCommandIds.setTrainingWebhook, () => training.setWebhook()),
    vscode.commands.registerCommand(trainingCommandIds.showTrainingMetrics, (jobId?: string) => training.showMetrics(typeof jobId === 'string' ? jobId : undefined)),
  );

  // -- drive wiring (issue 6) --
  const driveTree = new DriveTree(vscode, client);
  const driveAuth: DriveAuthDeps = { vscode, daemon: client, secrets: context.secrets, refresh: () => driveTree.refresh(), restoreFolder: () => restoreDriveFolder(client, context.globalState) };
  context.subscriptions.push(...registerDriveAuth(driveAuth));
  context.subscriptions.push(
    vscode.window.registerTreeDataProvider(driveViewId, driveTree),
    vscode.workspace.registerFileSystemProvider(driveScheme, new DriveFileSystem(vscode, client), { isCaseSensitive: true }),
    ...registerDriveCommands({ vscode, daemon: client, tree: driveTree, state: context.globalState }),
    ...registerDriveCopyToRuntime({ vscode, daemon: client, active: () => runtimes.current }),
    client.onDidChange((s) => {
      // A signed-in account comes first; without one, the mounted folder picked last.
      if (s.phase === 'running') void restoreDriveAccount(driveAuth).catch(() => false).then((signedIn) => (signedIn ? undefined : restoreDriveFolder(client, context.globalState))).then(() => driveTree.refresh(), () => undefined);
    }),
  );
  context.subscriptions.push(registerDriveLinkCommand({ vscode, daemon: client }));

  // -- github wiring (issue 7) --
  const gitHub: GitHubCommandContext = { vscode, daemon: client, secrets: context.secrets, state: context.globalState, extensionId: context.extension.id, log: output };
  context.subscriptions.push(...registerGitHubCommands(gitHub), vscode.window.registerUriHandler(gitHubUriHandler(gitHub)));

  void client.start();
}

export async function deactivate(): Promise<void> {
  await daemon?.stop();
  daemon = undefined;
}
