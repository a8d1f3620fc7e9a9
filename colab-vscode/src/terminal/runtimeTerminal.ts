// A VS Code pseudoterminal over a terminal on the runtime: keystrokes go to the daemon
// (colab/terminal/input), colab/terminal/output comes back and is written as is. The
// daemon reopens a dropped socket to the same terminal; after a daemon restart this
// reattaches by the terminal's name when the runtime is still there.

import type * as vscode from 'vscode';
import { messageOf, type DaemonSnapshot } from '../daemon/client';
import { Emitter, type Disposable, type Event } from '../events';
import {
  methods,
  type TerminalClosedParams,
  type TerminalInfo,
  type TerminalOpenParams,
  type TerminalOutputParams,
} from '../protocol';

export interface TerminalDaemon {
  readonly onDidChange: Event<DaemonSnapshot>;
  request<R>(method: string, params?: unknown): Promise<R>;
  onNotification<P>(method: string, listener: (params: P) => void): Disposable;
}

/** Dimensions as VS Code gives them. */
export interface Size {
  readonly rows: number;
  readonly columns: number;
}

const dim = (s: string) => `\x1b[2m${s}\x1b[0m`;
const red = (s: string) => `\x1b[31m${s}\x1b[0m`;

export class RuntimeTerminal {
  private readonly written = new Emitter<string>();
  private readonly closed = new Emitter<number | void>();
  private readonly subscriptions: Disposable[] = [];
  private info: TerminalInfo | undefined;
  private size: Size | undefined;
  private ended = false;
  private daemonDown = false;
  /** Output that arrived for this terminal before open() learned its id. */
  private early: TerminalOutputParams[] = [];
  private pendingInput = '';
  private sending = false;

  readonly onDidWrite: Event<string> = this.written.event;
  readonly onDidClose: Event<number | void> = this.closed.event;

  constructor(
    private readonly daemon: TerminalDaemon,
    private readonly runtimeId: string,
  ) {
    this.subscriptions.push(
      daemon.onNotification<TerminalOutputParams>(methods.terminalOutput.name, (p) => {
        if (!this.info) {
          this.early.push(p);
        } else if (p.terminalId === this.info.terminalId) {
          this.written.fire(p.data);
        }
      }),
      daemon.onNotification<TerminalClosedParams>(methods.terminalClosed.name, (p) => {
        if (p.terminalId === this.info?.terminalId && p.reason !== 'closed') {
          this.end(p.reason);
        }
      }),
      daemon.onDidChange((s) => void this.daemonChanged(s)),
    );
  }

  /** The terminal's name on the runtime (after open). */
  get name(): string | undefined {
    return this.info?.name;
  }

  get terminalId(): string | undefined {
    return this.info?.terminalId;
  }

  async open(initial: Size | undefined): Promise<void> {
    this.size = initial;
    await this.attach(undefined);
  }

  handleInput(data: string): void {
    if (this.ended) {
      // After the end was shown, any key closes the editor's terminal.
      this.closed.fire();
      return;
    }
    const info = this.info;
    if (!info || this.daemonDown) {
      return;
    }
    // The daemon handles requests concurrently: one request in flight at a time keeps the
    // keystrokes in order, and what is typed meanwhile goes in the next one.
    this.pendingInput += data;
    if (!this.sending) {
      void this.flushInput(info.terminalId);
    }
  }

  private async flushInput(terminalId: string): Promise<void> {
    this.sending = true;
    try {
      while (this.pendingInput.length > 0 && !this.ended && this.info?.terminalId === terminalId) {
        const data = this.pendingInput;
        this.pendingInput = '';
        try {
          await this.daemon.request(methods.terminalInput.name, { terminalId, data });
        } catch (error) {
          this.written.fire(`\r\n${red(`[Colab: input not delivered: ${messageOf(error)}]`)}\r\n`);
        }
      }
    } finally {
      this.sending = false;
    }
  }

  setDimensions(size: Size): void {
    this.size = size;
    const info = this.info;
    if (!info || this.ended || this.daemonDown || size.rows < 1 || size.columns < 1) {
      return;
    }
    void this.daemon
      .request(methods.terminalResize.name, { terminalId: info.terminalId, rows: Math.min(size.rows, 1000), cols: Math.min(size.columns, 1000) })
      .catch(() => undefined);
  }

  /** The editor closed the terminal: end its shell on the runtime too. */
  close(): void {
    const info = this.info;
    this.ended = true;
    this.dispose();
    if (info && !this.daemonDown) {
      void this.daemon.request(methods.terminalClose.name, { terminalId: info.terminalId, shutdown: true }).catch(() => undefined);
    }
  }

  dispose(): void {
    this.subscriptions.forEach((s) => s.dispose());
    this.subscriptions.length = 0;
  }

  private async attach(name: string | undefined): Promise<void> {
    const params: TerminalOpenParams = { runtimeId: this.runtimeId, name };
    if (this.size && this.size.rows > 0 && this.size.columns > 0) {
      params.rows = Math.min(this.size.rows, 1000);
      params.cols = Math.min(this.size.columns, 1000);
    }
    try {
      this.info = await this.daemon.request<TerminalInfo>(methods.terminalOpen.name, params);
    } catch (error) {
      this.end(`could not open a terminal on the runtime: ${messageOf(error)}`);
      return;
    }
    const early = this.early;
    this.early = [];
    for (const p of early) {
      if (p.terminalId === this.info.terminalId) {
        this.written.fire(p.data);
      }
    }
  }

  private async daemonChanged(s: DaemonSnapshot): Promise<void> {
    if (this.ended || !this.info) {
      return;
    }
    if (s.phase !== 'running') {
      if (!this.daemonDown) {
        this.daemonDown = true;
        this.written.fire(`\r\n${dim('[Colab: the daemon stopped; reattaching when it is back…]')}\r\n`);
      }
      return;
    }
    if (this.daemonDown) {
      this.daemonDown = false;
      const name = this.info.name;
      this.info = undefined;
      await this.attach(name);
      if (this.info) {
        this.written.fire(dim(`[Colab: reattached to terminal ${name}]`) + '\r\n');
      }
    }
  }

  private end(reason: string): void {
    if (this.ended) {
      return;
    }
    this.ended = true;
    this.written.fire(`\r\n${dim(`[Colab: ${reason}. Press any key to close.]`)}\r\n`);
  }
}

/** The terminal as VS Code's Pseudoterminal. */
export function asPseudoterminal(terminal: RuntimeTerminal): vscode.Pseudoterminal {
  return {
    onDidWrite: terminal.onDidWrite as vscode.Event<string>,
    onDidClose: terminal.onDidClose as vscode.Event<number | void>,
    open: (dims) => void terminal.open(dims ? { rows: dims.rows, columns: dims.columns } : undefined),
    close: () => terminal.close(),
    handleInput: (data) => terminal.handleInput(data),
    setDimensions: (dims) => terminal.setDimensions({ rows: dims.rows, columns: dims.columns }),
  };
}
