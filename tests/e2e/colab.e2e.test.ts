// The extension in a real VS Code (code-server + Chromium): activation, the palette
// commands, status, restart, crash recovery and the daemon log. One code-server for the
// whole file; the scenarios run in order and each leaves test-results/e2e/<scenario>.png.
//
// Run: npx tsc -p tests && node --test out/tests/e2e/
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { VsCodeSession, stillAlive, timeoutMs, waitFor, withScreenshot } from './harness';

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
    const left = await stillAlive(seenDaemons);
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
    // The palette lists many Colab commands now and renders only the rows in view: ask for each by its title.
    const vs = await s();
    for (const c of commands) {
      const rows = await vs.paletteSearch(c, [c]);
      assert.ok(rows.includes(c), `${c} missing from ${JSON.stringify(rows)}`);
      await vs.closePalette();
    }
    await vs.paletteSearch('Colab:', []);
  });

  scenario('3-show-status', '"Colab: Show Status" shows the daemon version', async () => {
    const vs = await s();
    await vs.clearNotifications();
    await vs.runCommand('Colab: Show Status');
    const text = await vs.waitForNotification(/^Colab daemon \S+ ready/);
    assert.match(text, /^Colab daemon \d+\.\d+\.\d+\S* ready/);
  });

  scenario('3b-notebook-runs-cell', 'opens a notebook and runs a cell on the local runtime: the output appears in the editor', async () => {
    const vs = await s();
    await vs.waitForStatus('Colab: ready');
    const marker = `hello from colab ${process.pid}`;
    const notebook = {
      cells: [{ cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: [`print("${marker}")\n`, '6 * 7'] }],
      metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' }, language_info: { name: 'python' } },
      nbformat: 4,
      nbformat_minor: 5,
    };
    fs.writeFileSync(path.join(vs.workspace, 'hello.ipynb'), JSON.stringify(notebook, null, 1));
    // Quick Open the file: it opens in VS Code's notebook editor (the built-in ipynb support).
    await vs.page.keyboard.press('Control+P');
    await vs.page.keyboard.type('hello.ipynb');
    await waitFor('Quick Open to offer hello.ipynb', async () => ((await vs.paletteRows()).some((r) => r.includes('hello.ipynb')) ? true : undefined),
      async () => `rows: ${JSON.stringify(await vs.paletteRows())}`);
    await vs.page.keyboard.press('Enter');
    await waitFor('the notebook editor', async () => ((await vs.page.locator('.notebook-editor').count()) > 0 ? true : undefined), () => 'no .notebook-editor');
    // The notebook toolbar's "Run All" (the Colab kernel is preselected by its affinity).
    await vs.page.locator('.notebook-toolbar-container').getByText('Run All', { exact: true }).first().click();
    // Outputs render in the notebook's webview (a nested frame): look in every frame.
    const seen = await waitFor(
      `the output "${marker}" and the result 42`,
      async () => {
        const texts: string[] = [];
        for (const frame of vs.page.frames()) {
          texts.push(await frame.locator('body').innerText({ timeout: 1000 }).catch(() => ''));
        }
        const all = texts.join('\n');
        return all.includes(marker) && /\b42\b/.test(all) ? all : undefined;
      },
      async () => `status bar: ${JSON.stringify(await vs.statusBarTexts())}; notifications: ${JSON.stringify(await vs.notificationTexts())}`,
      4 * timeoutMs, // the first run starts a local Jupyter server and a kernel
    );
    assert.ok(seen.includes(marker));
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
