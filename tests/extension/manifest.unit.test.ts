// The manifest is what VS Code reads: command titles (the end-to-end suite runs
// them from the palette by title), settings, the view, activation.
import assert from 'node:assert/strict';
import { gpuPollIntervalSetting } from '../../colab-vscode/src/gpu/gpuStatusBar';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { commandIds as daemonCommandIds } from '../../colab-vscode/src/commands';
import { runtimeCommandIds } from '../../colab-vscode/src/runtime/commands';
import { driveCommandIds } from '../../colab-vscode/src/drive/driveCommands';
import { driveViewId } from '../../colab-vscode/src/drive/driveTree';

const baseCommandIds = { ...daemonCommandIds, ...runtimeCommandIds };
const commandIds = { ...baseCommandIds, ...driveCommandIds };
import { logLevels, settingNames } from '../../colab-vscode/src/settings';
import { statusViewId } from '../../colab-vscode/src/status/statusView';

const extensionRoot = path.join(__dirname, '..', '..', '..', 'colab-vscode');
const manifest = JSON.parse(fs.readFileSync(path.join(extensionRoot, 'package.json'), 'utf8'));

test('the palette offers the daemon and runtime commands, and no other command', () => {
  const palette = manifest.contributes.commands.map((c: { category: string; title: string }) => `${c.category}: ${c.title}`);
  assert.deepEqual(palette, [
    'Colab: Show Daemon Log',
    'Colab: Restart Daemon',
    'Colab: Show Status',
    'Colab: Connect to Local Runtime',
    'Colab: Connect to Remote Runtime…',
    'Colab: Disconnect Runtime',
    'Colab: Restart Runtime',
    'Colab: Interrupt Execution',
    'Colab: Restart Runtime and Run All',
    'Colab: Use a Drive Folder…',
    'Colab: Refresh Drive',
    'Colab: Drive: Load More',
    'Colab: Download from Drive…',
    'Colab: Upload to Drive…',
    'Colab: Flush to Drive',
  ]);
  assert.deepEqual(
    manifest.contributes.commands.map((c: { command: string }) => c.command).sort(),
    Object.values(commandIds).sort(),
    'the manifest and the registered commands agree',
  );
});

test('the extension activates on Jupyter notebooks, the Status view and each of its commands', () => {
  assert.deepEqual(manifest.activationEvents, [
    'onNotebook:jupyter-notebook',
    `onView:${statusViewId}`,
    ...Object.values(baseCommandIds).map((id) => `onCommand:${id}`),
    `onView:${driveViewId}`,
    'onFileSystem:colab-drive',
    ...Object.values(driveCommandIds).map((id) => `onCommand:${id}`),
  ]);
  assert.equal(manifest.main, './dist/extension.js');
  assert.deepEqual(manifest.extensionKind, ['workspace']);
});

test("a 'Colab' activity-bar container holds the 'Status' view, with an icon that exists", () => {
  const container = manifest.contributes.viewsContainers.activitybar.find((c: { id: string }) => c.id === 'colab');
  assert.equal(container.title, 'Colab');
  assert.ok(fs.existsSync(path.join(extensionRoot, container.icon)), container.icon);
  assert.deepEqual(
    manifest.contributes.views.colab.map((v: { id: string; name: string }) => [v.id, v.name]),
    [[statusViewId, 'Status'], [driveViewId, 'Google Drive']],
  );
});

test('the settings are colab.daemon.path and colab.python (machine scope, empty by default), colab.daemon.logLevel and colab.gpu.pollIntervalMs', () => {
  const config = manifest.contributes.configuration;
  assert.equal(config.title, 'Colab');
  const props = config.properties;
  assert.deepEqual(Object.keys(props).sort(), [...Object.values(settingNames), gpuPollIntervalSetting].sort());
  assert.equal(props[gpuPollIntervalSetting].default, 2000);
  for (const name of [settingNames.daemonPath, settingNames.python]) {
    assert.equal(props[name].type, 'string');
    assert.equal(props[name].default, '');
    assert.equal(props[name].scope, 'machine', `${name} is machine-scoped`);
  }
  assert.match(props[settingNames.python].description, /empty = \/usr\/bin\/python3 then PATH/);
  assert.deepEqual(props[settingNames.logLevel].enum, [...logLevels]);
  assert.equal(props[settingNames.logLevel].default, 'Information');
});

test("Colab's notebook keybindings: Ctrl+M I interrupts, Ctrl+M . restarts, Ctrl+F8 runs the cells above, Ctrl+F10 the cell and below", () => {
  const bindings = manifest.contributes.keybindings.map((k: { command: string; key: string; when: string }) => [k.key, k.command, k.when]);
  assert.deepEqual(bindings, [
    ['ctrl+m i', runtimeCommandIds.interruptExecution, 'notebookEditorFocused'],
    ['ctrl+m .', runtimeCommandIds.restartRuntime, 'notebookEditorFocused'],
    ['ctrl+f8', 'notebook.cell.executeCellsAbove', 'notebookEditorFocused'],
    ['ctrl+f10', 'notebook.cell.executeCellAndBelow', 'notebookEditorFocused'],
  ]);
});
