// The user guide's screenshots, taken in a real VS Code (code-server + Chromium) while
// checking what they show: the Runtimes view with the local runtime and the kernel of a
// notebook that just ran; the Google Drive view on a mounted folder (passed to
// colab.driveUseFolder as its argument, by a keybinding's "args") with a notebook opened from it;
// the training metrics after the built-in example ran to the end; the GPU History charts of
// the fake NVML GPU (tests/fixtures/fake-nvml, as in gpu.e2e.test.ts).
//
// Every scenario leaves test-results/e2e/screens-<name>.png, pass or fail. With
// COLAB_E2E_DOCS_IMAGES=1 a scenario that passed also writes docs/images/<name>.png (the
// README's pictures); a plain test run leaves the tracked images alone.
//
// Run: npx tsc -p tests && node --test --test-concurrency=1 out/tests/e2e/screens.e2e.test.js
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Frame } from 'playwright-core';
import { VsCodeSession, allText, buildFakeNvml, stillAlive, loadCodeServerModule, notebook, quickOpen, repoRoot, timeoutMs, viewRows, waitFor, withScreenshot } from './harness';

const docsImages = path.join(repoRoot, 'docs', 'images');
const updateDocs = process.env.COLAB_E2E_DOCS_IMAGES === '1';


async function waitForRows(vs: VsCodeSession, title: string, what: string, ok: (rows: string[]) => boolean, timeout = 2 * timeoutMs): Promise<string[]> {
  return waitFor(
    `the ${title} view to show ${what}`,
    async () => {
      const rows = await viewRows(vs, title);
      return rows && ok(rows) ? rows : undefined;
    },
    async () => `${title} rows: ${JSON.stringify(await viewRows(vs, title))}; side bar: ${JSON.stringify(await vs.sideBarTitles())}`,
    timeout,
  );
}

/** The webview frame (the inner one that holds the page) in which `selector` matches; undefined when none does yet. */
async function webviewFrameWith(vs: VsCodeSession, selector: string): Promise<Frame | undefined> {
  for (const frame of vs.page.frames()) {
    if (frame === vs.page.mainFrame()) continue;
    if ((await frame.locator(selector).count().catch(() => 0)) > 0) return frame;
  }
  return undefined;
}

async function tabLabels(vs: VsCodeSession): Promise<string[]> {
  return vs.page.$$eval('.tabs-container .tab', (els) => els.map((e) => e.getAttribute('aria-label') ?? ''));
}

