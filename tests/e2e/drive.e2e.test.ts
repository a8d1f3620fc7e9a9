// Google Drive sign-in in a real VS Code (code-server + Chromium): the OAuth settings point at
// the Drive + OAuth stand-in (tests/standins/drive-standin.mjs, real HTTP on loopback). "Sign in
// to Google Drive" makes VS Code open the consent page (the test plays the browser tab: headless
// Chromium blocks a popup no click started); the stand-in redirects it to the daemon's loopback
// listener (through the editor's forwarded address);
// then the Drive view shows My Drive / Shared drives / Shared with me, and a notebook opens
// from My Drive into the notebook editor.
//
// Run: node scripts/build.mjs && node --test out/tests/e2e/drive.e2e.test.js
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { after, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { VsCodeSession, allText, loadCodeServerModule, notebook, repoRoot, stillAlive, timeoutMs, waitFor, withScreenshot } from './harness';

async function startStandIn(): Promise<{ base: string; proc: ChildProcessWithoutNullStreams }> {
  const proc = spawn(process.execPath, [path.join(repoRoot, 'tests', 'standins', 'drive-standin.mjs')], { stdio: 'pipe' });
  const line = await new Promise<string>((resolve, reject) => {
    readline.createInterface({ input: proc.stdout }).once('line', resolve);
    proc.once('exit', () => reject(new Error('the Drive stand-in exited')));
  });
  return { base: `http://127.0.0.1:${line.split(' ')[1]}/`, proc };
}

/** The rows of the Google Drive view ("label"), expanding the view first. */
async function driveRows(page: Page): Promise<string[] | undefined> {
  return page.evaluate(() => {
    for (const pane of Array.from(document.querySelectorAll('.part.sidebar .pane'))) {
      const header = pane.querySelector('.pane-header');
      if ((header?.querySelector('.title')?.textContent ?? '').trim().toLowerCase() !== 'google drive') continue;
      if (header && !header.classList.contains('expanded')) {
        (header as HTMLElement).click();
        return [];
      }
      return Array.from(pane.querySelectorAll('.pane-body .monaco-list-row')).map((row) => (row.querySelector('.label-name')?.textContent ?? '').trim());
    }
    return undefined;
  });
}

describe('Google Drive sign-in in VS Code (code-server)', { timeout: 10 * 60_000 }, () => {
  let session: VsCodeSession | undefined;
  let standIn: Awaited<ReturnType<typeof startStandIn>> | undefined;
  const daemons = new Set<number>();

  after(async () => {
    if (session) {
      for (const pid of session.daemonPids()) daemons.add(pid);
      await session.close();
    }
    standIn?.proc.stdin.end();
    standIn?.proc.kill();
    const left = await stillAlive(daemons);
    assert.deepEqual(left, [], `daemon processes still running after teardown: ${left.join(', ')}`);
  });

  it(
    'signing in through the browser shows My Drive, Shared drives and Shared with me; a notebook opens from My Drive',
    { timeout: 10 * timeoutMs + 60_000 },
    withScreenshot(() => session, 'drive-1-sign-in-and-open', async () => {
      standIn = await startStandIn();
      const marker = `from My Drive ${process.pid}`;
      const seeded = await fetch(`${standIn.base}__control/files`, {
        method: 'POST',
        body: JSON.stringify([{ name: 'signed-in.ipynb', mimeType: 'application/x-ipynb+json', contentBase64: Buffer.from(notebook([`print("${marker}")`])).toString('base64') }]),
      });
      assert.equal(seeded.status, 200);
      await fetch(`${standIn.base}__control/drives`, { method: 'POST', body: JSON.stringify([{ id: '0ATeam', name: 'Team' }]) });

      const cs = await loadCodeServerModule();
      const base = standIn.base;
      session = await VsCodeSession.start({
        name: 'drive',
        // The OAuth client and endpoints go into the profile before VS Code starts (the profile
        // folder is the extensions folder's sibling, next to the settings the harness wrote).
        install: (extensionsDir) => {
          cs.writeSettings(path.join(path.dirname(extensionsDir), 'user-data'), {
            'colab.drive.oauth.clientId': 'test-client.apps.googleusercontent.com',
            'colab.drive.oauth.clientSecret': 'test-installed-app-secret',
            'colab.drive.oauth.authorizeUrl': `${base}o/oauth2/v2/auth`,
            'colab.drive.oauth.tokenUrl': `${base}token`,
            'colab.drive.oauth.revokeUrl': `${base}revoke`,
            'colab.drive.apiUrl': base,
          }, { keepExisting: true });
          cs.installExtension(extensionsDir, process.env.COLAB_E2E_EXTENSION_DIR ?? cs.extensionDir);
        },
      });
      const vs = session;
      await vs.openActivity('Colab');
      await waitFor('the Drive view to offer "Sign in to Google Drive…"', async () => ((await driveRows(vs.page))?.includes('Sign in to Google Drive…') ? true : undefined),
        async () => `Google Drive rows: ${JSON.stringify(await driveRows(vs.page))}`, 2 * timeoutMs);

      // VS Code in a browser opens an external page with window.open; headless Chromium blocks
      // a popup that no click started, so the test records the address VS Code opened and
      // plays the browser: a new tab on it, which follows the stand-in's redirect.
      await vs.page.evaluate(() => {
        const w = window as unknown as { __colabOpened: string[]; open: (u?: string | URL) => null };
        w.__colabOpened = [];
        w.open = (u?: string | URL) => (w.__colabOpened.push(String(u)), null);
      });
      await vs.runCommand('Colab: Sign in to Google Drive…');
      const consentUrl = await waitFor('VS Code to open the consent page',
        async () => (await vs.page.evaluate(() => (window as unknown as { __colabOpened: string[] }).__colabOpened)).find((u) => u.startsWith(`${base}o/oauth2/v2/auth?`)),
        async () => `opened: ${JSON.stringify(await vs.page.evaluate(() => (window as unknown as { __colabOpened: string[] }).__colabOpened))}; notifications: ${JSON.stringify(await vs.notificationTexts())}`,
        2 * timeoutMs);
      const tab = await vs.context.newPage();
      await tab.goto(consentUrl);
      await waitFor('the browser tab to land on the daemon\'s "Signed in" page',
        async () => ((await tab.content().catch(() => '')).includes('Signed in to Google Drive') ? true : undefined),
        async () => `tab at ${tab.url()}: ${(await tab.content().catch(() => '')).slice(0, 300)}`, 2 * timeoutMs);
      const state = (await (await fetch(`${standIn.base}__control/oauth/state`)).json()) as { log: { endpoint: string; params?: Record<string, string> }[] };
      const authorize = state.log.find((e) => e.endpoint === 'authorize')!;
      assert.equal(authorize.params?.code_challenge_method, 'S256');
      assert.match(authorize.params?.redirect_uri ?? '', /oauth2callback$/);
      await tab.close();

      await vs.waitForNotification(/Signed in to Google Drive\./);
      await waitFor('the Drive view to show the three roots', async () => {
        const rows = await driveRows(vs.page);
        return rows && ['My Drive', 'Shared drives', 'Shared with me'].every((r) => rows.includes(r)) ? rows : undefined;
      }, async () => `Google Drive rows: ${JSON.stringify(await driveRows(vs.page))}; notifications: ${JSON.stringify(await vs.notificationTexts())}`, 2 * timeoutMs);

      await vs.page.locator('.part.sidebar .monaco-list-row', { hasText: 'My Drive' }).first().click();
      await waitFor('My Drive to list the notebook', async () => ((await driveRows(vs.page))?.includes('signed-in.ipynb') ? true : undefined),
        async () => `Google Drive rows: ${JSON.stringify(await driveRows(vs.page))}`, 2 * timeoutMs);
      await vs.page.locator('.part.sidebar .monaco-list-row', { hasText: 'signed-in.ipynb' }).first().click();
      await waitFor('the notebook from My Drive open in the editor', async () => ((await allText(vs)).includes(marker) ? true : undefined),
        async () => `notifications: ${JSON.stringify(await vs.notificationTexts())}`, 2 * timeoutMs);
      const tabs = await vs.page.$$eval('.tabs-container .tab', (els) => els.map((e) => e.getAttribute('aria-label') ?? ''));
      assert.ok(tabs.some((t) => t.startsWith('signed-in.ipynb')), JSON.stringify(tabs));
    }),
  );
});
