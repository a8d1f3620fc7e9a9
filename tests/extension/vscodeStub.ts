// A stand-in for the `vscode` module, enough for the extension's testable classes.
// It records what the extension shows so tests can assert on what a user would see.

import type * as vscode from 'vscode';

export interface Shown {
  kind: 'info' | 'error' | 'warning';
  message: string;
  actions: string[];
}

export class StubEventEmitter<T> {
  private listeners: ((value: T) => void)[] = [];
  fired = 0;
  readonly event = (listener: (value: T) => void) => {
    this.listeners.push(listener);
    return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
  };
  fire(value: T): void {
    this.fired++;
    this.listeners.forEach((l) => l(value));
  }
  dispose(): void {
    this.listeners = [];
  }
}

export class StubStatusBarItem {
  text = '';
  tooltip: string | undefined;
  name: string | undefined;
  command: string | undefined;
  backgroundColor: unknown;
  visible = false;
  disposed = false;
  constructor(
    readonly id: string,
    readonly alignment: number,
  ) {}
  show(): void {
    this.visible = true;
  }
  hide(): void {
    this.visible = false;
  }
  dispose(): void {
    this.disposed = true;
  }
}

export class StubTreeItem {
  id?: string;
  description?: string;
  tooltip?: string;
  iconPath?: unknown;
  constructor(
    readonly label: string,
    readonly collapsibleState?: number,
  ) {}
}

export class StubThemeIcon {
  constructor(readonly id: string) {}
}

export class StubMarkdownString {
  constructor(readonly value: string) {}
}

export class StubThemeColor {
  constructor(readonly id: string) {}
}

export interface VscodeStub {
  api: typeof vscode;
  shown: Shown[];
  statusBarItems: StubStatusBarItem[];
  commands: Map<string, (...args: unknown[]) => unknown>;
  openedDocuments: { uri: string; text: string }[];
  /** What the next message answers (the action a user clicks), by message kind. */
  answer: { info?: string; error?: string };
  /** Resolves when something is shown. */
  nextShown(): Promise<Shown>;
}

export function createVscodeStub(): VscodeStub {
  const shown: Shown[] = [];
  const statusBarItems: StubStatusBarItem[] = [];
  const commands = new Map<string, (...args: unknown[]) => unknown>();
  const providers = new Map<string, { provideTextDocumentContent(uri: unknown): string }>();
  const openedDocuments: { uri: string; text: string }[] = [];
  const answer: { info?: string; error?: string } = {};
  let waiters: ((s: Shown) => void)[] = [];

  const show = (kind: Shown['kind']) => async (message: string, ...actions: string[]) => {
    const entry = { kind, message, actions };
    shown.push(entry);
    const w = waiters;
    waiters = [];
    w.forEach((resolve) => resolve(entry));
    return kind === 'info' ? answer.info : kind === 'error' ? answer.error : undefined;
  };

  const api = {
    StatusBarAlignment: { Left: 1, Right: 2 },
    TreeItemCollapsibleState: { None: 0, Collapsed: 1, Expanded: 2 },
    EventEmitter: StubEventEmitter,
    TreeItem: StubTreeItem,
    ThemeIcon: StubThemeIcon,
    ThemeColor: StubThemeColor,
    MarkdownString: StubMarkdownString,
    Uri: {
      from: (parts: { scheme: string; path: string }) => ({ ...parts, toString: () => `${parts.scheme}:${parts.path}` }),
    },
    window: {
      createStatusBarItem: (id: string, alignment: number) => {
        const item = new StubStatusBarItem(id, alignment);
        statusBarItems.push(item);
        return item;
      },
      showInformationMessage: show('info'),
      showErrorMessage: show('error'),
      showWarningMessage: show('warning'),
      showTextDocument: async (document: unknown) => document,
    },
    commands: {
      registerCommand: (id: string, handler: (...args: unknown[]) => unknown) => {
        if (commands.has(id)) {
          throw new Error(`command ${id} already registered`);
        }
        commands.set(id, handler);
        return { dispose: () => commands.delete(id) };
      },
      executeCommand: async (id: string, ...args: unknown[]) => commands.get(id)?.(...args),
    },
    workspace: {
      registerTextDocumentContentProvider: (scheme: string, provider: { provideTextDocumentContent(uri: unknown): string }) => {
        providers.set(scheme, provider);
        return { dispose: () => providers.delete(scheme) };
      },
      openTextDocument: async (uri: { scheme: string; toString(): string }) => {
        const provider = providers.get(uri.scheme);
        if (!provider) {
          throw new Error(`no content provider for ${uri.scheme}`);
        }
        const document = { uri: uri.toString(), text: provider.provideTextDocumentContent(uri) };
        openedDocuments.push(document);
        return document;
      },
    },
  };

  return {
    api: api as unknown as typeof vscode,
    shown,
    statusBarItems,
    commands,
    openedDocuments,
    answer,
    nextShown: () => new Promise((resolve) => waiters.push(resolve)),
  };
}