describe('User-guide screenshots in VS Code (code-server)', { timeout: 20 * 60_000 }, () => {
  let session: VsCodeSession | undefined;
  let starting: Promise<VsCodeSession> | undefined;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'colab-e2e-screens-'));
  const drive = path.join(scratch, 'My Drive');
  const s = async (): Promise<VsCodeSession> => {
    starting ??= (async () => {
      const lib = buildFakeNvml();
      const cs = await loadCodeServerModule();
      session = await VsCodeSession.start({
        name: 'screens',
        // The palette cannot pass an argument to a command; a keybinding's "args" can. The
        // keybinding goes into the profile before VS Code starts (the profile folder is the
        // extensions folder's sibling, next to the settings the harness wrote).
        install: (extensionsDir) => {
          const userData = path.join(path.dirname(extensionsDir), 'user-data');
          const user = path.join(userData, 'User');
          assert.ok(fs.existsSync(path.join(user, 'settings.json')), `no profile at ${user}: the harness's layout changed`);
          // Each kernel listens on five loopback ports; VS Code's automatic port forwarding
          // would otherwise cover the pictures with "Over 20 ports have been automatically forwarded".
          cs.writeSettings(userData, { ...cs.baseSettings, 'remote.autoForwardPorts': false });
          fs.writeFileSync(path.join(user, 'keybindings.json'),
            JSON.stringify([{ key: 'ctrl+alt+shift+u', command: 'colab.driveUseFolder', args: drive }], null, 2));
          cs.installExtension(extensionsDir, process.env.COLAB_E2E_EXTENSION_DIR ?? cs.extensionDir);
        },
        env: {
          COLAB_NVMLLIBRARY: lib,
          FAKE_NVML_GPU0_NAME: 'NVIDIA H100 80GB HBM3',
          FAKE_NVML_GPU0_UTIL_GPU: '37',
          FAKE_NVML_GPU0_TEMP: '61',
          FAKE_NVML_GPU0_MEM_TOTAL: String(80 * 1024 ** 3),
          // This run's training jobs only, so "Show Training Metrics" finds exactly the example.
          COLAB_TRAINING_JOBS: path.join(scratch, 'jobs'),
        },
      });
      return session;
    })();
    return starting;
  };
  const scenario = (name: string, title: string, limit: number, body: () => Promise<void>) =>
    it(title, { timeout: limit }, withScreenshot(() => session, `screens-${name}`, body));
  /** The screenshot of a scenario whose checks passed: test-results, and docs/images when asked. */
  const picture = async (vs: VsCodeSession, name: string): Promise<void> => {
    // The pointer onto an empty part of the editor, and no hover left over from a click.
    await vs.page.mouse.move(620, 780);
    await waitFor('no hover', async () => ((await vs.page.locator('.workbench-hover-container, .monaco-hover:not(.hidden)').filter({ visible: true }).count()) === 0 ? true : undefined),
      () => 'a hover is still shown', 5000).catch(() => undefined); // cosmetic: the picture is taken either way
    const file = await vs.screenshot(`screens-${name}`);
    if (updateDocs) {
      fs.mkdirSync(docsImages, { recursive: true });
      fs.copyFileSync(file, path.join(docsImages, `${name}.png`));
    }
  };
  const seenDaemons = new Set<number>();

  after(async () => {
    if (session) {
      for (const pid of session.daemonPids()) seenDaemons.add(pid);
      await session.close();
    }
    fs.rmSync(scratch, { recursive: true, force: true });
    const left = await stillAlive(seenDaemons);
    assert.deepEqual(left, [], `daemon processes still running after teardown: ${left.join(', ')}`);
  });

  scenario('runtimes-view', 'a notebook runs on the local runtime; the Runtimes view lists the runtime and its kernel', 8 * timeoutMs + 60_000, async () => {
    const vs = await s();
    await vs.openActivity('Colab');
    await vs.waitForStatus('Colab: ready', 2 * timeoutMs);
    fs.writeFileSync(
      path.join(vs.workspace, 'getting-started.ipynb'),
      notebook([
        'import os, sys\nprint("Python", sys.version.split()[0], "on the", os.environ.get("COLAB_VSCODE_RUNTIME"), "runtime")',
        'import numpy as np\nx = np.arange(1, 11)\nprint("sum of squares:", int((x ** 2).sum()))',
      ]),
    );
    await quickOpen(vs, 'getting-started.ipynb');
    await waitFor('the notebook editor', async () => ((await vs.page.locator('.notebook-editor').count()) > 0 ? true : undefined), () => 'no .notebook-editor');
    await vs.page.locator('.notebook-toolbar-container').getByText('Run All', { exact: true }).first().click();
    await waitFor(
      'both cells\' outputs',
      async () => {
        const text = await allText(vs);
        return /Python 3\.\d+\.\d+ on the local runtime/.test(text) && text.includes('sum of squares: 385') ? true : undefined;
      },
      async () => `frames: ${(await allText(vs)).slice(-400)}`,
      4 * timeoutMs,
    );
    // Kernel rows are named by their notebook when the server has a session for it, else by
    // the kernel's name (the daemon starts kernels without sessions: "python3"); the runtime's
    // hidden GPU probe kernel is listed too. So: the runtime, and as many kernel rows as it says.
    const rows = await waitForRows(vs, 'Runtimes', 'the local runtime and its kernels', (r) => {
      const m = /^Local runtime — (\d+) kernels? · idle \d/.exec(r[0] ?? '');
      const kernels = r.slice(1);
      return m !== null && Number(m[1]) >= 1 && kernels.length === Number(m[1]) && kernels.every((k) => /^(python3|[\w.-]+\.ipynb) — idle \d/.test(k));
    });
    assert.ok(rows.slice(1).some((k) => / — idle \d+ s$/.test(k)), `the notebook's kernel has just run: ${JSON.stringify(rows)}`);
    // The status bar: the daemon ready, and this machine's (fake) GPU.
    assert.equal(await vs.colabStatus(), 'Colab: ready');
    assert.ok((await vs.statusBarTexts()).some((t) => /H100 · 37%/.test(t)), JSON.stringify(await vs.statusBarTexts()));
    await picture(vs, 'runtimes-view');
  });

  scenario('drive-view', 'the Google Drive view lists a mounted folder passed to "Use a Drive Folder"; a notebook opens from it', 6 * timeoutMs + 60_000, async () => {
    const vs = await s();
    fs.mkdirSync(path.join(drive, 'Colab Notebooks'), { recursive: true });
    fs.mkdirSync(path.join(drive, 'datasets'), { recursive: true });
    fs.writeFileSync(path.join(drive, 'datasets', 'digits.csv'), '0,1,2\n');
    fs.writeFileSync(path.join(drive, 'analysis.ipynb'), notebook(['import os\nprint("opened from Drive, running on the", os.environ.get("COLAB_VSCODE_RUNTIME"), "runtime")']));
    fs.writeFileSync(path.join(drive, 'notes.md'), '# Notes\n');
    await vs.openActivity('Colab');
    await waitForRows(vs, 'Google Drive', 'its "Pick a mounted Drive folder…" row', (r) => r.includes('Pick a mounted Drive folder…'));
    const rows = await waitFor(
      'the Drive view to list the folder passed to colab.driveUseFolder',
      async () => {
        const r = await viewRows(vs, 'Google Drive');
        if (r?.some((row) => row.startsWith('analysis.ipynb'))) return r;
        await vs.page.keyboard.press('Control+Alt+Shift+U');
        await new Promise((r) => setTimeout(r, 1000)); // one press per second until the view has it
        return undefined;
      },
      async () => `Google Drive rows: ${JSON.stringify(await viewRows(vs, 'Google Drive'))}; notifications: ${JSON.stringify(await vs.notificationTexts())}`,
      2 * timeoutMs,
    );
    // Folders first, then files by name, each with its size and age.
    assert.deepEqual(rows.map((r) => r.split(' — ')[0]), ['Colab Notebooks', 'datasets', 'analysis.ipynb', 'notes.md']);
    assert.match(rows[2], /^analysis\.ipynb — \d+ B · just now$/);
    await vs.page.locator('.part.sidebar .monaco-list-row', { hasText: 'analysis.ipynb' }).first().click();
    await waitFor(
      'the Drive notebook open in the notebook editor',
      async () => ((await tabLabels(vs)).some((t) => t.startsWith('analysis.ipynb')) && (await allText(vs)).includes('print("opened from Drive') ? true : undefined),
      async () => `tabs: ${JSON.stringify(await tabLabels(vs))}; notifications: ${JSON.stringify(await vs.notificationTexts())}`,
    );
    // It runs like any notebook (two notebooks are open: the visible editor's toolbar).
    await vs.page.locator('.notebook-toolbar-container >> visible=true').getByText('Run All', { exact: true }).first().click();
    await waitFor('the Drive notebook\'s output', async () => ((await allText(vs)).includes('opened from Drive, running on the local runtime') ? true : undefined),
      async () => `frames: ${(await allText(vs)).slice(-400)}; notifications: ${JSON.stringify(await vs.notificationTexts())}`, 4 * timeoutMs);
    await picture(vs, 'drive-view');
  });

  scenario('training-metrics', '"Try the Training Example" runs to the end; "Show Training Metrics" draws loss and accuracy curves', 20 * timeoutMs + 60_000, async () => {
    const vs = await s();
    await vs.clearNotifications();
    await vs.runCommand('Colab: Try the Training Example');
    await waitFor('the training task\'s terminal', async () => ((await vs.page.locator('.part.panel .xterm').count()) > 0 ? true : undefined),
      () => 'no terminal in the panel', 2 * timeoutMs);
    // Eight epochs of a small CNN on the CPU: about 40 s on a loaded 2-core machine.
    const done = await waitFor(
      'the "Training … finished" notification',
      async () => (await vs.notificationTexts()).find((t) => /^Training \S+ (finished|failed|lost|stopped)/.test(t)),
      async () => `notifications: ${JSON.stringify(await vs.notificationTexts())}; terminal: ${(await allText(vs)).slice(-400)}`,
      16 * timeoutMs,
    );
    assert.match(done, /^Training \S+ finished: step \d+, loss [\d.e-]+, accuracy \d+\.\d\d%/);
    const accuracy = Number(/accuracy (\d+\.\d\d)%/.exec(done)![1]);
    assert.ok(accuracy > 80, `the example should learn the digits; it ended at ${accuracy}%`);
    await vs.clearNotifications();
    await vs.runCommand('View: Hide Panel');
    await vs.runCommand('Colab: Show Training Metrics');
    const frame = await waitFor(
      'the loss and accuracy charts in the Training webview',
      async () => {
        const f = await webviewFrameWith(vs, 'svg[aria-label="loss"] polyline');
        return f && (await f.locator('svg[aria-label="accuracy"] polyline').count()) > 0 ? f : undefined;
      },
      async () => `tabs: ${JSON.stringify(await tabLabels(vs))}; frames: ${(await allText(vs)).slice(-300)}`,
      2 * timeoutMs,
    );
    const points = (await frame.locator('svg[aria-label="loss"] polyline').getAttribute('points')) ?? '';
    assert.ok(points.trim().split(/\s+/).length >= 8, `the loss curve should have a point per logged step, got ${JSON.stringify(points)}`);
    assert.match(await frame.locator('h3').innerText(), /— succeeded$/);
    assert.ok((await tabLabels(vs)).some((t) => /^Training /.test(t)), JSON.stringify(await tabLabels(vs)));
    await picture(vs, 'training-metrics');
  });

  scenario('gpu-history', '"Show GPU History" draws utilisation and memory charts of the (fake) H100', 6 * timeoutMs + 60_000, async () => {
    const vs = await s();
    // Room for the charts: the training metrics (if the previous scenario left them) close first.
    const trainingTab = vs.page.locator('.tabs-container .tab[aria-label^="Training "]');
    if ((await trainingTab.count()) > 0) {
      await trainingTab.first().locator('.tab-actions .action-label').first().click();
      await waitFor('the training metrics to close', async () => ((await trainingTab.count()) === 0 ? true : undefined), async () => `tabs: ${JSON.stringify(await tabLabels(vs))}`);
    }
    await vs.runCommand('Colab: Show GPU History');
    await waitFor('the GPU History tab', async () => ((await tabLabels(vs)).some((t) => t.startsWith('GPU History')) ? true : undefined),
      async () => `tabs: ${JSON.stringify(await tabLabels(vs))}`);
    const tabAt = Date.now();
    const frame = await waitFor(
      'the utilisation and memory charts in the GPU History webview',
      async () => {
        const f = await webviewFrameWith(vs, 'svg[aria-label="Utilisation"]');
        if (!f) return undefined;
        const marks = await f.locator('svg[aria-label="Utilisation"] polyline, svg[aria-label="Utilisation"] circle').count();
        return marks > 0 && (await f.locator('svg[aria-label="Memory"]').count()) > 0 ? f : undefined;
      },
      async () => `frames: ${(await allText(vs)).slice(-300)}`,
      2 * timeoutMs,
    );
    process.stderr.write(`[e2e] GPU History chart drawn ${Date.now() - tabAt} ms after its tab appeared\n`);
    const text = await frame.locator('body').innerText();
    assert.match(text, /This machine/);
    assert.match(text, /GPU 0: NVIDIA H100 80GB HBM3/);
    assert.match(text, /Utilisation 37%/);
    assert.match(text, /Memory [\d.]+\/80(\.0)? GB/);
    const stroke = await frame.locator('svg[aria-label="Utilisation"] polyline, svg[aria-label="Utilisation"] circle').first()
      .evaluate((e) => getComputedStyle(e).stroke + ' ' + getComputedStyle(e).fill);
    assert.match(stroke, /rgb\(/, 'the chart line has a colour');
    await picture(vs, 'gpu-history');
  });
});
