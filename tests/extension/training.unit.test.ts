import assert from 'node:assert/strict';
import { test } from 'node:test';
import type * as vscode from 'vscode';
import { methods, type TrainJobInfo, type TrainStartParams } from '../../colab-vscode/src/protocol';
import { TrainingController, TrainTerminal, startParamsOf, webhookUrlProblem } from '../../colab-vscode/src/training/training';
import { chartSvg, doneMessage, formatEta, metricsHtml, seriesOf, splitCommand, trainingStatusText } from '../../colab-vscode/src/training/trainingText';
import { FakeTrainingDaemon, settle } from './fakeDaemon';
import { createVscodeStub, StubEventEmitter } from './vscodeStub';

function job(overrides: Partial<TrainJobInfo> = {}): TrainJobInfo {
  return {
    id: 'j1',
    state: 'running',
    restarts: 0,
    maxRestarts: 3,
    command: ['python3', 'train.py'],
    checkpointDirectory: '/tmp/j1/checkpoints',
    progress: { step: 120, totalSteps: 450, epoch: 2, loss: 0.41234, accuracy: 0.9, samplesPerSecond: 812.4, etaSeconds: 130 },
    startedAt: '2026-11-21T22:00:00Z',
    updatedAt: '2026-11-21T22:01:00Z',
    ...overrides,
  };
}


test('command lines split like a shell, without expansion', () => {
  assert.deepEqual(splitCommand(`python3 train.py --name "my run" --tag 'a b' x\\ y $HOME`), ['python3', 'train.py', '--name', 'my run', '--tag', 'a b', 'x y', '$HOME']);
  assert.deepEqual(splitCommand('  '), []);
  assert.deepEqual(splitCommand(`a "" b`), ['a', '', 'b']);
  assert.throws(() => splitCommand('python3 "train.py'), /unclosed "/);
});

test('tasks.json definitions become start params; a definition without a command says what is missing', () => {
  assert.deepEqual(startParamsOf({ type: 'colab-train', command: 'python3 t.py --lr 0.1', maxRestarts: 5 }, '/ws'), {
    command: ['python3', 't.py', '--lr', '0.1'], workingDirectory: '/ws', checkpointDirectory: undefined, maxRestarts: 5, checkpointEvery: undefined,
  });
  assert.deepEqual(startParamsOf({ type: 'colab-train', example: true, epochs: 3 }, '/ws'), { example: true, epochs: 3 });
  assert.throws(() => startParamsOf({ type: 'colab-train' }, '/ws'), /needs "command"/);
  assert.throws(() => startParamsOf({ type: 'colab-train', command: [] }, '/ws'), /needs "command"/);
});

test('the status bar line shows step/total, loss, ETA and restarts', () => {
  assert.equal(trainingStatusText(job()), '$(pulse) Training 120/450 · loss 0.412 · 2m10s');
  assert.equal(trainingStatusText(job({ restarts: 2, progress: { step: 7 } })), '$(pulse) Training step 7 · ↻2');
  assert.equal(formatEta(3725), '1h02m');
  assert.equal(formatEta(-1), undefined);
});

test('the done message carries the final metrics, or the last error', () => {
  assert.deepEqual(doneMessage(job({ state: 'succeeded' })), { kind: 'info', text: 'Training j1 finished: step 120, loss 0.4123, accuracy 90.00%.' });
  const failed = doneMessage(job({ state: 'failed', lastError: 'stopped after 3 restart(s) (limit 3); last error: CUDA OOM' }));
  assert.equal(failed.kind, 'error');
  assert.match(failed.text, /CUDA OOM/);
});

test('the metrics view is a picture: one SVG polyline per scalar, loss first, names escaped, no scripts', () => {
  const records: Record<string, number>[] = [
    { time: 1, step: 1, loss: 2.0, lr: 0.1 },
    { time: 2, step: 2, loss: 1.5 },
    { step: 2, accuracy: 0.5 },
    { step: 3, loss: 1.0, '<b>x</b>': 3 },
  ];
  const series = seriesOf(records);
  assert.deepEqual([...series.keys()], ['loss', 'lr', 'accuracy', '<b>x</b>']);
  assert.deepEqual(series.get('loss'), [[1, 2], [2, 1.5], [3, 1]]);
  const html = metricsHtml(job(), records, 'vscode-resource:');
  assert.equal((html.match(/<polyline/g) ?? []).length, 4);
  assert.ok(html.indexOf('aria-label="loss"') < html.indexOf('aria-label="accuracy"'));
  assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/);
  assert.doesNotMatch(html, /<b>x<\/b>/);
  assert.match(html, /default-src 'none'/);
  const svg = chartSvg('loss', [[0, 1], [10, 0]], 200, 100);
  assert.match(svg, /points="[0-9., ]+"/);
  assert.match(metricsHtml(undefined, [], 'x'), /No metrics yet/);
});

