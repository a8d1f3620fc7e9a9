// GPU status in a real VS Code (code-server + Chromium): on this machine (no NVIDIA driver)
// the status bar reads "No GPU"; with the daemon pointed at the fake NVML library
// (COLAB_NVMLLIBRARY, built here from tests/fixtures/fake-nvml with gcc) it shows the fake
// GPU, "Colab: Check GPU" reports it, and clicking the item opens the GPU history view.
//
// Run: npx tsc -p tests && node --test out/tests/e2e/gpu.e2e.test.js
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { VsCodeSession, buildFakeNvml, stillAlive, timeoutMs, waitFor, withScreenshot } from './harness';

describe('GPU status in VS Code (code-server)', { timeout: 10 * 60_000 }, () => {
  const sessions: VsCodeSession[] = [];
  const daemons = new Set<number>();
  let current: VsCodeSession | undefined;
  const scenario = (name: string, title: string, body: () => Promise<void>) =>
    it(title, { timeout: 8 * timeoutMs + 60_000 }, withScreenshot(() => current, name, body));

  const gpuItem = async (vs: VsCodeSession, pattern: RegExp) =>
    waitFor(
      `a GPU status bar item matching ${pattern}`,
      async () => (await vs.statusBarTexts()).find((t) => pattern.test(t)),
      async () => `status bar items: ${JSON.stringify(await vs.statusBarTexts())}`,
      2 * timeoutMs,
    );

  after(async () => {
    for (const vs of sessions) {
      for (const pid of vs.daemonPids()) daemons.add(pid);
      await vs.close();
    }
    const left = await stillAlive(daemons);
    assert.deepEqual(left, [], `daemon processes still running after teardown: ${left.join(', ')}`);
  });

  scenario('gpu-1-no-gpu', 'reads "No GPU" on this machine, which has no NVIDIA driver', async () => {
    const hasDriver = spawnSync('sh', ['-c', 'ldconfig -p | grep -q libnvidia-ml.so.1 || command -v nvidia-smi']).status === 0;
    assert.equal(hasDriver, false, 'this scenario expects a machine without an NVIDIA driver');
    current = await VsCodeSession.start({ name: 'gpu-none' });
    sessions.push(current);
    await current.openActivity('Colab');
    await current.waitForStatus('Colab: ready', 2 * timeoutMs);
    await gpuItem(current, /No GPU/);
  });

  scenario('gpu-2-fake-gpu', 'shows the fake GPU when the daemon uses the fake NVML; Check GPU reports it; a click opens the history', async () => {
    const lib = buildFakeNvml();
    // One code-server at a time: the first scenario's (its screenshot taken) goes first.
    for (const earlier of sessions.splice(0)) {
      for (const pid of earlier.daemonPids()) daemons.add(pid);
      await earlier.close();
    }
    current = await VsCodeSession.start({
      name: 'gpu-fake',
      env: {
        COLAB_NVMLLIBRARY: lib,
        FAKE_NVML_GPU0_NAME: 'NVIDIA H100 80GB HBM3',
        FAKE_NVML_GPU0_UTIL_GPU: '37',
        FAKE_NVML_GPU0_TEMP: '61',
        FAKE_NVML_GPU0_MEM_TOTAL: String(80 * 1024 ** 3),
      },
    });
    sessions.push(current);
    const vs = current;
    await vs.openActivity('Colab');
    await vs.waitForStatus('Colab: ready', 2 * timeoutMs);
    const text = await gpuItem(vs, /H100/);
    assert.match(text, /H100 · 37% · 1\/80 GB · 61°C/);

    await vs.clearNotifications();
    await vs.runCommand('Colab: Check GPU');
    await vs.waitForNotification(/this machine has NVIDIA H100 80GB HBM3/);

    await vs.page.locator('.part.statusbar [aria-label*="H100"]').first().click();
    await waitFor(
      'the GPU History tab',
      async () => ((await vs.page.locator('.tab[aria-label*="GPU History"], .tab .label-name:text("GPU History")').count()) > 0 ? true : undefined),
      async () => `tabs: ${JSON.stringify(await vs.page.$$eval('.tab', (els) => els.map((e) => e.getAttribute('aria-label'))))}`,
    );
    // The tab appears before its webview has loaded the page (about a second later here): wait
    // for the chart itself, or the screenshot shows an empty panel.
    await waitFor(
      'the utilisation chart of the fake H100 in the GPU History webview',
      async () => {
        for (const frame of vs.page.frames()) {
          if (frame === vs.page.mainFrame()) continue;
          const marks = await frame.locator('svg[aria-label="Utilisation"] polyline, svg[aria-label="Utilisation"] circle').count().catch(() => 0);
          if (marks > 0 && /GPU 0: NVIDIA H100 80GB HBM3/.test(await frame.locator('body').innerText({ timeout: 1000 }).catch(() => ''))) return true;
        }
        return undefined;
      },
      async () => `frames: ${vs.page.frames().map((f) => f.url().slice(0, 80)).join(', ')}`,
    );
  });
});
