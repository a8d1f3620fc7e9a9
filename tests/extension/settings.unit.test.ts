import assert from 'node:assert/strict';
import { test } from 'node:test';
import type * as vscode from 'vscode';
import { offerRestartOnChange, readSettings } from '../../colab-vscode/src/settings';

function workspaceWith(values: Record<string, unknown>) {
  let listener: ((e: { affectsConfiguration(s: string): boolean }) => Promise<void>) | undefined;
  const shown: string[] = [];
  let answer: string | undefined;
  const api = {
    workspace: {
      getConfiguration: () => ({ get: <T>(key: string, fallback?: T) => (key in values ? values[key] : fallback) as T }),
      onDidChangeConfiguration: (l: typeof listener) => {
        listener = l;
        return { dispose: () => undefined };
      },
    },
    window: {
      showInformationMessage: async (message: string) => {
        shown.push(message);
        return answer;
      },
    },
  } as unknown as typeof vscode;
  return {
    api,
    shown,
    answerWith: (a: string | undefined) => (answer = a),
    change: (changed: string) => listener!({ affectsConfiguration: (s) => changed === s || changed.startsWith(`${s}.`) }),
  };
}

test('settings are read trimmed, a value that is not text counts as unset, and an unknown log level is Information', () => {
  const w = workspaceWith({ 'colab.daemon.path': ' /opt/colab ', 'colab.python': '', 'colab.daemon.logLevel': 'Verbose' });
  assert.deepEqual(readSettings(w.api), { daemonPath: '/opt/colab', python: '', logLevel: 'Information' });
  const d = workspaceWith({ 'colab.daemon.logLevel': 'Debug' });
  assert.equal(readSettings(d.api).logLevel, 'Debug');
  const odd = workspaceWith({ 'colab.daemon.path': 42, 'colab.python': null });
  assert.deepEqual(readSettings(odd.api), { daemonPath: '', python: '', logLevel: 'Information' });
});

test('changing a daemon setting offers a restart, and accepting restarts; other settings are ignored', async () => {
  const w = workspaceWith({});
  let restarts = 0;
  offerRestartOnChange(w.api, async () => {
    restarts++;
  });
  await w.change('editor.fontSize');
  assert.deepEqual(w.shown, []);
  w.answerWith('Restart Daemon');
  await w.change('colab.python');
  assert.deepEqual(w.shown, ['Restart the Colab daemon to use the changed settings?']);
  assert.equal(restarts, 1);
  w.answerWith(undefined);
  await w.change('colab.daemon.logLevel');
  assert.equal(restarts, 1);
});
