// The manifest is what VS Code reads: command titles (the end-to-end suite runs
// them from the palette by title), settings, the views, keybindings, activation.
// Each area's ids come from its own module, so the manifest and the code cannot drift.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { commandIds as daemonCommandIds } from '../../colab-vscode/src/commands';
import { driveCommandIds } from '../../colab-vscode/src/drive/driveCommands';
import { driveAuthCommandIds, driveAuthSettings } from '../../colab-vscode/src/drive/driveAuth';
import { driveCopyToRuntimeCommand } from '../../colab-vscode/src/drive/driveCopyToRuntime';
import { driveDownloadLinkId } from '../../colab-vscode/src/drive/driveLinkCommand';
import { driveScheme, driveViewId } from '../../colab-vscode/src/drive/driveTree';
import { gitHubCommandIds, gitHubSettings } from '../../colab-vscode/src/github/commands';
import { gpuCommandIds, gpuRequiredSetting } from '../../colab-vscode/src/gpu/gpuCommands';
import { gpuPollIntervalSetting } from '../../colab-vscode/src/gpu/gpuStatusBar';
import { runtimeCommandIds } from '../../colab-vscode/src/runtime/commands';
import { idleTimeoutSetting } from '../../colab-vscode/src/runtime/idle';
import { runtimesViewCommandIds, runtimesViewId } from '../../colab-vscode/src/runtime/runtimesView';
import { logLevels, settingNames } from '../../colab-vscode/src/settings';
import { statusViewId } from '../../colab-vscode/src/status/statusView';
import { terminalCommandIds } from '../../colab-vscode/src/terminal/commands';
import { editorCommandIds } from '../../colab-vscode/src/terminal/editorCommands';
import { setupCommandIds, setupCommandsSetting } from '../../colab-vscode/src/terminal/setup';
import { trainingCommandIds, trainTaskType } from '../../colab-vscode/src/training/training';
import { controllerId } from '../../colab-vscode/src/notebook/controller';

/** Every command the extension registers, area by area. */
const commandIds = {
  ...daemonCommandIds,
  ...runtimeCommandIds,
  ...runtimesViewCommandIds,
  ...terminalCommandIds,
  ...editorCommandIds,
  ...setupCommandIds,
  ...gpuCommandIds,
  ...trainingCommandIds,
  ...driveCommandIds,
  ...gitHubCommandIds,
  ...driveAuthCommandIds,
  driveDownloadLinkId,
  driveCopyToRuntimeCommand,
};

const settings = [
  ...Object.values(settingNames),
  gpuPollIntervalSetting,
  gpuRequiredSetting,
  idleTimeoutSetting,
  setupCommandsSetting,
  ...Object.values(gitHubSettings),
  ...Object.values(driveAuthSettings),
];

const extensionRoot = path.join(__dirname, '..', '..', '..', 'colab-vscode');
const manifest = JSON.parse(fs.readFileSync(path.join(extensionRoot, 'package.json'), 'utf8'));
type Command = { command: string; title: string; category: string; icon?: string };
const commands: Command[] = manifest.contributes.commands;

test('the manifest declares exactly the commands the extension registers, each under Colab with its own title', () => {
  assert.deepEqual(commands.map((c) => c.command).sort(), Object.values(commandIds).sort(), 'the manifest and the registered commands agree');
  for (const c of commands) {
    assert.equal(c.category, 'Colab', c.command);
    assert.ok(c.title.trim().length > 0, c.command);
  }
  const titles = commands.map((c) => `${c.category}: ${c.title}`);
  assert.equal(new Set(titles).size, titles.length, `palette titles are unique: ${titles.join(', ')}`);
  // The end-to-end suite runs these from the palette by title.
  for (const title of ['Colab: Show Status', 'Colab: Connect to Local Runtime', 'Colab: Check GPU', 'Colab: Open Notebook from GitHub']) {
    assert.ok(titles.includes(title), title);
  }
});

test('every command shown in a view title, a view row or the notebook toolbar has an icon', () => {
  const menus = manifest.contributes.menus as Record<string, { command: string; group?: string }[]>;
  const byId = new Map(commands.map((c) => [c.command, c]));
  for (const where of ['view/title', 'view/item/context', 'notebook/toolbar']) {
    for (const item of menus[where] ?? []) {
      const inline = where !== 'view/item/context' || (item.group ?? '').startsWith('inline');
      if (inline && byId.has(item.command)) {
        assert.ok(byId.get(item.command)?.icon, `${where}: ${item.command} has an icon`);
      }
    }
  }
  for (const list of Object.values(menus)) {
    for (const item of list) {
      assert.ok(byId.has(item.command) || item.command.startsWith('notebook.'), `menu entry for an undeclared command ${item.command}`);
    }
  }
});

