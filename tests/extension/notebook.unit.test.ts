import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ColabNotebookController, takeCoalesced } from '../../colab-vscode/src/notebook/controller';
import { maxNotebookLabel, notebookLabel } from '../../colab-vscode/src/notebook/notebookLabel';
import { CellOutputModel, mimeItems, type OutputEdit } from '../../colab-vscode/src/notebook/outputs';
import type { KernelOutput } from '../../colab-vscode/src/runtime/methods';
import { RuntimeSession } from '../../colab-vscode/src/runtime/session';
import { settle } from './fakeDaemon';
import { createHarness } from './harness';
import type { StubCell, StubNotebookController } from './vscodeStub';

const png = Buffer.from([0x89, 0x50, 0x4e, 0x47]).toString('base64');

function run(messages: KernelOutput[]) {
  const model = new CellOutputModel();
  const edits: OutputEdit[] = messages.flatMap((m) => model.apply(m));
  return { model, edits };
}

const table: { name: string; messages: KernelOutput[]; outputs: unknown[]; executionCount?: number }[] = [
  {
    name: 'stdout chunks merge into one output; stderr starts another',
    messages: [
      { type: 'stream', name: 'stdout', text: 'a' },
      { type: 'stream', name: 'stdout', text: 'b' },
      { type: 'stream', name: 'stderr', text: 'c' },
      { type: 'stream', name: 'stdout', text: 'd' },
    ],
    outputs: [
      [{ kind: 'stdout', text: 'a' }, { kind: 'stdout', text: 'b' }],
      [{ kind: 'stderr', text: 'c' }],
      [{ kind: 'stdout', text: 'd' }],
    ],
  },
  {
    name: 'execute_result: one item per mime, json as json, and the execution count',
    messages: [
      { type: 'execute_input', code: '1', executionCount: 3 },
      { type: 'execute_result', executionCount: 4, data: { 'text/plain': '1', 'text/html': '<b>1</b>', 'application/json': { a: 1 } }, metadata: {} },
    ],
    outputs: [
      [
        { kind: 'text', mime: 'text/plain', text: '1' },
        { kind: 'text', mime: 'text/html', text: '<b>1</b>' },
        { kind: 'json', mime: 'application/json', value: { a: 1 } },
      ],
    ],
    executionCount: 4,
  },
  {
    name: 'display_data: base64 images become bytes, svg and markdown stay text',
    messages: [{ type: 'display_data', data: { 'image/png': png, 'image/svg+xml': '<svg/>', 'text/markdown': '# x' }, metadata: {} }],
    outputs: [
      [
        { kind: 'bytes', mime: 'image/png', bytes: new Uint8Array([0x89, 0x50, 0x4e, 0x47]) },
        { kind: 'text', mime: 'image/svg+xml', text: '<svg/>' },
        { kind: 'text', mime: 'text/markdown', text: '# x' },
      ],
    ],
  },
  {
    name: 'error: name, message and the traceback joined by newlines',
    messages: [{ type: 'error', ename: 'ValueError', evalue: 'boom', traceback: ['line 1', 'line 2'] }],
    outputs: [[{ kind: 'error', name: 'ValueError', message: 'boom', stack: 'line 1\nline 2' }]],
  },
  {
    name: 'update_display_data replaces the items of the output with that display id',
    messages: [
      { type: 'display_data', data: { 'text/plain': '0%' }, metadata: {}, displayId: 'p' },
      { type: 'stream', name: 'stdout', text: 'x' },
      { type: 'update_display_data', data: { 'text/plain': '100%' }, metadata: {}, displayId: 'p' },
      { type: 'update_display_data', data: { 'text/plain': 'ignored' }, metadata: {}, displayId: 'unknown' },
    ],
    outputs: [[{ kind: 'text', mime: 'text/plain', text: '100%' }], [{ kind: 'stdout', text: 'x' }]],
  },
  {
    name: 'clear_output clears at once',
    messages: [
      { type: 'stream', name: 'stdout', text: 'a' },
      { type: 'clear_output', wait: false },
    ],
    outputs: [],
  },
  {
    name: 'clear_output(wait) clears when the next output arrives',
    messages: [
      { type: 'stream', name: 'stdout', text: 'a' },
      { type: 'clear_output', wait: true },
      { type: 'stream', name: 'stdout', text: 'b' },
    ],
    outputs: [[{ kind: 'stdout', text: 'b' }]],
  },
  {
    name: 'clear_output(wait) with nothing after leaves the outputs',
    messages: [
      { type: 'stream', name: 'stdout', text: 'a' },
      { type: 'clear_output', wait: true },
    ],
    outputs: [[{ kind: 'stdout', text: 'a' }]],
  },
];

