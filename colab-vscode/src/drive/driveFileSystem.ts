// The colab-drive: file system: a notebook opened from the Drive view is read and saved
// back through the daemon (colab/drive/read, colab/drive/write, which verify md5). The
// Drive id travels in the URI's query; the path only carries the name.

import type * as vscode from 'vscode';
import { methods, type DriveItem, type DriveListResult, type DriveReadResult } from '../protocol';
import type { DriveRequester } from './driveTree';

export function driveIdOf(uri: vscode.Uri): string {
  return decodeURIComponent(uri.query);
}

export class DriveFileSystem implements vscode.FileSystemProvider {
  private readonly emitter: vscode.EventEmitter<vscode.FileChangeEvent[]>;
  readonly onDidChangeFile: vscode.Event<vscode.FileChangeEvent[]>;

  constructor(
    private readonly api: Pick<typeof vscode, 'EventEmitter' | 'FileType' | 'FileSystemError' | 'Disposable'>,
    private readonly daemon: DriveRequester,
  ) {
    this.emitter = new api.EventEmitter<vscode.FileChangeEvent[]>();
    this.onDidChangeFile = this.emitter.event;
  }

  watch(): vscode.Disposable {
    return new this.api.Disposable(() => undefined);
  }

  async stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    const item = await this.call<DriveItem>(uri, methods.driveItem.name, { id: driveIdOf(uri) });
    const mtime = item.modifiedTime ? Date.parse(item.modifiedTime) : 0;
    return { type: item.isFolder ? this.api.FileType.Directory : this.api.FileType.File, ctime: mtime, mtime, size: item.size ?? 0 };
  }

  async readDirectory(uri: vscode.Uri): Promise<[string, vscode.FileType][]> {
    const page = await this.call<DriveListResult>(uri, methods.driveList.name, { folderId: driveIdOf(uri) });
    return page.items.map((i) => [i.name, i.isFolder ? this.api.FileType.Directory : this.api.FileType.File]);
  }

  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    const r = await this.call<DriveReadResult>(uri, methods.driveRead.name, { id: driveIdOf(uri) });
    return Buffer.from(r.contentBase64, 'base64');
  }

  async writeFile(uri: vscode.Uri, content: Uint8Array): Promise<void> {
    await this.call(uri, methods.driveWrite.name, { id: driveIdOf(uri), contentBase64: Buffer.from(content).toString('base64') });
    this.emitter.fire([{ type: 2 /* Changed */, uri }]);
  }

  createDirectory(): void {
    throw this.api.FileSystemError.NoPermissions('Create folders on Drive itself for now.');
  }

  delete(): void {
    throw this.api.FileSystemError.NoPermissions('Deleting from the Colab Drive view is not supported.');
  }

  rename(): void {
    throw this.api.FileSystemError.NoPermissions('Renaming from the Colab Drive view is not supported.');
  }

  private async call<R>(uri: vscode.Uri, method: string, params: unknown): Promise<R> {
    try {
      return await this.daemon.request<R>(method, params);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if ((e as { code?: number }).code === -32060) throw this.api.FileSystemError.FileNotFound(uri);
      throw this.api.FileSystemError.Unavailable(message);
    }
  }
}
