// The GPU commands, runtime GPU items and history page, against a small fake daemon:
// each command sends one request and shows the answer; the required-GPU check offers
// Disconnect / Keep; the history page is inline SVG with nothing executable.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Emitter } from '../../colab-vscode/src/events';
import {
  benchmarkRuntime,
  checkGpu,
  gpuCommandIds,
  readRequired,
  RuntimeGpuItems,
  type GpuCommandContext,
} from '../../colab-vscode/src/gpu/gpuCommands';
import { chartPoints, gpuHistoryHtml } from '../../colab-vscode/src/gpu/gpuHistoryHtml';
import type { GpuCheckResult, GpuHistoryResult, GpuSnapshot, RuntimeInfo } from '../../colab-vscode/src/protocol';

const GiB = 1024 ** 3;

function snapshot(name: string, state: GpuSnapshot['state'] = 'ok'): GpuSnapshot {
  return {
    state,
    source: 'nvml',
    takenAt: '2026-11-21T21:00:00Z',
    devices: state === 'ok' ? [{ index: 0, name, utilizationGpuPercent: 5, memoryUsedBytes: 1 * GiB, memoryTotalBytes: 16 * GiB, migDevices: [], notes: [] }] : [],
    notes: [],
  };
}

function runtime(id: string, kind: 'local' | 'remote' = 'remote'): RuntimeInfo {
  return { id, kind, url: kind === 'remote' ? 'https://gpu.example:8888/' : 'http://127.0.0.1:1/', state: 'connected', connectedAt: '', insecureTransport: false } as RuntimeInfo;
}

function fake(required: string[] = [], answers: Record<string, (params: unknown) => unknown> = {}) {
  const requests: { method: string; params: unknown }[] = [];
  const notifications = new Map<string, Emitter<unknown>>();
  const messages: { kind: string; text: string; actions: string[] }[] = [];
  const documents: string[] = [];
  const items: { id: string; text: string; visible: boolean; command?: string; disposed: boolean; backgroundColor?: unknown; hide(): void; show(): void; dispose(): void; name?: string; tooltip?: unknown }[] = [];
  let choice: string | undefined;
  let pick: (items: { label: string }[]) => unknown = (list) => list[0];
  const message = (kind: string) => async (text: string, ...actions: string[]) => {
    messages.push({ kind, text, actions });
    return actions.length > 0 ? choice : undefined;
  };
  const api = {
    window: {
      showInformationMessage: message('info'),
      showWarningMessage: message('warning'),
      showErrorMessage: message('error'),
      showQuickPick: async (list: { label: string }[]) => pick(list),
      showTextDocument: async () => undefined,
      withProgress: async (_o: unknown, task: () => Promise<unknown>) => task(),
      createStatusBarItem: (id: string) => {
        const item = {
          id, text: '', visible: false, disposed: false,
          hide() { this.visible = false; }, show() { this.visible = true; }, dispose() { this.disposed = true; },
        };
        items.push(item);
        return item;
      },
    },
    workspace: { openTextDocument: async (o: { content: string }) => (documents.push(o.content), {}) },
    commands: { registerCommand: () => ({ dispose() {} }) },
    StatusBarAlignment: { Left: 1 },
    ThemeColor: class { constructor(readonly id: string) {} },
    MarkdownString: class { constructor(readonly value: string) {} },
    ViewColumn: { Beside: -2 },
    ProgressLocation: { Notification: 15 },
  };
  const daemon = {
    snapshot: { phase: 'running' },
    onDidChange: new Emitter<unknown>().event,
    async request<R>(method: string, params?: unknown): Promise<R> {
      requests.push({ method, params });
      const answer = answers[method];
      if (!answer) {
        throw new Error(`unexpected ${method}`);
      }
      return (await answer(params)) as R;
    },
    onNotification<P>(method: string, listener: (p: P) => void) {
      let e = notifications.get(method);
      if (!e) {
        notifications.set(method, (e = new Emitter<unknown>()));
      }
      return e.event((p) => listener(p as P));
    },
  };
  const ctx = { vscode: api, daemon, required: () => required } as unknown as GpuCommandContext;
  return {
    ctx, requests, messages, documents, items,
    notify: (method: string, params: unknown) => notifications.get(method)?.fire(params),
    setChoice: (c: string | undefined) => (choice = c),
    setPick: (p: typeof pick) => (pick = p),
  };
}