for (const row of table) {
  test(`output mapping: ${row.name}`, () => {
    const { model } = run(row.messages);
    assert.deepEqual(
      model.outputs.map((o) => o.items),
      row.outputs,
    );
    assert.equal(model.executionCount, row.executionCount ?? model.executionCount);
  });
}

test('output edits: a stream merge appends items, a display update replaces items, a pending clear comes before the next output', () => {
  const { edits } = run([
    { type: 'stream', name: 'stdout', text: 'a' },
    { type: 'stream', name: 'stdout', text: 'b' },
    { type: 'display_data', data: { 'text/plain': '0' }, metadata: {}, displayId: 'd' },
    { type: 'update_display_data', data: { 'text/plain': '1' }, metadata: {}, displayId: 'd' },
    { type: 'clear_output', wait: true },
    { type: 'error', ename: 'E', evalue: 'v', traceback: [] },
  ]);
  assert.deepEqual(
    edits.map((e) => e.edit + ('index' in e ? `@${e.index}` : '')),
    ['append', 'appendItems@0', 'append', 'replaceItems@1', 'clear', 'append'],
  );
  const first = edits[0] as Extract<OutputEdit, { edit: 'append' }>;
  assert.deepEqual(first.output.items, [{ kind: 'stdout', text: 'a' }], 'an append edit is not changed by later merges');
  assert.equal((edits[2] as Extract<OutputEdit, { edit: 'append' }>).output.metadata.displayId, 'd');
});

test('coalescing: appends to one output join their stream text, the last replacement wins, nothing else is merged or reordered', () => {
  const pending: OutputEdit[] = [
    { edit: 'appendItems', index: 0, items: [{ kind: 'stdout', text: 'a' }] },
    { edit: 'appendItems', index: 0, items: [{ kind: 'stdout', text: 'b' }, { kind: 'stderr', text: 'e' }] },
    { edit: 'appendItems', index: 0, items: [{ kind: 'stderr', text: 'f' }, { kind: 'stdout', text: 'c' }] },
    { edit: 'appendItems', index: 1, items: [{ kind: 'stdout', text: 'other output' }] },
    { edit: 'replaceItems', index: 1, items: [{ kind: 'text', mime: 'text/plain', text: '10%' }] },
    { edit: 'replaceItems', index: 1, items: [{ kind: 'text', mime: 'text/plain', text: '50%' }] },
    { edit: 'replaceItems', index: 1, items: [{ kind: 'text', mime: 'text/plain', text: '100%' }] },
    { edit: 'clear' },
    { edit: 'appendItems', index: 0, items: [{ kind: 'stdout', text: 'after the clear' }] },
  ];
  const taken: OutputEdit[] = [];
  for (let edit = takeCoalesced(pending); edit; edit = takeCoalesced(pending)) {
    taken.push(edit);
  }
  assert.deepEqual(taken, [
    { edit: 'appendItems', index: 0, items: [{ kind: 'stdout', text: 'ab' }, { kind: 'stderr', text: 'ef' }, { kind: 'stdout', text: 'c' }] },
    { edit: 'appendItems', index: 1, items: [{ kind: 'stdout', text: 'other output' }] },
    { edit: 'replaceItems', index: 1, items: [{ kind: 'text', mime: 'text/plain', text: '100%' }] },
    { edit: 'clear' },
    { edit: 'appendItems', index: 0, items: [{ kind: 'stdout', text: 'after the clear' }] },
  ]);
  assert.equal(takeCoalesced([]), undefined);
});

