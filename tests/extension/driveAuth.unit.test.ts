// Google Drive sign-in from the extension's side: the real built daemon (vscode-jsonrpc over
// stdio) runs the flow against the Drive + OAuth stand-in (real HTTP); the "browser" is this
// test fetching the page the extension asked VS Code to open and following its redirect.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { after, before, test } from 'node:test';
import type * as vscode from 'vscode';
import { driveTokensKey, forwardedRedirect, readStoredTokens, registerDriveAuth, restoreDriveAccount, signIn, signOut, type DriveAuthDaemon, type DriveAuthDeps } from '../../colab-vscode/src/drive/driveAuth';
import { DriveTree } from '../../colab-vscode/src/drive/driveTree';
import { type Daemon, repoRoot, startInitialized } from '../interop/peer';
import { createVscodeStub } from './vscodeStub';

let daemon: Daemon;
let standIn: ChildProcessWithoutNullStreams;
let base: string;
let requester: DriveAuthDaemon;

before(async () => {
  standIn = spawn(process.execPath, [path.join(repoRoot(), 'tests', 'standins', 'drive-standin.mjs')], { stdio: 'pipe' });
  const line = await new Promise<string>((resolve, reject) => {
    readline.createInterface({ input: standIn.stdout }).once('line', resolve);
    standIn.once('exit', () => reject(new Error('the Drive stand-in exited')));
  });
  base = `http://127.0.0.1:${line.split(' ')[1]}/`;
  daemon = await startInitialized();
  requester = {
    request: <R>(method: string, params?: unknown) => daemon.connection.sendRequest(method, params) as Promise<R>,
    onNotification: <P>(method: string, listener: (p: P) => void) => daemon.connection.onNotification(method, (p: P) => listener(p)),
  };
  await control('__control/files', [{ name: 'hello.ipynb', contentBase64: 'e30=' }]);
  await control('__control/drives', [{ id: '0ATeam', name: 'Team' }]);
});

after(async () => {
  await daemon.dispose();
  standIn.stdin.end();
  standIn.kill();
});

async function control(p: string, body: unknown = {}): Promise<unknown> {
  const r = await fetch(base + p, { method: 'POST', body: JSON.stringify(body) });
  assert.equal(r.status, 200);
  return r.json();
}

/** What a browser does with the consent page: follow its redirect to the loopback listener. */
async function browse(url: string): Promise<{ redirect: string; status: number }> {
  const consent = await fetch(url, { redirect: 'manual' });
  assert.equal(consent.status, 302, await consent.text());
  const redirect = consent.headers.get('location')!;
  const landing = await fetch(redirect);
  await landing.text();
  return { redirect, status: landing.status };
}

interface Harness {
  deps: DriveAuthDeps;
  secrets: Map<string, string>;
  opened: string[];
  settings: Record<string, unknown>;
  vs: ReturnType<typeof createVscodeStub>;
  refreshes: number;
}

function harness(opts: { external?: (u: string) => string | Promise<string>; open?: (url: string) => Promise<boolean>; settings?: Record<string, unknown> } = {}): Harness {
  const vs = createVscodeStub();
  const secrets = new Map<string, string>();
  const opened: string[] = [];
  const settings: Record<string, unknown> = opts.settings ?? {
    'colab.drive.oauth.clientId': 'test-client.apps.googleusercontent.com',
    'colab.drive.oauth.clientSecret': 'test-installed-app-secret',
    'colab.drive.oauth.authorizeUrl': `${base}o/oauth2/v2/auth`,
    'colab.drive.oauth.tokenUrl': `${base}token`,
    'colab.drive.oauth.revokeUrl': `${base}revoke`,
    'colab.drive.apiUrl': base,
  };
  const uri = (s: string) => ({ toString: () => s, s });
  const api = vs.api as unknown as Record<string, unknown>;
  api.Uri = { ...(api.Uri as object), parse: (s: string) => uri(s) };
  api.ProgressLocation = { Notification: 15 };
  (api.window as Record<string, unknown>).withProgress = (_o: unknown, work: (p: unknown, t: unknown) => Promise<unknown>) => work({ report: () => undefined }, undefined);
  api.env = {
    asExternalUri: async (u: { s: string }) => uri(opts.external ? await opts.external(u.s) : u.s),
    openExternal: async (u: { s: string }) => {
      opened.push(u.s);
      return opts.open ? opts.open(u.s) : browse(u.s).then(() => true);
    },
    clipboard: { writeText: async () => undefined },
  };
  (api.workspace as Record<string, unknown>).getConfiguration = () => ({ get: (k: string) => settings[k] });
  const h: Harness = {
    vs, secrets, opened, settings, refreshes: 0,
    deps: {
      vscode: vs.api,
      daemon: requester,
      secrets: {
        get: async (k: string) => secrets.get(k),
        store: async (k: string, v: string) => void secrets.set(k, v),
        delete: async (k: string) => void secrets.delete(k),
      },
      refresh: () => void h.refreshes++,
      restoreFolder: async () => undefined,
    },
  };
  return h;
}