function checkAnswer(matches: boolean | undefined, message: string): GpuCheckResult {
  return { source: 'remote-1', text: 'GPU check: report', matches, message, required: [], gpus: [], snapshot: snapshot('Tesla T4') };
}

test('the required setting keeps strings only, trimmed, and drops empty ones', () => {
  assert.deepEqual(readRequired([' A100 ', 'H100', '', 3, null]), ['A100', 'H100']);
  assert.deepEqual(readRequired('A100'), []);
  assert.deepEqual(readRequired(undefined), []);
});

test('Check GPU asks the daemon with the required names and opens the report; a mismatch warns', async () => {
  const f = fake(['A100'], {
    'colab/runtime/list': () => ({ runtimes: [runtime('remote-1')] }),
    'colab/gpu/check': () => checkAnswer(false, 'runtime remote-1 has Tesla T4, but A100 is required.'),
  });
  f.setPick((list) => list[0]);
  await checkGpu(f.ctx)();
  assert.deepEqual(f.requests.at(-1), { method: 'colab/gpu/check', params: { runtimeId: 'remote-1', required: ['A100'] } });
  assert.deepEqual(f.documents, ['GPU check: report']);
  assert.equal(f.messages[0].kind, 'warning');
  assert.match(f.messages[0].text, /Tesla T4, but A100 is required/);
});

test('Check GPU without a runtime reports this machine', async () => {
  const f = fake([], {
    'colab/runtime/list': () => ({ runtimes: [] }),
    'colab/gpu/check': () => checkAnswer(undefined, 'this machine has no GPU.'),
  });
  await checkGpu(f.ctx)();
  assert.deepEqual(f.requests.at(-1), { method: 'colab/gpu/check', params: { runtimeId: undefined, required: [] } });
  assert.equal(f.messages[0].kind, 'info');
});

test('Check GPU shows the daemon\'s error instead of throwing', async () => {
  const f = fake([], {
    'colab/runtime/list': () => ({ runtimes: [] }),
    'colab/gpu/check': () => {
      throw new Error('Invalid params: a required GPU name must be 1 to 64 printable characters');
    },
  });
  await checkGpu(f.ctx)();
  assert.equal(f.messages[0].kind, 'error');
  assert.match(f.messages[0].text, /printable characters/);
});

test('Benchmark Runtime needs a runtime and opens the result table', async () => {
  const none = fake([], { 'colab/runtime/list': () => ({ runtimes: [] }) });
  await benchmarkRuntime(none.ctx)();
  assert.match(none.messages[0].text, /connect a runtime first/);

  const f = fake([], {
    'colab/runtime/list': () => ({ runtimes: [runtime('local-1', 'local')] }),
    'colab/gpu/benchmark': () => ({ runtimeId: 'local-1', notes: [], text: 'Runtime benchmark: local-1\nCPU matmul fp32 …' }),
  });
  await benchmarkRuntime(f.ctx)();
  assert.deepEqual(f.requests.at(-1), { method: 'colab/gpu/benchmark', params: { runtimeId: 'local-1' } });
  assert.match(f.documents[0], /Runtime benchmark: local-1/);
});

test('a runtime that connects without the required GPU warns with Disconnect / Keep; Disconnect disconnects it', async () => {
  const f = fake(['A100', 'H100'], {
    'colab/gpu/check': () => checkAnswer(false, 'runtime remote-1 has Tesla T4, but A100 or H100 is required.'),
    'colab/runtime/disconnect': () => null,
  });
  const items = new RuntimeGpuItems(f.ctx);
  f.setChoice('Disconnect');
  await items.runtimesChanged([runtime('remote-1')]);
  assert.deepEqual(f.messages[0].actions, ['Disconnect', 'Keep']);
  assert.deepEqual(f.requests.at(-1), { method: 'colab/runtime/disconnect', params: { runtimeId: 'remote-1' } });

  // Seen once: a later change of the list does not ask again.
  const before = f.requests.length;
  await items.runtimesChanged([runtime('remote-1')]);
  assert.equal(f.requests.length, before);
  items.dispose();
});

