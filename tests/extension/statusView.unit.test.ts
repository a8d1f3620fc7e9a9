import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StatusView, uptimeTickMs, type StatusNode } from '../../colab-vscode/src/status/statusView';
import { serverStatus, settle } from './fakeDaemon';
import { createHarness } from './harness';
import type { StubThemeIcon, StubTreeItem } from './vscodeStub';

const startedAt = Date.parse('2026-11-21T20:25:54.168+00:00');

function rows(view: StatusView) {
  return view.getChildren().map((node: StatusNode) => {
    const item = view.getTreeItem(node) as unknown as StubTreeItem;
    return { label: item.label, description: item.description, icon: (item.iconPath as StubThemeIcon | undefined)?.id };
  });
}

test('the Status view lists health, version, pid, uptime and each capability with its state and detail', async () => {
  const h = createHarness();
  const view = new StatusView(h.vs.api, h.client, () => startedAt + 75_000);
  await h.client.start();
  await settle();
  assert.deepEqual(rows(view), [
    { label: 'Daemon', description: 'ready', icon: 'check' },
    { label: 'Version', description: '0.1.0', icon: 'versions' },
    { label: 'PID', description: '1234', icon: 'server-process' },
    { label: 'Uptime', description: '1 min 15 s', icon: 'clock' },
    { label: 'gpu', description: 'unavailable — no NVIDIA driver', icon: 'circle-slash' },
    { label: 'python', description: 'available — /usr/bin/python3 (Python 3.11.2)', icon: 'pass' },
    { label: 'localRuntime', description: 'available — jupyter-server and ipykernel in /usr/bin/python3', icon: 'pass' },
    { label: 'torch', description: 'unavailable — /usr/bin/python3 lacks torch', icon: 'circle-slash' },
  ]);
});

test('the Status view refreshes when the daemon sends serverStatusChanged', async () => {
  const h = createHarness({ configure: (c) => (c.status = undefined) });
  const view = new StatusView(h.vs.api, h.client, () => startedAt);
  await h.client.start();
  let refreshed = 0;
  view.onDidChangeTreeData(() => refreshed++);
  h.daemons.latest().notify(
    'colab/serverStatusChanged',
    serverStatus({ capabilities: [{ name: 'gpu', state: 'probing', detail: '' }] }),
  );
  assert.equal(refreshed, 1);
  assert.deepEqual(rows(view).at(-1), { label: 'gpu', description: 'probing', icon: 'sync~spin' });

  h.daemons.latest().notify(
    'colab/serverStatusChanged',
    serverStatus({ uptimeSeconds: 13, capabilities: [{ name: 'gpu', state: 'available', detail: 'NVIDIA driver library libnvidia-ml.so.1' }] }),
  );
  assert.equal(refreshed, 2);
  assert.deepEqual(rows(view).at(-1), { label: 'gpu', description: 'available — NVIDIA driver library libnvidia-ml.so.1', icon: 'pass' });
});

test('the Status view redraws on a timer so its uptime moves on', async () => {
  const h = createHarness();
  let clock = startedAt + 10_000;
  let tick: (() => void) | undefined;
  let disposed = false;
  const view = new StatusView(h.vs.api, h.client, () => clock, (ms, f) => {
    assert.equal(ms, uptimeTickMs);
    tick = f;
    return { dispose: () => (disposed = true) };
  });
  await h.client.start();
  await settle();
  let refreshed = 0;
  view.onDidChangeTreeData(() => refreshed++);
  const uptime = () => rows(view).find((r) => r.label === 'Uptime')?.description;
  const before = uptime();
  clock += 120_000;
  tick?.();
  assert.equal(refreshed, 1);
  assert.notEqual(uptime(), before);
  view.dispose();
  assert.ok(disposed);
});

test('the Status view says why the daemon failed', async () => {
  const h = createHarness({ locate: () => ({ ok: false, reason: 'No Colab daemon found for linux-x64. Looked for:\n  /x', tried: [] }) });
  const view = new StatusView(h.vs.api, h.client);
  await h.client.start();
  assert.deepEqual(rows(view), [
    { label: 'Daemon', description: 'failed', icon: 'error' },
    { label: 'Reason', description: 'No Colab daemon found for linux-x64. Looked for:', icon: 'info' },
  ]);
});
