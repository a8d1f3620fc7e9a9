// colab.driveCopyToRuntime: the active runtime (a remote one included) is offered first, and the
// request carries its id; the user's target goes to the daemon as typed. The daemon side (the real
// copy to a real remote Jupyter server) is tested in tests/daemon/Drive/DriveRemoteCopyTests.cs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type * as vscode from 'vscode';
import { defaultTarget, registerDriveCopyToRuntime, runtimeChoices } from '../../colab-vscode/src/drive/driveCopyToRuntime';
import type { RuntimeInfo } from '../../colab-vscode/src/protocol';
import { createVscodeStub } from './vscodeStub';

const local: RuntimeInfo = { id: 'local-1', kind: 'local', url: 'http://127.0.0.1:8888/', insecureTransport: false, connectedAt: '', state: 'connected' } as RuntimeInfo;
const remote: RuntimeInfo = { id: 'remote-2', kind: 'remote', url: 'https://gpu.example.org/', insecureTransport: false, connectedAt: '', state: 'connected' } as RuntimeInfo;
const gone: RuntimeInfo = { ...remote, id: 'remote-3', state: 'disconnected' } as RuntimeInfo;
const item = { kind: 'item' as const, item: { id: 'file-1', name: 'cats.tar.gz', mimeType: 'application/gzip', isFolder: false } };

function setup(runtimes: RuntimeInfo[], active: RuntimeInfo | undefined, pick: (items: { label: string }[]) => unknown, answer: string | undefined) {
  const vs = createVscodeStub();
  vs.pick = pick;
  vs.inputAnswers.push(answer);
  const requests: { method: string; params: unknown }[] = [];
  const daemon = {
    request: async <R>(method: string, params?: unknown): Promise<R> => {
      requests.push({ method, params });
      if (method === 'colab/runtime/list') return { runtimes } as R;
      if (method === 'colab/drive/copyToRuntime') return { target: 'datasets/cats', files: 3, bytes: 2 << 20, skipped: false } as R;
      throw new Error(`unexpected ${method}`);
    },
  };
  const api = { ...vs.api, ProgressLocation: { Notification: 15 }, window: { ...vs.api.window, withProgress: (_o: unknown, work: () => Promise<unknown>) => work() } } as unknown as typeof vscode;
  registerDriveCopyToRuntime({ vscode: api, daemon, active: () => active });
  return { vs, requests, run: (...args: unknown[]) => vs.commands.get('colab.driveCopyToRuntime')!(...args) as Promise<void> };
}

test('the active remote runtime is offered first and marked active; disconnected ones are not offered', () => {
  const choices = runtimeChoices([local, remote, gone], remote.id);
  assert.deepEqual(choices.map((c) => [c.label, c.description]), [['Remote runtime https://gpu.example.org/', 'active'], ['Local runtime', undefined]]);
  assert.equal(runtimeChoices([local, remote], local.id)[0].runtime.id, 'local-1');
});

test('copying to the active remote runtime sends its id and the typed target', async () => {
  const s = setup([local, remote], remote, (items) => items[0], 'data/cats');
  await s.run(item);
  assert.equal(s.vs.quickPicks[0][0].label, 'Remote runtime https://gpu.example.org/');
  const copy = s.requests.find((r) => r.method === 'colab/drive/copyToRuntime');
  assert.deepEqual(copy?.params, { id: 'file-1', target: 'data/cats', runtimeId: 'remote-2' });
  assert.match(s.vs.shown.at(-1)?.message ?? '', /Extracted 3 files \(2\.0 MB\) into data\/cats/);
});

test('a single connected runtime is used without a pick; Escape at the target sends nothing', async () => {
  const s = setup([remote], remote, () => assert.fail('no pick expected'), undefined);
  await s.run(item);
  assert.equal(s.vs.quickPicks.length, 0);
  assert.equal(s.requests.some((r) => r.method === 'colab/drive/copyToRuntime'), false);
});

test('no connected runtime says so; folders and non-items do nothing', async () => {
  const s = setup([gone], undefined, () => undefined, 'x');
  await s.run(item);
  assert.match(s.vs.shown.at(-1)?.message ?? '', /no runtime is connected/);
  const t = setup([remote], remote, () => undefined, 'x');
  await t.run({ kind: 'item', item: { ...item.item, isFolder: true } });
  await t.run(undefined);
  assert.equal(t.requests.length, 0);
});

test('the default target is a safe folder under datasets/', () => {
  assert.equal(defaultTarget('cats.tar.gz'), 'datasets/cats');
  assert.equal(defaultTarget('My Data (v2).zip'), 'datasets/My_Data_v2_');
  assert.equal(defaultTarget('..zip'), 'datasets/dataset');
});
