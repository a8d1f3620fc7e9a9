// The Drive view and the colab-drive: file system, with the real built daemon behind them
// (vscode-jsonrpc over stdio) and a real folder as the mounted Drive.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type * as vscode from 'vscode';
import { DriveFileSystem } from '../../colab-vscode/src/drive/driveFileSystem';
import { DriveTree, driveUri, humanAge, humanSize, type DriveNode, type DriveRequester } from '../../colab-vscode/src/drive/driveTree';
import { type Daemon, startInitialized } from '../interop/peer';
import { createVscodeStub, type StubTreeItem } from './vscodeStub';

let daemon: Daemon;
let dir: string;
let requester: DriveRequester;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'colab-drive-ext-'));
  fs.mkdirSync(path.join(dir, 'datasets'));
  fs.writeFileSync(path.join(dir, 'train.ipynb'), '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}');
  for (let i = 0; i < 1203; i++) fs.writeFileSync(path.join(dir, 'datasets', `part-${String(i).padStart(5, '0')}.csv`), 'a,b\n');
  daemon = await startInitialized();
  requester = { request: <R>(method: string, params?: unknown) => daemon.connection.sendRequest(method, params) as Promise<R> };
});

after(async () => {
  await daemon.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

const stub = () => {
  const vs = createVscodeStub();
  const api = { ...vs.api, TreeItemCollapsibleState: { None: 0, Collapsed: 1, Expanded: 2 } } as unknown as typeof vscode;
  return api;
};

test('before a folder is picked or an account signed in, the Drive view offers both', async () => {
  const tree = new DriveTree(stub(), requester);
  const rows = await tree.getChildren();
  assert.equal(rows.length, 2);
  assert.ok(rows.every((r) => r.kind === 'message'));
  const commands = rows.map((r) => (tree.getTreeItem(r) as unknown as StubTreeItem & { command: { command: string } }).command.command);
  assert.deepEqual(commands, ['colab.driveSignIn', 'colab.driveUseFolder']);
});

test('a mounted folder lists folders first, notebooks with their icon, and pages of 1,000 with "Load more"', async () => {
  await requester.request('colab/drive/use', { kind: 'folder', path: dir });
  const api = stub();
  const tree = new DriveTree(api, requester);
  const top = await tree.getChildren();
  assert.deepEqual(top.map((n) => (n.kind === 'item' ? n.item.name : n.kind)), ['datasets', 'train.ipynb']);
  const nb = tree.getTreeItem(top[1]) as unknown as { iconPath: { id: string }; description: string; command: { command: string } };
  assert.equal(nb.iconPath.id, 'notebook');
  assert.match(nb.description, /^\d+ B · /);
  assert.equal(nb.command.command, 'vscode.open');

  const first = await tree.getChildren(top[0]);
  assert.equal(first.length, 1001);
  const more = first[1000] as DriveNode;
  assert.equal(more.kind, 'more');
  await tree.loadMore(more);
  const all = await tree.getChildren(top[0]);
  assert.equal(all.length, 1203);
  assert.ok(all.every((n) => n.kind === 'item'));
});

test('a notebook opened through colab-drive: reads and saves back through the daemon', async () => {
  await requester.request('colab/drive/use', { kind: 'folder', path: dir });
  const vs = createVscodeStub();
  const errors = {
    FileNotFound: (u: unknown) => Object.assign(new Error(`not found ${String(u)}`), { code: 'FileNotFound' }),
    Unavailable: (m: string) => Object.assign(new Error(m), { code: 'Unavailable' }),
    NoPermissions: (m: string) => new Error(m),
  };
  const api = { ...vs.api, FileType: { File: 1, Directory: 2 }, FileSystemError: errors, Disposable: class { constructor(readonly f: () => void) {} } } as unknown as typeof vscode;
  const fsp = new DriveFileSystem(api, requester);
  const uri = driveUri({ Uri: { from: (p: { scheme: string; path: string; query: string }) => p } } as unknown as typeof vscode, {
    id: 'train.ipynb', name: 'train.ipynb', mimeType: 'application/x-ipynb+json', isFolder: false,
  });
  const text = Buffer.from(await fsp.readFile(uri)).toString('utf8');
  assert.match(text, /"nbformat": 4/);
  const edited = text.replace('"cells": []', '"cells": [{"cell_type": "code", "source": "1+1", "metadata": {}, "outputs": [], "execution_count": null}]');
  await fsp.writeFile(uri, Buffer.from(edited));
  assert.equal(fs.readFileSync(path.join(dir, 'train.ipynb'), 'utf8'), edited);
  const st = await fsp.stat(uri);
  assert.equal(st.size, Buffer.byteLength(edited));

  const outside = { ...uri, query: encodeURIComponent('../../etc/passwd') } as unknown as vscode.Uri;
  await assert.rejects(fsp.readFile(outside), (e: Error & { code?: string }) => e.code === 'Unavailable' && /not a path inside the folder/.test(e.message));
});

test('sizes and ages read like a file manager', () => {
  assert.equal(humanSize(undefined), '');
  assert.equal(humanSize(512), '512 B');
  assert.equal(humanSize(1536), '1.5 KB');
  assert.equal(humanSize(3 * 1024 ** 3), '3.0 GB');
  assert.equal(humanAge('2026-01-01T00:00:00Z', Date.parse('2026-01-01T00:00:30Z')), 'just now');
  assert.equal(humanAge('2026-01-01T00:00:00Z', Date.parse('2026-01-03T00:00:00Z')), '2 days ago');
});
