import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StatusBar } from '../../colab-vscode/src/status/statusBar';
import { serverStatus, settle } from './fakeDaemon';
import { createHarness } from './harness';
import type { StubStatusBarItem } from './vscodeStub';

function withStatusBar(options: Parameters<typeof createHarness>[0] = {}) {
  const h = createHarness(options);
  const bar = new StatusBar(h.vs.api, h.client, 'colab.showStatus');
  const item = h.vs.statusBarItems[0] as StubStatusBarItem;
  return { ...h, bar, item };
}

test("the status bar item is 'Colab Daemon' on the left, visible, and a click runs Colab: Show Status", () => {
  const { item } = withStatusBar();
  assert.equal(item.id, 'colab.daemonStatus');
  assert.equal(item.name, 'Colab Daemon');
  assert.equal(item.alignment, 1 /* Left */);
  assert.equal(item.command, 'colab.showStatus');
  assert.equal(item.visible, true);
});

test("the status bar reads 'Colab: starting' while the daemon starts and has not said it is ready", async () => {
  const { client, item } = withStatusBar({ configure: (c) => (c.status = undefined) });
  const starting = client.start();
  assert.equal(item.text, '$(sync~spin) Colab: starting');
  await starting;
  assert.equal(client.snapshot.phase, 'running');
  assert.equal(item.text, '$(sync~spin) Colab: starting', 'running but no ready status yet');
});

test("the status bar reads 'Colab: ready' after serverStatusChanged", async () => {
  const { client, daemons, item } = withStatusBar({ configure: (c) => (c.status = undefined) });
  await client.start();
  daemons.latest().notify('colab/serverStatusChanged', serverStatus({ health: 'ready', pid: 4242, version: '0.1.0' }));
  assert.equal(item.text, '$(check) Colab: ready');
  assert.match(String(item.tooltip), /0\.1\.0/);
  assert.match(String(item.tooltip), /pid 4242/);
  assert.equal(item.backgroundColor, undefined);
});

test("the status bar reads 'Colab: ready' from the answer to the first colab/serverStatus as well", async () => {
  const { client, item } = withStatusBar();
  await client.start();
  await settle();
  assert.equal(item.text, '$(check) Colab: ready');
});

test("the status bar reads 'Colab: failed' in error colours, with the paths tried in the tooltip, when no daemon is found", async () => {
  const { client, item } = withStatusBar({
    locate: () => ({
      ok: false,
      reason: 'No Colab daemon found for linux-x64. Looked for:\n  /ext/daemon/linux-x64/colab (bundled: missing)',
      tried: ['/ext/daemon/linux-x64/colab'],
    }),
  });
  await client.start();
  assert.equal(item.text, '$(error) Colab: failed');
  assert.match(String(item.tooltip), /linux-x64[\s\S]*\/ext\/daemon\/linux-x64\/colab/);
  assert.equal((item.backgroundColor as { id: string }).id, 'statusBarItem.errorBackground');
});

test("the status bar reads 'Colab: failed' after the daemon gave up, and 'Colab: ready' again after Restart Daemon", async () => {
  const { client, daemons, item } = withStatusBar();
  await client.start();
  for (let i = 0; i < 5; i++) await daemons.latest().crash();
  assert.equal(item.text, '$(error) Colab: failed');
  assert.match(String(item.tooltip), /crashed 5 times in 3 minutes/);

  await client.restart();
  await settle();
  assert.equal(item.text, '$(check) Colab: ready');
});

test("the status bar goes back to 'Colab: starting' while a crashed daemon restarts", async () => {
  const { client, daemons, item } = withStatusBar();
  await client.start();
  await settle();
  const connection = daemons.latest();
  daemons.configure = (c) => (c.status = undefined);
  const texts: string[] = [];
  const tooltips: string[] = [];
  client.onDidChange(() => {
    texts.push(item.text);
    tooltips.push(String(item.tooltip));
  });
  await connection.crash();
  assert.ok(!texts.includes('$(error) Colab: failed'), `no 'failed' flash during a restart: ${texts.join(', ')}`);
  assert.equal(item.text, '$(sync~spin) Colab: starting', 'running again, not ready yet');
  assert.ok(
    tooltips.some((t) => t.includes('stopped unexpectedly and is being restarted (crash 1 of at most 4 in 3 minutes)')),
    tooltips.join('\n---\n'),
  );
});

test("the status bar reads 'Colab: stopped' after the daemon is stopped on purpose", async () => {
  const { client, item } = withStatusBar();
  await client.start();
  await client.stop();
  assert.equal(item.text, '$(circle-slash) Colab: stopped');
});

test('disposing the status bar removes the item and stops following the daemon', async () => {
  const { client, bar, item } = withStatusBar();
  bar.dispose();
  assert.equal(item.disposed, true);
  await client.start();
  assert.equal(item.text, '$(circle-slash) Colab: stopped', 'unchanged after dispose');
});
