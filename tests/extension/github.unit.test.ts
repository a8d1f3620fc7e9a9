import * as fs from 'node:fs';
import * as path from 'node:path';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  copyColabBadge,
  copyOpenInVsCodeLink,
  gitHubCommandIds,
  gitHubUriHandler,
  openFromGitHub,
  recentReposKey,
  registerGitHubCommands,
  saveCopyAction,
  saveCopyToDrive,
  saveToDriveAction,
  setTokenAction,
  tokenSecretKey,
  vscodeLink,
  type GitHubCommandContext,
} from '../../colab-vscode/src/github/commands';
import { plainNotebook } from '../../colab-vscode/src/github/notebookData';
import { errorCodes, methods, type GitHubListResult, type GitHubOpenResult } from '../../colab-vscode/src/protocol';

const notebookJson = JSON.stringify({
  cells: [
    { cell_type: 'markdown', metadata: {}, source: ['# Title\n', 'text'] },
    {
      cell_type: 'code',
      execution_count: 2,
      metadata: { tags: ['x'] },
      source: 'print(1)',
      outputs: [
        { output_type: 'stream', name: 'stdout', text: ['1\n'] },
        { output_type: 'execute_result', execution_count: 2, data: { 'text/plain': '2', 'image/png': 'iVBORw0KGgo=' }, metadata: {} },
        { output_type: 'error', ename: 'E', evalue: 'bad', traceback: ['tb1', 'tb2'] },
      ],
    },
  ],
  metadata: { kernelspec: { name: 'python3', language: 'python' } },
  nbformat: 4,
  nbformat_minor: 5,
});

const opened: GitHubOpenResult = {
  notebook: JSON.parse(notebookJson) as Record<string, unknown>,
  suggestedName: 'nb.ipynb',
  source: { kind: 'file', owner: 'org', repo: 'repo', ref: 'main', path: 'nb.ipynb' },
  webUrl: 'https://github.com/org/repo/blob/main/nb.ipynb',
  bytes: notebookJson.length,
};

class Item {
  constructor(
    readonly data: unknown,
    readonly mime: string,
  ) {}
  static stdout = (t: string) => new Item(t, 'stdout');
  static stderr = (t: string) => new Item(t, 'stderr');
  static text = (t: string, m: string) => new Item(t, m);
  static json = (v: unknown, m: string) => new Item(v, m);
  static error = (e: unknown) => new Item(e, 'error');
}

/** A fake of the narrow vscode surface the commands use; records requests, prompts and what was shown. */
function fake(answers: { input?: (string | undefined)[]; picks?: ((items: { label: string }[]) => unknown)[]; error?: string; info?: string }) {
  const requests: { method: string; params: Record<string, unknown> }[] = [];
  const shown: string[] = [];
  const secrets = new Map<string, string>();
  const state = new Map<string, unknown>();
  const clipboard: string[] = [];
  const executed: string[] = [];
  const openedData: { cells: { kind: number; value: string; outputs: { items: Item[] }[] }[] }[] = [];
  const commands = new Map<string, (...a: unknown[]) => unknown>();
  const config = new Map<string, unknown>();
  const responders = new Map<string, (params: Record<string, unknown>) => unknown>();
  const sessions: { silent: string | undefined; create: string | undefined } = { silent: undefined, create: undefined };
  const api = {
    window: {
      showInputBox: async () => answers.input?.shift(),
      showQuickPick: async (items: { label: string }[]) => answers.picks?.shift()?.(items),
      showErrorMessage: async (m: string) => (shown.push(`error: ${m}`), answers.error),
      showWarningMessage: async (m: string) => (shown.push(`warning: ${m}`), undefined),
      showInformationMessage: async (m: string) => (shown.push(`info: ${m}`), answers.info),
      showNotebookDocument: async () => undefined,
      activeNotebookEditor: undefined as unknown,
    },
    workspace: {
      getConfiguration: () => ({ get: (k: string) => config.get(k) }),
      openNotebookDocument: async (type: string, data: (typeof openedData)[0]) => {
        assert.equal(type, 'jupyter-notebook');
        openedData.push(data);
        return { uri: { scheme: 'untitled' } };
      },
    },
    commands: {
      registerCommand: (id: string, f: (...a: unknown[]) => unknown) => (commands.set(id, f), { dispose() {} }),
      executeCommand: async (id: string) => void executed.push(id),
    },
    env: { clipboard: { writeText: async (t: string) => void clipboard.push(t) } },
    authentication: {
      getSession: async (_p: string, _s: string[], o: { silent?: boolean; createIfNone?: boolean }) =>
        o.createIfNone ? (sessions.create ? { accessToken: sessions.create } : undefined) : sessions.silent ? { accessToken: sessions.silent } : undefined,
    },
    NotebookData: class {
      metadata: unknown;
      constructor(readonly cells: unknown[]) {}
    },
    NotebookCellData: class {
      metadata: unknown;
      outputs: unknown[] = [];
      executionSummary: unknown;
      constructor(
        readonly kind: number,
        readonly value: string,
        readonly languageId: string,
      ) {}
    },
    NotebookCellKind: { Markup: 1, Code: 2 },
    NotebookCellOutput: class {
      constructor(
        readonly items: Item[],
        readonly metadata: unknown,
      ) {}
    },
    NotebookCellOutputItem: Item,
  };
  const ctx: GitHubCommandContext = {
    vscode: api as unknown as GitHubCommandContext['vscode'],
    daemon: {
      request: async <R>(method: string, params?: unknown) => {
        requests.push({ method, params: params as Record<string, unknown> });
        const r = responders.get(method);
        if (!r) {
          throw new Error(`no answer for ${method}`);
        }
        return r(params as Record<string, unknown>) as R;
      },
    },
    secrets: { get: async (k) => secrets.get(k), store: async (k, v) => void secrets.set(k, v) },
    state: { get: <T>(k: string) => state.get(k) as T, update: async (k: string, v: unknown) => void state.set(k, v) } as GitHubCommandContext['state'],
    extensionId: 'colab-vscode.colab-vscode',
    log: { error: (m) => shown.push(`log: ${m}`), info: () => undefined },
  };
  return { ctx, api, requests, shown, secrets, state, clipboard, executed, openedData, commands, config, responders, sessions };
}

