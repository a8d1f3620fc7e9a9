// The daemon against a real peer: vscode-jsonrpc, the library the VS Code extension
// uses, drives the built `colab daemon --stdio` process over its stdin/stdout.
// Build first: dotnet build ColabDaemon.sln -c Release; npx tsc -p tests;
// then: node --test out/tests/interop/
// Set COLAB_DAEMON=/path/to/colab to run the same checks against another build
// (e.g. the self-contained publish in .artifacts/publish/linux-x64/colab).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ColabServerCapabilities,
  DelayResult,
  errorCodes,
  methods,
  ServerStatus,
} from '../../colab-vscode/src/protocol';
import { Daemon, daemonPath, initializeParams, ResponseError, rpc, startDaemon, startInitialized } from './peer';

const { CancellationTokenSource, ProgressType } = rpc;

interface InitializeResult {
  capabilities: { experimental: { colab: ColabServerCapabilities } };
  serverInfo: { name: string; version: string };
}

interface WorkDoneProgressValue {
  kind: 'begin' | 'report' | 'end';
  title?: string;
  message?: string;
  percentage?: number;
  cancellable?: boolean;
}

/** Runs `body` against a daemon and always stops the process afterwards. */
async function withDaemon(start: () => Daemon | Promise<Daemon>, body: (d: Daemon) => Promise<void>): Promise<void> {
  const d = await start();
  try {
    await body(d);
  } catch (e) {
    if (e instanceof Error) {
      e.message += `\n--- daemon log ---\n${d.stderr()}`;
    }
    throw e;
  } finally {
    await d.dispose();
  }
}

/** Asserts that `promise` rejects with a JSON-RPC error of `code`. */
async function rejectsWithCode(promise: Promise<unknown>, code: number, what: string): Promise<ResponseError<unknown>> {
  try {
    const value = await promise;
    assert.fail(`${what}: expected error ${code}, got the result ${JSON.stringify(value)}`);
  } catch (e) {
    assert.ok(e instanceof rpc.ResponseError, `${what}: expected a JSON-RPC error response, got ${String(e)}`);
    assert.equal(e.code, code, `${what}: error ${e.code} "${e.message}" instead of ${code}`);
    return e;
  }
}

