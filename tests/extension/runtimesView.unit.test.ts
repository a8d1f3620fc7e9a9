import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DaemonSnapshot } from '../../colab-vscode/src/daemon/client';
import { Emitter } from '../../colab-vscode/src/events';
import type { RuntimeSessionsInfo } from '../../colab-vscode/src/protocol';
import { IdleNotifier } from '../../colab-vscode/src/runtime/idle';
import { disconnectRuntime, type RuntimeCommandContext } from '../../colab-vscode/src/runtime/commands';
import { RuntimesView, kernelDescription, registerRuntimesViewCommands, runtimesViewCommandIds, type RuntimesNode } from '../../colab-vscode/src/runtime/runtimesView';
import { createVscodeStub, StubCancellationTokenSource } from './vscodeStub';

/** A daemon with just what the runtime modules use: requests answered by `answer`, notifications pushed by the test. */
function fakeDaemon(answer: (method: string, params: unknown) => unknown) {
  const requests: { method: string; params: unknown }[] = [];
  const listeners = new Map<string, Emitter<unknown>>();
  const phase = new Emitter<DaemonSnapshot>();
  return {
    requests,
    onDidChange: phase.event,
    setPhase: (p: DaemonSnapshot['phase']) => phase.fire({ phase: p } as DaemonSnapshot),
    async request<R>(method: string, params?: unknown): Promise<R> {
      requests.push({ method, params });
      return (await answer(method, params)) as R;
    },
    onNotification<P>(method: string, listener: (params: P) => void) {
      let e = listeners.get(method);
      if (!e) {
        e = new Emitter<unknown>();
        listeners.set(method, e);
      }
      return e.event((p) => listener(p as P));
    },
    notify: (method: string, params: unknown) => listeners.get(method)?.fire(params),
  };
}

const log = { lines: [] as string[], info(m: string) { this.lines.push(m); }, error(m: string) { this.lines.push(`error: ${m}`); } };

function sessions(): RuntimeSessionsInfo[] {
  return [
    {
      runtime: { id: 'local-1', kind: 'local', url: 'http://127.0.0.1:40123/', insecureTransport: false, connectedAt: '2026-11-21T21:00:00Z', state: 'connected' },
      busy: false,
      idleSeconds: 125,
      kernels: [
        {
          kernel: { runtimeId: 'local-1', id: 'k1', name: 'python3', executionState: 'idle', lastActivity: '2026-11-21T21:05:00Z', connections: 1, startedHere: true, connected: true },
          idleSeconds: 303,
          sessions: [{ id: 's1', path: 'train.ipynb', name: 'train.ipynb', type: 'notebook' }],
        },
        {
          kernel: { runtimeId: 'local-1', id: 'k2', name: 'python3', executionState: 'busy', connections: 1, startedHere: true, connected: true },
          idleSeconds: 0,
          sessions: [],
        },
      ],
    },
    {
      runtime: { id: 'remote-2', kind: 'remote', url: 'https://gpu.example.com/', insecureTransport: false, connectedAt: '2026-11-21T21:00:00Z', state: 'connected' },
      busy: true,
      idleSeconds: 0,
      kernels: [],
      error: 'no Jupyter server at https://gpu.example.com/: connection refused',
    },
  ] as RuntimeSessionsInfo[];
}

