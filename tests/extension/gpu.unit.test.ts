import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Emitter } from '../../colab-vscode/src/events';
import { GpuStatusBar } from '../../colab-vscode/src/gpu/gpuStatusBar';
import { gigabytes, gpuStatusText, gpuTooltip, shortGpuName } from '../../colab-vscode/src/gpu/gpuText';
import type { GpuSnapshot } from '../../colab-vscode/src/protocol';
import { settle } from './fakeDaemon';
import { createHarness } from './harness';
import type { StubMarkdownString, StubStatusBarItem, StubThemeColor } from './vscodeStub';

const GiB = 1024 ** 3;

function h100(overrides: Partial<GpuSnapshot> = {}): GpuSnapshot {
  return {
    state: 'ok',
    source: 'nvml',
    takenAt: '2026-11-21T21:00:00Z',
    driverVersion: '550.54.15',
    cudaDriverVersion: '12.4',
    devices: [
      {
        index: 0,
        name: 'NVIDIA H100 80GB HBM3',
        utilizationGpuPercent: 37,
        memoryUsedBytes: 12.4 * GiB,
        memoryTotalBytes: 80 * GiB,
        temperatureCelsius: 61,
        powerDrawWatts: 312.4,
        powerLimitWatts: 700,
        migDevices: [],
        processes: [{ pid: 4242, usedMemoryBytes: 12 * GiB, name: 'python3', user: 'alice' }],
        notes: [],
      },
    ],
    notes: [],
    ...overrides,
  };
}

test('GPU names shrink to what people call them', () => {
  assert.equal(shortGpuName('NVIDIA H100 80GB HBM3'), 'H100');
  assert.equal(shortGpuName('NVIDIA A100-SXM4-40GB'), 'A100');
  assert.equal(shortGpuName('Tesla T4'), 'T4');
  assert.equal(shortGpuName('NVIDIA GeForce RTX 4090'), 'RTX 4090');
  assert.equal(shortGpuName(undefined), 'GPU');
});

test('memory reads in GB with one decimal below 100', () => {
  assert.equal(gigabytes(12.4 * GiB), '12.4');
  assert.equal(gigabytes(80 * GiB), '80');
  assert.equal(gigabytes(141 * GiB), '141');
});

test("the status bar reads '$(chip) H100 · 37% · 12.4/80 GB · 61°C' for one H100", () => {
  assert.equal(gpuStatusText(h100()), '$(chip) H100 · 37% · 12.4/80 GB · 61°C');
});

test('unknown fields are left out of the status text rather than shown as zero', () => {
  const snapshot = h100();
  snapshot.devices[0] = { ...snapshot.devices[0], utilizationGpuPercent: undefined, temperatureCelsius: undefined };
  assert.equal(gpuStatusText(snapshot), '$(chip) H100 · 12.4/80 GB');
});

test("a host without a driver reads 'No GPU' and the tooltip says why", () => {
  const none: GpuSnapshot = { state: 'noDriver', source: 'none', reason: 'no NVIDIA driver: libnvidia-ml.so.1 not loadable', takenAt: '', devices: [], notes: [] };
  assert.equal(gpuStatusText(none), '$(chip) No GPU');
  assert.match(gpuTooltip(none), /libnvidia-ml\.so\.1 not loadable/);
});

test('the tooltip lists every GPU, its processes, the driver and CUDA version and power', () => {
  const two = h100();
  two.devices.push({ ...two.devices[0], index: 1, name: 'Tesla T4', processes: [] });
  const text = gpuTooltip(two);
  assert.match(text, /Driver 550\.54\.15, CUDA 12\.4/);
  assert.match(text, /GPU 0: NVIDIA H100 80GB HBM3/);
  assert.match(text, /GPU 1: Tesla T4/);
  assert.match(text, /pid 4242 python3 \(alice\): 12 GB/);
  assert.match(text, /power 312 W of 700 W/);
  assert.equal(gpuStatusText(two), '$(chip) H100 · 37% · 12.4/80 GB · 61°C +1');
});

function withGpuBar(focused = true) {
  const h = createHarness();
  const focusChanged = new Emitter<boolean>();
  const focus = { focused, onDidChange: focusChanged.event };
  const bar = new GpuStatusBar(h.vs.api, h.client, focus, () => 2000);
  const item = h.vs.statusBarItems.find((i) => i.id === 'colab.gpuStatus') as StubStatusBarItem;
  const watchCalls = () =>
    h.daemons.connections.flatMap((d) => d.requests.filter((r) => r.method === 'colab/gpu/watch').map((r) => r.params));
  const setFocus = (value: boolean) => {
    focus.focused = value;
    focusChanged.fire(value);
  };
  return { ...h, bar, item, watchCalls, setFocus };
}

test('the daemon is asked to poll GPUs only while the window is focused', async () => {
  const { client, watchCalls, setFocus } = withGpuBar();
  assert.deepEqual(watchCalls(), [], 'nothing is asked before a daemon runs');
  await client.start();
  await settle();
  assert.deepEqual(watchCalls(), [{ enabled: true, intervalMs: 2000 }]);
  setFocus(false);
  await settle();
  assert.deepEqual(watchCalls().at(-1), { enabled: false, intervalMs: 2000 });
  setFocus(false);
  await settle();
  assert.equal(watchCalls().length, 2, 'the same state is not sent twice');
  setFocus(true);
  await settle();
  assert.deepEqual(watchCalls().at(-1), { enabled: true, intervalMs: 2000 });
});

test('a GPU reading pushed by the daemon shows in the status bar, also after a daemon restart', async () => {
  const { client, daemons, item } = withGpuBar();
  await client.start();
  await settle();
  daemons.latest().notify('colab/gpu/changed', h100());
  assert.equal(item.text, '$(chip) H100 · 37% · 12.4/80 GB · 61°C');
  assert.equal(item.visible, true);
  assert.equal(item.backgroundColor, undefined);
  assert.match((item.tooltip as unknown as StubMarkdownString).value, /CUDA 12\.4/);

  await client.restart();
  await settle();
  daemons.latest().notify('colab/gpu/changed', { state: 'noGpu', source: 'nvml', reason: 'no GPUs', takenAt: '', devices: [], notes: [] });
  assert.equal(item.text, '$(chip) No GPU');
  assert.equal((item.backgroundColor as unknown as StubThemeColor).id, 'statusBarItem.warningBackground');
});

test('a daemon that comes up is asked for one reading at once, even while the window is not focused', async () => {
  const { client, item, watchCalls } = withGpuBar(false);
  await client.start();
  await settle();
  assert.equal(item.text, '$(chip) No GPU');
  assert.equal(item.visible, true);
  assert.deepEqual(watchCalls(), [{ enabled: false, intervalMs: 2000 }], 'no polling while unfocused');
});