describe('the daemon, driven by vscode-jsonrpc over stdio', () => {
  test('the daemon is built where the tests look for it', () => {
    // Throws with the build command when the apphost is missing.
    daemonPath();
  });

  test('initialize tells the editor the daemon name, its version and every method of the protocol', async () => {
    await withDaemon(startDaemon, async (d) => {
      const result = await d.connection.sendRequest<InitializeResult>('initialize', initializeParams());
      assert.equal(result.serverInfo.name, 'colab-daemon');
      assert.match(result.serverInfo.version, /^\d+\.\d+\.\d+/);
      const colab = result.capabilities.experimental.colab;
      assert.equal(typeof colab.protocolVersion, 'string');
      assert.equal(colab.serverStatusNotifications, true);
      const missing = Object.values(methods)
        .map((m) => m.name)
        .filter((name) => !colab.methods.includes(name));
      assert.deepEqual(missing, [], `methods the daemon does not announce: ${missing.join(', ')}`);
    });
  });

  test('after initialized the daemon announces on its own that it is ready', async () => {
    await withDaemon(startDaemon, async (d) => {
      const init = await d.connection.sendRequest<InitializeResult>('initialize', initializeParams());
      await d.connection.sendNotification('initialized', {});
      const status = await d.waitForNotification<ServerStatus>(methods.serverStatusChanged.name, (s) => s.health === 'ready');
      assert.equal(status.version, init.serverInfo.version);
      assert.equal(status.pid, d.proc.pid);
    });
  });

  test('colab/serverStatus reports a ready daemon with its version, pid, platform and host capabilities', async () => {
    await withDaemon(startInitialized, async (d) => {
      await d.waitForNotification<ServerStatus>(methods.serverStatusChanged.name, (s) => s.health === 'ready');
      const status = await d.connection.sendRequest<ServerStatus>(methods.serverStatus.name);
      assert.equal(status.health, 'ready');
      assert.match(status.version, /^\d+\.\d+\.\d+/);
      assert.equal(status.pid, d.proc.pid);
      assert.ok(status.platform.length > 0, 'platform is empty');
      assert.match(status.runtime, /\.NET/);
      assert.ok(!Number.isNaN(Date.parse(status.startedAt)), `startedAt is not a date: ${status.startedAt}`);
      assert.ok(status.uptimeSeconds >= 0);
      assert.deepEqual(
        status.capabilities.map((c) => c.name).sort(),
        ['gpu', 'localRuntime', 'python', 'torch'],
      );
      for (const c of status.capabilities) {
        assert.ok(['probing', 'available', 'unavailable'].includes(c.state), `${c.name}: state ${c.state}`);
      }
    });
  });

  test('echo returns nested objects, arrays, numbers, booleans and nulls unchanged', async () => {
    await withDaemon(startInitialized, async (d) => {
      const value = {
        a: [1, -2, 3.5, 1e21, 0, -0.125, Number.MAX_SAFE_INTEGER],
        b: { c: { d: { e: [true, false, null, { f: [] }, {}] } } },
        empty: '',
        deep: JSON.parse('['.repeat(60) + '"bottom"' + ']'.repeat(60)),
      };
      assert.deepEqual(await d.connection.sendRequest(methods.diagEcho.name, value), value);
    });
  });

  test('echo returns unicode text unchanged: accents, CJK, emoji, right-to-left and control characters', async () => {
    await withDaemon(startInitialized, async (d) => {
      const value = {
        'clé 🔑': 'Grüße, 你好, こんにちは, 안녕하세요, مرحبا, שלום',
        emoji: '👩‍💻🧑🏽‍🚀🇫🇷 e\u0301 \u200b',
        controls: '\u0000\u0001\t\n\r\u001f"\\/\u2028\u2029',
        astral: '\u{1F600}\u{10FFFF}',
      };
      assert.deepEqual(await d.connection.sendRequest(methods.diagEcho.name, value), value);
    });
  });

  test('echo carries a 1 MiB string both ways intact', async () => {
    await withDaemon(startInitialized, async (d) => {
      const chunk = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_é€😀';
      const text = chunk.repeat(Math.ceil((1024 * 1024) / Buffer.byteLength(chunk)));
      assert.ok(Buffer.byteLength(text) >= 1024 * 1024);
      const back = await d.connection.sendRequest<{ text: string }>(methods.diagEcho.name, { text });
      assert.equal(back.text.length, text.length);
      assert.ok(back.text === text, 'the 1 MiB string came back different');
    });
  });

  test('a long request asks the editor for a progress token, then reports begin, ten steps and end on it', async () => {
    await withDaemon(startInitialized, async (d) => {
      const created: string[] = [];
      const values: WorkDoneProgressValue[] = [];
      d.connection.onRequest(methods.workDoneProgressCreate.name, (params: { token: string }) => {
        created.push(params.token);
        // As vscode-languageclient does: listen for $/progress on the token it was given.
        d.connection.onProgress(new ProgressType<WorkDoneProgressValue>(), params.token, (v) => {
          values.push(v);
        });
        return null;
      });
      const result = await d.connection.sendRequest<DelayResult>(methods.diagDelay.name, {
        milliseconds: 300,
        reportProgress: true,
      });
      assert.ok(result.elapsedMilliseconds >= 250, `elapsedMilliseconds ${result.elapsedMilliseconds}`);
      assert.equal(created.length, 1, 'window/workDoneProgress/create was not sent exactly once');
      assert.equal(values[0]?.kind, 'begin', `first $/progress: ${JSON.stringify(values[0])}`);
      assert.equal(typeof values[0].title, 'string');
      assert.equal(values[values.length - 1].kind, 'end');
      const reports = values.filter((v) => v.kind === 'report');
      assert.equal(reports.length, 10, `reports: ${JSON.stringify(reports)}`);
      const percentages = reports.map((r) => r.percentage ?? -1);
      assert.deepEqual(percentages, [...percentages].sort((a, b) => a - b), 'percentages go backwards');
      assert.equal(percentages[percentages.length - 1], 100);
      assert.deepEqual(
        values.map((v) => v.kind),
        ['begin', ...reports.map(() => 'report'), 'end'],
      );
    });
  });

  test('cancelling a 10 s request from the editor stops it with RequestCancelled, and the daemon keeps answering', async () => {
    await withDaemon(startInitialized, async (d) => {
      const source = new CancellationTokenSource();
      const started = Date.now();
      const request = d.connection.sendRequest<DelayResult>(methods.diagDelay.name, { milliseconds: 10_000 }, source.token);
      setTimeout(() => source.cancel(), 100);
      await rejectsWithCode(request, errorCodes.RequestCancelled, 'cancelled colab/diag/delay');
      // Not a benchmark: a delay that ran to its end would have taken the full 10 s.
      assert.ok(Date.now() - started < 9_000, 'the request ran to its end instead of being cancelled');
      assert.deepEqual(await d.connection.sendRequest(methods.diagEcho.name, { after: 'cancel' }), { after: 'cancel' });
    });
  });

  test('cancelling a request that reports progress also ends its progress', async () => {
    await withDaemon(startInitialized, async (d) => {
      const values: WorkDoneProgressValue[] = [];
      let begun!: () => void;
      const begin = new Promise<void>((resolve) => (begun = resolve));
      d.connection.onRequest(methods.workDoneProgressCreate.name, (params: { token: string }) => {
        d.connection.onProgress(new ProgressType<WorkDoneProgressValue>(), params.token, (v) => {
          values.push(v);
          if (v.kind === 'begin') {
            begun();
          }
        });
        return null;
      });
      const source = new CancellationTokenSource();
      const request = d.connection.sendRequest(methods.diagDelay.name, { milliseconds: 10_000, reportProgress: true }, source.token);
      await begin;
      source.cancel();
      await rejectsWithCode(request, errorCodes.RequestCancelled, 'cancelled colab/diag/delay with progress');
      assert.equal(values[values.length - 1]?.kind, 'end', `progress: ${JSON.stringify(values)}`);
    });
  });

  test('200 requests sent at once are all answered, each with its own result', async () => {
    await withDaemon(startInitialized, async (d) => {
      const sent = Array.from({ length: 200 }, (_, i) => ({ i, text: `request ${i}`, items: [i, i * 2, { sq: i * i }] }));
      const answers = await Promise.all(sent.map((p) => d.connection.sendRequest(methods.diagEcho.name, p)));
      assert.deepEqual(answers, sent);
    });
  });

  test('an unknown method is answered with MethodNotFound and the daemon keeps answering', async () => {
    await withDaemon(startInitialized, async (d) => {
      await rejectsWithCode(d.connection.sendRequest('colab/noSuchMethod', {}), errorCodes.MethodNotFound, 'colab/noSuchMethod');
      assert.deepEqual(await d.connection.sendRequest(methods.diagEcho.name, { still: 'here' }), { still: 'here' });
    });
  });

  test('requests before initialize are refused with ServerNotInitialized, and initialize still works after them', async () => {
    await withDaemon(startDaemon, async (d) => {
      await rejectsWithCode(d.connection.sendRequest(methods.serverStatus.name), errorCodes.ServerNotInitialized, 'colab/serverStatus before initialize');
      await rejectsWithCode(d.connection.sendRequest(methods.diagEcho.name, { x: 1 }), errorCodes.ServerNotInitialized, 'colab/diag/echo before initialize');
      const init = await d.connection.sendRequest<InitializeResult>('initialize', initializeParams());
      assert.equal(init.serverInfo.name, 'colab-daemon');
      await d.connection.sendNotification('initialized', {});
      assert.deepEqual(await d.connection.sendRequest(methods.diagEcho.name, { x: 1 }), { x: 1 });
    });
  });

  test('shutdown then exit ends the daemon with exit code 0, and it refuses work in between', async () => {
    await withDaemon(startInitialized, async (d) => {
      assert.equal(await d.connection.sendRequest(methods.shutdown.name), null);
      await rejectsWithCode(d.connection.sendRequest(methods.diagEcho.name, { late: true }), errorCodes.InvalidRequest, 'echo after shutdown');
      await d.connection.sendNotification(methods.exit.name);
      assert.equal(await d.exited, 0);
    });
  });

  test('exit without shutdown ends the daemon with exit code 1', async () => {
    await withDaemon(startInitialized, async (d) => {
      await d.connection.sendNotification(methods.exit.name);
      assert.equal(await d.exited, 1);
    });
  });

  test('closing stdin after shutdown ends the daemon with exit code 0', async () => {
    await withDaemon(startInitialized, async (d) => {
      await d.connection.sendRequest(methods.shutdown.name);
      d.proc.stdin.end();
      assert.equal(await d.exited, 0);
    });
  });
});