function controllerApi(stub: ReturnType<typeof createVscodeStub>, extra: Record<string, unknown> = {}) {
  return { ...stub.api, ...extra } as unknown as ConstructorParameters<typeof TrainingController>[0];
}

test('the status bar item shows while a job runs, and a notification with the final metrics comes when it ends', async () => {
  const stub = createVscodeStub();
  const daemon = new FakeTrainingDaemon(() => undefined);
  const c = new TrainingController(controllerApi(stub), daemon);
  const item = stub.statusBarItems.find((i) => i.id === 'colab.trainingStatus')!;
  assert.equal(item.visible, false);
  daemon.listeners.get(methods.trainChanged.name)!(job());
  assert.equal(item.visible, true);
  assert.equal(item.text, '$(pulse) Training 120/450 · loss 0.412 · 2m10s');
  assert.equal(item.command, 'colab.showTrainingMetrics');
  daemon.listeners.get(methods.trainChanged.name)!(job({ state: 'succeeded', progress: { step: 450, loss: 0.05, accuracy: 0.97 } }));
  await settle();
  assert.equal(item.visible, false);
  assert.deepEqual(stub.shown.at(-1), { kind: 'info', message: 'Training j1 finished: step 450, loss 0.05000, accuracy 97.00%.', actions: ['Show Metrics'] });
  // The same final state again (the next poll) is not announced twice.
  daemon.listeners.get(methods.trainChanged.name)!(job({ state: 'succeeded' }));
  await settle();
  assert.equal(stub.shown.length, 1);
  c.dispose();
});

