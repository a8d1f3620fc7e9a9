import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DaemonSnapshot } from '../../colab-vscode/src/daemon/client';
import { Emitter } from '../../colab-vscode/src/events';
import { checkRemotePath, defaultRemotePath, downloadFromRuntime, uploadToRuntime, type TerminalCommandContext } from '../../colab-vscode/src/terminal/commands';
import { RuntimeTerminal } from '../../colab-vscode/src/terminal/runtimeTerminal';
import { readSetupCommands } from '../../colab-vscode/src/terminal/setup';

/** A daemon that records requests, answers terminal/open, and plays notifications. */
function fakeDaemon() {
  const changed = new Emitter<DaemonSnapshot>();
  const listeners = new Map<string, ((p: unknown) => void)[]>();
  const requests: { method: string; params: any }[] = [];
  let opens = 0;
  let failOpen: Error | undefined;
  const daemon = {
    onDidChange: changed.event,
    async request<R>(method: string, params?: unknown): Promise<R> {
      requests.push({ method, params });
      if (method === 'colab/terminal/open') {
        if (failOpen) {
          throw failOpen;
        }
        opens++;
        const p = params as { runtimeId: string; name?: string };
        return { terminalId: `t${opens}`, runtimeId: p.runtimeId, name: p.name ?? '7', reattached: p.name !== undefined } as R;
      }
      return null as R;
    },
    onNotification<P>(method: string, listener: (params: P) => void) {
      const list = listeners.get(method) ?? [];
      list.push(listener as (p: unknown) => void);
      listeners.set(method, list);
      return { dispose: () => listeners.set(method, (listeners.get(method) ?? []).filter((l) => l !== listener)) };
    },
  };
  return {
    daemon,
    requests,
    notify: (method: string, params: unknown) => (listeners.get(method) ?? []).forEach((l) => l(params)),
    phase: (phase: DaemonSnapshot['phase']) => changed.fire({ phase } as DaemonSnapshot),
    failOpenWith: (e: Error | undefined) => (failOpen = e),
  };
}

function collect(terminal: RuntimeTerminal) {
  const out: string[] = [];
  let closes = 0;
  terminal.onDidWrite((d) => out.push(d));
  terminal.onDidClose(() => closes++);
  return { out, text: () => out.join(''), closes: () => closes };
}

test('opening sends the size, keystrokes go to the terminal, and only its own output is written', async () => {
  const f = fakeDaemon();
  const terminal = new RuntimeTerminal(f.daemon, 'rt1');
  const seen = collect(terminal);
  await terminal.open({ rows: 30, columns: 100 });
  assert.deepEqual(f.requests[0], { method: 'colab/terminal/open', params: { runtimeId: 'rt1', name: undefined, rows: 30, cols: 100 } });

  terminal.handleInput('ls\r');
  f.notify('colab/terminal/output', { terminalId: 't1', data: 'a.txt\r\n' });
  f.notify('colab/terminal/output', { terminalId: 'other', data: 'NOT MINE' });
  assert.deepEqual(f.requests[1], { method: 'colab/terminal/input', params: { terminalId: 't1', data: 'ls\r' } });
  assert.equal(seen.text(), 'a.txt\r\n');

  terminal.setDimensions({ rows: 40, columns: 5000 });
  assert.deepEqual(f.requests[2], { method: 'colab/terminal/resize', params: { terminalId: 't1', rows: 40, cols: 1000 } });

  terminal.close();
  assert.deepEqual(f.requests[3], { method: 'colab/terminal/close', params: { terminalId: 't1', shutdown: true } });
});

test('when the shell ends the reason is shown and the next key closes the editor terminal', async () => {
  const f = fakeDaemon();
  const terminal = new RuntimeTerminal(f.daemon, 'rt1');
  const seen = collect(terminal);
  await terminal.open(undefined);
  f.notify('colab/terminal/closed', { terminalId: 't1', reason: "the terminal's shell ended" });
  assert.match(seen.text(), /shell ended\. Press any key to close/);
  assert.equal(seen.closes(), 0);
  terminal.handleInput('x');
  assert.equal(seen.closes(), 1);
  assert.equal(f.requests.filter((r) => r.method === 'colab/terminal/input').length, 0, 'the key is not sent to a dead terminal');
});

test('after a daemon restart the terminal reattaches by its name', async () => {
  const f = fakeDaemon();
  const terminal = new RuntimeTerminal(f.daemon, 'rt1');
  const seen = collect(terminal);
  await terminal.open({ rows: 24, columns: 80 });
  f.phase('starting');
  assert.match(seen.text(), /daemon stopped; reattaching/);
  terminal.handleInput('lost while down');
  f.phase('running');
  await new Promise((r) => setImmediate(r));
  const reopen = f.requests.filter((r) => r.method === 'colab/terminal/open')[1];
  assert.equal(reopen.params.name, '7');
  assert.equal(terminal.terminalId, 't2');
  assert.match(seen.text(), /reattached to terminal 7/);
  assert.equal(f.requests.filter((r) => r.method === 'colab/terminal/input').length, 0);
});

test('a failed open says why in the terminal instead of failing silently', async () => {
  const f = fakeDaemon();
  f.failOpenWith(new Error('the Jupyter server at http://h/ has no terminals: terminado is not installed there'));
  const terminal = new RuntimeTerminal(f.daemon, 'rt1');
  const seen = collect(terminal);
  await terminal.open(undefined);
  assert.match(seen.text(), /could not open a terminal on the runtime: .*terminado/);
});

