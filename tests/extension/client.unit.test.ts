import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DaemonNotRunningError } from '../../colab-vscode/src/daemon/client';
import { serverStatus, settle } from './fakeDaemon';
import { createHarness } from './harness';

const giveUpMessage =
  "The Colab daemon crashed 5 times in 3 minutes and will not be restarted. Use 'Colab: Restart Daemon' to try again.";

test('the daemon is started as `daemon --LogLevel=<setting> --stdio`, with COLAB_PYTHON from colab.python', async () => {
  const h = createHarness({ settings: { logLevel: 'Debug', python: '/opt/py/bin/python3' } });
  await h.client.start();
  const launch = h.daemons.latest().launch;
  assert.equal(launch.command, '/opt/colab/colab');
  assert.deepEqual(launch.args, ['daemon', '--LogLevel=Debug', '--stdio']);
  assert.deepEqual(launch.env, { COLAB_PYTHON: '/opt/py/bin/python3' });
});

test('a colab.dll daemon is run with dotnet, and no COLAB_PYTHON is set when colab.python is empty', async () => {
  const h = createHarness({
    locate: () => ({
      ok: true,
      daemon: { path: '/repo/colab.dll', command: 'dotnet', args: ['/repo/colab.dll'], source: 'development' },
      tried: [],
    }),
  });
  await h.client.start();
  const launch = h.daemons.latest().launch;
  assert.equal(launch.command, 'dotnet');
  assert.deepEqual(launch.args, ['/repo/colab.dll', 'daemon', '--LogLevel=Information', '--stdio']);
  assert.deepEqual(launch.env, {});
});

test('each of the first four crashes in three minutes starts a fresh daemon, and the user is not bothered', async () => {
  const h = createHarness();
  await h.client.start();
  for (let i = 1; i <= 4; i++) {
    h.advance(10_000);
    const crashed = h.daemons.latest();
    await crashed.crash();
    assert.equal(h.daemons.connections.length, i + 1, `a new daemon after crash ${i}`);
    assert.equal(crashed.stops, 1, 'the crashed connection is cleaned up');
    assert.equal(h.daemons.latest().state, 'running');
    assert.equal(h.client.snapshot.phase, 'running', `running again after crash ${i}`);
  }
  assert.deepEqual(h.vs.shown, []);
  assert.ok(h.log.includes('info: The Colab daemon stopped unexpectedly and is being restarted (crash 4 of at most 4 in 3 minutes).'));
});

test('a daemon that crashes while starting is restarted the same way', async () => {
  const h = createHarness();
  const starting = h.client.start();
  await h.daemons.latest().crash(); // dies before answering initialize
  await starting;
  await settle();
  assert.equal(h.daemons.connections.length, 2);
  assert.equal(h.client.snapshot.phase, 'running');
  assert.deepEqual(h.vs.shown, []);
});

test('after five crashes in three minutes the daemon is not restarted and the user is told', async () => {
  const h = createHarness();
  await h.client.start();
  for (let i = 0; i < 4; i++) {
    h.advance(20_000);
    await h.daemons.latest().crash();
  }
  h.advance(20_000);
  const told = h.vs.nextShown();
  h.vs.answer.error = 'Show Daemon Log';
  await h.daemons.latest().crash();

  assert.equal(h.daemons.connections.length, 5, 'no sixth daemon');
  assert.equal(h.client.snapshot.phase, 'failed');
  assert.equal(h.client.snapshot.reason, giveUpMessage);
  const message = await told;
  assert.deepEqual(message, { kind: 'error', message: giveUpMessage, actions: ['Show Daemon Log'] });
  await settle();
  assert.equal(h.counters.logShown, 1, "choosing 'Show Daemon Log' shows the log");
  assert.equal(h.vs.shown.length, 1, 'told once');
});

test('five crashes spread over more than three minutes are all restarted', async () => {
  const h = createHarness();
  await h.client.start();
  for (let i = 0; i < 5; i++) {
    h.advance(50_000);
    await h.daemons.latest().crash();
  }
  assert.equal(h.daemons.connections.length, 6);
  assert.equal(h.client.snapshot.phase, 'running');
});

test('Restart Daemon starts a fresh daemon after the client gave up, and the crash count starts again', async () => {
  const h = createHarness();
  await h.client.start();
  for (let i = 0; i < 5; i++) await h.daemons.latest().crash();
  assert.equal(h.client.snapshot.phase, 'failed');
  assert.equal(h.daemons.connections.length, 5);

  await h.client.restart();
  assert.equal(h.daemons.connections.length, 6);
  assert.equal(h.client.snapshot.phase, 'running');
  for (let i = 0; i < 4; i++) await h.daemons.latest().crash();
  assert.equal(h.daemons.connections.length, 10, 'four more crashes, four more restarts');
  assert.equal(h.client.snapshot.phase, 'running');
});

