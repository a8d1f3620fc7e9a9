#!/usr/bin/env node
// node bench/runtime.mjs [options]        (after node scripts/build.mjs)
//
// Runtime benchmarks (issue 3), against a real Jupyter server this script starts on loopback
// (Debian's /usr/bin/python3 -m jupyter_server, random token in a 0600 config file, never in
// argv; IOPub rate limits off so large output is not dropped). Named peer, in the same run and
// against the same server: @jupyterlab/services, JupyterLab's own client, with a kernel of its own.
//   round trip  colab/kernel/execute of an empty cell through the built daemon (JSON-RPC over
//               stdio; the wall time of each request, answer parsed) vs
//               kernel.requestExecute({code: ''}).done in this process. Both wait for the shell
//               execute_reply and the iopub status: idle. Warm-up first, then rounds of
//               --per-round executions each, alternating which side goes first; p50/p99 and the
//               ratio ours / peer (target <= 1.0x).
//   output      a cell writing --mib MiB to stdout (1 KiB lines): MiB/s from request to answer
//               with every byte counted on the client, and peak RSS (VmHWM, plus VmRSS sampled
//               every 50 ms) of the daemon; the peer runs in a child Node process so its own
//               peak RSS can be read the same way. --big-rounds rounds, alternating.
// Prints the figures with the 1-minute load average and writes bench/results/runtime.json.
//
// Options:
//   --python PATH     interpreter with jupyter-server and ipykernel (default /usr/bin/python3)
//   --warmup N        empty-cell executions per side before measuring (default 30)
//   --rounds N        measured rounds (default 15)
//   --per-round N     executions per side per round (default 20)
//   --mib N           output size of the large print in MiB (default 100)
//   --big-rounds N    large-print rounds per side (default 3; 0 skips the output benchmark)
//   --out FILE        results file (default bench/results/runtime.json)
import { fork, spawn, execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const self = fileURLToPath(import.meta.url);
// The report goes to stdout; @jupyterlab/services writes its own chatter ("Starting WebSocket",
// "Kernel: dead") with console.debug, which is moved to stderr here.
const print = (line = '') => process.stdout.write(`${line}\n`);
for (const level of ['log', 'info', 'debug']) console[level] = (...a) => console.error('[@jupyterlab/services]', ...a);
const root = path.resolve(path.dirname(self), '..');

const bigCode = (mib) => `import sys\nchunk = 'x' * 1023 + '\\n'\nfor _ in range(${mib} * 1024):\n    sys.stdout.write(chunk)\n`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => process.hrtime.bigint();
const msSince = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

/** VmRSS and VmHWM of a process in KiB (0 when it is gone). */
function memory(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name) => Number(new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(status)?.[1] ?? 0);
    return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
  } catch {
    return { rssKiB: 0, hwmKiB: 0 };
  }
}