test('Keep keeps the runtime, and nothing is checked when nothing is required', async () => {
  const f = fake(['A100'], { 'colab/gpu/check': () => checkAnswer(false, 'no') });
  const items = new RuntimeGpuItems(f.ctx);
  f.setChoice('Keep');
  await items.runtimesChanged([runtime('remote-1')]);
  assert.ok(!f.requests.some((r) => r.method === 'colab/runtime/disconnect'));

  const none = fake([], {});
  const quiet = new RuntimeGpuItems(none.ctx);
  await quiet.runtimesChanged([runtime('remote-2')]);
  assert.equal(none.requests.length, 0);
  items.dispose();
  quiet.dispose();
});

test('a remote runtime gets its own status item; a local one reading like this machine does not; disconnect removes it', () => {
  const f = fake();
  const items = new RuntimeGpuItems(f.ctx);
  f.notify('colab/gpu/changed', snapshot('NVIDIA H100 80GB HBM3'));
  f.notify('colab/gpu/runtimeChanged', { runtimeId: 'local-1', snapshot: snapshot('NVIDIA H100 80GB HBM3') });
  assert.equal(f.items.filter((i) => i.visible).length, 0, 'same host, same reading: no second item');

  f.notify('colab/gpu/runtimeChanged', { runtimeId: 'remote-1', snapshot: snapshot('Tesla T4') });
  const item = f.items.find((i) => i.id === 'colab.gpuStatus.remote-1')!;
  assert.equal(item.text, '$(cloud) T4 · 5% · 1/16 GB');
  assert.equal(item.command, gpuCommandIds.showGpuHistory);
  assert.equal(item.backgroundColor, undefined);

  f.notify('colab/gpu/runtimeChanged', { runtimeId: 'remote-1', snapshot: snapshot('', 'noGpu') });
  assert.equal(item.text, '$(cloud) No GPU');
  assert.ok(item.backgroundColor, 'no GPU on the runtime shows in the warning colour');

  f.notify('colab/gpu/runtimeChanged', { runtimeId: 'remote-1' });
  assert.equal(item.disposed, true);
  items.dispose();
});

test('chart points spread over time, clamp to the chart and break at unknown values', () => {
  const lines = chartPoints([0, 50, 100, 150], [0, 2, undefined, 0.5], 0, 100);
  assert.deepEqual(lines, ['0.0,80.0 180.0,0.0', '540.0,40.0']);
});

test('the history page draws one utilisation and one memory chart per GPU, escapes names and runs no script', () => {
  const now = Date.parse('2026-11-21T21:05:00Z');
  const history: GpuHistoryResult = {
    intervalMs: 2000,
    sources: [
      {
        source: 'local',
        state: 'ok',
        gpus: [
          {
            index: 0,
            name: '<img src=x onerror=alert(1)>',
            samples: [
              { at: '2026-11-21T21:01:00Z', utilizationGpuPercent: 10, memoryUsedBytes: 1 * GiB, memoryTotalBytes: 16 * GiB },
              { at: '2026-11-21T21:04:00Z', utilizationGpuPercent: 90, memoryUsedBytes: 8 * GiB, memoryTotalBytes: 16 * GiB },
            ],
          },
        ],
      },
      { source: 'remote-1', state: 'noDriver', reason: 'no NVIDIA driver', gpus: [] },
    ],
  };
  const html = gpuHistoryHtml(history, 5, now, (s) => (s === 'local' ? 'This machine' : `Runtime ${s}`));
  assert.equal((html.match(/<svg /g) ?? []).length, 2);
  assert.match(html, /Utilisation <b>90%<\/b>/);
  assert.match(html, /Memory <b>8\/16 GB<\/b>/);
  assert.match(html, /Runtime remote-1<\/h2>\n<p class="none">No GPU: no NVIDIA driver/);
  assert.ok(!html.includes('<img'), 'names are escaped');
  assert.ok(!/<script/i.test(html));
  assert.match(html, /default-src 'none'/);
});