test('Restart Daemon stops the running daemon before starting a new one, and two at once leave one running', async () => {
  const h = createHarness();
  await h.client.start();
  const first = h.daemons.latest();
  await h.client.restart();
  assert.equal(first.stops, 1);
  assert.equal(h.daemons.connections.length, 2);
  assert.equal(h.daemons.latest().state, 'running');

  await Promise.all([h.client.restart(), h.client.restart()]);
  assert.equal(h.daemons.connections.filter((c) => c.state === 'running').length, 1);
});

test('a daemon that cannot be found leaves the client failed with the paths tried, and Restart Daemon looks again', async () => {
  let attempts = 0;
  const h = createHarness({
    locate: () => {
      attempts++;
      return { ok: false, reason: 'No Colab daemon found for linux-x64. Looked for:\n  /x/colab (bundled: missing)', tried: ['/x/colab'] };
    },
  });
  await h.client.start();
  assert.equal(h.client.snapshot.phase, 'failed');
  assert.match(h.client.snapshot.reason ?? '', /linux-x64[\s\S]*\/x\/colab/);
  assert.equal(h.daemons.connections.length, 0);
  assert.ok(h.log.some((l) => l.startsWith('error: No Colab daemon found')), 'the reason is in the daemon log');
  assert.deepEqual(h.vs.shown, [
    { kind: 'error', message: 'No Colab daemon found for linux-x64. Looked for:', actions: ['Show Daemon Log'] },
  ]);

  await h.client.restart();
  assert.equal(attempts, 2);
});

test('a daemon that cannot be started is reported once as failed with the reason, and not retried', async () => {
  const h = createHarness({
    configure: (c) => (c.failNextStart = new Error('Could not start the Colab daemon (/opt/colab/colab): spawn EACCES')),
  });
  await h.client.start();
  assert.equal(h.client.snapshot.phase, 'failed');
  assert.equal(h.client.snapshot.reason, 'The Colab daemon did not start: Could not start the Colab daemon (/opt/colab/colab): spawn EACCES');
  assert.equal(h.vs.shown.length, 1, 'told once');
  assert.equal(h.daemons.connections.length, 1, 'not retried: it is not a crash');
});

test('the status the daemon pushes is kept, and an older answer does not overwrite a newer push', async () => {
  let release = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  const h = createHarness({
    configure: (c) => {
      c.status = serverStatus({ health: 'starting', uptimeSeconds: 0.1 });
      c.answerGate = gate;
    },
  });
  await h.client.start();
  const connection = h.daemons.latest();
  connection.notify('colab/serverStatusChanged', serverStatus({ health: 'ready', uptimeSeconds: 0.5 }));
  assert.equal(h.client.snapshot.status?.health, 'ready');
  release(); // the answer to the initial colab/serverStatus (uptime 0.1) arrives after the push
  await settle();
  assert.deepEqual(connection.requests.map((r) => r.method), ['colab/serverStatus']);
  assert.equal(h.client.snapshot.status?.health, 'ready');
  assert.equal(h.client.snapshot.status?.uptimeSeconds, 0.5);
});

test('while a crashed daemon restarts the old status is gone', async () => {
  const h = createHarness();
  await h.client.start();
  await settle();
  assert.equal(h.client.snapshot.status?.pid, 1234);
  const connection = h.daemons.latest();
  h.daemons.configure = (c) => (c.status = undefined); // the new daemon does not answer yet
  await connection.crash();
  await settle();
  assert.equal(h.client.snapshot.phase, 'running');
  assert.equal(h.client.snapshot.status, undefined);
});

test('requests while no daemon runs fail with the reason, and reach the daemon when it runs', async () => {
  const h = createHarness({ locate: () => ({ ok: false, reason: 'No Colab daemon found for linux-x64.', tried: [] }) });
  await h.client.start();
  await assert.rejects(h.client.request('colab/serverStatus'), (e: unknown) => {
    assert.ok(e instanceof DaemonNotRunningError);
    assert.equal(e.message, 'The Colab daemon is not running. No Colab daemon found for linux-x64.');
    return true;
  });

  const ok = createHarness();
  await ok.client.start();
  const status = await ok.client.request('colab/serverStatus');
  assert.equal((status as { pid: number }).pid, 1234);
});

test('stopping (deactivate) shuts the daemon down and the state reads stopped, not failed', async () => {
  const h = createHarness();
  await h.client.start();
  const connection = h.daemons.latest();
  await h.client.stop();
  assert.equal(connection.stops, 1);
  assert.equal(h.client.snapshot.phase, 'stopped');
  // A crash report from the stopped connection changes nothing.
  await connection.crash();
  assert.equal(h.client.snapshot.phase, 'stopped');
  assert.equal(h.daemons.connections.length, 1);
});

test('a notification from a replaced daemon does not change the status', async () => {
  const h = createHarness();
  await h.client.start();
  const old = h.daemons.latest();
  await h.client.restart();
  await settle();
  old.notify('colab/serverStatusChanged', serverStatus({ pid: 999, uptimeSeconds: 1e6 }));
  assert.equal(h.client.snapshot.status?.pid, 1234);
});
