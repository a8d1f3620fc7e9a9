#!/usr/bin/env node
// node bench/gpu.mjs [--samples N] [--seconds S]
//
// GPU benchmarks (issue 4), against the fake NVML library and the fake nvidia-smi of
// tests/fixtures/fake-nvml (no GPU is needed; on a GPU host set COLAB_BENCH_REAL=1 to use
// the real driver and nvidia-smi instead):
//   snapshot   one colab/gpu/snapshot through the daemon (JSON-RPC round trip included) read
//              through NVML, vs the named peer: the same request answered through nvidia-smi
//              (the daemon's fallback, which spawns nvidia-smi twice: GPUs and processes).
//              Median of N after a warm-up. Target: NVML >= 50x faster.
//   cpu        the daemon's CPU time (utime+stime from /proc/<pid>/stat) over S seconds of
//              colab/gpu/watch at 1 Hz, as % of one core. Target: < 0.1 %.
// Needs the daemon built (node scripts/build.mjs) and gcc.
import { spawn, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: { samples: { type: 'string', default: '200' }, seconds: { type: 'string', default: '60' } },
});
const samples = Number(opts.samples);
const seconds = Number(opts.seconds);
const real = process.env.COLAB_BENCH_REAL === '1';

const daemon = path.join(root, 'daemon', 'bin', 'Release', 'net10.0', 'colab');
if (!existsSync(daemon)) {
  console.error(`no daemon build at ${daemon}: run node scripts/build.mjs first`);
  process.exit(1);
}

const scratch = mkdtempSync(path.join(os.tmpdir(), 'colab-bench-gpu-'));
const fixtures = path.join(root, 'tests', 'fixtures', 'fake-nvml');
const fakeLib = path.join(scratch, 'libnvidia-ml.so.1');
const fakeSmi = path.join(scratch, 'nvidia-smi');
if (!real) {
  execFileSync('gcc', ['-shared', '-fPIC', '-O2', '-o', fakeLib, path.join(fixtures, 'fake_nvml.c')]);
  copyFileSync(path.join(fixtures, 'nvidia-smi'), fakeSmi);
  chmodSync(fakeSmi, 0o755);
  writeFileSync(path.join(scratch, 'gpu.csv'), readFileSync(path.join(fixtures, 'smi-gpus.csv')));
  writeFileSync(path.join(scratch, 'apps.csv'), readFileSync(path.join(fixtures, 'smi-apps.csv')));
}
const fakeEnv = { FAKE_NVML_DEVICE_COUNT: '2', FAKE_NVML_GPU0_NAME: 'NVIDIA H100 80GB HBM3', FAKE_NVML_GPU0_PROCS: '4242:1073741824' };

/** A daemon on stdio with a minimal JSON-RPC client (JSON.parse per message is fine at these rates). */
function start(env) {
  const child = spawn(daemon, ['daemon'], { env: { ...process.env, ...fakeEnv, ...env }, stdio: ['pipe', 'pipe', 'ignore'] });
  let buffer = Buffer.alloc(0);
  const pending = new Map();
  let nextId = 1;
  child.stdout.on('data', (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/content-length:\s*(\d+)/i.exec(buffer.subarray(0, end).toString('ascii'))[1]);
      if (buffer.length < end + 4 + length) return;
      const message = JSON.parse(buffer.subarray(end + 4, end + 4 + length).toString('utf8'));
      buffer = buffer.subarray(end + 4 + length);
      if (message.id !== undefined && !message.method && pending.has(message.id)) {
        pending.get(message.id)(message);
        pending.delete(message.id);
      }
    }
  });
  const send = (message) => {
    const body = Buffer.from(JSON.stringify(message), 'utf8');
    child.stdin.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
  };
  return {
    pid: child.pid,
    request: (method, params) =>
      new Promise((resolve) => {
        const id = nextId++;
        pending.set(id, resolve);
        send({ jsonrpc: '2.0', id, method, params });
      }),
    notify: (method, params) => send({ jsonrpc: '2.0', method, params }),
    stop: async () => {
      child.stdin.end();
      await new Promise((r) => child.once('exit', r));
    },
  };
}