test('a long print reaches the cell whole and in order, in far fewer VS Code calls than notifications', async () => {
  const { controller, execute, daemon } = await controllerHarness();
  const lines = Array.from({ length: 2000 }, (_, i) => `line ${i}\n`);
  daemon.run = () => ({ status: 'ok', outputs: lines.map((text) => ({ type: 'stream', name: 'stdout', text })) });
  await execute(notebook(), [cell(0, 'print lots')]);
  const [execution] = controller.executions;
  assert.equal(execution.success, true);
  assert.equal(execution.outputs.length, 1, 'one stdout output');
  const text = execution.outputs[0].items.map((i) => i.value).join('');
  assert.equal(text, lines.join(''));
  assert.ok(execution.outputs[0].items.length < 50, `${execution.outputs[0].items.length} items for ${lines.length} chunks`);
});

test('mime bundles: nbformat line lists are joined; unknown non-string values are json', () => {
  assert.deepEqual(mimeItems({ 'text/plain': ['a\n', 'b'], 'application/vnd.custom': { x: 1 } }), [
    { kind: 'text', mime: 'text/plain', text: 'a\nb' },
    { kind: 'json', mime: 'application/vnd.custom', value: { x: 1 } },
  ]);
});

function notebook(name = 'a.ipynb') {
  return { uri: { toString: () => `file:///${name}` } };
}

function cell(index: number, code: string): StubCell {
  return { index, document: { getText: () => code } };
}

async function controllerHarness() {
  const h = createHarness();
  await h.client.start();
  await settle();
  const session = new RuntimeSession(h.client, { info: (m) => h.log.push(`info: ${m}`), error: (m) => h.log.push(`error: ${m}`) });
  let n = 0;
  const notebooks = new ColabNotebookController(h.vs.api, h.client, session, { info: () => undefined, error: (m) => h.log.push(`error: ${m}`) }, () => `exec${++n}`);
  const controller = h.vs.controllers[0] as StubNotebookController;
  const execute = async (nb: unknown, cells: StubCell[]) => {
    await controller.executeHandler!(cells, nb, controller);
    await settle();
  };
  return { h, session, notebooks, controller, execute, daemon: h.daemons.latest() };
}

test('update_display_data for a display shown by an earlier cell updates that cell, keeping its order, timing and status', async () => {
  const { controller, execute, daemon } = await controllerHarness();
  const nb = notebook();
  daemon.run = (code, count) => {
    if (code === 'show') {
      return { status: 'ok', outputs: [{ type: 'display_data', data: { 'text/plain': '0%' }, metadata: {}, displayId: 'bar' }] };
    }
    if (code === 'update') {
      return {
        status: 'ok',
        outputs: [
          { type: 'update_display_data', data: { 'text/plain': '100%' }, metadata: {}, displayId: 'bar' },
          { type: 'update_display_data', data: { 'text/plain': 'nobody' }, metadata: {}, displayId: 'unknown' },
          { type: 'stream', name: 'stdout', text: `updated ${count}\n` },
        ],
      };
    }
    return { status: 'ok', outputs: [] };
  };
  const first = cell(0, 'show');
  await execute(nb, [first]);
  const shown = controller.executions[0];
  const display = shown.outputs[0];
  assert.deepEqual(display.items.map((i) => i.value), ['0%']);

  await execute(nb, [cell(1, 'update')]);
  await settle();
  // The second cell ran; a short execution of the first replaced its display's items in place.
  const forFirst = controller.executions.filter((e) => e.cell === first);
  assert.equal(forFirst.length, 2);
  assert.deepEqual(display.items.map((i) => i.value), ['100%']);
  assert.equal(forFirst[1].outputs.length, 0, 'the update neither clears nor appends');
  assert.ok(forFirst[1].ended);
  const second = controller.executions.find((e) => e.cell.index === 1)!;
  assert.deepEqual(second.outputs.map((o) => o.items.map((i) => i.value)), [['updated 2\n']]);

  // Run the first cell again, now without the display: its old one is gone, so a later update touches nothing.
  daemon.run = () => ({ status: 'ok', outputs: [] });
  await execute(nb, [first]);
  daemon.run = () => ({ status: 'ok', outputs: [{ type: 'update_display_data', data: { 'text/plain': 'late' }, metadata: {}, displayId: 'bar' }] });
  await execute(nb, [cell(2, 'x')]);
  assert.equal(controller.executions.filter((e) => e.cell === first).length, 3, 'no update execution for a display that is gone');
  assert.deepEqual(display.items.map((i) => i.value), ['100%']);
});

