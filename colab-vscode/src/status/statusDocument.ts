// "Details" of Show Status: the daemon's full answer as a read-only JSON document
// (a virtual document, so closing it asks nothing).

import type * as vscode from 'vscode';
import type { Disposable } from '../events';
import type { ServerStatus } from '../protocol';

export const statusDocumentScheme = 'colab-status';

export class StatusDocument implements vscode.TextDocumentContentProvider, Disposable {
  private content = '{}\n';
  private readonly changed: vscode.EventEmitter<vscode.Uri>;
  private readonly registration: vscode.Disposable;
  readonly onDidChange: vscode.Event<vscode.Uri>;
  readonly uri: vscode.Uri;

  constructor(private readonly vscodeApi: Pick<typeof vscode, 'EventEmitter' | 'Uri' | 'workspace' | 'window'>) {
    this.changed = new vscodeApi.EventEmitter<vscode.Uri>();
    this.onDidChange = this.changed.event;
    this.uri = vscodeApi.Uri.from({ scheme: statusDocumentScheme, path: '/Colab Daemon Status.json' });
    this.registration = vscodeApi.workspace.registerTextDocumentContentProvider(statusDocumentScheme, this);
  }

  provideTextDocumentContent(): string {
    return this.content;
  }

  /** Shows this status (the daemon's answer, as it is). */
  async show(status: ServerStatus): Promise<void> {
    this.content = JSON.stringify(status, null, 2) + '\n';
    this.changed.fire(this.uri);
    const document = await this.vscodeApi.workspace.openTextDocument(this.uri);
    await this.vscodeApi.window.showTextDocument(document, { preview: true });
  }

  dispose(): void {
    this.registration.dispose();
    this.changed.dispose();
  }
}
