// Runtimes in a real VS Code (code-server + Chromium): a notebook on the local runtime
// prints and shows a PNG; restart and run all gives a fresh kernel; a `while True` cell is
// interrupted; a terminal on the runtime runs a command. Each scenario leaves
// test-results/e2e/runtime-<scenario>.png.
//
// Run: npx tsc -p tests && node --test out/tests/e2e/runtime.e2e.test.js
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { VsCodeSession, allText, isAlive, notebook, quickOpen, stillAlive, timeoutMs, waitFor, withScreenshot } from './harness';

// A 2x2 red PNG.
const png = 'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==';

function writeLoopNotebooks(workspace: string): void {
  fs.writeFileSync(path.join(workspace, 'loop.ipynb'), notebook(['import time\nprint("looping")\nwhile True:\n    time.sleep(0.1)']));
  fs.writeFileSync(path.join(workspace, 'display.ipynb'), notebook([
    // The phrases are joined in Python so that only the outputs, never the cells' source, contain them.
    'from IPython.display import display\nhandle = display("display not " + "updated yet", display_id=True)',
    'handle.update("display updated " + "from the next cell")',
  ]));
  fs.writeFileSync(path.join(workspace, 'loop2.ipynb'), notebook(['import time\nprint("looping again")\nwhile True:\n    time.sleep(0.1)']));
}

async function pngImages(vs: VsCodeSession): Promise<number> {
  let count = 0;
  for (const frame of vs.page.frames()) {
    count += await frame.locator('img[src^="data:image/png"], img[src^="blob:"]').count().catch(() => 0);
  }
  return count;
}

async function openNotebook(vs: VsCodeSession, file: string): Promise<void> {
  await quickOpen(vs, file);
  await waitFor(`the notebook editor for ${file}`, async () => ((await vs.page.locator('.notebook-editor').count()) > 0 ? true : undefined), () => 'no .notebook-editor');
}

