import assert from 'node:assert/strict';
import { test } from 'node:test';
import { methods, type ProgressParams, type TrainJobInfo, type TrainStartParams } from '../../colab-vscode/src/protocol';
import { TrainingController, startParamsOf } from '../../colab-vscode/src/training/training';
import { FakeTrainingDaemon, settle } from './fakeDaemon';
import { createVscodeStub } from './vscodeStub';

class FakeDaemon extends FakeTrainingDaemon {
  send(p: ProgressParams): void {
    this.listeners.get(methods.progress.name)!(p);
  }
}

const job: TrainJobInfo = {
  id: 'j1', state: 'starting', restarts: 0, maxRestarts: 3, command: ['python3', 'train.py'], checkpointDirectory: '/c',
  startedAt: '2026-11-22T00:00:00Z', updatedAt: '2026-11-22T00:00:00Z',
};

function withProgressRecorder() {
  const opened: { options: { location: number; title?: string }; reports: { message?: string; increment?: number }[]; closed: boolean }[] = [];
  const withProgress = (options: { location: number; title?: string }, task: (p: { report(v: { message?: string; increment?: number }): void }) => Promise<void>) => {
    const entry = { options, reports: [] as { message?: string; increment?: number }[], closed: false };
    opened.push(entry);
    return task({ report: (v) => entry.reports.push(v) }).then(() => {
      entry.closed = true;
    });
  };
  return { opened, withProgress };
}

function controller(daemon: FakeDaemon, withProgress: unknown) {
  const stub = createVscodeStub();
  const api = { ...stub.api, window: { ...stub.api.window, withProgress }, ProgressLocation: { Notification: 15 } };
  return new TrainingController(api as unknown as ConstructorParameters<typeof TrainingController>[0], daemon);
}

test('Start Training sends a workDoneToken and shows $/progress as a notification: title, messages, percentage increments, closed at end', async () => {
  const daemon = new FakeDaemon(() => job);
  const rec = withProgressRecorder();
  const c = controller(daemon, rec.withProgress);
  await c.start({ command: ['python3', 'train.py'] });
  const sent = daemon.requests.find((r) => r.method === methods.trainStart.name)!.params as TrainStartParams;
  assert.equal(typeof sent.workDoneToken, 'string');
  const token = sent.workDoneToken as string;
  assert.match(token, /^colab-train-/);

  // Another feature's token (or a stray one) is not ours: nothing opens.
  daemon.send({ token: 'other', value: { kind: 'begin', title: 'Uploading' } });
  assert.equal(rec.opened.length, 0);

  daemon.send({ token, value: { kind: 'begin', title: 'Training: train.py', message: 'starting', percentage: 0 } });
  daemon.send({ token, value: { kind: 'report', message: 'epoch 1 · step 30/120 · loss 0.5', percentage: 25 } });
  daemon.send({ token, value: { kind: 'report', message: 'restarting · step 20/120 · 1 restart', percentage: 16 } });
  daemon.send({ token, value: { kind: 'report', message: 'epoch 3 · step 90/120 · loss 0.21', percentage: 75 } });
  daemon.send({ token, value: { kind: 'end', message: 'succeeded · epoch 4 · step 120/120 · loss 0.05' } });
  await settle();
  assert.equal(rec.opened.length, 1);
  const n = rec.opened[0];
  assert.equal(n.options.title, 'Training: train.py');
  assert.equal(n.options.location, 15);
  assert.deepEqual(n.reports, [
    { message: 'starting' },
    { message: 'epoch 1 · step 30/120 · loss 0.5', increment: 25 },
    { message: 'restarting · step 20/120 · 1 restart' }, // the bar never goes back
    { message: 'epoch 3 · step 90/120 · loss 0.21', increment: 50 },
    { message: 'succeeded · epoch 4 · step 120/120 · loss 0.05' },
  ]);
  assert.equal(n.closed, true);
  // A late report after the end is ignored.
  daemon.send({ token, value: { kind: 'report', message: 'late', percentage: 99 } });
  assert.equal(n.reports.length, 5);
  // colab/train/changed keeps driving the status bar and the done notification.
  assert.ok(daemon.listeners.has(methods.trainChanged.name));
});

test('a refused start still closes its progress; without ProgressLocation no token is sent', async () => {
  const daemon = new FakeDaemon(() => Object.assign(new Error('Invalid params: keep 1–1000'), { code: -32602 }));
  const rec = withProgressRecorder();
  const c = controller(daemon, rec.withProgress);
  await assert.rejects(c.start({ command: ['python3', 'train.py'], keep: 0 }), /keep 1–1000/);
  const token = (daemon.requests[0].params as TrainStartParams).workDoneToken!;
  daemon.send({ token, value: { kind: 'begin', title: 'Training: train.py' } });
  daemon.send({ token, value: { kind: 'end', message: 'not started: Invalid params: keep 1–1000' } });
  await settle();
  assert.equal(rec.opened[0].closed, true);

  const plain = new FakeDaemon(() => job);
  const stub = createVscodeStub();
  const c2 = new TrainingController(stub.api as unknown as ConstructorParameters<typeof TrainingController>[0], plain);
  await c2.start({ command: ['python3', 'train.py'] });
  assert.equal((plain.requests[0].params as TrainStartParams).workDoneToken, undefined);
  assert.equal(plain.listeners.has(methods.progress.name), false);
});

test('"driveFolder" in a colab-train task goes to colab/train/start; empty and non-strings are left out', () => {
  assert.equal(startParamsOf({ type: 'colab-train', command: 'python3 t.py', driveFolder: '1AbCdEfGhIjKlMnOp' }, '/ws').driveFolder, '1AbCdEfGhIjKlMnOp');
  assert.equal(startParamsOf({ type: 'colab-train', example: true, driveFolder: 'https://drive.google.com/drive/folders/1AbC' }, '/ws').driveFolder, 'https://drive.google.com/drive/folders/1AbC');
  assert.equal('driveFolder' in startParamsOf({ type: 'colab-train', command: 'python3 t.py', driveFolder: '' }, '/ws'), false);
  assert.equal('driveFolder' in startParamsOf({ type: 'colab-train', command: 'python3 t.py', driveFolder: 42 as unknown as string }, '/ws'), false);
});

test('"mirror" in a colab-train task goes to colab/train/start; empty is left out', () => {
  assert.equal(startParamsOf({ type: 'colab-train', command: 'python3 t.py', mirror: '/content/drive/MyDrive/ckpt' }, '/ws').mirror, '/content/drive/MyDrive/ckpt');
  assert.equal(startParamsOf({ type: 'colab-train', example: true, mirror: '/mnt/keep' }, '/ws').mirror, '/mnt/keep');
  assert.equal('mirror' in startParamsOf({ type: 'colab-train', command: 'python3 t.py', mirror: '' }, '/ws'), false);
});