test('the Runtimes view shows each runtime with its kernels, their notebook, state and idle time', async () => {
  const vs = createVscodeStub();
  const daemon = fakeDaemon((m) => (m === 'colab/runtime/sessions' ? { runtimes: sessions() } : null));
  const view = new RuntimesView(vs.api, daemon, log, 60_000);
  let redraws = 0;
  view.onDidChangeTreeData(() => redraws++);
  await view.refresh();
  assert.equal(redraws, 1);

  const roots = view.getChildren();
  assert.deepEqual(roots.map((n) => view.getTreeItem(n).label), ['Local runtime', 'https://gpu.example.com/']);
  const local = view.getTreeItem(roots[0]);
  assert.equal(local.description, '2 kernels · idle 2 min 5 s');
  assert.equal(local.contextValue, 'colabRuntime');
  assert.equal(view.getTreeItem(roots[1]).description, 'not answering');

  const kernels = view.getChildren(roots[0]);
  const idle = view.getTreeItem(kernels[0]);
  assert.equal(idle.label, 'train.ipynb');
  assert.equal(idle.description, 'idle 5 min 3 s');
  assert.equal(idle.contextValue, 'colabKernel.idle');
  assert.match(String(idle.tooltip), /Last activity: 2026-11-21T21:05:00Z/);
  const busy = view.getTreeItem(kernels[1]);
  assert.equal(busy.label, 'python3');
  assert.equal(busy.description, 'busy');
  assert.equal(busy.contextValue, 'colabKernel');
  // The unreachable server's reason is its only child.
  assert.match(String(view.getTreeItem(view.getChildren(roots[1])[0]).label), /connection refused/);

  // colab/runtime/changed redraws; a stopped daemon empties the view.
  daemon.notify('colab/runtime/changed', { runtimes: [] });
  await view.refresh();
  assert.ok(redraws >= 2);
  daemon.setPhase('stopped');
  assert.deepEqual(view.getChildren(), []);
  view.dispose();
});

test('the view polls only while visible, and a failing request shows why instead of throwing', async () => {
  const vs = createVscodeStub();
  let fail = false;
  const daemon = fakeDaemon(() => {
    if (fail) throw new Error('the daemon is not running');
    return { runtimes: [] };
  });
  const view = new RuntimesView(vs.api, daemon, log, 20);
  view.setVisible(true);
  assert.equal(view.polling, true);
  await new Promise((r) => setTimeout(r, 150));
  const polled = daemon.requests.length;
  assert.ok(polled >= 3, `polled ${polled} times`);
  view.setVisible(false);
  assert.equal(view.polling, false);
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(daemon.requests.length <= polled + 1, 'no polling while hidden');

  fail = true;
  await view.refresh();
  const [message] = view.getChildren();
  assert.equal(message.kind, 'message');
  assert.equal(view.getTreeItem(message).tooltip, 'the daemon is not running');
  view.dispose();
});

test('Kill Kernel asks first and sends colab/kernel/shutdown; Kill Idle Kernels sends the minutes as seconds', async () => {
  const vs = createVscodeStub();
  const daemon = fakeDaemon((m) => (m === 'colab/kernel/killIdle' ? { killed: ['k1'] } : m === 'colab/runtime/sessions' ? { runtimes: sessions() } : null));
  const view = new RuntimesView(vs.api, daemon, log, 60_000);
  await view.refresh();
  const disposables = registerRuntimesViewCommands({ vscode: vs.api, daemon, view, log });
  const [runtimeNode] = view.getChildren();
  const [kernelNode] = view.getChildren(runtimeNode);

  let confirm: string | undefined;
  const warnings: string[] = [];
  (vs.api.window as { showWarningMessage: unknown }).showWarningMessage = async (m: string) => (warnings.push(m), confirm);
  await vs.commands.get(runtimesViewCommandIds.killKernel)!(kernelNode);
  assert.match(warnings[0], /Kill the kernel of train\.ipynb\? Its variables are lost/);
  assert.ok(!daemon.requests.some((r) => r.method === 'colab/kernel/shutdown'), 'declined: nothing killed');
  confirm = 'Kill Kernel';
  await vs.commands.get(runtimesViewCommandIds.killKernel)!(kernelNode);
  assert.deepEqual(daemon.requests.find((r) => r.method === 'colab/kernel/shutdown')!.params, { runtimeId: 'local-1', kernelId: 'k1' });

  vs.inputAnswers.push('30');
  await vs.commands.get(runtimesViewCommandIds.killIdleKernels)!(runtimeNode);
  assert.deepEqual(daemon.requests.find((r) => r.method === 'colab/kernel/killIdle')!.params, { runtimeId: 'local-1', idleSeconds: 1800 });
  assert.ok(vs.shown.some((s) => s.message === 'Colab: killed 1 idle kernel.'));

  // Invoked without a row (e.g. from a keybinding): says what to do, sends nothing.
  const before = daemon.requests.length;
  await vs.commands.get(runtimesViewCommandIds.killKernel)!(undefined);
  assert.equal(daemon.requests.filter((r) => r.method === 'colab/kernel/shutdown').length, 1);
  assert.ok(daemon.requests.length >= before);
  disposables.forEach((d) => d.dispose());
  view.dispose();
});