test('runtime paths are checked in the input box the way the daemon checks them', () => {
  assert.equal(checkRemotePath('data/train.csv'), undefined);
  assert.equal(checkRemotePath('folder/'), undefined);
  assert.match(checkRemotePath('../x')!, /'\.\.'/);
  assert.match(checkRemotePath('a/./b')!, /'\.'/);
  assert.match(checkRemotePath('a//b')!, /'\/\/'/);
  assert.match(checkRemotePath('/etc/passwd')!, /relative/);
  assert.match(checkRemotePath('~/x')!, /relative/);
  assert.match(checkRemotePath('C:/x')!, /relative/);
  assert.match(checkRemotePath('a\\b')!, /'\/'/);
  assert.match(checkRemotePath('bad\nname')!, /control characters/);
  assert.match(checkRemotePath('  ')!, /Enter a path/);
});

test('the default runtime path is the workspace-relative path, else the file name', () => {
  assert.equal(defaultRemotePath('src/data/x.csv', 'x.csv'), 'src/data/x.csv');
  assert.equal(defaultRemotePath('src\\data\\x.csv', 'x.csv'), 'src/data/x.csv');
  assert.equal(defaultRemotePath(undefined, 'x.csv'), 'x.csv');
  assert.equal(defaultRemotePath('../outside/x.csv', 'x.csv'), 'x.csv');
});

test('setup commands from the setting: strings only, trimmed, blanks left out', () => {
  assert.deepEqual(readSetupCommands([' pip install x ', '', 3, null, 'echo ok']), ['pip install x', 'echo ok']);
  assert.deepEqual(readSetupCommands('pip install x'), []);
  assert.deepEqual(readSetupCommands(undefined), []);
});

test('keystrokes typed while a send is in flight go in order, batched into the next request', async () => {
  const f = fakeDaemon();
  const gate: (() => void)[] = [];
  const request = f.daemon.request.bind(f.daemon);
  f.daemon.request = async <R>(method: string, params?: unknown): Promise<R> => {
    const answer = request<R>(method, params);
    if (method === 'colab/terminal/input') {
      await new Promise<void>((r) => gate.push(r));
    }
    return answer;
  };
  const terminal = new RuntimeTerminal(f.daemon, 'rt1');
  await terminal.open(undefined);
  for (const key of 'echo hi\r') {
    terminal.handleInput(key);
  }
  const inputs = () => f.requests.filter((r) => r.method === 'colab/terminal/input').map((r) => r.params.data);
  assert.deepEqual(inputs(), ['e'], 'one request in flight');
  gate.shift()!();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(inputs(), ['e', 'cho hi\r']);
  gate.shift()!();
  await new Promise((r) => setImmediate(r));
  assert.equal(inputs().join(''), 'echo hi\r');
});

test("upload and download from a Runtimes view row use that row's runtime, not the active one", async () => {
  const requests: { method: string; params: Record<string, unknown> }[] = [];
  const shown: string[] = [];
  const row = { kind: 'runtime', id: 'runtime.remote-2', runtime: { runtime: { id: 'remote-2', kind: 'remote', url: 'http://gpu:8888/', state: 'connected' } } };
  const file = { scheme: 'file', fsPath: '/work/data.csv', path: '/work/data.csv' };
  let ensured = 0;
  const ctx = {
    vscode: {
      ProgressLocation: { Notification: 15 },
      Uri: { joinPath: (base: { fsPath: string }, name: string) => ({ fsPath: `${base.fsPath}/${name}` }) },
      window: {
        showOpenDialog: async () => [file],
        showInputBox: async (o: { value: string }) => o.value,
        showSaveDialog: async () => ({ fsPath: '/work/result.txt' }),
        showQuickPick: async (items: { entry?: { type: string } }[]) => items.find((i) => i.entry?.type === 'file'),
        withProgress: async (_o: unknown, work: (p: unknown, t: unknown) => Promise<unknown>) => work({}, {}),
        showInformationMessage: async (m: string) => void shown.push(m),
        showErrorMessage: async (m: string) => void shown.push(`error: ${m}`),
        showWarningMessage: async () => undefined,
      },
      workspace: { getWorkspaceFolder: () => undefined, asRelativePath: () => 'data.csv', workspaceFolders: undefined },
    },
    daemon: {
      onDidChange: () => ({ dispose() {} }),
      onNotification: () => ({ dispose() {} }),
      request: async (method: string, params: Record<string, unknown>) => {
        requests.push({ method, params });
        if (method === 'colab/files/list') return { entries: [{ name: 'result.txt', path: 'result.txt', type: 'file', size: 3 }] };
        return { files: 1, folders: 0, bytes: 3, skipped: [] };
      },
    },
    ensureRuntime: async () => (ensured++, { id: 'local-1', kind: 'local', url: 'http://127.0.0.1:1/', state: 'connected' }),
  } as unknown as TerminalCommandContext;

  await uploadToRuntime(ctx)(row);
  await downloadFromRuntime(ctx)(row);
  assert.equal(ensured, 0, 'the active runtime was not asked for');
  assert.deepEqual(
    requests.map((r) => [r.method, r.params.runtimeId]),
    [['colab/files/upload', 'remote-2'], ['colab/files/list', 'remote-2'], ['colab/files/download', 'remote-2']],
  );
  assert.equal(requests[0].params.localPath, '/work/data.csv');

  // From the Explorer (a file URI) and the palette, the active runtime is used.
  requests.length = 0;
  await uploadToRuntime(ctx)(file, [file]);
  assert.deepEqual(requests.map((r) => r.params.runtimeId), ['local-1']);
  assert.equal(ensured, 1);
});