describe('Runtimes in VS Code (code-server)', { timeout: 10 * 60_000 }, () => {
  let session: VsCodeSession | undefined;
  let starting: Promise<VsCodeSession> | undefined;
  const s = async (): Promise<VsCodeSession> => {
    starting ??= VsCodeSession.start({ name: 'runtime' }).then((started) => {
      // Every notebook the scenarios open exists before the first Quick Open: files created
      // later were not always offered by Quick Open (its file list is cached while it is in use).
      writeLoopNotebooks(started.workspace);
      return (session = started);
    });
    return starting;
  };
  const scenario = (name: string, title: string, body: () => Promise<void>) =>
    it(title, { timeout: 6 * timeoutMs + 30_000 }, withScreenshot(() => session, `runtime-${name}`, body));
  const seenDaemons = new Set<number>();
  let firstPid = '';

  after(async () => {
    if (!session) return;
    for (const pid of session.daemonPids()) seenDaemons.add(pid);
    await session.close();
    const left = await stillAlive(seenDaemons);
    assert.deepEqual(left, [], `daemon processes still running after teardown: ${left.join(', ')}`);
  });

  scenario('1-print-and-png', 'a notebook prints and shows a PNG on the local runtime: both outputs appear', async () => {
    const vs = await s();
    await vs.openActivity('Colab');
    await vs.waitForStatus('Colab: ready', 2 * timeoutMs);
    fs.writeFileSync(
      path.join(vs.workspace, 'outputs.ipynb'),
      notebook([
        'import os\nprint("kernel pid", os.getpid(), "where", os.environ.get("COLAB_VSCODE_RUNTIME"))',
        `import base64\nfrom IPython.display import Image, display\ndisplay(Image(data=base64.b64decode("${png}")))`,
      ]),
    );
    await openNotebook(vs, 'outputs.ipynb');
    await vs.page.locator('.notebook-toolbar-container').getByText('Run All', { exact: true }).first().click();
    const text = await waitFor(
      'the printed line and the PNG',
      async () => {
        const all = await allText(vs);
        return /kernel pid \d+ where local/.test(all) && (await pngImages(vs)) > 0 ? all : undefined;
      },
      async () => `frames: ${(await allText(vs)).slice(-400)}; images: ${await pngImages(vs)}`,
      4 * timeoutMs,
    );
    firstPid = /kernel pid (\d+)/.exec(text)![1];
  });

  scenario('2-restart-and-run-all', '"Restart Runtime and Run All" runs the notebook again on a fresh kernel', async () => {
    const vs = await s();
    assert.ok(firstPid, 'the first scenario did not record the kernel pid');
    await vs.runCommand('Colab: Restart Runtime and Run All');
    await waitFor(
      'a new kernel pid printed',
      async () => {
        const m = /kernel pid (\d+)/.exec(await allText(vs));
        return m && m[1] !== firstPid && (await pngImages(vs)) > 0 ? m[1] : undefined;
      },
      async () => `frames: ${(await allText(vs)).slice(-400)}`,
      4 * timeoutMs,
    );
  });

  scenario('3-interrupt', 'a `while True` cell is interrupted by "Colab: Interrupt Execution"', async () => {
    const vs = await s();
    await openNotebook(vs, 'loop.ipynb');
    // Two notebooks are open: click the visible editor's toolbar.
    await vs.page.locator('.notebook-toolbar-container >> visible=true').getByText('Run All', { exact: true }).first().click();
    await waitFor('the loop to start', async () => ((await allText(vs)).includes('looping') ? true : undefined), async () => (await allText(vs)).slice(-300), 4 * timeoutMs);
    await vs.runCommand('Colab: Interrupt Execution');
    await waitFor('KeyboardInterrupt in the output', async () => ((await allText(vs)).includes('KeyboardInterrupt') ? true : undefined),
      async () => (await allText(vs)).slice(-400), 2 * timeoutMs);
  });

  scenario('3b-interrupt-shortcut', "Colab's shortcut Ctrl+M I interrupts a running cell in a notebook on the Colab runtime", async () => {
    const vs = await s();
    const interrupts = async () => (await allText(vs)).split('KeyboardInterrupt').length - 1;
    const before = await interrupts();
    await openNotebook(vs, 'loop2.ipynb');
    await vs.page.locator('.notebook-toolbar-container >> visible=true').getByText('Run All', { exact: true }).first().click();
    await waitFor('the loop to start', async () => ((await allText(vs)).includes('looping again') ? true : undefined), async () => (await allText(vs)).slice(-300), 4 * timeoutMs);
    // Focus the cell, leave its text editor (command mode), then the chord. On a loaded machine a key
    // can land before the focus has moved; interrupting twice is harmless, so the chord is pressed
    // again every 15 s until the interrupt shows (what is tested is that the chord interrupts at all).
    let pressed = 0;
    await waitFor('a new KeyboardInterrupt in the output', async () => {
      if ((await interrupts()) > before) return true;
      if (Date.now() - pressed > 15_000) {
        pressed = Date.now();
        await vs.page.locator('.notebook-editor >> visible=true').locator('.cell-editor-container').first().click();
        await vs.page.keyboard.press('Escape');
        await vs.page.keyboard.press('Control+M');
        await vs.page.keyboard.press('i');
      }
      return undefined;
    }, async () => (await allText(vs)).slice(-400), 2 * timeoutMs);
  });

  scenario('3c-display-across-cells', 'a display shown by one cell is updated in place by the next cell (update_display_data across cells)', async () => {
    const vs = await s();
    await openNotebook(vs, 'display.ipynb');
    await vs.page.locator('.notebook-toolbar-container >> visible=true').getByText('Run All', { exact: true }).first().click();
    await waitFor(
      'the first cell\'s display to read what the second cell set',
      async () => {
        const text = await allText(vs);
        return text.includes('display updated from the next cell') && !text.includes('display not updated yet') ? true : undefined;
      },
      async () => (await allText(vs)).slice(-400),
      4 * timeoutMs,
    );
  });

  scenario('4-terminal', '"Colab: Open Terminal on Runtime" opens a shell on the runtime that runs a command', async () => {
    const vs = await s();
    const marker = path.join(vs.workspace, 'from-terminal.txt');
    await vs.runCommand('Colab: Open Terminal on Runtime');
    await waitFor('the Colab terminal', async () => ((await vs.page.locator('.terminal-wrapper, .xterm').count()) > 0 ? true : undefined), () => 'no terminal', 2 * timeoutMs);
    // The shell starts in the runtime's root (the workspace, for the local runtime).
    await waitFor(
      'the command to run in the terminal',
      async () => {
        if (!fs.existsSync(marker)) {
          await vs.page.locator('.xterm').first().click().catch(() => undefined);
          await vs.page.keyboard.type('echo "answer=$((6*7)) $COLAB_VSCODE" > from-terminal.txt');
          await vs.page.keyboard.press('Enter');
          await new Promise((r) => setTimeout(r, 2000));
        }
        return fs.existsSync(marker) && fs.readFileSync(marker, 'utf8').includes('answer=42 1') ? true : undefined;
      },
      () => `no ${marker}`,
      3 * timeoutMs,
    );
  });
});