const rpcError = (code: number, message: string) => Object.assign(new Error(message), { code });

test('plainNotebook maps cells, sources, languages, execution counts and outputs', () => {
  const nb = plainNotebook(JSON.parse(notebookJson));
  assert.equal(nb.cells.length, 2);
  assert.deepEqual([nb.cells[0].kind, nb.cells[0].source, nb.cells[0].language], ['markup', '# Title\ntext', 'markdown']);
  const code = nb.cells[1];
  assert.deepEqual([code.kind, code.source, code.language, code.executionCount], ['code', 'print(1)', 'python', 2]);
  assert.deepEqual(code.outputs[0].items, [{ kind: 'stdout', text: '1\n' }]);
  assert.deepEqual(code.outputs[1].items.map((i) => i.kind), ['text', 'bytes']);
  assert.deepEqual(code.outputs[2].items, [{ kind: 'error', name: 'E', message: 'bad', stack: 'tb1\ntb2' }]);
  assert.deepEqual(nb.metadata.nbformat, 4);
  assert.throws(() => plainNotebook({ nope: 1 }), /not an nbformat 4 notebook/);
  // The answer embeds the notebook as an object; text (the old wire form), null or a list is refused.
  for (const bad of ['{"cells": []}', null, [], 5]) {
    assert.throws(() => plainNotebook(bad), /not an nbformat 4 notebook/);
  }
});

test('a pasted badge link is resolved, opened as an untitled notebook, and Save a Copy runs Save As', async () => {
  const f = fake({ input: ['https://colab.research.google.com/github/org/repo/blob/main/nb.ipynb'], info: saveCopyAction });
  f.config.set('colab.github.enterpriseUrl', ' http://127.0.0.1:9 ');
  f.responders.set(methods.gitHubResolve.name, () => opened.source);
  f.responders.set(methods.gitHubOpen.name, () => opened);

  await openFromGitHub(f.ctx)();
  await new Promise((r) => setImmediate(r));

  assert.deepEqual(f.requests.map((r) => r.method), [methods.gitHubResolve.name, methods.gitHubOpen.name]);
  assert.equal(f.requests[0].params.url, 'https://colab.research.google.com/github/org/repo/blob/main/nb.ipynb');
  assert.equal(f.requests[0].params.baseUrl, 'http://127.0.0.1:9');
  assert.deepEqual(f.requests[1].params.target, opened.source);
  assert.equal(f.openedData.length, 1);
  assert.deepEqual(f.openedData[0].cells.map((c) => c.kind), [1, 2]);
  assert.equal(f.openedData[0].cells[1].outputs[0].items[0].mime, 'stdout');
  assert.match(f.shown.join('\n'), /opened nb\.ipynb from org\/repo@main as an untitled copy/);
  assert.deepEqual(f.executed, ['workbench.action.files.saveAs']);
  assert.deepEqual(f.state.get(recentReposKey), ['org/repo']);
});

