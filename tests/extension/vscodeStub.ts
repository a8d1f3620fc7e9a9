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

export class StubCancellationTokenSource {
  private listeners: ((e: unknown) => unknown)[] = [];
  readonly token = {
    isCancellationRequested: false,
    onCancellationRequested: (listener: (e: unknown) => unknown) => {
      this.listeners.push(listener);
      return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
    },
  };
  cancel(): void {
    if (!this.token.isCancellationRequested) {
      this.token.isCancellationRequested = true;
      this.listeners.forEach((l) => l(undefined));
    }
  }
  dispose(): void {
    this.listeners = [];
  }
}

export class StubNotebookCellOutputItem {
  constructor(
    readonly data: Uint8Array,
    readonly mime: string,
  ) {}
  static text(value: string, mime = 'text/plain') {
    return new StubNotebookCellOutputItem(Buffer.from(value), mime);
  }
  static stdout(value: string) {
    return StubNotebookCellOutputItem.text(value, 'application/vnd.code.notebook.stdout');
  }
  static stderr(value: string) {
    return StubNotebookCellOutputItem.text(value, 'application/vnd.code.notebook.stderr');
  }
  static json(value: unknown, mime = 'text/x-json') {
    return StubNotebookCellOutputItem.text(JSON.stringify(value), mime);
  }
  static error(error: { name: string; message: string; stack?: string }) {
    return StubNotebookCellOutputItem.text(
      JSON.stringify({ name: error.name, message: error.message, stack: error.stack }),
      'application/vnd.code.notebook.error',
    );
  }
  /** The item's data as text. */
  get value(): string {
    return Buffer.from(this.data).toString();
  }
}

export class StubNotebookCellOutput {
  constructor(
    public items: StubNotebookCellOutputItem[],
    readonly metadata?: Record<string, unknown>,
  ) {}
}

export interface StubCell {
  index: number;
  document: { getText(): string };
}

export class StubCellExecution {
  readonly tokenSource = new StubCancellationTokenSource();
  readonly token = this.tokenSource.token;
  executionOrder: number | undefined;
  startTime: number | undefined;
  endTime: number | undefined;
  /** undefined until end(); then the success passed (undefined: no status). */
  ended = false;
  success: boolean | undefined;
  outputs: StubNotebookCellOutput[] = [];
  constructor(readonly cell: StubCell) {}
  start(time?: number): void {
    this.startTime = time;
  }
  end(success: boolean | undefined, time?: number): void {
    this.ended = true;
    this.success = success;
    this.endTime = time;
  }
  async clearOutput(): Promise<void> {
    this.outputs = [];
  }
  async appendOutput(output: StubNotebookCellOutput): Promise<void> {
    this.outputs.push(output);
  }
  async appendOutputItems(items: StubNotebookCellOutputItem[], output: StubNotebookCellOutput): Promise<void> {
    output.items.push(...items);
  }
  async replaceOutputItems(items: StubNotebookCellOutputItem[], output: StubNotebookCellOutput): Promise<void> {
    output.items = items;
  }
}

export class StubNotebookController {
  supportedLanguages: string[] | undefined;
  supportsExecutionOrder: boolean | undefined;
  description: string | undefined;
  detail: string | undefined;
  executeHandler: ((cells: StubCell[], notebook: unknown, controller: StubNotebookController) => unknown) | undefined;
  interruptHandler: ((notebook: unknown) => unknown) | undefined;
  readonly executions: StubCellExecution[] = [];
  disposed = false;
  constructor(
    readonly id: string,
    readonly notebookType: string,
    readonly label: string,
  ) {}
  createNotebookCellExecution(cell: StubCell): StubCellExecution {
    const execution = new StubCellExecution(cell);
    this.executions.push(execution);
    return execution;
  }
  dispose(): void {
    this.disposed = true;
  }
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
  /** What the next input boxes answer, in order (then undefined: the user pressed Escape). */
  inputAnswers: (string | undefined)[];
  /** The options of each input box shown. */
  inputBoxes: { prompt?: string; password?: boolean; placeHolder?: string }[];
  /** Picks from a quick pick's items (default: none, as if Escape). */
  pick: (items: { label: string }[]) => unknown;
  quickPicks: { label: string }[][];
  controllers: StubNotebookController[];
  /** Sets window.activeNotebookEditor to show this notebook (undefined: none). */
  setActiveNotebook(notebook: unknown): void;
  /** Plays VS Code closing a notebook. */
  closeNotebook(notebook: unknown): void;
}

export function createVscodeStub(): VscodeStub {
  const shown: Shown[] = [];
  const statusBarItems: StubStatusBarItem[] = [];
  const commands = new Map<string, (...args: unknown[]) => unknown>();
  const providers = new Map<string, { provideTextDocumentContent(uri: unknown): string }>();
  const openedDocuments: { uri: string; text: string }[] = [];
  const answer: { info?: string; error?: string } = {};
  let waiters: ((s: Shown) => void)[] = [];
  const inputAnswers: (string | undefined)[] = [];
  const inputBoxes: { prompt?: string; password?: boolean; placeHolder?: string }[] = [];
  const quickPicks: { label: string }[][] = [];
  const controllers: StubNotebookController[] = [];
  const closeListeners = new StubEventEmitter<unknown>();
  const stub = { pick: (_items: { label: string }[]): unknown => undefined };

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
    NotebookCellOutput: StubNotebookCellOutput,
    NotebookCellOutputItem: StubNotebookCellOutputItem,
    CancellationTokenSource: StubCancellationTokenSource,
    notebooks: {
      createNotebookController: (id: string, notebookType: string, label: string) => {
        const controller = new StubNotebookController(id, notebookType, label);
        controllers.push(controller);
        return controller;
      },
    },
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
      showInputBox: async (options: { prompt?: string; password?: boolean; placeHolder?: string } = {}) => {
        inputBoxes.push(options);
        return inputAnswers.shift();
      },
      showQuickPick: async (items: { label: string }[]) => {
        quickPicks.push(items);
        return stub.pick(items);
      },
      activeNotebookEditor: undefined as unknown,
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
      onDidCloseNotebookDocument: closeListeners.event,
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
    inputAnswers,
    inputBoxes,
    get pick() {
      return stub.pick;
    },
    set pick(p) {
      stub.pick = p;
    },
    quickPicks,
    controllers,
    setActiveNotebook: (notebook) => (api.window.activeNotebookEditor = notebook === undefined ? undefined : { notebook }),
    closeNotebook: (notebook) => closeListeners.fire(notebook),
  };
}