test('Disconnect from a Runtimes view row disconnects that runtime without asking which', async () => {
  const vs = createVscodeStub();
  const disconnected: string[] = [];
  const ctx = {
    vscode: vs.api,
    session: {
      current: undefined,
      list: async () => sessions().map((s) => s.runtime),
      disconnect: async (id: string) => void disconnected.push(id),
      connect: async () => { throw new Error('unused'); },
    },
    kernels: { restart: async () => true, interrupt: async () => true },
    secrets: { get: async () => undefined, store: async () => undefined },
    log,
  } as unknown as RuntimeCommandContext;
  const node: RuntimesNode = { kind: 'runtime', id: 'runtime.remote-2', runtime: sessions()[1] };
  await disconnectRuntime(ctx)(node);
  assert.deepEqual(disconnected, ['remote-2']);
  assert.equal(vs.quickPicks.length, 0);
});

function progressStub(vs: ReturnType<typeof createVscodeStub>) {
  const reports: string[] = [];
  const titles: string[] = [];
  const cancel = new StubCancellationTokenSource();
  const api = vs.api as unknown as Record<string, unknown> & { window: Record<string, unknown> };
  api.ProgressLocation = { Notification: 15 };
  api.window.withProgress = async (
    options: { title: string; cancellable: boolean },
    task: (p: { report(v: { message?: string }): void }, t: unknown) => Promise<void>,
  ) => {
    titles.push(options.title);
    assert.equal(options.cancellable, true);
    return task({ report: (v) => reports.push(v.message ?? '') }, cancel.token);
  };
  return { reports, titles, cancel };
}

test('an idle warning shows a countdown; cancelling it keeps the runtime (colab/runtime/keepAlive)', async () => {
  const vs = createVscodeStub();
  const { reports, titles, cancel } = progressStub(vs);
  const daemon = fakeDaemon(() => null);
  const notifier = new IdleNotifier({
    vscode: vs.api as never,
    daemon,
    log,
    timeoutMinutes: () => 60,
    runtimes: async () => sessions().map((s) => s.runtime),
    tickMs: 10,
  });
  daemon.notify('colab/runtime/idleWarning', { runtimeId: 'local-1', secondsLeft: 60 });
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(titles[0], 'Colab: Local runtime is idle');
  assert.equal(reports[0], 'disconnecting in 60 s — Cancel keeps it');
  assert.ok(reports.length >= 3 && reports.at(-1)!.startsWith('disconnecting in 5'), reports.join(' | '));
  cancel.cancel();
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(daemon.requests.find((r) => r.method === 'colab/runtime/keepAlive')!.params, { runtimeId: 'local-1' });
  notifier.dispose();
});

test('a countdown that runs out sends nothing; the disconnect is reported; the setting reaches the daemon', async () => {
  const vs = createVscodeStub();
  progressStub(vs);
  const daemon = fakeDaemon(() => null);
  let minutes = 45;
  const notifier = new IdleNotifier({
    vscode: vs.api as never,
    daemon,
    log,
    timeoutMinutes: () => minutes,
    runtimes: async () => [],
    tickMs: 5,
  });
  daemon.setPhase('running');
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(daemon.requests.find((r) => r.method === 'colab/runtime/setIdleTimeout')!.params, { minutes: 45 });

  daemon.notify('colab/runtime/idleWarning', { runtimeId: 'gone-1', secondsLeft: 3 });
  await new Promise((r) => setTimeout(r, 80));
  assert.ok(!daemon.requests.some((r) => r.method === 'colab/runtime/keepAlive'));
  daemon.notify('colab/runtime/idleDisconnected', { runtimeId: 'gone-1', idleSeconds: 3600 });
  await new Promise((r) => setTimeout(r, 10));
  assert.ok(vs.shown.some((s) => /disconnected after 60 min idle/.test(s.message)), JSON.stringify(vs.shown));

  // A bad setting falls back to the default rather than sending nonsense.
  minutes = -3;
  await notifier.sendTimeout();
  assert.deepEqual(daemon.requests.filter((r) => r.method === 'colab/runtime/setIdleTimeout').at(-1)!.params, { minutes: 60 });
  notifier.dispose();
});
