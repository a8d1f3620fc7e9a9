import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ensureExited, hasExited, spawnDaemon, type DaemonLaunch } from '../../colab-vscode/src/daemon/process';

function recorder() {
  const lines: string[] = [];
  const info: string[] = [];
  const errors: string[] = [];
  return { lines, info, errors, log: { appendLine: (l: string) => lines.push(l), info: (m: string) => info.push(m), error: (m: string) => errors.push(m) } };
}

function nodeDaemon(script: string, env: Record<string, string> = {}): DaemonLaunch {
  return { path: process.execPath, command: process.execPath, args: ['-e', script], env };
}

test("the daemon's stderr log reaches the log line by line as written, and it gets the added environment", async () => {
  const r = recorder();
  const child = await spawnDaemon(
    nodeDaemon("process.stderr.write('12:00:00.000 info: a[0] first\\r\\nsecond ' + process.env.COLAB_PYTHON + '\\n'); process.stdout.write('protocol')", {
      COLAB_PYTHON: '/opt/py',
    }),
    r.log,
  );
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  await new Promise((resolve) => child.once('close', resolve));
  assert.deepEqual(r.lines, ['12:00:00.000 info: a[0] first', 'second /opt/py']);
  assert.equal(stdout, 'protocol', 'stdout is left to the protocol');
  assert.ok(r.info.some((m) => m.startsWith(`Started the Colab daemon (pid ${child.pid})`)));
  assert.ok(r.info.some((m) => m.includes('exited with code 0')), r.info.join('\n'));
});

test('the environment variables given are not written to the log', async () => {
  const r = recorder();
  const child = await spawnDaemon(nodeDaemon('', { COLAB_PYTHON: '/secret-looking/python' }), r.log);
  await new Promise((resolve) => child.once('close', resolve));
  assert.ok(![...r.info, ...r.lines, ...r.errors].some((m) => m.includes('/secret-looking/python')));
});

test('a daemon that cannot be spawned is reported with the command and the reason', async () => {
  const r = recorder();
  await assert.rejects(
    spawnDaemon({ path: '/nonexistent/colab', command: '/nonexistent/colab', args: ['daemon'], env: {} }, r.log),
    /Could not start the Colab daemon \(\/nonexistent\/colab\): spawn \/nonexistent\/colab ENOENT/,
  );
});

test('a daemon that does not exit within the grace period is killed', async () => {
  const r = recorder();
  const child = await spawnDaemon(nodeDaemon('setInterval(() => {}, 1000)'), r.log);
  const started = Date.now();
  await ensureExited(child, 200);
  assert.ok(hasExited(child));
  assert.equal(child.signalCode, 'SIGKILL');
  assert.ok(Date.now() - started >= 190, 'waited for the grace period first');
});

test('a daemon that exits by itself within the grace period is not killed', async () => {
  const r = recorder();
  const child = await spawnDaemon(nodeDaemon('setTimeout(() => process.exit(3), 50)'), r.log);
  await ensureExited(child, 5000);
  assert.equal(child.exitCode, 3);
  assert.equal(child.signalCode, null);
});
