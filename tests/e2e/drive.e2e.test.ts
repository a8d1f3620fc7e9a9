// Google Drive in a real VS Code (code-server + Chromium), on the mounted-folder backend (no
// sign-in): a folder this test prepares is passed to "Use a Drive Folder" (colab.driveUseFolder,
// by a keybinding's "args": the palette cannot pass an argument); the Google Drive view lists
// it, a folder expands, a notebook opens from it into the notebook editor through the
// colab-drive: file system (colab/drive/read), a cell is edited and saved (colab/drive/write,
// md5-verified), and the file on disk is the edited notebook, valid nbformat 4.
//
// Every scenario leaves test-results/e2e/drive-<n>-<name>.png, pass or fail.
//
// Run: node scripts/build.mjs && node --test --test-concurrency=1 out/tests/e2e/drive.e2e.test.js
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { VsCodeSession, allText, loadCodeServerModule, stillAlive, timeoutMs, waitFor, withScreenshot } from './harness';

/** The rows of a side bar view as "label — description", expanding its pane first; undefined when the view is absent. */
async function viewRows(vs: VsCodeSession, title: string): Promise<string[] | undefined> {
  return vs.page.evaluate((t) => {
    for (const pane of Array.from(document.querySelectorAll('.part.sidebar .pane'))) {
      const header = pane.querySelector('.pane-header');
      const name = (header?.querySelector('.title')?.textContent ?? '').trim();
      if (name.toLowerCase() !== t.toLowerCase()) continue;
      if (header && !header.classList.contains('expanded')) {
        (header as HTMLElement).click();
        return [];
      }
      return Array.from(pane.querySelectorAll('.pane-body .monaco-list-row')).map((row) => {
        const label = (row.querySelector('.label-name')?.textContent ?? '').trim();
        const description = (row.querySelector('.label-description')?.textContent ?? '').trim();
        return description ? `${label} — ${description}` : label;
      });
    }
    return undefined;
  }, title);
}

async function tabs(vs: VsCodeSession): Promise<{ label: string; title: string; dirty: boolean; active: boolean }[]> {
  return vs.page.$$eval('.tabs-container .tab', (els) => els.map((e) => ({
    label: e.getAttribute('aria-label') ?? '',
    title: e.getAttribute('title') ?? (e.querySelector('.monaco-icon-label') as HTMLElement | null)?.title ?? '',
    dirty: e.classList.contains('dirty'),
    active: e.classList.contains('active'),
  })));
}

interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, unknown>;
  cells: { cell_type: string; source: string | string[]; metadata?: unknown; outputs?: unknown[] }[];
}

const sourceOf = (cell: Notebook['cells'][number]): string => (Array.isArray(cell.source) ? cell.source.join('') : cell.source);

