import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commandIds, registerCommands, showStatus, type CommandContext } from '../../colab-vscode/src/commands';
import { DaemonNotRunningError } from '../../colab-vscode/src/daemon/client';
import type { ServerStatus } from '../../colab-vscode/src/protocol';
import { StatusDocument } from '../../colab-vscode/src/status/statusDocument';
import { serverStatus } from './fakeDaemon';
import { createVscodeStub, type VscodeStub } from './vscodeStub';

function context(vs: VscodeStub, request: (method: string, params?: unknown) => Promise<unknown>) {
  const calls = { restarts: 0, logShown: 0, requests: [] as string[], details: [] as ServerStatus[] };
  const ctx: CommandContext = {
    vscode: vs.api,
    daemon: {
      request: async <R>(method: string, params?: unknown) => {
        calls.requests.push(method);
        return (await request(method, params)) as R;
      },
      restart: async () => {
        calls.restarts++;
      },
    },
    showLog: () => calls.logShown++,
    showDetails: async (status) => {
      calls.details.push(status);
    },
  };
  return { ctx, calls };
}

test("Show Status shows version and capabilities from the daemon's answer", async () => {
  const vs = createVscodeStub();
  const { ctx, calls } = context(vs, async () => serverStatus());
  await showStatus(ctx)();
  assert.deepEqual(calls.requests, ['colab/serverStatus'], 'one request');
  assert.deepEqual(vs.shown, [
    {
      kind: 'info',
      message:
        'Colab daemon 0.1.0 ready · pid 1234 · up 12 s — gpu: unavailable, python: available, localRuntime: available, torch: unavailable',
      actions: ['Details'],
    },
  ]);
  assert.deepEqual(calls.details, [], 'no details unless asked');
});

test("Show Status reports a daemon that is still starting as such, with its uptime in minutes", async () => {
  const vs = createVscodeStub();
  const { ctx } = context(vs, async () => serverStatus({ health: 'starting', version: '0.2.0', pid: 7, uptimeSeconds: 125, capabilities: [] }));
  await showStatus(ctx)();
  assert.equal(vs.shown[0].message, 'Colab daemon 0.2.0 starting · pid 7 · up 2 min 5 s');
});

test("Details opens the daemon's full answer as a read-only JSON document", async () => {
  const vs = createVscodeStub();
  const document = new StatusDocument(vs.api);
  const status = serverStatus({ pid: 4321 });
  const { ctx } = context(vs, async () => status);
  const withDocument: CommandContext = { ...ctx, showDetails: (s) => document.show(s) };
  vs.answer.info = 'Details';
  await showStatus(withDocument)();
  assert.equal(vs.openedDocuments.length, 1);
  assert.equal(vs.openedDocuments[0].uri, 'colab-status:/Colab Daemon Status.json');
  assert.deepEqual(JSON.parse(vs.openedDocuments[0].text), status);
});

test('Show Status tells the user when the daemon is not running, and offers the log and a restart', async () => {
  const vs = createVscodeStub();
  const { ctx, calls } = context(vs, async () => {
    throw new DaemonNotRunningError('The Colab daemon is not running. No Colab daemon found for linux-x64.');
  });
  vs.answer.error = 'Restart Daemon';
  await showStatus(ctx)();
  assert.deepEqual(vs.shown, [
    {
      kind: 'error',
      message: 'Colab: could not get the daemon status. The Colab daemon is not running. No Colab daemon found for linux-x64.',
      actions: ['Show Daemon Log', 'Restart Daemon'],
    },
  ]);
  assert.equal(calls.restarts, 1);

  vs.answer.error = 'Show Daemon Log';
  await showStatus(ctx)();
  assert.equal(calls.logShown, 1);
});

test('the three commands are registered, and Restart Daemon and Show Daemon Log do what they say', async () => {
  const vs = createVscodeStub();
  const { ctx, calls } = context(vs, async () => serverStatus());
  registerCommands(ctx);
  assert.deepEqual([...vs.commands.keys()].sort(), Object.values(commandIds).sort());
  await vs.api.commands.executeCommand('colab.restartDaemon');
  assert.equal(calls.restarts, 1);
  await vs.api.commands.executeCommand('colab.showDaemonLog');
  assert.equal(calls.logShown, 1);
  await vs.api.commands.executeCommand('colab.showStatus');
  assert.deepEqual(calls.requests, ['colab/serverStatus']);
});
