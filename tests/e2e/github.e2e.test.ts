// Open Notebook from GitHub in a real VS Code (code-server + Chromium): paste an "Open in
// Colab" badge link; the daemon fetches the notebook from a GitHub stand-in on loopback (the
// production client, pointed at it by COLAB_GitHub__BaseUrl as for GitHub Enterprise); the
// notebook opens as an untitled copy in the notebook editor and a cell runs on the local runtime.
//
// Run: node scripts/build.mjs && node --test out/tests/e2e/github.e2e.test.js
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { VsCodeSession, stillAlive, timeoutMs, waitFor, withScreenshot } from './harness';

/** The slice of GitHub's REST API that opening one notebook uses, at the Enterprise layout (/api/v3). */
function startGitHubStandIn(files: Record<string, string>): Promise<{ url: string; requests: string[]; close: () => Promise<void> }> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const m = /^\/api\/v3\/repos\/org\/repo(\/.*)?$/.exec(url.pathname);
    if (!m) return json(404, { message: 'Not Found' });
    const rest = m[1] ?? '';
    if (rest === '') return json(200, { full_name: 'org/repo', default_branch: 'main' });
    if (rest.startsWith('/git/matching-refs/heads/')) return json(200, [{ ref: 'refs/heads/main' }]);
    if (rest.startsWith('/git/matching-refs/tags/')) return json(200, []);
    if (rest.startsWith('/contents/')) {
      const path = decodeURIComponent(rest.slice('/contents/'.length));
      const ref = url.searchParams.get('ref') ?? 'main';
      const body = ref === 'main' ? files[path] : undefined;
      if (body === undefined) return json(404, { message: 'Not Found' });
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      return res.end(body);
    }
    return json(404, { message: 'Not Found' });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        requests,
        close: () => new Promise((r) => server.close(() => r())),
      }),
    ),
  );
}

describe('Open Notebook from GitHub in VS Code (code-server)', { timeout: 10 * 60_000 }, () => {
  const marker = `hello from github ${process.pid}`;
  const notebook = {
    cells: [
      { cell_type: 'markdown', metadata: {}, source: ['# From GitHub'] },
      { cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: [`print("${marker}")\n`, '6 * 7'] },
    ],
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' }, language_info: { name: 'python' } },
    nbformat: 4,
    nbformat_minor: 5,
  };
  let session: VsCodeSession | undefined;
  let standIn: Awaited<ReturnType<typeof startGitHubStandIn>> | undefined;
  const daemons = new Set<number>();

  after(async () => {
    if (session) {
      for (const pid of session.daemonPids()) daemons.add(pid);
      await session.close();
    }
    await standIn?.close();
    const left = await stillAlive(daemons);
    assert.deepEqual(left, [], `daemon processes still running after teardown: ${left.join(', ')}`);
  });

  it(
    'pasting a Colab badge link opens the notebook as an untitled copy, and a cell runs on the local runtime',
    { timeout: 8 * timeoutMs + 60_000 },
    withScreenshot(() => session, 'github-1-badge-opens-and-runs', async () => {
      standIn = await startGitHubStandIn({ 'notebooks/demo.ipynb': JSON.stringify(notebook, null, 1) });
      session = await VsCodeSession.start({ name: 'github', env: { COLAB_GitHub__BaseUrl: standIn.url } });
      const vs = session;
      await vs.openActivity('Colab');
      await vs.waitForStatus('Colab: ready', 2 * timeoutMs);
      daemons.add(await vs.waitForDaemon());

      // F1 → the command; its input box replaces the palette in the same quick-input widget.
      const title = 'Colab: Open Notebook from GitHub';
      await vs.openPalette();
      await vs.page.keyboard.type(title);
      await waitFor(`the palette to offer "${title}"`, async () => ((await vs.paletteRows()).includes(title) ? true : undefined),
        async () => `rows: ${JSON.stringify(await vs.paletteRows())}`);
      await vs.page.keyboard.press('Enter');
      const input = vs.page.locator('.quick-input-widget .quick-input-box input');
      await waitFor('the GitHub link input box', async () => {
        const placeholder = (await input.getAttribute('placeholder').catch(() => null)) ?? '';
        return (await input.isVisible()) && (await input.inputValue()) === '' && /github\.com|e\.g\./.test(placeholder) ? true : undefined;
      }, async () => `input visible=${await input.isVisible()}, value=${JSON.stringify(await input.inputValue().catch(() => null))}`);
      const badge = 'https://colab.research.google.com/github/org/repo/blob/main/notebooks/demo.ipynb';
      await vs.page.keyboard.type(badge);
      await vs.page.keyboard.press('Enter');

      await waitFor('the notebook editor', async () => ((await vs.page.locator('.notebook-editor').count()) > 0 ? true : undefined), () => 'no .notebook-editor');
      const opened = await vs.waitForNotification(/opened demo\.ipynb from org\/repo@main as an untitled copy/);
      assert.match(opened, /untitled copy/);
      assert.ok(standIn.requests.some((r) => r.startsWith('/api/v3/repos/org/repo/contents/notebooks/demo.ipynb?ref=main')),
        `the stand-in was not asked for the notebook: ${JSON.stringify(standIn.requests)}`);
      const tab = (await vs.page.locator('.tabs-container .tab.active').textContent().catch(() => '')) ?? '';
      assert.match(tab, /Untitled/i, `the active tab is not an untitled notebook: ${tab}`);

      await vs.page.locator('.notebook-toolbar-container').getByText('Run All', { exact: true }).first().click();
      const seen = await waitFor(
        `the output "${marker}" and the result 42`,
        async () => {
          const texts: string[] = [];
          for (const frame of vs.page.frames()) texts.push(await frame.locator('body').innerText({ timeout: 1000 }).catch(() => ''));
          const all = texts.join('\n');
          return all.includes(marker) && /\b42\b/.test(all) ? all : undefined;
        },
        async () => `status bar: ${JSON.stringify(await vs.statusBarTexts())}; notifications: ${JSON.stringify(await vs.notificationTexts())}`,
        4 * timeoutMs, // the first run starts a local Jupyter server and a kernel
      );
      assert.ok(seen.includes(marker));
    }),
  );
});
