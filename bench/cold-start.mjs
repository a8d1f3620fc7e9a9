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
// stderr (see daemon/Hosting/StartupTrace.cs); --trace prints them per launch, in ms after spawn.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { coldStart, median } from './lib/measure.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: { launches: { type: 'string', default: '15' }, idle: { type: 'string', default: '1000' }, trace: { type: 'boolean', default: false } },
});
if (positionals.length === 0) {
  console.error('usage: node bench/cold-start.mjs [--launches N] [--idle MS] [--trace] BUILD[,ENV=VALUE...] ...');
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
    await new Promise((r) => setTimeout(r, 500));
    child.stdin.end();
    await new Promise((r) => child.once('exit', r));
    const ms = (t) => (Number(t - t0) / 1e6).toFixed(1);
    const steps = [...err.matchAll(/colab-startup (\S+) (\d+)/g)].map((m) => `${m[1]} ${ms(BigInt(m[2]))}`);
    console.log(`initialize answered ${ms(answered)} ms | ${steps.join(' | ')}`);
  }
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
