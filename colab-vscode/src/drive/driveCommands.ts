// Drive commands: pick a mounted folder (remembered), refresh, load more, download and
// upload with progress. Each sends one request and shows the answer.

import type * as vscode from 'vscode';
import { methods, type DriveStatusResult, type DriveTransfer } from '../protocol';
import type { DriveNode, DriveRequester, DriveTree } from './driveTree';

export const driveFolderKey = 'colab.drive.folder';

export const driveCommandIds = {
  useFolder: 'colab.driveUseFolder',
  refresh: 'colab.driveRefresh',
  loadMore: 'colab.driveLoadMore',
  download: 'colab.driveDownload',
  upload: 'colab.driveUpload',
  flush: 'colab.driveFlush',
} as const;

export interface DriveCommandDeps {
  vscode: typeof vscode;
  daemon: DriveRequester;
  tree: DriveTree;
  state: vscode.Memento;
}

/** Tells a (re)started daemon which folder this user picked last. */
export async function restoreDriveFolder(daemon: DriveRequester, state: vscode.Memento): Promise<void> {
  const path = state.get<string>(driveFolderKey);
  if (!path) return;
  const status = await daemon.request<DriveStatusResult>(methods.driveStatus.name, {});
  if (!status.kind) await daemon.request(methods.driveUse.name, { kind: 'folder', path });
}

/** An absolute path (POSIX `/…`, Windows `C:\…` or `\\server\…`) without control characters. */
export function isAbsoluteFolderPath(p: string): boolean {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f]/.test(p)) return false;
  return p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\');
}

export function registerDriveCommands({ vscode: v, daemon, tree, state }: DriveCommandDeps): vscode.Disposable[] {
  const fail = (e: unknown) => void v.window.showErrorMessage(`Drive: ${e instanceof Error ? e.message : String(e)}`);
  const withProgress = <T>(title: string, work: () => Promise<T>) =>
    v.window.withProgress({ location: v.ProgressLocation.Notification, title, cancellable: false }, work);
  return [
    v.commands.registerCommand('colab.driveUseFolder', async (folderPath?: unknown) => {
      // A folder path may be passed (a keybinding's "args", another extension, the e2e
      // suite); anything that is not a string (a menu's context) means "ask".
      let folder = typeof folderPath === 'string' && folderPath.length > 0 ? folderPath : undefined;
      if (folder !== undefined && !isAbsoluteFolderPath(folder)) {
        fail(new Error(`Use a Drive Folder needs an absolute folder path, not ${JSON.stringify(folder.slice(0, 200))}.`));
        return;
      }
      if (folder === undefined) {
        const picked = await v.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Use as Drive', title: 'A mounted Google Drive folder (Drive for desktop, rclone mount) or any folder' });
        if (!picked?.[0]) return;
        folder = picked[0].fsPath;
      }
      try {
        await daemon.request(methods.driveUse.name, { kind: 'folder', path: folder });
        await state.update(driveFolderKey, folder);
        tree.refresh();
      } catch (e) {
        fail(e);
      }
    }),
    v.commands.registerCommand('colab.driveRefresh', () => tree.refresh()),
    v.commands.registerCommand('colab.driveLoadMore', (node: DriveNode) => tree.loadMore(node).catch(fail)),
    v.commands.registerCommand('colab.driveDownload', async (node?: DriveNode) => {
      if (node?.kind !== 'item') return;
      const to = await v.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Download here' });
      if (!to?.[0]) return;
      try {
        const t = await withProgress(`Downloading ${node.item.name}`, () => daemon.request<DriveTransfer>(methods.driveGet.name, { id: node.item.id, folder: to[0].fsPath }));
        void v.window.showInformationMessage(`Downloaded ${node.item.name} to ${t.localPath}${t.verified ? ` (${t.verifiedWith ?? 'md5'} verified)` : ''}.`);
      } catch (e) {
        fail(e);
      }
    }),
    v.commands.registerCommand('colab.driveUpload', async (node?: DriveNode) => {
      const parentId = node?.kind === 'item' && node.item.isFolder ? node.item.id : undefined;
      const status = await daemon.request<DriveStatusResult>(methods.driveStatus.name, {});
      const files = await v.window.showOpenDialog({ canSelectMany: false, openLabel: 'Upload to Drive' });
      if (!files?.[0]) return;
      try {
        const t = await withProgress('Uploading to Drive', () => daemon.request<DriveTransfer>(methods.drivePut.name, { localPath: files[0].fsPath, parentId: parentId ?? (status.kind === 'api' ? 'root' : '') }));
        void v.window.showInformationMessage(`Uploaded ${t.bytes} bytes${t.verified ? `, ${t.verifiedWith ?? 'md5'} verified` : ''}.`);
        tree.refresh();
      } catch (e) {
        fail(e);
      }
    }),
    v.commands.registerCommand('colab.driveFlush', async () => {
      try {
        const r = await withProgress('Flushing uploads to Drive', () => daemon.request<{ uploads: { name: string; verified: boolean; error?: string }[] }>(methods.driveFlush.name, {}));
        const bad = r.uploads.filter((u) => !u.verified);
        if (bad.length) void v.window.showErrorMessage(`Not on Drive: ${bad.map((u) => `${u.name} (${u.error ?? 'not verified'})`).join(', ')}`);
        else void v.window.showInformationMessage(r.uploads.length ? `All ${r.uploads.length} uploads are on Drive and verified.` : 'No uploads were pending.');
      } catch (e) {
        fail(e);
      }
    }),
  ];
}