test('the extension activates on Jupyter notebooks, its views, its task type, its URIs and each of its commands', () => {
  const events = new Set<string>(manifest.activationEvents);
  const expected = [
    'onNotebook:jupyter-notebook',
    `onView:${statusViewId}`,
    `onView:${runtimesViewId}`,
    `onView:${driveViewId}`,
    `onFileSystem:${driveScheme}`,
    `onTaskType:${trainTaskType}`,
    'onUri',
    ...Object.values(commandIds).map((id) => `onCommand:${id}`),
  ];
  for (const e of expected) {
    assert.ok(events.has(e), `activation event ${e}`);
  }
  for (const e of events) {
    if (e.startsWith('onCommand:')) {
      assert.ok(Object.values(commandIds).includes(e.slice('onCommand:'.length) as never), `${e} names a declared command`);
    }
  }
  assert.equal(events.size, manifest.activationEvents.length, 'no duplicate activation events');
  assert.equal(manifest.main, './dist/extension.js');
  assert.deepEqual(manifest.extensionKind, ['workspace']);
});

test("a 'Colab' activity-bar container holds the Status, Runtimes and Drive views, with an icon that exists", () => {
  const container = manifest.contributes.viewsContainers.activitybar.find((c: { id: string }) => c.id === 'colab');
  assert.equal(container.title, 'Colab');
  assert.ok(fs.existsSync(path.join(extensionRoot, container.icon)), container.icon);
  const views = manifest.contributes.views.colab.map((v: { id: string; name: string }) => [v.id, v.name]);
  assert.deepEqual(views[0], [statusViewId, 'Status']);
  assert.deepEqual(views.map((v: string[]) => v[0]).sort(), [statusViewId, runtimesViewId, driveViewId].sort());
});

test('the settings: daemon path and Python (machine scope, empty by default), log level, GPU polling and requirement, idle timeout, setup commands, GitHub', () => {
  const config = manifest.contributes.configuration;
  assert.equal(config.title, 'Colab');
  const props = config.properties;
  assert.deepEqual(Object.keys(props).sort(), [...settings].sort());
  for (const [name, prop] of Object.entries(props) as [string, { description?: string; markdownDescription?: string }][]) {
    assert.ok((prop.description ?? prop.markdownDescription ?? '').length > 10, `${name} is described`);
  }
  assert.deepEqual(props[gpuRequiredSetting].default, []);
  assert.equal(props[gpuPollIntervalSetting].default, 2000);
  assert.equal(props[idleTimeoutSetting].default, 60);
  assert.equal(props[idleTimeoutSetting].minimum, 0);
  for (const name of [settingNames.daemonPath, settingNames.python]) {
    assert.equal(props[name].type, 'string');
    assert.equal(props[name].default, '');
    assert.equal(props[name].scope, 'machine', `${name} is machine-scoped`);
  }
  assert.match(props[settingNames.python].description, /empty = \/usr\/bin\/python3 then PATH/);
  assert.deepEqual(props[settingNames.logLevel].enum, [...logLevels]);
  assert.equal(props[settingNames.logLevel].default, 'Information');
  // Drive sign-in: least privilege by default. The OAuth client is the user's, not the machine's:
  // user settings reach the remote host of a Remote-SSH window (machine-scoped ones would not).
  assert.deepEqual(props[driveAuthSettings.access].enum, ['read', 'readWrite', 'full']);
  assert.equal(props[driveAuthSettings.access].default, 'readWrite');
  for (const name of [driveAuthSettings.clientId, driveAuthSettings.clientSecret, driveAuthSettings.tokenUrl, driveAuthSettings.apiUrl]) {
    assert.equal(props[name].default, '');
    assert.notEqual(props[name].scope, 'machine', `${name} is a user setting`);
  }
});

/** Colab's shortcuts apply only in a notebook whose kernel is Colab's controller (`<publisher>.<name>/<controller id>`). */
const onColabNotebook = `notebookEditorFocused && notebookKernel == '${manifest.publisher}.${manifest.name}/${controllerId}'`;

test("Colab's notebook keybindings: Ctrl+M I, Ctrl+M ., Ctrl+F8, Ctrl+F9, Ctrl+F10, only on a notebook run by Colab", () => {
  const bindings = manifest.contributes.keybindings.map((k: { command: string; key: string; when: string }) => [k.key, k.command, k.when]);
  assert.deepEqual(
    bindings.sort(),
    [
      ['ctrl+m i', runtimeCommandIds.interruptExecution, onColabNotebook],
      ['ctrl+m .', runtimeCommandIds.restartRuntime, onColabNotebook],
      ['ctrl+f8', 'notebook.cell.executeCellsAbove', onColabNotebook],
      ['ctrl+f9', 'notebook.execute', onColabNotebook],
      ['ctrl+f10', 'notebook.cell.executeCellAndBelow', onColabNotebook],
    ].sort(),
  );
});