async function session(env) {
  const d = start(env);
  await d.request('initialize', { processId: process.pid, capabilities: {} });
  d.notify('initialized', {});
  return d;
}

async function timeSnapshots(env, n) {
  const d = await session(env);
  const first = await d.request('colab/gpu/snapshot');
  const result = first.result;
  for (let i = 0; i < Math.min(20, n); i++) await d.request('colab/gpu/snapshot'); // warm-up
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await d.request('colab/gpu/snapshot');
    times.push(Number(process.hrtime.bigint() - t) / 1e3);
  }
  await d.stop();
  times.sort((a, b) => a - b);
  return { result, p50: times[Math.floor(times.length / 2)], p90: times[Math.floor(times.length * 0.9)] };
}

function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14, 15)
}

const nvmlEnv = real ? {} : { COLAB_NVMLLIBRARY: fakeLib };
const smiEnv = real ? { COLAB_NVMLLIBRARY: '/nonexistent/libnvidia-ml.so.1' } : { COLAB_NVMLLIBRARY: '/nonexistent/libnvidia-ml.so.1', COLAB_NVIDIASMI: fakeSmi };
try {
  console.log(`GPU benchmarks (${real ? 'real driver' : 'fake NVML + fake nvidia-smi'}), ${samples} snapshots each, CPU over ${seconds} s`);
  const nvml = await timeSnapshots(nvmlEnv, samples);
  const smi = await timeSnapshots(smiEnv, Math.max(10, Math.floor(samples / 10)));
  if (nvml.result?.source !== 'nvml' || smi.result?.source !== 'nvidia-smi') {
    throw new Error(`unexpected answers: ${JSON.stringify(nvml.result)} / ${JSON.stringify(smi.result)}`);
  }
  const ratio = smi.p50 / nvml.p50;
  console.log('');
  console.log('| snapshot (colab/gpu/snapshot round trip) | p50 µs | p90 µs |');
  console.log('| --- | ---: | ---: |');
  console.log(`| NVML (ours) | ${nvml.p50.toFixed(0)} | ${nvml.p90.toFixed(0)} |`);
  console.log(`| nvidia-smi (peer) | ${smi.p50.toFixed(0)} | ${smi.p90.toFixed(0)} |`);
  console.log(`NVML is ${ratio.toFixed(1)}x faster (target >= 50x): ${ratio >= 50 ? 'met' : 'MISSED'}`);

  const hz = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
  /** The daemon's own CPU seconds per wall second over `seconds`, after `warm` seconds in the same mode. */
  const cpuShare = async (watching) => {
    const d = await session(nvmlEnv);
    if (watching) await d.request('colab/gpu/watch', { enabled: true, intervalMs: 1000 });
    await new Promise((r) => setTimeout(r, 15_000)); // past start-up, the host probes and tier-1 JIT of the loop
    const before = cpuTicks(d.pid);
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const used = (cpuTicks(d.pid) - before) / hz;
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    if (watching) await d.request('colab/gpu/watch', { enabled: false });
    await d.stop();
    return { used, wall, share: (100 * used) / wall };
  };
  const idle = await cpuShare(false);
  const busy = await cpuShare(true);
  const extra = Math.max(0, busy.share - idle.share);
  console.log('');
  console.log('| daemon CPU (utime+stime) | ms per minute | % of one core |');
  console.log('| --- | ---: | ---: |');
  console.log(`| idle, not watching (baseline) | ${((idle.used / idle.wall) * 60_000).toFixed(0)} | ${idle.share.toFixed(3)} |`);
  console.log(`| colab/gpu/watch at 1 Hz | ${((busy.used / busy.wall) * 60_000).toFixed(0)} | ${busy.share.toFixed(3)} |`);
  console.log(`1 Hz GPU updates cost ${extra.toFixed(3)} % of one core above idle, ${busy.share.toFixed(3)} % in all (target < 0.1 %): ${busy.share < 0.1 ? 'met' : extra < 0.1 ? 'met above idle only' : 'MISSED'}`);
  console.log(`(clock ticks are ${(1000 / hz).toFixed(0)} ms over ${seconds} s: each figure is +/- ${(100 / hz / seconds).toFixed(3)} %)`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