/** Rejects with a clear message when `promise` takes longer than `ms`. */
function within(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${Math.round(ms / 1000)} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// ---- the peer: @jupyterlab/services -----------------------------------------------------

async function loadServices() {
  try {
    const services = await import('@jupyterlab/services');
    const ws = await import('ws');
    return { services, WebSocket: ws.WebSocket ?? ws.default };
  } catch (e) {
    throw new Error(`@jupyterlab/services is not installed (run npm install at the repository root): ${e.message}`);
  }
}

/** A kernel of its own on the server, through JupyterLab's client. */
async function peerSession({ baseUrl, token }) {
  const { services, WebSocket } = await loadServices();
  // Node 20 has no global WebSocket (Node 22 has): the `ws` package, as @jupyterlab/services itself uses in Node.
  const serverSettings = services.ServerConnection.makeSettings({
    baseUrl,
    wsUrl: baseUrl.replace(/^http/, 'ws'),
    token,
    appendToken: true,
    WebSocket,
    fetch: globalThis.fetch,
    Request: globalThis.Request,
    Headers: globalThis.Headers,
  });
  const manager = new services.KernelManager({ serverSettings });
  await within(manager.ready, 60_000, '@jupyterlab/services KernelManager.ready');
  const kernel = await within(manager.startNew({ name: 'python3' }), 120_000, '@jupyterlab/services kernel start');
  await within(kernel.info, 120_000, '@jupyterlab/services kernel_info');
  const run = async (code, onStream) => {
    const future = kernel.requestExecute({ code, allow_stdin: true, stop_on_error: true });
    if (onStream) {
      future.onIOPub = (msg) => {
        if (msg.header.msg_type === 'stream') onStream(msg.content.text);
      };
    }
    // If the WebSocket drops meanwhile, the client reconnects but the reply is lost and `done`
    // never settles: fail at once instead (seen with the 100 MiB print on a loaded machine).
    let onStatus;
    const lost = new Promise((_, reject) => {
      onStatus = (_sender, status) => {
        if (status !== 'connected') reject(new Error(`the @jupyterlab/services kernel WebSocket went '${status}' during the execution; the client reconnects but this execution's reply is lost`));
      };
    });
    kernel.connectionStatusChanged.connect(onStatus);
    future.done.catch(() => {});
    try {
      const reply = await Promise.race([future.done, lost]);
      if (reply.content.status !== 'ok') throw new Error(`peer execute answered ${reply.content.status}`);
      return reply;
    } finally {
      kernel.connectionStatusChanged.disconnect(onStatus);
      future.dispose();
    }
  };
  return {
    run,
    close: async () => {
      try {
        await within(kernel.shutdown(), 30_000, '@jupyterlab/services kernel shutdown');
      } finally {
        kernel.dispose();
        manager.dispose();
      }
    },
  };
}

// Child mode: the peer's side of the large print, in its own process so its peak RSS is its own.
if (process.env.COLAB_BENCH_RUNTIME_PEER_CHILD === '1') {
  let session;
  process.on('disconnect', () => process.exit(1)); // the benchmark went away
  process.on('message', async (m) => {
    try {
      if (m.type === 'start') {
        session = await peerSession(m);
        await session.run('1');
        process.send({ type: 'ready', ...memory(process.pid) });
      } else if (m.type === 'run') {
        let bytes = 0;
        let messages = 0;
        let largest = 0;
        const before = memory(process.pid);
        const t0 = now();
        try {
          await session.run(m.code, (text) => {
            bytes += text.length;
            messages++;
            largest = Math.max(largest, text.length);
          });
        } catch (e) {
          process.send({ type: 'failed', message: e?.message ?? String(e), bytes, messages, largest, ms: msSince(t0), before, after: memory(process.pid) });
          return;
        }
        const ms = msSince(t0);
        process.send({ type: 'done', bytes, messages, largest, ms, before, after: memory(process.pid) });
      } else if (m.type === 'stop') {
        await session?.close();
        process.send({ type: 'stopped' }, () => process.exit(0));
      }
    } catch (e) {
      process.send({ type: 'error', message: e?.stack ?? String(e) }, () => process.exit(1));
    }
  });
} else {
  try {
    await main();
  } catch (e) {
    console.error(`bench/runtime.mjs: ${e?.message ?? e}`);
    if (process.env.COLAB_BENCH_DEBUG === '1') console.error(e?.stack);
    process.exitCode = 1;
  }
}

// ---- the Jupyter server ---------------------------------------------------------------------

async function checkPython(python) {
  if (!existsSync(python)) {
    throw new Error(`${python} does not exist. The runtime benchmark needs Debian's Python with jupyter-server and ipykernel: ` +
      'run scripts/setup.sh (apt-get install python3 jupyter-server python3-ipykernel), or pass --python PATH');
  }
  const probe = await new Promise((resolve) => {
    execFile(python, ['-c', 'import jupyter_server, ipykernel; print(jupyter_server.__version__, ipykernel.__version__)'], { timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ error, stdout: String(stdout).trim(), stderr: String(stderr).trim() }));
  });
  if (probe.error || !/^\S+ \S+$/.test(probe.stdout)) {
    throw new Error(`${python} cannot import jupyter_server and ipykernel (${probe.stderr.split('\n').pop() || probe.error?.message || `it printed ${JSON.stringify(probe.stdout.slice(0, 200))}`}); ` +
      'run scripts/setup.sh (apt-get install jupyter-server python3-ipykernel)');
  }
  const [jupyterServer, ipykernel] = probe.stdout.split(' ');
  return { jupyterServer, ipykernel };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts jupyter-server on 127.0.0.1 with a random token (in a 0600 config file) and waits until /api/status answers. */
async function startJupyter(python, scratch) {
  const token = randomBytes(32).toString('hex');
  const serverRoot = path.join(scratch, 'root');
  const runtimeDir = path.join(scratch, 'runtime');
  mkdirSync(serverRoot, { mode: 0o700 });
  mkdirSync(runtimeDir, { mode: 0o700 });
  const config = path.join(scratch, 'jupyter_server_config.json');
  const serverApp = { token, open_browser: false, ...(process.getuid?.() === 0 ? { allow_root: true } : {}) };
  writeFileSync(config, JSON.stringify({ ServerApp: serverApp, IdentityProvider: { token } }), { mode: 0o600, flag: 'wx' });
  const port = await freePort();
  const env = { ...process.env, JUPYTER_RUNTIME_DIR: runtimeDir, PYTHONUNBUFFERED: '1', PYDEVD_DISABLE_FILE_VALIDATION: '1' };
  delete env.JUPYTER_TOKEN;
  delete env.JUPYTER_TOKEN_FILE;
  const args = ['-m', 'jupyter_server', '--no-browser', '--ip=127.0.0.1', `--port=${port}`, '--ServerApp.port_retries=0',
    `--ServerApp.root_dir=${serverRoot}`, `--config=${config}`,
    // Without these, jupyter-server replaces output beyond 1 MB/s with "IOPub data rate exceeded".
    '--ServerApp.iopub_data_rate_limit=0', '--ServerApp.iopub_msg_rate_limit=0'];
  // Its own process group, killed as a whole if it has to be. Its kernels run in sessions of
  // their own but watch their parent (JPY_PARENT_PID) and exit within a second when it is gone.
  const child = spawn(python, args, { cwd: serverRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  const keep = (chunk) => {
    for (const line of String(chunk).split('\n')) if (line.trim()) lines.push(line.replaceAll(token, '***'));
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = null;
  const exit = new Promise((resolve) => child.once('exit', (code, signal) => { exited = { code, signal }; resolve(exited); }));
  const baseUrl = `http://127.0.0.1:${port}/`;
  const server = {
    baseUrl,
    token,
    pid: child.pid,
    tail: () => lines.slice(-10).join('\n'),
    stop: async () => {
      if (exited) return;
      try {
        await fetch(`${baseUrl}api/shutdown`, { method: 'POST', headers: { Authorization: `token ${token}` }, signal: AbortSignal.timeout(5_000) });
      } catch {
        // fall through to signals
      }
      if (await Promise.race([exit, sleep(15_000).then(() => null)])) return;
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
      if (await Promise.race([exit, sleep(5_000).then(() => null)])) return;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
      await exit;
    },
    killNow: () => {
      if (!exited) try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    },
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (exited) throw new Error(`the Jupyter server exited (code ${exited.code}, signal ${exited.signal}) before it answered:\n${server.tail()}`);
    try {
      const r = await fetch(`${baseUrl}api/status`, { headers: { Authorization: `token ${token}` }, signal: AbortSignal.timeout(2_000) });
      if (r.ok) break;
      if (r.status === 403 || r.status === 401) throw new Error(`the Jupyter server rejected the token (HTTP ${r.status})`);
    } catch (e) {
      if (/rejected the token/.test(e.message)) { server.killNow(); throw e; }
    }
    if (Date.now() > deadline) {
      server.killNow();
      throw new Error(`the Jupyter server did not answer on ${baseUrl} within 90 s:\n${server.tail()}`);
    }
    await sleep(200);
  }
  return server;
}

// ---- our side: the built daemon over JSON-RPC on stdio ----------------------------------------

/** The daemon with a minimal LSP-framed client that joins a large message's chunks once. */
function startDaemon(executable, workspace) {
  const child = spawn(executable, ['daemon'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, COLAB_LOGLEVEL: 'Warning', COLAB_WORKSPACE: workspace },
  });
  const stderr = [];
  child.stderr.on('data', (chunk) => {
    stderr.push(String(chunk));
    if (stderr.length > 50) stderr.shift();
  });
  const pending = new Map();
  const outputHandlers = new Map();
  let nextId = 1;
  let exited = null;
  const exit = new Promise((resolve) => child.once('exit', (code, signal) => {
    exited = { code, signal };
    for (const [, p] of pending) p.reject(new Error(`the daemon exited (code ${code}, signal ${signal}) during ${p.method}: ${stderr.join('').slice(-2000)}`));
    pending.clear();
    resolve(exited);
  }));
  const send = (message) => {
    const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...message }), 'utf8');
    child.stdin.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, 'ascii'), body]));
  };
  const onMessage = (message) => {
    if (message.method === 'colab/kernel/output') {
      outputHandlers.get(message.params?.executionId)?.(message.params.output);
    } else if (message.method !== undefined && message.id !== undefined) {
      // A request from the daemon (input, secrets, ...): this benchmark answers none of them.
      send({ id: message.id, error: { code: -32601, message: `the benchmark client does not handle ${message.method}` } });
    } else if (message.method === undefined && pending.has(message.id)) {
      const p = pending.get(message.id);
      pending.delete(message.id);
      p.resolve(message);
    }
  };
  let chunks = [];
  let have = 0;
  let need = -1;
  let headerEnd = 0;
  child.stdout.on('data', (chunk) => {
    chunks.push(chunk);
    have += chunk.length;
    for (;;) {
      if (need < 0) {
        const head = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, have);
        chunks = [head];
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = /content-length:\s*(\d+)/i.exec(head.toString('ascii', 0, end))?.[1];
        if (length === undefined) throw new Error(`the daemon wrote a frame without Content-Length: ${head.toString('utf8', 0, Math.min(end, 200))}`);
        headerEnd = end + 4;
        need = headerEnd + Number(length);
      }
      if (have < need) return; // keep the chunks; join once the body is complete
      const buf = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, have);
      const message = JSON.parse(buf.toString('utf8', headerEnd, need));
      const rest = buf.subarray(need);
      chunks = rest.length ? [rest] : [];
      have = rest.length;
      need = -1;
      onMessage(message);
      if (!have) return;
    }
  });
  const request = (method, params, timeoutMs = 60_000) => {
    if (exited) return Promise.reject(new Error(`the daemon has exited (code ${exited.code}): ${stderr.join('').slice(-2000)}`));
    const id = nextId++;
    const answer = new Promise((resolve, reject) => pending.set(id, { resolve, reject, method }));
    send({ id, method, params });
    return within(answer, timeoutMs, `${method}`).then((m) => {
      if (m.error) throw new Error(`${method} failed: ${m.error.message} (code ${m.error.code})`);
      return m.result;
    });
  };
  return {
    pid: child.pid,
    request,
    notify: (method, params) => send({ method, params }),
    onOutput: (executionId, handler) => outputHandlers.set(executionId, handler),
    offOutput: (executionId) => outputHandlers.delete(executionId),
    stop: async () => {
      if (exited) return;
      try {
        await request('shutdown', null, 10_000);
        send({ method: 'exit' });
      } catch {
        // kill below
      }
      if (await Promise.race([exit, sleep(10_000).then(() => null)])) return;
      child.kill('SIGKILL');
      await exit;
    },
    killNow: () => {
      if (!exited) child.kill('SIGKILL');
    },
  };
}

