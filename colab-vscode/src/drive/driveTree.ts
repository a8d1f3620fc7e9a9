// The "Google Drive" view (colab.drive): the chosen Drive's folders, lazily, one page
// (1,000 items) at a time with a "Load more" row; icons, size and modified time. All
// listing happens in the daemon (colab/drive/list); this only shapes rows.

import type * as vscode from 'vscode';
import { driveRootIds, methods, type DriveItem, type DriveListResult, type DriveStatusResult } from '../protocol';

export const driveViewId = 'colab.drive';
export const driveScheme = 'colab-drive';

export interface DriveRequester {
  request<R>(method: string, params?: unknown): Promise<R>;
}

export type DriveNode =
  | { kind: 'item'; item: DriveItem }
  | { kind: 'root'; id: string; label: string; icon: string }
  | { kind: 'more'; folderId: string; pageToken: string; driveId?: string }
  | { kind: 'message'; text: string; command?: string };

export function humanSize(bytes: number | undefined): string {
  if (bytes === undefined) return '';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function humanAge(modified: string | undefined, now = Date.now()): string {
  if (!modified) return '';
  const s = Math.max(0, (now - Date.parse(modified)) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  if (s < 86400 * 30) return `${Math.floor(s / 86400)} days ago`;
  return new Date(modified).toISOString().slice(0, 10);
}

export function driveUri(api: Pick<typeof vscode, 'Uri'>, item: DriveItem): vscode.Uri {
  // The id is the path for a mounted folder and an opaque id for the API; the name keeps the extension (.ipynb) visible.
  return api.Uri.from({ scheme: driveScheme, path: `/${item.name}`, query: encodeURIComponent(item.id) });
}

/** The roots of a signed-in Drive (a mounted folder shows its content directly). */
export const driveRoots: readonly DriveNode[] = [
  { kind: 'root', id: driveRootIds.myDrive, label: 'My Drive', icon: 'home' },
  { kind: 'root', id: driveRootIds.sharedDrives, label: 'Shared drives', icon: 'organization' },
  { kind: 'root', id: driveRootIds.sharedWithMe, label: 'Shared with me', icon: 'account' },
];

export class DriveTree implements vscode.TreeDataProvider<DriveNode> {
  private readonly changed: vscode.EventEmitter<DriveNode | undefined>;
  /** Pages already loaded per folder, so "Load more" appends instead of reloading. */
  private readonly loaded = new Map<string, { items: DriveItem[]; next?: string }>();
  readonly onDidChangeTreeData: vscode.Event<DriveNode | undefined>;

  constructor(
    private readonly api: Pick<typeof vscode, 'EventEmitter' | 'TreeItem' | 'TreeItemCollapsibleState' | 'ThemeIcon' | 'Uri'>,
    private readonly daemon: DriveRequester,
  ) {
    this.changed = new api.EventEmitter<DriveNode | undefined>();
    this.onDidChangeTreeData = this.changed.event;
  }

  refresh(): void {
    this.loaded.clear();
    this.changed.fire(undefined);
  }

  async getChildren(node?: DriveNode): Promise<DriveNode[]> {
    let folderId: string;
    let driveId: string | undefined;
    if (!node) {
      const status = await this.daemon.request<DriveStatusResult>(methods.driveStatus.name, {});
      if (!status.kind) {
        return [
          { kind: 'message', text: 'Sign in to Google Drive…', command: 'colab.driveSignIn' },
          { kind: 'message', text: 'Pick a mounted Drive folder…', command: 'colab.driveUseFolder' },
        ];
      }
      if (status.kind === 'api') return [...driveRoots];
      folderId = '';
    } else if (node.kind === 'root') {
      folderId = node.id;
    } else if (node.kind === 'item' && node.item.isFolder) {
      folderId = node.item.id;
      driveId = node.item.driveId;
    } else {
      return [];
    }
    let entry = this.loaded.get(folderId);
    if (!entry) {
      const page = await this.daemon.request<DriveListResult>(methods.driveList.name, { folderId, driveId, pageSize: 1000 });
      entry = { items: [...page.items], next: page.nextPageToken };
      this.loaded.set(folderId, entry);
    }
    const rows: DriveNode[] = entry.items.map((item) => ({ kind: 'item', item }));
    if (entry.next) rows.push({ kind: 'more', folderId, pageToken: entry.next, driveId });
    return rows;
  }

  /** The "Load more" row: fetches the next page of that folder and redraws. */
  async loadMore(node: DriveNode): Promise<void> {
    if (node.kind !== 'more') return;
    const entry = this.loaded.get(node.folderId);
    if (!entry) return;
    const page = await this.daemon.request<DriveListResult>(methods.driveList.name, { folderId: node.folderId, driveId: node.driveId, pageToken: node.pageToken, pageSize: 1000 });
    entry.items.push(...page.items);
    entry.next = page.nextPageToken;
    this.changed.fire(undefined);
  }

  getTreeItem(node: DriveNode): vscode.TreeItem {
    const a = this.api;
    if (node.kind === 'message') {
      const t = new a.TreeItem(node.text, a.TreeItemCollapsibleState.None);
      t.iconPath = new a.ThemeIcon('folder-opened');
      if (node.command) t.command = { command: node.command, title: node.text };
      return t;
    }
    if (node.kind === 'root') {
      const t = new a.TreeItem(node.label, a.TreeItemCollapsibleState.Collapsed);
      t.id = `drive-root:${node.id}`;
      t.iconPath = new a.ThemeIcon(node.icon);
      t.contextValue = node.id === driveRootIds.myDrive ? 'colabDriveFolder' : 'colabDriveRoot';
      return t;
    }
    if (node.kind === 'more') {
      const t = new a.TreeItem('Load more…', a.TreeItemCollapsibleState.None);
      t.iconPath = new a.ThemeIcon('ellipsis');
      t.command = { command: 'colab.driveLoadMore', title: 'Load more', arguments: [node] };
      return t;
    }
    const { item } = node;
    const t = new a.TreeItem(item.name, item.isFolder ? a.TreeItemCollapsibleState.Collapsed : a.TreeItemCollapsibleState.None);
    t.id = `drive:${item.id}`;
    const notebook = item.name.toLowerCase().endsWith('.ipynb');
    t.iconPath = new a.ThemeIcon(item.isFolder ? 'folder' : notebook ? 'notebook' : 'file');
    t.description = [humanSize(item.size), humanAge(item.modifiedTime)].filter(Boolean).join(' · ');
    t.tooltip = `${item.name}\n${item.mimeType}${item.sha256Checksum ? `\nsha256 ${item.sha256Checksum}` : item.md5Checksum ? `\nmd5 ${item.md5Checksum}` : ''}`;
    t.contextValue = item.isFolder ? 'colabDriveFolder' : 'colabDriveFile';
    if (!item.isFolder) {
      t.command = { command: 'vscode.open', title: 'Open', arguments: [driveUri(a, item)] };
    }
    return t;
  }
}