test('the task terminal starts the job, streams its log with CRLF, and closes with 0 on success', async () => {
  const stub = createVscodeStub();
  const chunks = [
    { text: 'epoch 1\n', nextOffset: 8, ended: false },
    { text: '', nextOffset: 8, ended: false },
    { text: 'done\n', nextOffset: 13, ended: true },
  ];
  let started: TrainStartParams | undefined;
  const daemon = new FakeTrainingDaemon((method, params) => {
    if (method === methods.trainStart.name) {
      started = params as TrainStartParams;
      return job({ state: 'starting' });
    }
    if (method === methods.trainLogs.name) return chunks.shift();
    if (method === methods.trainStatus.name) return job({ state: 'succeeded' });
    return new Error(`unexpected ${method}`);
  });
  const c = new TrainingController(controllerApi(stub), daemon, 1);
  const term = new TrainTerminal({ EventEmitter: StubEventEmitter } as unknown as Pick<typeof vscode, 'EventEmitter'>, c, daemon, { example: true }, 1);
  const written: string[] = [];
  let closedWith: number | undefined;
  term.onDidWrite((t) => written.push(t));
  term.onDidClose((code) => (closedWith = code));
  const code = await term.run();
  assert.equal(code, 0);
  assert.equal(closedWith, 0);
  assert.deepEqual(started, { example: true });
  const all = written.join('');
  assert.match(all, /Training job j1 \(detached/);
  assert.match(all, /epoch 1\r\ndone\r\n/);
  assert.match(all, /Training j1 finished/);
  assert.deepEqual(daemon.requests.filter((r) => r.method === methods.trainLogs.name).map((r) => (r.params as { offset: number }).offset), [0, 8, 8]);
  c.dispose();
});

test('a start the daemon refuses is written to the terminal, which closes with 1', async () => {
  const stub = createVscodeStub();
  const daemon = new FakeTrainingDaemon(() => new Error('Invalid params: the working directory /x does not exist'));
  const c = new TrainingController(controllerApi(stub), daemon, 1);
  const term = new TrainTerminal({ EventEmitter: StubEventEmitter } as unknown as Pick<typeof vscode, 'EventEmitter'>, c, daemon, { command: ['python3'] }, 1);
  const written: string[] = [];
  term.onDidWrite((t) => written.push(t));
  assert.equal(await term.run(), 1);
  assert.match(written.join(''), /Could not start the training job: Invalid params: the working directory \/x does not exist/);
  c.dispose();
});

test('requiredGpu comes from the task, else the colab.gpu.required setting; [] in the task turns the check off; onDone is checked', () => {
  assert.deepEqual(startParamsOf({ type: 'colab-train', example: true }, '/ws', ['A100', 'H100']), { example: true, epochs: undefined, requiredGpu: ['A100', 'H100'] });
  assert.deepEqual(startParamsOf({ type: 'colab-train', example: true, requiredGpu: 'L4' }, '/ws', ['A100']), { example: true, epochs: undefined, requiredGpu: ['L4'] });
  assert.deepEqual(startParamsOf({ type: 'colab-train', example: true, requiredGpu: [] }, '/ws', ['A100']), { example: true, epochs: undefined });
  assert.deepEqual(startParamsOf({ type: 'colab-train', command: 'python3 t.py', onDone: 'disconnect', runtimeId: 'local-1' }, '/ws'), {
    command: ['python3', 't.py'], workingDirectory: '/ws', checkpointDirectory: undefined, maxRestarts: undefined, checkpointEvery: undefined, onDone: 'disconnect', runtimeId: 'local-1',
  });
  assert.throws(() => startParamsOf({ type: 'colab-train', example: true, onDone: 'explode' as 'notify' }, '/ws'), /"notify" or "disconnect"/);
});

class FakeSecrets {
  readonly values = new Map<string, string>();
  async get(key: string) {
    return this.values.get(key);
  }
  async store(key: string, value: string) {
    this.values.set(key, value);
  }
  async delete(key: string) {
    this.values.delete(key);
  }
}

test('the webhook URL goes from SecretStorage into the start request, unless the task says webhook: false', async () => {
  const stub = createVscodeStub();
  const secrets = new FakeSecrets();
  secrets.values.set('colab.training.webhookUrl', 'https://ntfy.sh/secret-topic');
  const daemon = new FakeTrainingDaemon((method) => (method === methods.trainStart.name ? job({ state: 'starting' }) : new Error(method)));
  const c = new TrainingController(controllerApi(stub), daemon, 1, secrets as unknown as vscode.SecretStorage);
  await c.start({ example: true });
  assert.deepEqual(daemon.requests.at(-1)!.params, { example: true, webhookUrl: 'https://ntfy.sh/secret-topic' });
  await c.start({ example: true }, false);
  assert.deepEqual(daemon.requests.at(-1)!.params, { example: true });
  c.dispose();
});

test('onDone disconnect without a runtime id picks the connected local runtime, and says so when there is none', async () => {
  const stub = createVscodeStub();
  let runtimes = [
    { id: 'remote-1', kind: 'remote', state: 'connected' },
    { id: 'local-2', kind: 'local', state: 'connected' },
  ];
  const daemon = new FakeTrainingDaemon((method) =>
    method === methods.runtimeList.name ? { runtimes } : method === methods.trainStart.name ? job({ state: 'starting' }) : new Error(method));
  const c = new TrainingController(controllerApi(stub), daemon, 1);
  await c.start({ example: true, onDone: 'disconnect' });
  assert.deepEqual(daemon.requests.at(-1)!.params, { example: true, onDone: 'disconnect', runtimeId: 'local-2' });
  runtimes = [{ id: 'remote-1', kind: 'remote', state: 'connected' }];
  await assert.rejects(c.start({ example: true, onDone: 'disconnect' }), /needs a connected local runtime/);
  c.dispose();
});

test('a GPU mismatch is shown with a Check GPU button that runs colab.checkGpu', async () => {
  const stub = createVscodeStub();
  const executed: string[] = [];
  const refusal = Object.assign(new Error('This host has NVIDIA T4, but A100 is required. The job was not started'), { code: -32050 });
  const daemon = new FakeTrainingDaemon(() => refusal);
  const api = controllerApi(stub, { commands: { executeCommand: async (id: string) => void executed.push(id) } });
  stub.answer.error = 'Check GPU';
  const c = new TrainingController(api, daemon, 1);
  await assert.rejects(c.start({ example: true, requiredGpu: ['A100'] }), /A100 is required/);
  await settle();
  assert.deepEqual(stub.shown.at(-1), { kind: 'error', message: 'This host has NVIDIA T4, but A100 is required. The job was not started', actions: ['Check GPU'] });
  assert.deepEqual(executed, ['colab.checkGpu']);
  c.dispose();
});

test('webhook URLs: http(s) only, templates allowed, hostile input refused', () => {
  assert.equal(webhookUrlProblem('https://ntfy.sh/topic'), undefined);
  assert.equal(webhookUrlProblem('https://api.callmebot.com/whatsapp.php?phone=1&text={text}&apikey=2'), undefined);
  assert.match(webhookUrlProblem('file:///etc/passwd')!, /http/);
  assert.match(webhookUrlProblem('javascript:alert(1)')!, /http/);
  assert.match(webhookUrlProblem('https://a b')!, /no spaces/);
  assert.match(webhookUrlProblem('https://x/\u0000')!, /control/);
  assert.match(webhookUrlProblem('nope')!, /not a URL/);
  assert.match(webhookUrlProblem('https://x/' + 'a'.repeat(3000))!, /2048/);
});

test('"runtime": "remote" picks the connected remote runtime and passes the sync globs; none connected says so', async () => {
  const stub = createVscodeStub();
  let runtimes = [
    { id: 'local-1', kind: 'local', state: 'connected' },
    { id: 'remote-2', kind: 'remote', state: 'connected' },
  ];
  const daemon = new FakeTrainingDaemon((method) =>
    method === methods.runtimeList.name ? { runtimes } : method === methods.trainStart.name ? job({ state: 'starting' }) : new Error(method));
  const c = new TrainingController(controllerApi(stub), daemon, 1);
  const params = startParamsOf({ type: 'colab-train', command: 'python3 t.py', runtime: 'remote', syncGlobs: ['src/**/*.py'] }, '/ws');
  await c.start(params, true, 'remote');
  assert.deepEqual(daemon.requests.at(-1)!.params, {
    command: ['python3', 't.py'], workingDirectory: '/ws', checkpointDirectory: undefined, maxRestarts: undefined, checkpointEvery: undefined, syncGlobs: ['src/**/*.py'], runtimeId: 'remote-2',
  });
  runtimes = [{ id: 'local-1', kind: 'local', state: 'connected' }];
  await assert.rejects(c.start(params, true, 'remote'), /needs a connected remote runtime/);
  assert.throws(() => startParamsOf({ type: 'colab-train', example: true, runtime: 'mars' as 'remote' }, '/ws'), /"host" or "remote"/);
  c.dispose();
});
