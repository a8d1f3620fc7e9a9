// Training in a real VS Code (code-server + Chromium): "Colab: Try the Training Example" from the
// palette starts the built-in digits CNN (real PyTorch on CPU) as a colab-train task; the status bar
// shows its progress, the done notification gives the final metrics, and "Colab: Show Training
// Metrics" opens the metrics view with the loss curve drawn as SVG.
//
// Run: npx tsc -p tests && node --test out/tests/e2e/training.e2e.test.js
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { VsCodeSession, stillAlive, timeoutMs, waitFor, withScreenshot } from './harness';

describe('Training in VS Code (code-server)', { timeout: 10 * 60_000 }, () => {
  let vs: VsCodeSession | undefined;
  const jobsRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'colab-e2e-train-jobs-'));

  after(async () => {
    if (!vs) return;
    const pids = vs.daemonPids();
    await vs.close();
    const left = await stillAlive(pids);
    assert.deepEqual(left, [], `daemon processes still running after teardown: ${left.join(', ')}`);
  });

  it('runs the example from the palette: progress in the status bar, the done notification, the metrics curve',
    { timeout: 20 * timeoutMs + 120_000 }, withScreenshot(() => vs, 'training-1-example', async () => {
      vs = await VsCodeSession.start({ name: 'training', env: { COLAB_TRAINING_JOBS: jobsRoot } });
      await vs.openActivity('Colab');
      await vs.waitForStatus('Colab: ready', 2 * timeoutMs);
      await vs.clearNotifications();

      await vs.runCommand('Colab: Try the Training Example');
      // The status bar item while it runs: "Training <step>/<total> · loss …" (the worker logs every step).
      const progress = await waitFor(
        'the training status bar item with a step count',
        async () => (await vs!.statusBarTexts()).find((t) => /Training \d+\/\d+/.test(t)),
        async () => `status bar items: ${JSON.stringify(await vs!.statusBarTexts())}`,
        10 * timeoutMs,
      );
      assert.match(progress, /Training \d+\/360/); // 8 epochs × 45 steps of 32 of the 1438 training digits

      const done = await waitFor(
        'the done notification',
        async () => (await vs!.notificationTexts()).find((t) => /Training \S+ finished/.test(t)),
        async () => `notifications: ${JSON.stringify(await vs!.notificationTexts())}; status bar: ${JSON.stringify(await vs!.statusBarTexts())}`,
        10 * timeoutMs,
      );
      assert.match(done, /finished: step 360, loss [0-9.]+, accuracy [0-9.]+%/);
      const accuracy = Number(/accuracy ([0-9.]+)%/.exec(done)![1]);
      assert.ok(accuracy > 80, `the example should learn the digits: ${done}`);
      // The job is on disk where the daemon was told to keep jobs, with committed, verified checkpoints.
      const jobs = fs.readdirSync(jobsRoot);
      assert.equal(jobs.length, 1, `jobs: ${jobs.join(', ')}`);
      const manifest = JSON.parse(fs.readFileSync(path.join(jobsRoot, jobs[0], 'checkpoints', 'manifest.json'), 'utf8')) as { checkpoints: { step: number }[] };
      assert.equal(manifest.checkpoints.at(-1)?.step, 360);

      await vs.runCommand('Colab: Show Training Metrics');
      await waitFor(
        'the loss curve in the training metrics webview',
        async () => {
          for (const frame of vs!.page.frames()) {
            if (frame === vs!.page.mainFrame()) continue;
            const lines = await frame.locator('svg[aria-label="loss"] polyline').count().catch(() => 0);
            if (lines > 0) return true;
          }
          return undefined;
        },
        async () => `frames: ${vs!.page.frames().map((f) => f.url().slice(0, 80)).join(', ')}`,
        4 * timeoutMs,
      );
    }));
});