test('Save a Copy to Drive uploads the notebook as opened through colab/drive/put and removes its temporary file', async () => {
  const f = fake({ input: ['org/repo/nb.ipynb@main'], info: saveToDriveAction });
  f.responders.set(methods.gitHubResolve.name, () => opened.source);
  f.responders.set(methods.gitHubOpen.name, () => opened);
  f.responders.set(methods.driveStatus.name, () => ({ kind: 'folder', root: '/drive', pendingUploads: 0 }));
  let uploaded: unknown;
  let tempFile = '';
  f.responders.set(methods.drivePut.name, (p) => {
    tempFile = p.localPath as string;
    uploaded = JSON.parse(fs.readFileSync(tempFile, 'utf8'));
    assert.equal(fs.statSync(tempFile).mode & 0o077, 0, 'the temporary copy is private');
    return { fileId: 'nb.ipynb', localPath: tempFile, bytes: 10, md5Checksum: 'x', verified: true, verifiedWith: 'sha256' };
  });

  await openFromGitHub(f.ctx)();
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));

  const put = f.requests.find((r) => r.method === methods.drivePut.name);
  assert.ok(put, `no colab/drive/put in ${JSON.stringify(f.requests.map((r) => r.method))}`);
  assert.deepEqual({ parentId: put.params.parentId, name: put.params.name }, { parentId: '', name: 'nb.ipynb' });
  assert.deepEqual(uploaded, opened.notebook);
  assert.ok(!fs.existsSync(tempFile), 'the temporary copy is removed');
  assert.match(f.shown.join('\n'), /saved nb\.ipynb to Drive \(sha256 verified\)/);
});

test('Save a Copy to Drive without a Drive in use says how to pick one; a failed upload is an error, nothing left behind', async () => {
  const none = fake({});
  none.responders.set(methods.driveStatus.name, () => ({ pendingUploads: 0 }));
  assert.equal(await saveCopyToDrive(none.ctx, opened), undefined);
  assert.match(none.shown.join('\n'), /warning: .*Use a Drive Folder/);
  assert.ok(!none.requests.some((r) => r.method === methods.drivePut.name));

  const failing = fake({});
  failing.responders.set(methods.driveStatus.name, () => ({ kind: 'api', pendingUploads: 0 }));
  let tempFile = '';
  failing.responders.set(methods.drivePut.name, (p) => {
    tempFile = p.localPath as string;
    assert.equal(p.parentId, 'root');
    throw Object.assign(new Error('Drive storage quota exceeded'), { code: -32062 });
  });
  assert.equal(await saveCopyToDrive(failing.ctx, { ...opened, suggestedName: '../../evil.ipynb' }), undefined);
  assert.equal(path.basename(tempFile), 'evil.ipynb');
  assert.ok(!fs.existsSync(path.dirname(tempFile)), 'the temporary folder is removed');
  assert.match(failing.shown.join('\n'), /error: Colab: could not save the copy to Drive: .*quota/);
});

test('a saved token, else a silent GitHub session, goes into the request params', async () => {
  const f = fake({});
  f.responders.set(methods.gitHubResolve.name, () => opened.source);
  f.responders.set(methods.gitHubOpen.name, () => opened);
  f.sessions.silent = 'gho_session';
  await openFromGitHub(f.ctx)('org/repo/nb.ipynb@main');
  assert.equal(f.requests[0].params.token, 'gho_session');
  f.secrets.set(tokenSecretKey, 'ghp_saved');
  await openFromGitHub(f.ctx)('org/repo/nb.ipynb@main');
  assert.equal(f.requests[2].params.token, 'ghp_saved');
});

test('a 404 without a token offers sign-in or a token; an entered token is stored and the request is retried', async () => {
  const f = fake({ error: setTokenAction, input: ['ghp_new'] });
  let calls = 0;
  f.responders.set(methods.gitHubResolve.name, (p) => {
    calls++;
    if (!p.token) {
      throw rpcError(errorCodes.GitHubNotFound, 'Not found on GitHub: the path is wrong, or it is a private repository and you are not signed in');
    }
    return opened.source;
  });
  f.responders.set(methods.gitHubOpen.name, () => opened);
  await openFromGitHub(f.ctx)('org/private/nb.ipynb');
  assert.equal(calls, 2);
  assert.equal(f.secrets.get(tokenSecretKey), 'ghp_new');
  assert.match(f.shown[0], /private repository and you are not signed in/);
  assert.equal(f.openedData.length, 1);
  assert.ok(!f.shown.join('\n').includes('ghp_new'));
});

