// The extension in a real VS Code (code-server + Chromium): activation, the palette
// commands, status, restart, crash recovery and the daemon log. One code-server for the
// whole file; the scenarios run in order and each leaves test-results/e2e/<scenario>.png.
//
// Run: npx tsc -p tests && node --test out/tests/e2e/
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { VsCodeSession, isAlive, timeoutMs, waitFor, withScreenshot } from './harness';

const commands = ['Colab: Show Daemon Log', 'Colab: Restart Daemon', 'Colab: Show Status'];

/** "Colab: Show Status" is answered by the daemon `pid` (when the notification names a pid). */
async function expectStatusFrom(vs: VsCodeSession, pid: number): Promise<void> {
  await vs.clearNotifications();
  await vs.runCommand('Colab: Show Status');
  const text = await vs.waitForNotification(/^Colab daemon \S+ ready/);
  const named = /\bpid (\d+)/.exec(text);
  if (named) assert.equal(Number(named[1]), pid, `Show Status names pid ${named[1]}, but the daemon running is ${pid}: ${text}`);
}

describe('Colab extension in VS Code (code-server)', { timeout: 10 * 60_000 }, () => {
  // Started by the first scenario that needs it and shared by the rest; if it cannot
  // start (code-server or Chromium missing, the extension not built), every scenario
  // fails with that reason rather than being cancelled.
  let session: VsCodeSession | undefined;
  let starting: Promise<VsCodeSession> | undefined;
  const s = async (): Promise<VsCodeSession> => {
    starting ??= VsCodeSession.start({ name: 'colab' }).then((started) => (session = started));
    return starting;
  };
  const scenario = (name: string, title: string, body: () => Promise<void>) =>
    it(title, { timeout: 6 * timeoutMs + 30_000 }, withScreenshot(() => session, name, body));
  const seenDaemons = new Set<number>();

  after(async () => {
    if (!session) return;
    for (const pid of session.daemonPids()) seenDaemons.add(pid);
    await session.close();
    const left = [...seenDaemons].filter(isAlive);
    assert.deepEqual(left, [], `daemon processes still running after teardown: ${left.join(', ')}`);
  });

  scenario('1-activates-ready', 'activates in a fresh VS Code: the daemon starts and the status bar reads "Colab: ready"', async () => {
    const vs = await s();
    // Opening the Colab view activates the extension (activation is lazy).
    await vs.openActivity('Colab');
    // The first activation also starts the extension host: give it twice the usual time.
    await vs.waitForStatus('Colab: ready', 2 * timeoutMs);
    const bar = await vs.sideBarTitles();
    assert.ok(bar.views.includes('Status') || /Status/i.test(bar.title), `the Colab view container has no "Status" view: ${JSON.stringify(bar)}`);
    const pid = await vs.waitForDaemon();
    seenDaemons.add(pid);
  });

  scenario('1b-gpu-status', 'shows the GPU status bar item, "No GPU" on a host without an NVIDIA driver', async () => {
    const vs = await s();
    await vs.waitForStatus('Colab: ready');
    const texts = await waitFor(
      'a GPU status bar item',
      async () => {
        const all = await vs.statusBarTexts();
        return all.some((t) => /No GPU|\d+%/.test(t)) ? all : undefined;
      },
      async () => `status bar items: ${JSON.stringify(await vs.statusBarTexts())}`,
    );
    const hasDriver = spawnSync('sh', ['-c', 'ldconfig -p | grep -q libnvidia-ml.so.1 || command -v nvidia-smi']).status === 0;
    if (hasDriver) {
      assert.ok(texts.some((t) => /\d+%/.test(t)), `a GPU host, but no GPU reading in ${JSON.stringify(texts)}`);
    } else {
      assert.ok(texts.some((t) => t.includes('No GPU')), `no NVIDIA driver here, but no "No GPU" item in ${JSON.stringify(texts)}`);
    }
  });

  scenario('2-palette-commands', 'lists the Colab commands in the command palette', async () => {
    const rows = await (await s()).paletteSearch('Colab:', commands);
    for (const c of commands) assert.ok(rows.includes(c), `${c} missing from ${JSON.stringify(rows)}`);
  });

  scenario('3-show-status', '"Colab: Show Status" shows the daemon version', async () => {
    const vs = await s();
    await vs.clearNotifications();
    await vs.runCommand('Colab: Show Status');
    const text = await vs.waitForNotification(/^Colab daemon \S+ ready/);
    assert.match(text, /^Colab daemon \d+\.\d+\.\d+\S* ready/);
  });

  scenario('4-restart-daemon', '"Colab: Restart Daemon" starts a new daemon and gets back to ready', async () => {
    const vs = await s();
    await vs.waitForStatus('Colab: ready');
    const before = await vs.waitForDaemon();
    seenDaemons.add(before);
    const history = await vs.recordStatus();
    await vs.runCommand('Colab: Restart Daemon');
    const after = await vs.waitForDaemon([before]);
    seenDaemons.add(after);
    await vs.waitForExit(before);
    await vs.waitForStatusCycle(history, 'Colab: ready');
    await expectStatusFrom(vs, after);
  });

  scenario('5-daemon-killed-recovers', 'a daemon killed with SIGKILL is restarted and the status gets back to ready', async () => {
    const vs = await s();
    await vs.waitForStatus('Colab: ready');
    const victim = await vs.waitForDaemon();
    seenDaemons.add(victim);
    const history = await vs.recordStatus();
    process.kill(victim, 'SIGKILL');
    await vs.waitForExit(victim);
    const next = await vs.waitForDaemon([victim]);
    seenDaemons.add(next);
    await vs.waitForStatusCycle(history, 'Colab: ready');
    await expectStatusFrom(vs, next);
  });

  scenario('6-daemon-log', '"Colab: Show Daemon Log" shows the "Colab Daemon" output channel with the daemon\'s lines', async () => {
    const vs = await s();
    const pid = await vs.waitForDaemon();
    await vs.clearNotifications();
    await vs.runCommand('Colab: Show Daemon Log');
    const view = await waitFor(
      'the Output view to show the "Colab Daemon" channel with a "Colab daemon … ready" line',
      async () => {
        const v = await vs.outputView();
        return v && v.channel === 'Colab Daemon' && /Colab daemon \S+ ready/.test(v.text) ? v : undefined;
      },
      async () => JSON.stringify(await vs.outputView()),
    );
    // The view follows the end of the log: the running daemon's own start line is there.
    assert.ok(view.text.includes(`(pid ${pid})`), `the log does not show the running daemon (pid ${pid}):\n${view.text}`);
  });
});
