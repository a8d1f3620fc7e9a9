// Google Drive in a real VS Code (code-server + Chromium), on the mounted-folder backend (no
// sign-in): a folder this test prepares is passed to "Use a Drive Folder" (colab.driveUseFolder,
// by a keybinding's "args": the palette cannot pass an argument); the Google Drive view lists
// it, a folder expands, a notebook opens from it into the notebook editor through the
// colab-drive: file system (colab/drive/read), a cell is edited and saved (colab/drive/write,
// md5-verified), and the file on disk is the edited notebook, valid nbformat 4.
// Then the Drive v3 API backend: "Sign in to Google Drive…" against the OAuth + Drive stand-in
// (tests/standins/drive-standin.mjs): the consent page opens in a browser tab (openExternal),
// the redirect comes back through code-server's port proxy (asExternalUri) to the daemon's
// loopback listener, the view shows My Drive / Shared drives / Shared with me, a notebook
// opens from My Drive, is edited and saved (a resumable upload to the stand-in), and sign-out
// revokes the token and goes back to the mounted folder.
//
// Every scenario leaves test-results/e2e/drive-<n>-<name>.png, pass or fail.
//
// Run: node scripts/build.mjs && node --test --test-concurrency=1 out/tests/e2e/drive.e2e.test.js
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { VsCodeSession, allText, loadCodeServerModule, repoRoot, stillAlive, timeoutMs, viewRows, waitFor, withScreenshot } from './harness';


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

/** The OAuth + Drive v3 stand-in as a child process (it exits when its stdin closes). */
async function startDriveStandIn(): Promise<{ base: string; proc: ChildProcessWithoutNullStreams }> {
  const proc = spawn(process.execPath, [path.join(repoRoot, 'tests', 'standins', 'drive-standin.mjs')], { stdio: 'pipe' });
  proc.stderr.on('data', (d) => process.stderr.write(`[drive stand-in] ${d}`));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += String(d);
      const m = /LISTENING (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    proc.on('exit', (code) => reject(new Error(`the Drive stand-in exited (${code}) before listening: ${out}`)));
  });
  return { base: `http://127.0.0.1:${port}/`, proc };
}

/**
 * A TCP pipe from 127.0.0.2 to the stand-in. code-server's openExternal sends every
 * localhost/127.0.0.1 address through its own port proxy (which drops path and query), as it
 * should for a port on the remote side; Google's consent page is not on loopback, so the
 * consent page of the stand-in is offered on another loopback address the browser reaches as is.
 */
