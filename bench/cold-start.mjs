#!/usr/bin/env node
// node bench/cold-start.mjs [--launches N] [--idle MS] BUILD[,ENV=VALUE...] ...
//
// Cold start (spawn → `initialize` answered, wall and the process's CPU by then) and idle RSS
// (--idle MS after `initialized`, default 1000; on a loaded machine 3000 lets the start-up probes
// finish first, so the figure is not flattered by work not yet done) of daemon builds given by path, interleaved launch by launch with
// the named peer: the Node vscode-jsonrpc echo server (bench/peer/echo-server.mjs). Each build
// may carry environment settings after commas, e.g. `.artifacts/publish/linux-x64/colab,DOTNET_TieredPGO=0`.
// The quick way to compare publish modes and runtime knobs without packaging a VSIX
// (bench/package.mjs does the same measurement on the daemon extracted from the VSIX).
// With COLAB_TRACE_STARTUP=1 in a build's settings the daemon writes its start-up steps to
// stderr (see daemon/Hosting/StartupTrace.cs); --trace prints them per launch, in ms after spawn,
// with the resident set at each step (MiB), up to the end of the start-up probes that follow
// `initialized`. --breakdown prints, per build, where the idle RSS is (--idle MS after
// `initialized`, from /proc/PID/smaps): pages of the executable itself (the single-file image:
// runtime, R2R code and data, assemblies), the W^X double mapping (memfd:doublemapper: the
// runtime's loader heaps and generated code), anonymous memory (GC heap, stacks, malloc), shared
// libraries; and the threads alive then, by name. --activate (with --breakdown) first sends what the
// extension asks for when it activates (ACTIVATION below: the status, the runtimes, the idle timeout,
// Drive's state, the GPU snapshot, the training jobs) and measures --idle MS after the last answer:
// the memory of a daemon the editor has started and looked at, not only of one that was started.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { coldStart, INITIALIZE_PARAMS, median } from './lib/measure.mjs';
import { RawClient } from './lib/raw-client.mjs';

const ACTIVATION = [
  ['colab/serverStatus', undefined],
  ['colab/runtime/list', {}],
  ['colab/runtime/setIdleTimeout', { minutes: 60 }],
  ['colab/drive/status', {}],
  ['colab/gpu/snapshot', undefined],
  ['colab/train/list', {}],
];

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    launches: { type: 'string', default: '15' },
    idle: { type: 'string', default: '1000' },
    trace: { type: 'boolean', default: false },
    breakdown: { type: 'boolean', default: false },
    activate: { type: 'boolean', default: false },
  },
});
if (positionals.length === 0) {
  console.error('usage: node bench/cold-start.mjs [--launches N] [--idle MS] [--trace | --breakdown [--activate]] BUILD[,ENV=VALUE...] ...');
  process.exit(2);
}

