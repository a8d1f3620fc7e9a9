import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  connectRemoteRuntime,
  disconnectRuntime,
  parseRuntimeUrl,
  registerRuntimeCommands,
  runtimeCommandIds,
  tokenSecretKey,
  type RuntimeCommandContext,
} from '../../colab-vscode/src/runtime/commands';
import { RuntimeSession } from '../../colab-vscode/src/runtime/session';
import { StubCancellationTokenSource } from './vscodeStub';
import { settle } from './fakeDaemon';
import { createHarness } from './harness';

async function commandHarness() {
  const h = createHarness();
  await h.client.start();
  await settle();
  const log = { info: (m: string) => h.log.push(`info: ${m}`), error: (m: string) => h.log.push(`error: ${m}`) };
  const session = new RuntimeSession(h.client, log);
  const secrets = new Map<string, string>();
  const kernels = { restarts: 0, restart: async () => (kernels.restarts++, true), interrupt: async () => true };
  const ctx: RuntimeCommandContext = {
    vscode: h.vs.api,
    session,
    kernels,
    secrets: { get: async (k: string) => secrets.get(k), store: async (k: string, v: string) => void secrets.set(k, v) },
    log,
  };
  return { h, session, secrets, ctx, daemon: h.daemons.latest() };
}

test('Connect to Remote Runtime stores the token in SecretStorage and sends it only in the connect params', async () => {
  const { h, ctx, secrets, daemon, session } = await commandHarness();
  h.vs.inputAnswers.push('https://gpu.example.com:8888/lab', 's3cr3t-token');
  await connectRemoteRuntime(ctx)();
  assert.equal(h.vs.inputBoxes[1].password, true, 'the token box hides what is typed');
  assert.equal(secrets.get(tokenSecretKey('https://gpu.example.com:8888/lab')), 's3cr3t-token');
  assert.deepEqual(daemon.requests.find((r) => r.method === 'colab/runtime/connect')!.params, {
    kind: 'remote',
    url: 'https://gpu.example.com:8888/lab',
    token: 's3cr3t-token',
  });
  assert.equal(session.current?.url, 'https://gpu.example.com:8888/lab');
  const everythingShown = JSON.stringify([h.log, h.vs.shown]);
  assert.ok(!everythingShown.includes('s3cr3t-token'), everythingShown);
});

test('a token in the URL is taken out of it; plain http to another host warns', async () => {
  const { h, ctx, secrets, daemon } = await commandHarness();
  h.vs.inputAnswers.push('http://10.0.0.5:8888/?token=abc123', '');
  await connectRemoteRuntime(ctx)();
  const params = daemon.requests.find((r) => r.method === 'colab/runtime/connect')!.params as { url: string; token: string };
  assert.equal(params.url, 'http://10.0.0.5:8888/');
  assert.equal(params.token, 'abc123');
  assert.equal(secrets.get(tokenSecretKey('http://10.0.0.5:8888/')), 'abc123');
  const warning = h.vs.shown.find((s) => s.kind === 'warning');
  assert.match(warning!.message, /not encrypted/);
  assert.ok(!JSON.stringify([h.log, h.vs.shown]).includes('abc123'));
});

test('Escape at the URL box connects nothing; a bad URL is refused', async () => {
  const { h, ctx, daemon } = await commandHarness();
  await connectRemoteRuntime(ctx)();
  assert.ok(!daemon.requests.some((r) => r.method === 'colab/runtime/connect'));
  assert.ok('error' in parseRuntimeUrl('ftp://x'));
  assert.ok('error' in parseRuntimeUrl('not a url'));
  assert.equal(h.vs.shown.length, 0);
});

test('Disconnect Runtime disconnects the only runtime, or the one picked when there are several', async () => {
  const { h, ctx, session, daemon } = await commandHarness();
  await disconnectRuntime(ctx)();
  assert.match(h.vs.shown[0].message, /no runtime is connected/);
  await session.connect({ kind: 'local' });
  await session.connect({ kind: 'remote', url: 'https://b.example/' });
  h.vs.pick = (items) => items.find((i) => i.label === 'Local runtime');
  await disconnectRuntime(ctx)();
  assert.deepEqual(h.vs.quickPicks[0].map((i) => i.label), ['Local runtime', 'https://b.example/']);
  assert.deepEqual(daemon.requests.filter((r) => r.method === 'colab/runtime/disconnect').map((r) => r.params), [{ runtimeId: 'rt1' }]);
  assert.equal(session.current?.id, 'rt2', 'the active runtime stays');
  await disconnectRuntime(ctx)();
  assert.equal(session.current, undefined);
});

test('the runtime commands are registered, and a failing one shows the error', async () => {
  const { h, ctx, daemon } = await commandHarness();
  registerRuntimeCommands(ctx);
  assert.deepEqual([...h.vs.commands.keys()].sort(), Object.values(runtimeCommandIds).sort());
  daemon.sendRequest = async () => {
    throw new Error('daemon says no');
  };
  await h.vs.api.commands.executeCommand(runtimeCommandIds.connectLocalRuntime);
  assert.deepEqual(h.vs.shown.at(-1), { kind: 'error', message: 'Colab: daemon says no', actions: [] });
});

test('Restart Runtime and Run All restarts the kernel of the active notebook, then runs all', async () => {
  const { h, ctx } = await commandHarness();
  registerRuntimeCommands(ctx);
  let ranAll = 0;
  h.vs.commands.set('notebook.execute', () => ranAll++);
  h.vs.setActiveNotebook({ uri: { toString: () => 'file:///a.ipynb' } });
  await h.vs.api.commands.executeCommand(runtimeCommandIds.restartAndRunAll);
  assert.equal((ctx.kernels as unknown as { restarts: number }).restarts, 1);
  assert.equal(ranAll, 1);
});

test('the session forgets a runtime the daemon reports gone', async () => {
  const { session, daemon } = await commandHarness();
  const info = await session.connect({ kind: 'local' });
  daemon.notify('colab/runtime/changed', { runtimes: [{ ...info, state: 'exited' }] });
  assert.equal(session.current, undefined);
});

test('DaemonClient passes a cancellation token through, and answers server requests across restarts', async () => {
  const h = createHarness();
  await h.client.start();
  await settle();
  const answered: unknown[] = [];
  h.client.onRequest<{ n: number }, number>('test/double', (p) => (answered.push(p), p.n * 2));
  assert.equal(await h.daemons.latest().serverRequest('test/double', { n: 2 }), 4);
  await h.client.restart();
  await settle();
  assert.equal(h.daemons.connections.length, 2);
  assert.equal(await h.daemons.latest().serverRequest('test/double', { n: 5 }), 10);
  await assert.rejects(() => h.daemons.connections[0].serverRequest('test/double', { n: 1 }) as Promise<unknown>);

  const daemon = h.daemons.latest();
  daemon.kernels.set('k', { runtimeId: 'r', executionCount: 0, restarts: 0, interrupts: 0, shutdown: false });
  daemon.run = () => ({ outputs: [], status: 'ok', hang: true });
  const source = new StubCancellationTokenSource();
  const pending = h.client.request('colab/kernel/execute', { runtimeId: 'r', kernelId: 'k', code: '', executionId: 'x' }, source.token);
  source.cancel();
  await assert.rejects(pending, /cancelled/);
  assert.deepEqual(daemon.cancelled, ['x']);
});
