// colab.driveDownloadLink ("Download from Drive Link…") with the vscode stub, against the real
// built daemon and the Drive stand-in's public share-link pages (COLAB_DRIVE_LINK_URL).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type * as vscode from 'vscode';
import { driveDownloadLinkId, registerDriveLinkCommand, type DriveLinkRequester } from '../../colab-vscode/src/drive/driveLinkCommand';
import { type Daemon, startInitialized } from '../interop/peer';
import { createVscodeStub } from './vscodeStub';

const repo = path.resolve(__dirname, '..', '..', '..');
let daemon: Daemon;
let standIn: ChildProcess;
let base: string;
let dir: string;
let requester: DriveLinkRequester;

async function control(p: string, body: unknown): Promise<unknown> {
  const r = await fetch(base + p, { method: 'POST', body: JSON.stringify(body) });
  return r.json();
}

async function publicFile(name: string, content: Buffer, extra: Record<string, unknown> = {}): Promise<string> {
  const [f] = (await control('__control/files', { name, contentBase64: content.toString('base64'), ...extra })) as { id: string }[];
  await control('__control/link', { id: f.id, public: true });
  return f.id;
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'colab-drive-link-'));
  standIn = spawn(process.execPath, [path.join(repo, 'tests', 'standins', 'drive-standin.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
  base = await new Promise<string>((resolve) => standIn.stdout!.once('data', (d) => resolve(`http://127.0.0.1:${String(d).trim().split(' ')[1]}/`)));
  process.env.COLAB_DRIVE_LINK_URL = base;
  daemon = await startInitialized();
  delete process.env.COLAB_DRIVE_LINK_URL;
  requester = { request: <R>(method: string, params?: unknown, token?: vscode.CancellationToken) => (token ? daemon.connection.sendRequest(method, params, token) : daemon.connection.sendRequest(method, params)) as Promise<R> };
});

after(async () => {
  await daemon.dispose();
  standIn.kill();
  fs.rmSync(dir, { recursive: true, force: true });
});

function setup(folderAnswer?: string) {
  const vs = createVscodeStub();
  const dialogs: unknown[] = [];
  const api = {
    ...vs.api,
    ProgressLocation: { Notification: 15 },
    window: {
      ...vs.api.window,
      showOpenDialog: async (options: unknown) => {
        dialogs.push(options);
        return folderAnswer === undefined ? undefined : [{ fsPath: folderAnswer }];
      },
      withProgress: async (_o: unknown, work: (p: unknown, t: unknown) => Promise<unknown>) => work({ report: () => undefined }, { isCancellationRequested: false, onCancellationRequested: () => ({ dispose: () => undefined }) }),
    },
  } as unknown as typeof vscode;
  registerDriveLinkCommand({ vscode: api, daemon: requester });
  const run = (...args: unknown[]) => vs.commands.get(driveDownloadLinkId)!(...args) as Promise<void>;
  return { vs, dialogs, run };
}

test('a share link and a folder as arguments download the file under its Drive name, no dialogs', async () => {
  const content = Buffer.from('weights '.repeat(5000));
  const id = await publicFile('weights.bin', content);
  const { vs, dialogs, run } = setup();
  await run(`https://drive.google.com/file/d/${id}/view?usp=sharing`, dir);
  assert.deepEqual(vs.shown.map((s) => s.kind), ['info'], JSON.stringify(vs.shown));
  assert.match(vs.shown[0].message, /size checked/);
  assert.deepEqual(fs.readFileSync(path.join(dir, 'weights.bin')), content);
  assert.equal(dialogs.length, 0);
  assert.equal(vs.inputBoxes.length, 0);
});

test('asked interactively: the input box checks links as typed, then a folder is picked', async () => {
  const id = await publicFile('asked.txt', Buffer.from('asked'));
  const target = fs.mkdtempSync(path.join(dir, 'pick-'));
  const { vs, dialogs, run } = setup(target);
  vs.inputAnswers.push(`https://drive.google.com/uc?export=download&id=${id}`);
  await run();
  assert.equal(dialogs.length, 1);
  assert.equal(fs.readFileSync(path.join(target, 'asked.txt'), 'utf8'), 'asked');
  const validate = (vs.inputBoxes[0] as { validateInput: (v: string) => Promise<string | undefined> }).validateInput;
  assert.equal(await validate(`https://drive.google.com/open?id=${id}`), undefined);
  assert.match((await validate('https://evil.example/file/d/1AbCdEfGhIjKlMnOp_-x/view')) ?? '', /not a Google Drive/);
  assert.match((await validate('https://user:pw@drive.google.com/file/d/1AbCdEfGhIjKlMnOp_-x/view')) ?? '', /user name or password/);
  assert.match((await validate('https://drive.google.com/drive/folders/1AbCdEfGhIjKlMnOp_-x')) ?? '', /folders need sign-in/);
});

test('a Docs link offers its export formats and saves the chosen one', async () => {
  const [doc] = (await control('__control/files', { name: 'Report', mimeType: 'application/vnd.google-apps.document', exportText: 'report text' })) as { id: string }[];
  await control('__control/link', { id: doc.id, public: true });
  const { vs, run } = setup();
  let offered: unknown;
  vs.pick = (items) => {
    offered = items;
    return 'pdf';
  };
  await run(`https://docs.google.com/document/d/${doc.id}/edit?usp=sharing`, dir);
  assert.deepEqual((offered as string[])[0], 'docx');
  assert.equal(fs.readFileSync(path.join(dir, 'Report.pdf'), 'utf8'), 'report text');
});

test('folders, private files, hostile links and relative folders end in a clear error and save nothing', async () => {
  const [priv] = (await control('__control/files', { name: 'private.bin', contentBase64: 'AAAA' })) as { id: string }[];
  const before = fs.readdirSync(dir).sort();
  const cases: [unknown[], RegExp][] = [
    [['https://drive.google.com/drive/folders/1AbCdEfGhIjKlMnOp_-x', dir], /folders need sign-in/],
    [[priv.id, dir], /Anyone with the link/],
    [['https://drive.google.com:8443/file/d/1AbCdEfGhIjKlMnOp_-x/view', dir], /port/],
    [['http://169.254.169.254/latest/meta-data?id=1AbCdEfGhIjKlMnOp_-x', dir], /not a Google Drive/],
    [[priv.id, 'relative/folder'], /absolute folder path/],
  ];
  for (const [args, expected] of cases) {
    const { vs, run } = setup();
    await run(...args);
    assert.equal(vs.shown.length, 1, JSON.stringify(vs.shown));
    assert.equal(vs.shown[0].kind, 'error');
    assert.match(vs.shown[0].message, expected);
  }
  assert.deepEqual(fs.readdirSync(dir).sort(), before);
});