test('signing in without an OAuth client says which settings to set and opens them', async () => {
  const h = harness({ settings: {} });
  let openedSettings: unknown;
  h.vs.commands.set('workbench.action.openSettings', (q) => (openedSettings = q));
  h.vs.answer.error = 'Open Settings';
  assert.equal(await signIn(h.deps), false);
  assert.match(h.vs.shown[0].message, /colab\.drive\.oauth\.clientId/);
  assert.equal(openedSettings, 'colab.drive');
  assert.equal(h.opened.length, 0);
});

test('sign-in opens the consent page, keeps the tokens only in SecretStorage, and the view shows the three roots', async () => {
  const h = harness();
  assert.equal(await signIn(h.deps), true, JSON.stringify(h.vs.shown));
  const consent = new URL(h.opened[0]);
  assert.equal(consent.searchParams.get('code_challenge_method'), 'S256');
  assert.equal(consent.searchParams.get('scope'), 'https://www.googleapis.com/auth/drive.readonly https://www.googleapis.com/auth/drive.file');
  assert.match(consent.searchParams.get('redirect_uri')!, /^http:\/\/127\.0\.0\.1:\d+\/oauth2callback$/);
  const stored = await readStoredTokens(h.deps.secrets);
  assert.ok(stored?.accessToken.startsWith('ya29.'));
  assert.ok(stored?.refreshToken);
  assert.ok(!JSON.stringify(h.settings).includes(stored!.accessToken));
  assert.ok(h.vs.shown.some((s) => s.message === 'Signed in to Google Drive.'));

  const tree = new DriveTree(h.vs.api, requester);
  const roots = await tree.getChildren();
  assert.deepEqual(roots.map((r) => (r.kind === 'root' ? r.label : r.kind)), ['My Drive', 'Shared drives', 'Shared with me']);
  const mine = await tree.getChildren(roots[0]);
  assert.deepEqual(mine.map((n) => (n.kind === 'item' ? n.item.name : n.kind)), ['hello.ipynb']);
  const drives = await tree.getChildren(roots[1]);
  assert.deepEqual(drives.map((n) => (n.kind === 'item' ? [n.item.name, n.item.driveId] : n.kind)), [['Team', '0ATeam']]);
  assert.deepEqual(await tree.getChildren(drives[0]), []);
  assert.deepEqual(await tree.getChildren(roots[2]), []);
  const item = tree.getTreeItem(roots[1]) as unknown as { iconPath: { id: string }; collapsibleState: number };
  assert.equal(item.iconPath.id, 'organization');
});

test('in a remote workspace the forwarded address of the listener is the redirect URI', async () => {
  const h = harness({ external: (u) => u.replace('127.0.0.1', 'localhost') });
  assert.equal(await signIn(h.deps), true, JSON.stringify(h.vs.shown));
  assert.match(new URL(h.opened[0]).searchParams.get('redirect_uri')!, /^http:\/\/localhost:\d+\/oauth2callback$/);
});

