// colab.driveUseFolder with and without a folder argument, against the real built daemon
// (vscode-jsonrpc over stdio) and a real folder as the mounted Drive.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type * as vscode from 'vscode';
import { driveFolderKey, isAbsoluteFolderPath, registerDriveCommands } from '../../colab-vscode/src/drive/driveCommands';
import { DriveTree, type DriveRequester } from '../../colab-vscode/src/drive/driveTree';
import type { DriveStatusResult } from '../../colab-vscode/src/protocol';
import { type Daemon, startInitialized } from '../interop/peer';
import { createVscodeStub } from './vscodeStub';

let daemon: Daemon;
let dir: string;
let requester: DriveRequester;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'colab-drive-use-'));
  fs.writeFileSync(path.join(dir, 'analysis.ipynb'), '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}');
  daemon = await startInitialized();
  requester = { request: <R>(method: string, params?: unknown) => daemon.connection.sendRequest(method, params) as Promise<R> };
});

after(async () => {
  await daemon.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The command as registered, with what it showed, the folder dialogs it opened and the memento. */
function setup(dialogAnswer?: string) {
  const vs = createVscodeStub();
  const dialogs: unknown[] = [];
  const memento = new Map<string, unknown>();
  const api = {
    ...vs.api,
    TreeItemCollapsibleState: { None: 0, Collapsed: 1, Expanded: 2 },
    ProgressLocation: { Notification: 15 },
    window: {
      ...vs.api.window,
      showOpenDialog: async (options: unknown) => {
        dialogs.push(options);
        return dialogAnswer === undefined ? undefined : [{ fsPath: dialogAnswer }];
      },
    },
  } as unknown as typeof vscode;
  const tree = new DriveTree(api, requester);
  let refreshed = 0;
  tree.onDidChangeTreeData(() => refreshed++);
  const state = { get: (k: string) => memento.get(k), update: async (k: string, v: unknown) => void memento.set(k, v), keys: () => [...memento.keys()] } as unknown as vscode.Memento;
  registerDriveCommands({ vscode: api, daemon: requester, tree, state });
  const run = (...args: unknown[]) => vs.commands.get('colab.driveUseFolder')!(...args) as Promise<void>;
  return { vs, dialogs, memento, run, tree, refreshed: () => refreshed };
}

const status = () => requester.request<DriveStatusResult>('colab/drive/status', {});

test('a folder path argument is used without a dialog, remembered, and the view lists it', async () => {
  await requester.request('colab/drive/use', { kind: 'none' });
  const s = setup();
  await s.run(dir);
  assert.equal(s.dialogs.length, 0, 'no folder dialog when a path is passed');
  assert.deepEqual(s.vs.shown, []);
  const st = await status();
  assert.equal(st.kind, 'folder');
  assert.equal(st.root, path.resolve(dir));
  assert.equal(s.memento.get(driveFolderKey), dir);
  assert.equal(s.refreshed(), 1);
  const rows = await s.tree.getChildren();
  assert.deepEqual(rows.map((n) => (n.kind === 'item' ? n.item.name : n.kind)), ['analysis.ipynb']);
});

test('without an argument (palette, view title, a menu passing its context object) the folder dialog asks', async () => {
  await requester.request('colab/drive/use', { kind: 'none' });
  const s = setup(dir);
  await s.run();
  await s.run({ kind: 'message', text: 'Pick a mounted Drive folder…' });
  await s.run('');
  assert.equal(s.dialogs.length, 3);
  assert.equal((await status()).kind, 'folder');
  assert.equal(s.memento.get(driveFolderKey), dir);

  await requester.request('colab/drive/use', { kind: 'none' });
  const cancelled = setup(undefined);
  await cancelled.run();
  assert.equal(cancelled.dialogs.length, 1);
  assert.equal((await status()).kind, undefined, 'a cancelled dialog changes nothing');
  assert.equal(cancelled.memento.get(driveFolderKey), undefined);
});

test('a relative, control-character or missing folder is refused with a message and nothing is remembered', async () => {
  await requester.request('colab/drive/use', { kind: 'none' });
  const s = setup();
  await s.run('gdrive/../etc');
  await s.run(`${dir}\n/etc`);
  await s.run(path.join(dir, 'no-such-folder'));
  assert.equal(s.dialogs.length, 0);
  assert.equal(s.vs.shown.length, 3, JSON.stringify(s.vs.shown));
  assert.match(s.vs.shown[0].message, /^Drive: Use a Drive Folder needs an absolute folder path, not "gdrive\/\.\.\/etc"\.$/);
  assert.match(s.vs.shown[1].message, /needs an absolute folder path, not ".*\\n\/etc"/);
  assert.match(s.vs.shown[2].message, /^Drive: .*no-such-folder.* does not exist/);
  assert.ok(s.vs.shown.every((m) => m.kind === 'error'));
  assert.equal((await status()).kind, undefined);
  assert.equal(s.memento.get(driveFolderKey), undefined);
  assert.equal(s.refreshed(), 0);
});

test('isAbsoluteFolderPath: POSIX, Windows drive and UNC paths; not relative ones or control characters', () => {
  assert.equal(isAbsoluteFolderPath('/home/me/gdrive'), true);
  assert.equal(isAbsoluteFolderPath('C:\\Users\\me\\Google Drive'), true);
  assert.equal(isAbsoluteFolderPath('G:/My Drive'), true);
  assert.equal(isAbsoluteFolderPath('\\\\server\\share'), true);
  assert.equal(isAbsoluteFolderPath('gdrive'), false);
  assert.equal(isAbsoluteFolderPath('./gdrive'), false);
  assert.equal(isAbsoluteFolderPath('~/gdrive'), false);
  assert.equal(isAbsoluteFolderPath('C:relative'), false);
  assert.equal(isAbsoluteFolderPath('/tmp/a\u0000b'), false);
  assert.equal(isAbsoluteFolderPath('/tmp/a\tb'), false);
});