async function pipeFrom127002(port: number): Promise<{ origin: string; server: net.Server }> {
  const server = net.createServer((c) => {
    const up = net.connect(port, '127.0.0.1');
    c.pipe(up).pipe(c);
    const end = () => { c.destroy(); up.destroy(); };
    c.on('error', end);
    up.on('error', end);
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.2', () => resolve()); });
  return { origin: `http://127.0.0.2:${(server.address() as net.AddressInfo).port}/`, server };
}

const sourceOf = (cell: Notebook['cells'][number]): string => (Array.isArray(cell.source) ? cell.source.join('') : cell.source);

describe('Google Drive on a mounted folder in VS Code (code-server)', { timeout: 10 * 60_000 }, () => {
  let session: VsCodeSession | undefined;
  let standIn: Awaited<ReturnType<typeof startDriveStandIn>> | undefined;
  let consentPipe: Awaited<ReturnType<typeof pipeFrom127002>> | undefined;
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
    standIn?.proc.stdin.end();
    consentPipe?.server.close();
    const left = await stillAlive(seenDaemons);
    assert.deepEqual(left, [], `daemon processes still running after teardown: ${left.join(', ')}`);
  });

  scenario('1-view-lists-folder', 'the Google Drive view lists the folder given to "Use a Drive Folder" and a folder in it expands', 6 * timeoutMs + 60_000, async () => {
    standIn = await startDriveStandIn();
    consentPipe = await pipeFrom127002(Number(new URL(standIn.base).port));
    const oauth = {
      'colab.drive.oauth.clientId': 'test-client.apps.googleusercontent.com',
      'colab.drive.oauth.clientSecret': 'test-installed-app-secret',
      'colab.drive.oauth.authorizeUrl': `${consentPipe.origin}o/oauth2/v2/auth`,
      'colab.drive.oauth.tokenUrl': `${standIn.base}token`,
      'colab.drive.oauth.revokeUrl': `${standIn.base}revoke`,
      'colab.drive.apiUrl': standIn.base,
    };
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
        cs.writeSettings(userData, { ...cs.baseSettings, 'window.title': '${activeEditorLong}', 'files.autoSave': 'off', ...oauth });
        fs.writeFileSync(path.join(user, 'keybindings.json'),
          JSON.stringify([{ key: 'ctrl+alt+shift+u', command: 'colab.driveUseFolder', args: drive }], null, 2));
        cs.installExtension(extensionsDir, process.env.COLAB_E2E_EXTENSION_DIR ?? cs.extensionDir);
      },
    });
    const vs = session;
    await vs.openActivity('Colab');
    await vs.waitForStatus('Colab: ready', 2 * timeoutMs);
    seenDaemons.add(await vs.waitForDaemon());
    // The Drive folder's content, written now so that its age reads "just now" (or a minute on a loaded machine).
    fs.mkdirSync(path.dirname(notebookFile), { recursive: true });
    fs.mkdirSync(path.join(drive, 'datasets'), { recursive: true });
    fs.writeFileSync(path.join(drive, 'datasets', 'digits.csv'), '0,1,2\n');
    fs.writeFileSync(path.join(drive, 'notes.md'), '# Notes\n');
    fs.writeFileSync(notebookFile, JSON.stringify(original, null, 1));
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
    assert.match(rows[2], /^notes\.md — 8 B · (just now|1 min ago)$/);

    await vs.page.locator('.part.sidebar .monaco-list-row', { hasText: 'Colab Notebooks' }).first().click();
    const expanded = await waitFor('the "Colab Notebooks" folder to expand', async () => {
      const r = await viewRows(vs, 'Google Drive');
      return r?.some((row) => row.startsWith('experiment.ipynb')) ? r : undefined;
    }, async () => `Google Drive rows: ${JSON.stringify(await viewRows(vs, 'Google Drive'))}`);
    const size = fs.statSync(notebookFile).size;
    assert.ok(expanded.some((r) => new RegExp(`^experiment\\.ipynb — ${size} B · (just now|1 min ago)$`).test(r)), JSON.stringify(expanded));
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
  scenario('4-sign-in-api', 'signed in to the Drive v3 API (OAuth + Drive stand-in): the view shows the roots, a notebook from My Drive is edited and saved, sign-out revokes', 8 * timeoutMs + 60_000, async () => {
    assert.ok(session && standIn, 'the first scenario did not start VS Code and the stand-in');
    const vs = session;
    const api = standIn.base;
    const post = async (route: string, body: unknown) => {
      const r = await fetch(`${api}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(r.status, 200, `${route}: ${r.status}`);
      return r.json() as Promise<unknown>;
    };
    const nbText = JSON.stringify({ ...original, cells: [{ cell_type: 'code', metadata: {}, outputs: [], source: ['epochs = 3'] }] }, null, 1);
    const [created] = (await post('__control/files', { name: 'from-api.ipynb', mimeType: 'application/x-ipynb+json', parents: ['root'], contentBase64: Buffer.from(nbText).toString('base64') })) as { id: string }[];
    await vs.clearNotifications();

    // The consent page opens in a new browser tab; the stand-in allows and redirects to the
    // forwarded listener address; the extension says it is signed in.
    await vs.runCommand('Colab: Sign in to Google Drive…');
    // VS Code's link protection asks first, as it does a person: "Open".
    const dialog = vs.page.locator('.monaco-dialog-box');
    const asked = await waitFor('VS Code to ask before opening the consent page', async () =>
      ((await dialog.count()) > 0 ? ((await dialog.first().innerText()).replace(/\s+/g, ' ')) : undefined),
    async () => `notifications: ${JSON.stringify(await vs.notificationTexts())}`);
    assert.match(asked, /open the external website\? http:\/\/127\.0\.0\.2:\d+\/o\/oauth2\/v2\/auth\?/);
    const consentTab = vs.context.waitForEvent('page', { timeout: 2 * timeoutMs });
    await dialog.locator('.monaco-button', { hasText: /^Open$/ }).first().click();
    const tab = await consentTab;
    const signedIn = await vs.waitForNotification(/^Signed in to Google Drive\.$|^Google Drive sign-in:/);
    assert.equal(signedIn, 'Signed in to Google Drive.', `tab ${tab.url()}`);
    await waitFor('the consent tab to land on the listener\'s answer', async () => ((await tab.locator('body').innerText().catch(() => '')).includes('You can close this tab') ? true : undefined),
      async () => `tab ${tab.url()}: ${await tab.locator('body').innerText().catch(() => '')}`);
    assert.match(tab.url(), /^http:\/\/127\.0\.0\.1:\d+\/proxy\/\d+\/oauth2callback\?/, 'the redirect came back through code-server\'s port proxy');
    await tab.close();
    const oauthLog = (await (await fetch(`${api}__control/oauth/state`)).json()) as { log: { endpoint: string; params?: Record<string, string>; hasVerifier?: boolean }[] };
    const authorize = oauthLog.log.find((l) => l.endpoint === 'authorize');
    assert.equal(authorize?.params?.code_challenge_method, 'S256');
    assert.match(authorize?.params?.redirect_uri ?? '', /\/proxy\/\d+\/oauth2callback$/);
    assert.ok(oauthLog.log.some((l) => l.endpoint === 'token' && l.hasVerifier), JSON.stringify(oauthLog.log));

    const roots = await waitFor('the Drive view to show the signed-in roots', async () => {
      const r = await viewRows(vs, 'Google Drive');
      return r?.includes('Shared with me') ? r : undefined;
    }, async () => `Google Drive rows: ${JSON.stringify(await viewRows(vs, 'Google Drive'))}`);
    assert.deepEqual(roots, ['My Drive', 'Shared drives', 'Shared with me']);
    await vs.page.locator('.part.sidebar .monaco-list-row', { hasText: 'My Drive' }).first().click();
    await waitFor('My Drive to list the notebook', async () => ((await viewRows(vs, 'Google Drive'))?.some((r) => r.startsWith('from-api.ipynb')) ? true : undefined),
      async () => `Google Drive rows: ${JSON.stringify(await viewRows(vs, 'Google Drive'))}`);
    await vs.page.locator('.part.sidebar .monaco-list-row', { hasText: 'from-api.ipynb' }).first().click();
    await waitFor('the API notebook in the notebook editor', async () => ((await vs.page.title()) === '/from-api.ipynb' && (await allText(vs)).includes('epochs = 3') ? true : undefined),
      async () => `title ${JSON.stringify(await vs.page.title())}; tabs: ${JSON.stringify(await tabs(vs))}; notifications: ${JSON.stringify(await vs.notificationTexts())}`);

    const marker = `lr = 0.0${process.pid}`;
    const code = vs.page.locator('.notebook-editor >> visible=true').locator('.code-cell-row .monaco-editor .view-lines').first();
    await code.click();
    await vs.page.keyboard.press('Control+End');
    await vs.page.keyboard.press('Enter');
    await vs.page.keyboard.type(marker);
    await waitFor('the tab to show unsaved changes', async () => ((await tabs(vs)).find((x) => x.active)?.dirty ? true : undefined),
      async () => `tabs: ${JSON.stringify(await tabs(vs))}`);
    await vs.page.keyboard.press('Control+S');
    const saved = await waitFor('the stand-in to hold the edited notebook', async () => {
      const r = await fetch(`${api}__control/content?id=${encodeURIComponent(created.id)}`);
      const text = await r.text();
      return text.includes(marker) ? text : undefined;
    }, async () => `notifications: ${JSON.stringify(await vs.notificationTexts())}`);
    await waitFor('the tab to be clean after saving', async () => ((await tabs(vs)).some((x) => x.active && !x.dirty) ? true : undefined),
      async () => `tabs: ${JSON.stringify(await tabs(vs))}; notifications: ${JSON.stringify(await vs.notificationTexts())}`);
    const nb = JSON.parse(saved) as Notebook;
    assert.equal(nb.nbformat, 4);
    assert.equal(sourceOf(nb.cells[0]), `epochs = 3\n${marker}`);
    const requests = (await (await fetch(`${api}__control/requests`)).json()) as { method: string; url: string }[];
    assert.ok(requests.some((r) => r.url.startsWith(`/upload/drive/v3/files/${created.id}?`) && r.method === 'PATCH'),
      `the save was not a resumable update of the file: ${JSON.stringify(requests.slice(-8))}`);
    await vs.screenshot('drive-4-sign-in-api-saved');

    // Sign out: revoked at the stand-in, and the view goes back to the mounted folder.
    await vs.clearNotifications();
    await vs.runCommand('Colab: Sign out of Google Drive');
    assert.equal(await vs.waitForNotification(/^Signed out of Google Drive/), 'Signed out of Google Drive; access was revoked.');
    await waitFor('the Drive view to list the mounted folder again', async () => ((await viewRows(vs, 'Google Drive'))?.some((r) => r.startsWith('notes.md')) ? true : undefined),
      async () => `Google Drive rows: ${JSON.stringify(await viewRows(vs, 'Google Drive'))}`);
    const after = (await (await fetch(`${api}__control/oauth/state`)).json()) as { log: { endpoint: string }[] };
    assert.ok(after.log.some((l) => l.endpoint === 'revoke'), JSON.stringify(after.log));
  });
});