test('code-server: its asExternalUri answers only its /proxy/<port>/ address, the callback path is put back, and the sign-in comes through its proxy', async () => {
  // code-server's proxy: /proxy/<port>/<rest> → http://127.0.0.1:<port>/<rest> (the prefix stripped).
  const proxied: string[] = [];
  const proxy = http.createServer((req, res) => {
    const m = /^\/proxy\/(\d+)(\/.*)$/.exec(req.url ?? '');
    if (!m) return void res.writeHead(404).end();
    proxied.push(m[2].split('?')[0]);
    const inner = http.get({ host: '127.0.0.1', port: Number(m[1]), path: m[2] }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    inner.on('error', () => res.writeHead(502).end());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  try {
    const proxyPort = (proxy.address() as AddressInfo).port;
    const h = harness({ external: (u) => `http://127.0.0.1:${proxyPort}/proxy/${new URL(u).port}/` });
    assert.equal(await signIn(h.deps), true, JSON.stringify(h.vs.shown));
    assert.match(new URL(h.opened[0]).searchParams.get('redirect_uri')!, new RegExp(`^http://127\\.0\\.0\\.1:${proxyPort}/proxy/\\d+/oauth2callback$`));
    assert.deepEqual(proxied, ['/oauth2callback']);
    assert.ok((await readStoredTokens(h.deps.secrets))?.refreshToken);
  } finally {
    await new Promise((r) => proxy.close(r));
  }
});

test('forwardedRedirect keeps a forwarded address that has the path, and adds the path to one that lost it', () => {
  const loopback = 'http://127.0.0.1:41234/oauth2callback';
  assert.equal(forwardedRedirect(loopback, 'http://localhost:5000/oauth2callback'), 'http://localhost:5000/oauth2callback');
  assert.equal(forwardedRedirect(loopback, 'https://cs.example/proxy/41234/'), 'https://cs.example/proxy/41234/oauth2callback');
  assert.equal(forwardedRedirect(loopback, 'https://cs.example/proxy/41234'), 'https://cs.example/proxy/41234/oauth2callback');
  assert.equal(forwardedRedirect(loopback, 'https://cs.example/'), 'https://cs.example/oauth2callback');
  assert.equal(forwardedRedirect(loopback, 'not a url'), 'not a url'); // the daemon refuses it with a message
});

test('an editor that never answers asExternalUri does not stall the sign-in: the loopback address is used', async () => {
  const h = harness({ external: () => new Promise<string>(() => undefined) });
  assert.equal(await signIn(h.deps), true, JSON.stringify(h.vs.shown));
  assert.match(new URL(h.opened[0]).searchParams.get('redirect_uri')!, /^http:\/\/127\.0\.0\.1:\d+\/oauth2callback$/);
});

test('when the redirect cannot arrive, pasting the address the browser ended on completes the sign-in', async () => {
  let consentUrl = '';
  const h = harness({ open: async (url) => ((consentUrl = url), true) });
  h.vs.answer.info = 'Paste Code…';
  (h.vs.api.window as unknown as Record<string, unknown>).showInputBox = async (o: { password?: boolean }) => {
    assert.equal(o.password, true);
    // The browser ended on an address the editor could not reach; the user copies it.
    const consent = await fetch(consentUrl, { redirect: 'manual' });
    return consent.headers.get('location')!;
  };
  assert.equal(await signIn(h.deps), true, JSON.stringify(h.vs.shown));
  assert.ok((await readStoredTokens(h.deps.secrets))?.refreshToken);
});

test('declining consent in the browser stores nothing and says so', async () => {
  await control('__control/oauth', { consent: 'deny' });
  try {
    const h = harness();
    assert.equal(await signIn(h.deps), false);
    assert.equal(h.secrets.size, 0);
    assert.match(h.vs.shown.find((s) => s.kind === 'error')!.message, /declined/);
  } finally {
    await control('__control/oauth', { consent: 'allow' });
  }
});

test('refreshed tokens go to SecretStorage, a restart reuses them, and sign-out revokes and forgets them', async () => {
  const h = harness();
  const subscriptions = registerDriveAuth(h.deps);
  try {
    assert.equal(await signIn(h.deps), true);
    const first = (await readStoredTokens(h.deps.secrets))!;
    await control('__control/oauth/expire');
    await requester.request('colab/drive/list', { folderId: 'root' });
    const deadline = Date.now() + 30_000;
    while ((await readStoredTokens(h.deps.secrets))!.accessToken === first.accessToken) {
      assert.ok(Date.now() < deadline, 'the refreshed token never reached SecretStorage');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal((await readStoredTokens(h.deps.secrets))!.refreshToken, first.refreshToken);

    // A restarted daemon gets the stored account back.
    await requester.request('colab/drive/use', { kind: 'none' });
    assert.equal(await restoreDriveAccount(h.deps), true);
    assert.equal(((await requester.request('colab/drive/status', {})) as { kind?: string }).kind, 'api');

    await signOut(h.deps);
    assert.equal(h.secrets.has(driveTokensKey), false);
    assert.ok(h.vs.shown.some((s) => /access was revoked/.test(s.message)), JSON.stringify(h.vs.shown));
    assert.equal(((await requester.request('colab/drive/status', {})) as { kind?: string }).kind, undefined);
    const state = (await (await fetch(`${base}__control/oauth/state`)).json()) as { log: { endpoint: string }[] };
    assert.ok(state.log.some((e) => e.endpoint === 'revoke'));
    assert.equal(await restoreDriveAccount(h.deps), false);
  } finally {
    subscriptions.forEach((d) => d.dispose());
  }
  assert.ok(!daemon.stderr().includes('ya29.'), 'an access token reached the daemon log');
});