describe('Google Drive on a mounted folder in VS Code (code-server)', { timeout: 10 * 60_000 }, () => {
  let session: VsCodeSession | undefined;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'colab-e2e-drive-'));
  const drive = path.join(scratch, 'My Drive');
  const notebookFile = path.join(drive, 'Colab Notebooks', 'experiment.ipynb');
  const original: Notebook = {
    cells: [
      { cell_type: 'markdown', metadata: {}, source: ['# Experiment from Drive'] },
      { cell_type: 'code', metadata: {}, outputs: [], source: ['learning_rate = 0.1'] } as Notebook['cells'][number],
    ],
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' }, language_info: { name: 'python' } },
    nbformat: 4,
    nbformat_minor: 5,
  };
  const seenDaemons = new Set<number>();
  const scenario = (name: string, title: string, limit: number, body: () => Promise<void>) =>
    it(title, { timeout: limit }, withScreenshot(() => session, `drive-${name}`, body));

  after(async () => {
    if (session) {
      for (const pid of session.daemonPids()) seenDaemons.add(pid);
      await session.close();
    }
    fs.rmSync(scratch, { recursive: true, force: true });
    const left = await stillAlive(seenDaemons);
    assert.deepEqual(left, [], `daemon processes still running after teardown: ${left.join(', ')}`);
  });

  scenario('1-view-lists-folder', 'the Google Drive view lists the folder given to "Use a Drive Folder" and a folder in it expands', 6 * timeoutMs + 60_000, async () => {
    fs.mkdirSync(path.dirname(notebookFile), { recursive: true });
    fs.mkdirSync(path.join(drive, 'datasets'), { recursive: true });
    fs.writeFileSync(path.join(drive, 'datasets', 'digits.csv'), '0,1,2\n');
    fs.writeFileSync(path.join(drive, 'notes.md'), '# Notes\n');
    fs.writeFileSync(notebookFile, JSON.stringify(original, null, 1));
    const cs = await loadCodeServerModule();
    session = await VsCodeSession.start({
      name: 'drive',
      // The keybinding goes into the profile before VS Code starts (the profile folder is the
      // extensions folder's sibling, next to the settings the harness wrote).
      install: (extensionsDir) => {
        const userData = path.join(path.dirname(extensionsDir), 'user-data');
        const user = path.join(userData, 'User');
        assert.ok(fs.existsSync(path.join(user, 'settings.json')), `no profile at ${user}: the harness's layout changed`);
        // The window's title names the active editor's full path: how the test tells a
        // colab-drive: resource (the path is only the name) from a file on the local disk.
        // code-server's web default is files.autoSave "afterDelay"; the desktop's "off" makes
        // the save an explicit step the test can see (dirty → Ctrl+S → clean).
        cs.writeSettings(userData, { ...cs.baseSettings, 'window.title': '${activeEditorLong}', 'files.autoSave': 'off' });
        fs.writeFileSync(path.join(user, 'keybindings.json'),
          JSON.stringify([{ key: 'ctrl+alt+shift+u', command: 'colab.driveUseFolder', args: drive }], null, 2));
        cs.installExtension(extensionsDir, process.env.COLAB_E2E_EXTENSION_DIR ?? cs.extensionDir);
      },
    });
    const vs = session;
    await vs.openActivity('Colab');
    await vs.waitForStatus('Colab: ready', 2 * timeoutMs);
    seenDaemons.add(await vs.waitForDaemon());
    // No Drive chosen yet: the view offers sign-in and a folder.
    const empty = await waitFor('the Google Drive view to offer a mounted folder', async () => {
      const r = await viewRows(vs, 'Google Drive');
      return r?.includes('Pick a mounted Drive folder…') ? r : undefined;
    }, async () => `Google Drive rows: ${JSON.stringify(await viewRows(vs, 'Google Drive'))}`, 2 * timeoutMs);
    assert.ok(empty.includes('Sign in to Google Drive…'), JSON.stringify(empty));

    const rows = await waitFor(
      'the Drive view to list the folder passed to colab.driveUseFolder',
      async () => {
        const r = await viewRows(vs, 'Google Drive');
        if (r?.some((row) => row.startsWith('notes.md'))) return r;
        await vs.page.keyboard.press('Control+Alt+Shift+U');
        await new Promise((resolve) => setTimeout(resolve, 1000)); // one press per second until the view has it
        return undefined;
      },
      async () => `Google Drive rows: ${JSON.stringify(await viewRows(vs, 'Google Drive'))}; notifications: ${JSON.stringify(await vs.notificationTexts())}`,
      2 * timeoutMs,
    );
    // Folders first, then files, each file with its size and age.
    assert.deepEqual(rows.map((r) => r.split(' — ')[0]), ['Colab Notebooks', 'datasets', 'notes.md']);
    assert.match(rows[2], /^notes\.md — 8 B · just now$/);

    await vs.page.locator('.part.sidebar .monaco-list-row', { hasText: 'Colab Notebooks' }).first().click();
    const expanded = await waitFor('the "Colab Notebooks" folder to expand', async () => {
      const r = await viewRows(vs, 'Google Drive');
      return r?.some((row) => row.startsWith('experiment.ipynb')) ? r : undefined;
    }, async () => `Google Drive rows: ${JSON.stringify(await viewRows(vs, 'Google Drive'))}`);
    const size = fs.statSync(notebookFile).size;
    assert.ok(expanded.includes(`experiment.ipynb — ${size} B · just now`), JSON.stringify(expanded));
    assert.deepEqual(expanded.map((r) => r.split(' — ')[0]), ['Colab Notebooks', 'experiment.ipynb', 'datasets', 'notes.md']);
  });

  scenario('2-notebook-opens', 'a notebook opens from the Drive view into the notebook editor (colab-drive:)', 4 * timeoutMs + 60_000, async () => {
    assert.ok(session, 'the first scenario did not start VS Code');
    const vs = session;
    await vs.page.locator('.part.sidebar .monaco-list-row', { hasText: 'experiment.ipynb' }).first().click();
    await waitFor(
      'the Drive notebook open in the notebook editor',
      async () => {
        const t = (await tabs(vs)).find((x) => x.active && x.label.startsWith('experiment.ipynb'));
        return t && (await vs.page.locator('.notebook-editor').count()) > 0 && (await allText(vs)).includes('learning_rate = 0.1') ? t : undefined;
      },
      async () => `tabs: ${JSON.stringify(await tabs(vs))}; notifications: ${JSON.stringify(await vs.notificationTexts())}`,
    );
    // Both cells are there: the markdown cell rendered, the code cell in an editor.
    assert.ok((await allText(vs)).includes('Experiment from Drive'));
    // The editor's resource is on the colab-drive: file system, not the local disk.
    // window.title is "${activeEditorLong}": a local file shows its absolute path; the
    // colab-drive: URI's path is "/<name>" (the Drive id travels in its query).
    const title = await waitFor('the window title to name the Drive notebook', async () => {
      const t = await vs.page.title();
      return t.includes('experiment.ipynb') ? t : undefined;
    }, async () => `window title: ${JSON.stringify(await vs.page.title())}`);
    assert.equal(title, '/experiment.ipynb', `not the colab-drive: resource (a local file would show ${notebookFile})`);
  });

  scenario('3-edit-and-save', 'a cell edited in VS Code is saved back to the Drive folder as a valid notebook', 4 * timeoutMs + 60_000, async () => {
    assert.ok(session, 'the first scenario did not start VS Code');
    const vs = session;
    const before = fs.readFileSync(notebookFile, 'utf8');
    const marker = `batch_size = ${process.pid}`;
    // Into the code cell's editor, to the end of its text, a new line.
    const code = vs.page.locator('.notebook-editor .code-cell-row .monaco-editor .view-lines').first();
    await code.click();
    await waitFor('the code cell\'s editor to have focus', async () => (await vs.page.evaluate(() => !!document.activeElement?.closest('.notebook-editor .code-cell-row .monaco-editor')) ? true : undefined),
      async () => `focus is on ${await vs.page.evaluate(() => document.activeElement?.className ?? 'nothing')}`);
    await vs.page.keyboard.press('Control+End');
    await vs.page.keyboard.press('Enter');
    await vs.page.keyboard.type(marker);
    await waitFor('the edit to show in the cell', async () => ((await vs.page.locator('.notebook-editor .code-cell-row .view-lines').first().innerText()).replace(/\u00a0/g, ' ').includes(marker) ? true : undefined),
      async () => `cell: ${JSON.stringify(await vs.page.locator('.notebook-editor .code-cell-row .view-lines').first().innerText())}`);
    await waitFor('the tab to show unsaved changes', async () => ((await tabs(vs)).find((x) => x.active)?.dirty ? true : undefined),
      async () => `tabs: ${JSON.stringify(await tabs(vs))}; active tab: ${await vs.page.evaluate(() => document.querySelector('.tabs-container .tab.active')?.outerHTML.slice(0, 600))}; title: ${await vs.page.title()}`);
    assert.equal(fs.readFileSync(notebookFile, 'utf8'), before, 'nothing is written before saving');

    await vs.page.keyboard.press('Control+S');
    const saved = await waitFor(
      'the notebook on disk to hold the edit',
      () => {
        const text = fs.readFileSync(notebookFile, 'utf8');
        return text.includes('batch_size') ? text : undefined;
      },
      async () => `file: ${fs.readFileSync(notebookFile, 'utf8').slice(0, 400)}; notifications: ${JSON.stringify(await vs.notificationTexts())}`,
    );
    await waitFor('the tab to be clean after saving', async () => ((await tabs(vs)).some((x) => x.active && !x.dirty) ? true : undefined),
      async () => `tabs: ${JSON.stringify(await tabs(vs))}; notifications: ${JSON.stringify(await vs.notificationTexts())}`);

    // Valid nbformat 4, both cells kept, the code cell's source edited.
    const nb = JSON.parse(saved) as Notebook;
    assert.equal(nb.nbformat, 4);
    assert.equal(typeof nb.nbformat_minor, 'number');
    assert.deepEqual(nb.metadata.kernelspec, original.metadata.kernelspec);
    assert.deepEqual(nb.cells.map((c) => c.cell_type), ['markdown', 'code']);
    assert.equal(sourceOf(nb.cells[0]), '# Experiment from Drive');
    assert.equal(sourceOf(nb.cells[1]), `learning_rate = 0.1\n${marker}`);
    assert.ok(Array.isArray(nb.cells[1].outputs));
    // Saved in place: one file, no temporary left beside it.
    assert.deepEqual(fs.readdirSync(path.dirname(notebookFile)), ['experiment.ipynb']);
    assert.deepEqual((await vs.notificationTexts()).filter((t) => /Drive|Unable|Failed|error/i.test(t)), []);
  });
});