// ---- the run ----------------------------------------------------------------------------------

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

async function main() {
  const { values: opts } = parseArgs({
    options: {
      python: { type: 'string', default: '/usr/bin/python3' },
      warmup: { type: 'string', default: '30' },
      rounds: { type: 'string', default: '15' },
      'per-round': { type: 'string', default: '20' },
      mib: { type: 'string', default: '100' },
      'big-rounds': { type: 'string', default: '3' },
      out: { type: 'string', default: 'bench/results/runtime.json' },
    },
  });
  const count = (name, min) => {
    const n = Number(opts[name]);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, not ${JSON.stringify(opts[name])}`);
    return n;
  };
  const config = {
    warmup: count('warmup', 0),
    rounds: count('rounds', 1),
    perRound: count('per-round', 1),
    mib: count('mib', 1),
    bigRounds: count('big-rounds', 0),
  };
  const log = (...a) => console.error('[bench]', ...a);

  const daemonPath = path.join(root, 'daemon', 'bin', 'Release', 'net10.0', 'colab');
  if (!existsSync(daemonPath)) throw new Error(`no daemon build at ${daemonPath}: run node scripts/build.mjs first`);
  await loadServices();
  const versions = await checkPython(opts.python);
  const servicesVersion = JSON.parse(readFileSync(path.join(root, 'node_modules', '@jupyterlab', 'services', 'package.json'), 'utf8')).version;
  const { load, machine } = await import('./lib/machine.mjs');
  const info = machine();

  const scratch = mkdtempSync(path.join(os.tmpdir(), 'colab-bench-runtime-'));
  chmodSync(scratch, 0o700);
  const cleanups = [];
  let interrupted = false;
  const hardStop = () => {
    for (const c of cleanups) c.killNow?.();
    rmSync(scratch, { recursive: true, force: true });
  };
  process.once('exit', hardStop);
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      interrupted = true;
      log(`${signal}: stopping the daemon and the Jupyter server`);
      hardStop();
      process.exit(130);
    });
  }

  const started = Date.now();
  const loads = { start: load() };
  log(`machine: ${info.nproc} × ${info.cpuModel}, ${info.memoryGiB} GiB, ${info.os}; Node ${info.node}, .NET ${info.dotnetRuntime}; load ${loads.start}`);
  log(`python ${opts.python}: jupyter-server ${versions.jupyterServer}, ipykernel ${versions.ipykernel}; @jupyterlab/services ${servicesVersion}`);

  let server, daemon, peer, peerChild, runtimeId;
  const result = { date: new Date().toISOString(), machine: info, versions: { ...versions, jupyterlabServices: servicesVersion }, config, loadAverage1m: loads };
  try {
    server = await startJupyter(opts.python, scratch);
    cleanups.push(server);
    log(`jupyter-server on ${server.baseUrl} (pid ${server.pid})`);

    daemon = startDaemon(daemonPath, path.join(scratch, 'root'));
    cleanups.push(daemon);
    await daemon.request('initialize', { processId: process.pid, capabilities: {} }, 60_000);
    daemon.notify('initialized', {});
    const runtime = await daemon.request('colab/runtime/connect', { kind: 'remote', url: server.baseUrl, token: server.token }, 60_000);
    runtimeId = runtime.id;
    const kernel = await daemon.request('colab/kernel/start', { runtimeId: runtime.id }, 120_000);
    log(`daemon pid ${daemon.pid}: runtime ${runtime.id} (server ${runtime.serverVersion}), kernel ${kernel.id}`);
    let executionNo = 0;
    const ours = async (code, onStream) => {
      const executionId = `bench-${++executionNo}`;
      if (onStream) daemon.onOutput(executionId, (o) => { if (o.type === 'stream') onStream(o.text); });
      try {
        const r = await daemon.request('colab/kernel/execute', { runtimeId: runtime.id, kernelId: kernel.id, code, executionId, allowStdin: true, stopOnError: true }, 900_000);
        if (r.status !== 'ok') throw new Error(`colab/kernel/execute answered ${r.status}`);
        return r;
      } finally {
        daemon.offOutput(executionId);
      }
    };

    peer = await peerSession({ baseUrl: server.baseUrl, token: server.token });

    // ---- 1. empty-cell round trip ----
    // 'hop': colab/diag/echo through the same client and daemon, no kernel: what the extra process costs alone.
    const sides = { ours: (c) => ours(c), peer: (c) => peer.run(c), hop: () => daemon.request('colab/diag/echo', { text: 'hello, colab' }) };
    const timeOne = async (side) => {
      const t0 = now();
      await sides[side]('');
      return msSince(t0);
    };
    for (let i = 0; i < config.warmup; i++) {
      await timeOne('ours');
      await timeOne('peer');
      await timeOne('hop');
    }
    const samples = { ours: [], peer: [], hop: [] };
    const roundMedians = { ours: [], peer: [], hop: [] };
    for (let round = 0; round < config.rounds; round++) {
      const order = round % 2 === 0 ? ['ours', 'peer', 'hop'] : ['peer', 'ours', 'hop'];
      for (const side of order) {
        const these = [];
        for (let i = 0; i < config.perRound; i++) these.push(await timeOne(side));
        samples[side].push(...these);
        roundMedians[side].push(percentile(these, 50));
      }
      if ((round + 1) % 5 === 0 || round + 1 === config.rounds) {
        log(`round trip: round ${round + 1}/${config.rounds}  ours p50 ${percentile(samples.ours, 50).toFixed(2)} ms, peer p50 ${percentile(samples.peer, 50).toFixed(2)} ms  (load ${load()})`);
      }
    }
    loads.afterRoundTrip = load();
    const summarise = (xs) => ({ n: xs.length, p50Ms: percentile(xs, 50), p90Ms: percentile(xs, 90), p99Ms: percentile(xs, 99), minMs: Math.min(...xs), maxMs: Math.max(...xs) });
    result.roundTrip = {
      ours: summarise(samples.ours),
      peer: summarise(samples.peer),
      hop: summarise(samples.hop),
      roundMedians,
      raw: samples,
    };
    result.roundTrip.ratioP50 = result.roundTrip.ours.p50Ms / result.roundTrip.peer.p50Ms;
    result.roundTrip.ratioP99 = result.roundTrip.ours.p99Ms / result.roundTrip.peer.p99Ms;
    await peer.close();
    peer = null;

    // ---- 2. large print: throughput and peak memory ----
    if (config.bigRounds > 0) {
      const code = bigCode(config.mib);
      const expected = config.mib * 1024 * 1024;
      peerChild = fork(self, [], { env: { ...process.env, COLAB_BENCH_RUNTIME_PEER_CHILD: '1' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      cleanups.push({ killNow: () => peerChild.kill('SIGKILL') });
      let childWaiter = null;
      let childExit = null;
      peerChild.on('message', (m) => {
        if (childWaiter) { const w = childWaiter; childWaiter = null; w(m); }
      });
      peerChild.once('exit', (code, signal) => {
        childExit = `the peer process exited (code ${code}, signal ${signal})`;
        if (childWaiter) { const w = childWaiter; childWaiter = null; w({ type: 'error', message: childExit }); }
      });
      const askChild = async (message, timeoutMs, what) => {
        if (childExit) throw new Error(childExit);
        const reply = within(new Promise((resolve) => { childWaiter = resolve; }), timeoutMs, what);
        peerChild.send(message);
        const m = await reply;
        if (m.type === 'error') throw new Error(`the peer process failed: ${m.message}`);
        return m;
      };
      const childReady = await askChild({ type: 'start', baseUrl: server.baseUrl, token: server.token }, 240_000, 'the peer process start');

      const sampleRss = (pid) => {
        let peak = memory(pid).rssKiB;
        const timer = setInterval(() => { peak = Math.max(peak, memory(pid).rssKiB); }, 50);
        return () => { clearInterval(timer); return Math.max(peak, memory(pid).rssKiB); };
      };
      const big = { ours: [], peer: [] };
      const runOurs = async () => {
        const before = memory(daemon.pid);
        const stopSampling = sampleRss(daemon.pid);
        let bytes = 0;
        let messages = 0;
        let largest = 0;
        let failed;
        const t0 = now();
        try {
          await ours(code, (text) => { bytes += text.length; messages++; largest = Math.max(largest, text.length); });
        } catch (e) {
          failed = e.message;
        }
        const ms = msSince(t0);
        const sampledPeakKiB = stopSampling();
        const after = memory(daemon.pid);
        return { failed, bytes, messages, largestMessageBytes: largest, ms, mibPerSecond: bytes / 1048576 / (ms / 1000), rssBeforeKiB: before.rssKiB, sampledPeakRssKiB: sampledPeakKiB, hwmKiB: after.hwmKiB, rssAfterKiB: after.rssKiB, load: load() };
      };
      const runPeer = async () => {
        const stopSampling = sampleRss(peerChild.pid);
        const m = await askChild({ type: 'run', code }, 600_000, 'the peer large print');
        const sampledPeakKiB = stopSampling();
        return { failed: m.type === 'failed' ? m.message : undefined, bytes: m.bytes, messages: m.messages, largestMessageBytes: m.largest, ms: m.ms, mibPerSecond: m.bytes / 1048576 / (m.ms / 1000), rssBeforeKiB: m.before.rssKiB, sampledPeakRssKiB: sampledPeakKiB, hwmKiB: m.after.hwmKiB, rssAfterKiB: m.after.rssKiB, load: load() };
      };
      for (let round = 0; round < config.bigRounds; round++) {
        const order = round % 2 === 0 ? ['ours', 'peer'] : ['peer', 'ours'];
        for (const side of order) {
          const r = side === 'ours' ? await runOurs() : await runPeer();
          if (!r.failed && r.bytes !== expected) r.failed = `${r.bytes} bytes of output reached the client, ${expected} were printed`;
          big[side].push(r);
          if (r.failed) {
            log(`${config.mib} MiB print, ${side}: FAILED after ${(r.ms / 1000).toFixed(1)} s with ${(r.bytes / 1048576).toFixed(1)} MiB received: ${r.failed}  (load ${r.load})`);
            // Let the kernel finish the print before the next round (a queued execute would wait anyway).
            await sleep(5_000);
            continue;
          }
          log(`${config.mib} MiB print, ${side}: ${r.mibPerSecond.toFixed(1)} MiB/s (${(r.ms / 1000).toFixed(1)} s; ${r.messages} stream messages, the largest ${(r.largestMessageBytes / 1048576).toFixed(1)} MiB); RSS ${(r.rssBeforeKiB / 1024).toFixed(0)} -> peak ${(r.sampledPeakRssKiB / 1024).toFixed(0)} MiB sampled, VmHWM ${(r.hwmKiB / 1024).toFixed(0)} MiB  (load ${r.load})`);
        }
      }
      await askChild({ type: 'stop' }, 60_000, 'the peer process stop');
      result.output = { mib: config.mib, code, peerIdleRssKiB: childReady.rssKiB, ours: big.ours, peer: big.peer };
      const ok = (rs) => rs.filter((r) => !r.failed).map((r) => r.mibPerSecond);
      result.output.ratioThroughput = ok(big.ours).length && ok(big.peer).length ? median(ok(big.ours)) / median(ok(big.peer)) : null;
      result.output.ratioThroughputFirstRound = big.ours[0].failed || big.peer[0].failed ? null : big.ours[0].mibPerSecond / big.peer[0].mibPerSecond;
      loads.afterOutput = load();
    }
  } catch (e) {
    if (server && !interrupted) console.error(`[bench] Jupyter server output (last lines):\n${server.tail()}`);
    throw e;
  } finally {
    // Orderly: the peer's kernel, our runtime (its kernels), the daemon, the server, the scratch folder.
    const step = async (what, fn) => { try { await fn(); } catch (e) { log(`cleanup: ${what}: ${e.message}`); } };
    if (peer) await step('peer kernel', () => peer.close());
    if (peerChild && peerChild.exitCode === null) peerChild.kill('SIGKILL');
    if (daemon) {
      if (runtimeId) await step('colab/runtime/disconnect', () => daemon.request('colab/runtime/disconnect', { runtimeId }, 60_000));
      await step('daemon', () => daemon.stop());
    }
    if (server) await step('jupyter server', () => server.stop());
    rmSync(scratch, { recursive: true, force: true });
  }
  loads.end = load();
  result.durationSeconds = Math.round((Date.now() - started) / 1000);

  const out = path.resolve(root, opts.out);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);

  // ---- report ----
  const rt = result.roundTrip;
  const f = (x) => x.toFixed(2);
  print(`Runtime benchmarks — ${info.nproc} × ${info.cpuModel}, ${info.memoryGiB} GiB, ${info.os}; Node ${info.node}, .NET ${info.dotnetRuntime}`);
  print(`jupyter-server ${versions.jupyterServer}, ipykernel ${versions.ipykernel}, @jupyterlab/services ${servicesVersion}; load average (1 min) ${loads.start} at start, ${loads.afterRoundTrip} after the round trips, ${loads.afterOutput ?? '—'} after the prints, ${loads.end} at the end`);
  print('');
  print(`Empty cell, execute round trip (${config.rounds} alternating rounds × ${config.perRound} per side after ${config.warmup} warm-ups; ms)`);
  print('| client | p50 | p90 | p99 | min |');
  print('| --- | ---: | ---: | ---: | ---: |');
  print(`| colab daemon, colab/kernel/execute (ours) | ${f(rt.ours.p50Ms)} | ${f(rt.ours.p90Ms)} | ${f(rt.ours.p99Ms)} | ${f(rt.ours.minMs)} |`);
  print(`| @jupyterlab/services requestExecute (peer) | ${f(rt.peer.p50Ms)} | ${f(rt.peer.p90Ms)} | ${f(rt.peer.p99Ms)} | ${f(rt.peer.minMs)} |`);
  print(`| (the hop alone: colab/diag/echo through the same client and daemon) | ${f(rt.hop.p50Ms)} | ${f(rt.hop.p90Ms)} | ${f(rt.hop.p99Ms)} | ${f(rt.hop.minMs)} |`);
  print(`ratio ours / peer: p50 ${f(rt.ratioP50)}x, p99 ${f(rt.ratioP99)}x (target <= 1.0x): ${rt.ratioP50 <= 1 ? 'met' : 'MISSED'}`);
  if (result.output) {
    const o = result.output;
    print('');
    print(`${o.mib} MiB print (sys.stdout.write of 1 KiB lines), every byte counted on the client`);
    print('| round | client | MiB/s | seconds | stream messages | largest MiB | RSS before MiB | peak RSS MiB (sampled) | VmHWM MiB | load |');
    print('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    const mi = (k) => (k / 1024).toFixed(0);
    for (let i = 0; i < config.bigRounds; i++) {
      for (const side of ['ours', 'peer']) {
        const r = o[side][i];
        const name = side === 'ours' ? 'colab daemon (ours)' : '@jupyterlab/services in its own Node process (peer)';
        if (r.failed) {
          print(`| ${i + 1} | ${name} | FAILED (${(r.bytes / 1048576).toFixed(1)} MiB received): ${r.failed} | ${(r.ms / 1000).toFixed(1)} | ${r.messages} | ${(r.largestMessageBytes / 1048576).toFixed(1)} | ${mi(r.rssBeforeKiB)} | ${mi(r.sampledPeakRssKiB)} | ${mi(r.hwmKiB)} | ${r.load} |`);
          continue;
        }
        print(`| ${i + 1} | ${name} | ${r.mibPerSecond.toFixed(1)} | ${(r.ms / 1000).toFixed(1)} | ${r.messages} | ${(r.largestMessageBytes / 1048576).toFixed(1)} | ${mi(r.rssBeforeKiB)} | ${mi(r.sampledPeakRssKiB)} | ${mi(r.hwmKiB)} | ${r.load} |`);
      }
    }
    const fr = (x) => (x === null ? '—' : f(x));
    print(`throughput ratio ours / peer: ${fr(o.ratioThroughput)}x of the medians of the rounds that completed, ${fr(o.ratioThroughputFirstRound)}x in round 1 (each side fresh); daemon peak RSS ${mi(Math.max(...o.ours.map((r) => r.hwmKiB)))} MiB for ${o.mib} MiB of output`);
  }
  print(`(${path.relative(root, out)}; ${result.durationSeconds} s)`);
}
