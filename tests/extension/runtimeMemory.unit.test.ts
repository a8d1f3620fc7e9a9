import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ColabNotebookController } from '../../colab-vscode/src/notebook/controller';
import { tokenSecretKey } from '../../colab-vscode/src/runtime/commands';
import { RuntimeMemory, runtimeMemoryKey } from '../../colab-vscode/src/runtime/memory';
import { RuntimeSession } from '../../colab-vscode/src/runtime/session';
import { settle } from './fakeDaemon';
import { createHarness } from './harness';
import type { StubNotebookController } from './vscodeStub';

async function memoryHarness(state = new Map<string, unknown>()) {
  const h = createHarness();
  await h.client.start();
  await settle();
  const log = { info: (m: string) => h.log.push(`info: ${m}`), error: (m: string) => h.log.push(`error: ${m}`) };
  const session = new RuntimeSession(h.client, log);
  const secrets = new Map<string, string>();
  const memory = new RuntimeMemory({
    daemon: h.client,
    session,
    state: { get: <T>(k: string) => state.get(k) as T, update: async (k: string, v: unknown) => void state.set(k, v), keys: () => [...state.keys()] } as never,
    secrets: { get: async (k: string) => secrets.get(k) },
    window: h.vs.api.window,
    log,
  });
  let n = 0;
  const notebooks = new ColabNotebookController(h.vs.api, h.client, session, log, () => `exec${++n}`);
  const controller = h.vs.controllers[0] as StubNotebookController;
  const nb = { uri: { toString: () => 'file:///train.ipynb' } };
  const run = async (code: string) => {
    await controller.executeHandler!([{ index: 0, document: { getText: () => code } }], nb, controller);
    await settle();
  };
  return { h, session, memory, notebooks, run, state, secrets };
}

async function until(condition: () => boolean, what: string) {
  for (let i = 0; i < 200 && !condition(); i++) {
    await settle();
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(condition(), `timed out waiting for ${what}`);
}

test('a remote runtime is remembered without its token, reconnected after a daemon crash, and the notebook re-attaches to its kernel by id', async () => {
  const { h, session, run, state, secrets } = await memoryHarness();
  secrets.set(tokenSecretKey('https://gpu.example.com/'), 's3cr3t-token');
  await session.connect({ kind: 'remote', url: 'https://gpu.example.com/', token: 's3cr3t-token' });
  await run('x = 1');
  await until(() => Array.isArray(state.get(runtimeMemoryKey)) && (state.get(runtimeMemoryKey) as unknown[]).length === 1, 'the runtime to be remembered');
  assert.deepEqual(state.get(runtimeMemoryKey), [{ kind: 'remote', url: 'https://gpu.example.com/', active: true }]);
  assert.ok(!JSON.stringify([...state]).includes('s3cr3t-token'), 'no token in the workspace state');
  const first = h.daemons.latest();
  assert.deepEqual(first.requests.find((r) => r.method === 'colab/kernel/start')!.params, { runtimeId: 'rt1', notebook: 'train.ipynb' });

  await first.crash();
  const second = h.daemons.latest();
  assert.notEqual(second, first);
  await until(() => second.requests.some((r) => r.method === 'colab/runtime/connect'), 'the reconnect');
  assert.deepEqual(second.requests.find((r) => r.method === 'colab/runtime/connect')!.params, {
    kind: 'remote',
    url: 'https://gpu.example.com/',
    token: 's3cr3t-token',
  });
  await until(() => session.current?.url === 'https://gpu.example.com/', 'the runtime to be active again');

  await run('print(x)');
  assert.deepEqual(second.requests.find((r) => r.method === 'colab/kernel/start')!.params, { runtimeId: 'rt1', kernelId: 'k1' });
  assert.ok(h.log.some((l) => l.includes('Re-attached kernel')), h.log.join('\n'));
});

test('a remembered runtime that fails to reconnect is reported and forgotten; malformed entries are ignored', async () => {
  const state = new Map<string, unknown>([[runtimeMemoryKey, [{ kind: 'remote', url: 'https://gone.example.com/' }, { kind: 'nonsense' }, 'junk']]]);
  const { h, memory } = await memoryHarness(state);
  // The fake daemon refuses this URL as a real one would refuse an unreachable server.
  const daemon = h.daemons.latest();
  const connect = daemon.requests.length;
  const original = daemon.sendRequest.bind(daemon);
  daemon.sendRequest = (async (method: string, params?: unknown) => {
    if (method === 'colab/runtime/connect') {
      daemon.requests.push({ method, params });
      throw new Error('no Jupyter server at https://gone.example.com/: connection refused');
    }
    return original(method, params);
  }) as typeof daemon.sendRequest;
  await memory.restore();
  assert.ok(daemon.requests.length > connect);
  assert.ok(h.vs.shown.some((s) => s.kind === 'warning' && /could not reconnect https:\/\/gone\.example\.com\/: no Jupyter server/.test(s.message)));
  assert.deepEqual(state.get(runtimeMemoryKey), []);
});

test('re-attaching falls back to a fresh kernel when the server says the old one is gone', async () => {
  const { h, session, run } = await memoryHarness();
  await session.connect({ kind: 'remote', url: 'https://gpu.example.com/' });
  await run('x = 1');
  await h.daemons.latest().crash();
  const second = h.daemons.latest();
  await until(() => session.current !== undefined, 'the reconnect');
  const original = second.sendRequest.bind(second);
  second.sendRequest = (async (method: string, params?: unknown) => {
    if (method === 'colab/kernel/start' && (params as { kernelId?: string }).kernelId) {
      second.requests.push({ method, params });
      throw new Error('no such kernel k1');
    }
    return original(method, params);
  }) as typeof second.sendRequest;
  await run('print(1)');
  const starts = second.requests.filter((r) => r.method === 'colab/kernel/start').map((r) => r.params);
  assert.deepEqual(starts, [{ runtimeId: 'rt1', kernelId: 'k1' }, { runtimeId: 'rt1', notebook: 'train.ipynb' }]);
  assert.ok(second.requests.some((r) => r.method === 'colab/kernel/execute'));
});