if (opts.trace) {
  // Start-up steps of the first build, 5 launches.
  const [command, ...env] = positionals[0].split(',');
  for (let i = 0; i < 5; i++) {
    const t0 = process.hrtime.bigint();
    const child = spawn(path.resolve(command), ['daemon', '--stdio'], {
      env: { ...process.env, ...Object.fromEntries(env.map((e) => e.split('='))), COLAB_TRACE_STARTUP: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { capabilities: {} } });
    child.stdin.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    const answered = await new Promise((res) => child.stdout.once('data', () => res(process.hrtime.bigint())));
    const note = JSON.stringify({ jsonrpc: '2.0', method: 'initialized', params: {} });
    child.stdin.write(`Content-Length: ${Buffer.byteLength(note)}\r\n\r\n${note}`);
    // Until the start-up probes that follow `initialized` are over (the daemon writes a `probed` step), at most 10 s.
    for (let waited = 0; waited < 10_000 && !/colab-startup probed /.test(err); waited += 50) await new Promise((r) => setTimeout(r, 50));
    child.stdin.end();
    await new Promise((r) => child.once('exit', r));
    const ms = (t) => (Number(t - t0) / 1e6).toFixed(1);
    const steps = [...err.matchAll(/colab-startup (\S+) (\d+)(?: (\d+))?/g)].map(
      (m) => `${m[1]} ${ms(BigInt(m[2]))}${m[3] ? ` (${(Number(m[3]) / 1024).toFixed(1)} MiB)` : ''}`,
    );
    console.log(`initialize answered ${ms(answered)} ms | ${steps.join(' | ')}`);
  }
  process.exit(0);
}

if (opts.breakdown) {
  // Where the idle RSS is, per build: medians over the launches, one launch of each build after the other.
  const builds = positionals.map((spec) => {
    const [command, ...env] = spec.split(',');
    return { name: spec, command: path.resolve(command), args: ['daemon', '--stdio'], env: { ...process.env, ...Object.fromEntries(env.map((e) => e.split('='))) } };
  });
  const rows = builds.map(() => []);
  for (let i = 0; i < Number(opts.launches); i++) {
    for (const [k, b] of builds.entries()) rows[k].push(await idleBreakdown(b, Number(opts.idle), opts.activate));
  }
  console.log(`${opts.launches} launches each; medians, MiB, ${opts.idle} ms after ${opts.activate ? 'the activation requests were answered' : 'initialized'}`);
  console.log('| build | RSS | min–max | the executable | doublemapper | anonymous | libraries | threads |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [k, b] of builds.entries()) {
    const m = (key) => (median(rows[k].map((r) => r[key])) / 1024).toFixed(1);
    const totals = rows[k].map((r) => r.total / 1024);
    console.log(`| ${b.name} | ${m('total')} | ${Math.min(...totals).toFixed(1)}–${Math.max(...totals).toFixed(1)} | ${m('image')} | ${m('doublemapper')} | ${m('anonymous')} | ${m('libraries')} | ${median(rows[k].map((r) => r.threads.length))} |`);
  }
  for (const [k, b] of builds.entries()) console.log(`threads of ${b.name}: ${rows[k].at(-1).threads.join(', ')}`);
  process.exit(0);
}

const servers = [
  { name: 'node-peer (vscode-jsonrpc)', command: process.execPath, args: [path.join(root, 'bench', 'peer', 'echo-server.mjs')], env: process.env },
  ...positionals.map((spec) => {
    const [command, ...env] = spec.split(',');
    return { name: spec, command: path.resolve(command), args: ['daemon', '--stdio'], env: { ...process.env, ...Object.fromEntries(env.map((e) => e.split('='))) } };
  }),
];
const launches = Number(opts.launches);
const samples = servers.map(() => ({ ms: [], cpu: [], rss: [] }));
for (let i = 0; i < launches; i++) {
  for (const [k, s] of servers.entries()) {
    const r = await coldStart(s, { measureMemory: i < 3, idleMs: Number(opts.idle) });
    samples[k].ms.push(r.ms);
    samples[k].cpu.push(r.cpuMs);
    if (r.memory) samples[k].rss.push(r.memory.rssKiB / 1024);
  }
}
const peer = median(samples[0].ms);
console.log(`${launches} interleaved launches each; medians (RSS: of 3, ${opts.idle} ms after initialized)`);
console.log('| server | cold start ms | × peer | cold CPU ms | idle RSS MiB |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const [k, s] of servers.entries()) {
  const ms = median(samples[k].ms);
  console.log(`| ${s.name} | ${ms.toFixed(1)} | ${(ms / peer).toFixed(2)} | ${median(samples[k].cpu).toFixed(1)} | ${median(samples[k].rss).toFixed(1)} |`);
}

/** One launch: initialize, initialized, idleMs, then the RSS by kind of mapping (KiB) and the threads' names. */
async function idleBreakdown(server, idleMs, activate) {
  const client = new RawClient(server.command, server.args, { env: server.env });
  try {
    const init = await client.request(1, 'initialize', INITIALIZE_PARAMS);
    if (!init.result) throw new Error(`${server.name}: initialize failed: ${JSON.stringify(init)}`);
    client.notify('initialized', {});
    if (activate) {
      for (const [k, [method, params]] of ACTIVATION.entries()) {
        const answer = await client.request(2 + k, method, params);
        if (!answer.result) throw new Error(`${server.name}: ${method} failed: ${JSON.stringify(answer)}`);
      }
    }
    await sleep(idleMs);
    const kib = { total: 0, image: 0, doublemapper: 0, anonymous: 0, libraries: 0 };
    let kind = 'anonymous';
    for (const line of readFileSync(`/proc/${client.pid}/smaps`, 'utf8').split('\n')) {
      const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
      if (head) {
        const name = head[1].replace(/ \(deleted\)$/, '');
        kind = name === server.command ? 'image' : name.includes('doublemapper') ? 'doublemapper' : name.startsWith('/') ? 'libraries' : 'anonymous';
        continue;
      }
      const rss = /^Rss:\s+(\d+) kB/.exec(line);
      if (rss) {
        kib[kind] += Number(rss[1]);
        kib.total += Number(rss[1]);
      }
    }
    const tasks = `/proc/${client.pid}/task`;
    kib.threads = readdirSync(tasks).map((t) => readFileSync(`${tasks}/${t}/comm`, 'utf8').trim());
    return kib;
  } finally {
    await client.close();
  }
}