test("the 'Colab' controller is for Jupyter notebooks in Python, with execution order, and names the local runtime", async () => {
  const { controller } = await controllerHarness();
  assert.equal(controller.id, 'colab');
  assert.equal(controller.notebookType, 'jupyter-notebook');
  assert.equal(controller.label, 'Colab');
  assert.deepEqual(controller.supportedLanguages, ['python']);
  assert.equal(controller.supportsExecutionOrder, true);
  assert.equal(controller.description, 'Local runtime');
});

test('running cells connects the local runtime, starts one kernel, maps the output and sets the execution order', async () => {
  const { controller, execute, daemon } = await controllerHarness();
  const nb = notebook();
  await execute(nb, [cell(0, 'x = 1'), cell(1, 'print(x)')]);
  await execute(nb, [cell(2, 'y')]);
  const methods = daemon.requests.map((r) => r.method).filter((m) => m.startsWith('colab/runtime') || m.startsWith('colab/kernel'));
  assert.deepEqual(methods, ['colab/runtime/connect', 'colab/kernel/start', 'colab/kernel/execute', 'colab/kernel/execute', 'colab/kernel/execute']);
  assert.deepEqual(daemon.requests.find((r) => r.method === 'colab/runtime/connect')!.params, { kind: 'local' });
  const executions = controller.executions;
  assert.deepEqual(executions.map((e) => [e.success, e.executionOrder]), [[true, 1], [true, 2], [true, 3]]);
  assert.ok(executions.every((e) => e.startTime !== undefined && e.endTime !== undefined));
  assert.deepEqual(executions[1].outputs.map((o) => o.items.map((i) => [i.mime, i.value])), [[['application/vnd.code.notebook.stdout', 'print(x)\n']]]);
  const params = daemon.requests.filter((r) => r.method === 'colab/kernel/execute').map((r) => r.params as { executionId: string; kernelId: string; code: string });
  assert.deepEqual(params.map((p) => [p.executionId, p.kernelId, p.code]), [['exec1', 'k1', 'x = 1'], ['exec2', 'k1', 'print(x)'], ['exec3', 'k1', 'y']]);
  assert.equal(controller.description, 'Local runtime');
  assert.equal(controller.detail, 'Connected (local)');
});

test('a failing cell ends unsuccessfully with the traceback as an error output, and the cells after it do not run', async () => {
  const { controller, execute, daemon } = await controllerHarness();
  await execute(notebook(), [cell(0, 'raise ValueError("boom")'), cell(1, 'print(1)')]);
  const [failed, skipped] = controller.executions;
  assert.equal(failed.success, false);
  assert.equal(failed.executionOrder, 1);
  const error = JSON.parse(failed.outputs[0].items[0].value);
  assert.deepEqual(error, { name: 'ValueError', message: 'boom', stack: 'Traceback (most recent call last)\nValueError: boom' });
  assert.equal(failed.outputs[0].items[0].mime, 'application/vnd.code.notebook.error');
  assert.equal(skipped.ended, true);
  assert.equal(skipped.success, undefined);
  assert.equal(daemon.requests.filter((r) => r.method === 'colab/kernel/execute').length, 1);
});

test('cancelling a running cell cancels its execute request; the interrupt handler interrupts the kernel', async () => {
  const { controller, execute, daemon, h } = await controllerHarness();
  const nb = notebook();
  const running = execute(nb, [cell(0, 'sleep(100)')]);
  await settle();
  controller.executions[0].tokenSource.cancel();
  await running;
  assert.deepEqual(daemon.cancelled, ['exec1']);
  assert.equal(controller.executions[0].success, false);
  await controller.interruptHandler!(nb);
  assert.ok(daemon.requests.some((r) => r.method === 'colab/kernel/interrupt' && (r.params as { kernelId: string }).kernelId === 'k1'));
  assert.ok(!h.log.some((l) => l.startsWith('error')), h.log.join('\n'));
});