test('a bad link shows the daemon message and opens nothing', async () => {
  const f = fake({});
  f.responders.set(methods.gitHubResolve.name, () => {
    throw rpcError(errorCodes.GitHubBadLink, 'evil.example is not a GitHub host');
  });
  registerGitHubCommands(f.ctx);
  await f.commands.get(gitHubCommandIds.openFromGitHub)!('https://evil.example/x');
  assert.match(f.shown.join('\n'), /error: Colab: evil\.example is not a GitHub host/);
  assert.equal(f.openedData.length, 0);
});

test('a repository link browses: switch to a tag, then pick a notebook at that tag', async () => {
  const list = (ref: string): GitHubListResult => ({
    owner: 'org', repo: 'repo', ref, defaultBranch: 'main',
    notebooks: ref === 'v1' ? [{ path: 'old/a.ipynb' }] : [{ path: 'b.ipynb' }],
    branches: ['main'], tags: ['v1'], truncated: false,
  });
  const f = fake({
    picks: [
      (items) => items[0], // switch branch or tag
      (items) => items.find((i) => i.label === 'v1'),
      (items) => items.find((i) => i.label === 'a.ipynb'),
    ],
  });
  f.responders.set(methods.gitHubResolve.name, () => ({ kind: 'repo', owner: 'org', repo: 'repo' }));
  f.responders.set(methods.gitHubList.name, (p) => list((p.ref as string | undefined) ?? 'main'));
  f.responders.set(methods.gitHubOpen.name, () => opened);
  await openFromGitHub(f.ctx)('org/repo');
  const open = f.requests.find((r) => r.method === methods.gitHubOpen.name)!;
  assert.deepEqual(open.params.target, { kind: 'file', owner: 'org', repo: 'repo', ref: 'v1', path: 'old/a.ipynb' });
});

test('an empty input shows the recent repositories', async () => {
  const f = fake({ input: [''], picks: [(items) => items[0]] });
  f.state.set(recentReposKey, ['org/recent']);
  f.responders.set(methods.gitHubResolve.name, (p) => (assert.equal(p.url, 'org/recent'), { kind: 'repo', owner: 'org', repo: 'recent' }));
  f.responders.set(methods.gitHubList.name, () => undefined);
  await openFromGitHub(f.ctx)();
  assert.equal(f.requests[0].params.url, 'org/recent');
});

test('copy links ask the daemon for the file, copy a vscode:// link and the badge Markdown', async () => {
  const f = fake({});
  const links = { owner: 'org', repo: 'repo', ref: 'feature/x', path: 'nbs/My nb.ipynb', gitHubUrl: 'g', colabUrl: 'c', badgeMarkdown: '[![Open In Colab](b)](c)' };
  f.responders.set(methods.gitHubLinks.name, (p) => (assert.equal(p.path, '/w/nbs/My nb.ipynb'), links));
  await copyOpenInVsCodeLink(f.ctx)({ scheme: 'file', fsPath: '/w/nbs/My nb.ipynb' });
  await copyColabBadge(f.ctx)({ scheme: 'file', fsPath: '/w/nbs/My nb.ipynb' });
  assert.deepEqual(f.clipboard, ['vscode://colab-vscode.colab-vscode/github/org/repo/blob/feature/x/nbs/My%20nb.ipynb', '[![Open In Colab](b)](c)']);
  assert.equal(vscodeLink('p.n', { owner: 'o', repo: 'r', ref: 'a#b', path: 'x?.ipynb' }), 'vscode://p.n/github/o/r/blob/a%23b/x%3F.ipynb');

  const none = fake({});
  await copyColabBadge(none.ctx)();
  assert.match(none.shown.join('\n'), /open a notebook saved in a git repository/);
  assert.equal(none.requests.length, 0);
});

test('the URI handler opens /github/… paths and refuses others', async () => {
  const f = fake({});
  f.responders.set(methods.gitHubResolve.name, () => opened.source);
  f.responders.set(methods.gitHubOpen.name, () => opened);
  const handler = gitHubUriHandler(f.ctx);
  await handler.handleUri({ path: '/github/org/repo/blob/main/nb.ipynb' } as never);
  assert.equal(f.requests[0].params.url, '/github/org/repo/blob/main/nb.ipynb');
  assert.equal(f.openedData.length, 1);
  await handler.handleUri({ path: '/import-drive-file' } as never);
  assert.match(f.shown.join('\n'), /not one Colab opens/);
});
