// "Download from Drive Link…": a share link or file id, downloaded without signing in (the
// gdown use case). The daemon parses the link, follows Drive's large-file confirmation and
// refuses anything that is not Drive; this command only asks and shows the answer.

import type * as vscode from 'vscode';
import { methods, type DriveLinkInfo, type DriveTransfer } from '../protocol';
import { isAbsoluteFolderPath } from './driveCommands';

export const driveDownloadLinkId = 'colab.driveDownloadLink';

/** What the command needs from the daemon client: one request, cancellable. */
export interface DriveLinkRequester {
  request<R>(method: string, params?: unknown, token?: vscode.CancellationToken): Promise<R>;
}

export interface DriveLinkDeps {
  vscode: typeof vscode;
  daemon: DriveLinkRequester;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e)).replace(/^Invalid params: /, '');

/**
 * Registers the command. Optional arguments (a keybinding's args, the e2e suite): the link
 * and an absolute folder to save into; without them the user is asked.
 */
export function registerDriveLinkCommand({ vscode: v, daemon }: DriveLinkDeps): vscode.Disposable {
  return v.commands.registerCommand(driveDownloadLinkId, async (linkArg?: unknown, folderArg?: unknown) => {
    const link = typeof linkArg === 'string' && linkArg.trim() ? linkArg : await v.window.showInputBox({
      title: 'Download from Drive Link',
      prompt: 'A Google Drive share link or file id, shared with "Anyone with the link" (no sign-in needed)',
      placeHolder: 'https://drive.google.com/file/d/…/view?usp=sharing',
      ignoreFocusOut: true,
      validateInput: async (value) => {
        if (!value.trim()) return undefined;
        try {
          const info = await daemon.request<DriveLinkInfo>(methods.driveParseLink.name, { link: value });
          return info.kind === 'folder' ? 'That is a folder: folders need sign-in. Paste a file link.' : undefined;
        } catch (e) {
          return message(e);
        }
      },
    });
    if (!link?.trim()) return;
    let info: DriveLinkInfo;
    try {
      info = await daemon.request<DriveLinkInfo>(methods.driveParseLink.name, { link });
    } catch (e) {
      void v.window.showErrorMessage(`Drive: ${message(e)}`);
      return;
    }
    if (info.kind === 'folder') {
      void v.window.showErrorMessage('Drive: that link is a folder, and folders need sign-in (Drive lists a folder only to a signed-in client). Sign in to Google Drive, or download the files one by one.');
      return;
    }
    let format: string | undefined;
    if (info.formats?.length) {
      format = await v.window.showQuickPick(info.formats, { title: `Export the Google ${info.kind} as`, placeHolder: info.formats[0] });
      if (!format) return;
    }
    let folder: string;
    if (typeof folderArg === 'string' && folderArg) {
      if (!isAbsoluteFolderPath(folderArg)) {
        void v.window.showErrorMessage(`Drive: save into an absolute folder path, not ${JSON.stringify(folderArg.slice(0, 200))}.`);
        return;
      }
      folder = folderArg;
    } else {
      const picked = await v.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Download here' });
      if (!picked?.[0]) return;
      folder = picked[0].fsPath;
    }
    try {
      const t = await v.window.withProgress({ location: v.ProgressLocation.Notification, title: 'Downloading from a Drive link', cancellable: true },
        (_progress, token) => daemon.request<DriveTransfer>(methods.driveGetLink.name, { link, folder, format }, token));
      void v.window.showInformationMessage(`Downloaded ${t.bytes} bytes to ${t.localPath} (size checked; Drive gives no md5 without sign-in).`);
    } catch (e) {
      void v.window.showErrorMessage(`Drive: ${message(e)}`);
    }
  });
}