test('each notebook gets its own kernel, and closing a notebook shuts its kernel down', async () => {
  const { execute, daemon, h } = await controllerHarness();
  const a = notebook('a.ipynb');
  const b = notebook('b.ipynb');
  await execute(a, [cell(0, '1')]);
  await execute(b, [cell(0, '2')]);
  assert.deepEqual([...daemon.kernels.keys()], ['k1', 'k2']);
  h.vs.closeNotebook(a);
  await settle();
  assert.equal(daemon.kernels.get('k1')!.shutdown, true);
  assert.equal(daemon.kernels.get('k2')!.shutdown, false);
  await execute(a, [cell(0, '3')]);
  assert.equal(daemon.kernels.size, 3, 'reopening starts a fresh kernel');
});

test('a kernel input request shows an input box (password when asked); Escape answers an error', async () => {
  const { daemon, h } = await controllerHarness();
  h.vs.inputAnswers.push('secret value');
  assert.deepEqual(await daemon.serverRequest('colab/kernel/input', { executionId: 'e', prompt: 'Password:', password: true }), { value: 'secret value' });
  assert.deepEqual(h.vs.inputBoxes[0].prompt, 'Password:');
  assert.equal(h.vs.inputBoxes[0].password, true);
  await assert.rejects(() => daemon.serverRequest('colab/kernel/input', { executionId: 'e', prompt: 'Name:', password: false }) as Promise<unknown>, /cancelled/);
});

test('when the runtime cannot be connected, the cell says why and fails', async () => {
  const { controller, execute, daemon } = await controllerHarness();
  const original = daemon.sendRequest.bind(daemon);
  daemon.sendRequest = async <R,>(method: string, params?: unknown) => {
    if (method === 'colab/runtime/connect') {
      throw new Error('no jupyter-server in /usr/bin/python3');
    }
    return original<R>(method, params);
  };
  await execute(notebook(), [cell(0, '1')]);
  const [e] = controller.executions;
  assert.equal(e.success, false);
  assert.match(JSON.parse(e.outputs[0].items[0].value).message, /no jupyter-server/);
});

test('a kernel is labelled with its notebook: the workspace-relative path, else the file name; never absolute, never "..", no control characters', () => {
  const uri = (path: string) => ({ path, toString: () => `file://${path}` });
  assert.equal(notebookLabel(uri('/work/project/train/mnist.ipynb'), 'train/mnist.ipynb'), 'train/mnist.ipynb');
  // Outside the workspace VS Code returns the absolute path: only the name is used.
  assert.equal(notebookLabel(uri('/elsewhere/a.ipynb'), '/elsewhere/a.ipynb'), 'a.ipynb');
  assert.equal(notebookLabel(uri('C:\\Users\\me\\b.ipynb'), 'C:\\Users\\me\\b.ipynb'), 'b.ipynb');
  assert.equal(notebookLabel({ path: 'Untitled-1.ipynb', toString: () => 'untitled:Untitled-1.ipynb' }), 'Untitled-1.ipynb');
  assert.equal(notebookLabel({ toString: () => 'colab-drive:/My%20Drive/nb.ipynb?x=1#y' }), 'nb.ipynb');
  assert.equal(notebookLabel(uri('/w/x.ipynb'), '../../etc/x.ipynb'), 'etc/x.ipynb');
  assert.equal(notebookLabel(uri('/w/x.ipynb'), 'sub\\dir\\x.ipynb'), 'sub/dir/x.ipynb');
  assert.equal(notebookLabel(uri('/w/x\u0007.ipynb'), 'a\nb\u0000/x\u0007.ipynb'), 'ab/x.ipynb');
  assert.equal(notebookLabel(uri('/w/x.ipynb'), 'vscode-remote://ssh/x.ipynb'), 'x.ipynb');
  const deep = `${'d/'.repeat(maxNotebookLabel)}deep.ipynb`;
  assert.equal(notebookLabel(uri(`/w/${deep}`), deep), 'deep.ipynb');
  assert.equal(notebookLabel(uri(`/w/${'n'.repeat(maxNotebookLabel + 1)}`)), undefined);
  assert.equal(notebookLabel(uri('/')), undefined);
});
