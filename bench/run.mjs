#!/usr/bin/env node
// npm run bench [-- options]
//
// Compares the Colab daemon with a named peer — a Node vscode-jsonrpc echo server on
// stdio — in one run, with one client for every server (bench/lib/raw-client.mjs):
//   latency     sequential colab/diag/echo round trips of ~50 bytes: p50/p99 after a warm-up
//               of at least 4 s of mixed traffic (both JITs settled)
//   throughput  pipelined small echoes, at most --window in flight
//   cold start  process launch -> initialize answered (median of --launches), and the idle
//               RSS 1 s after initialized
// Prints a table with ratios (ours / peer) and writes bench/results/latest.json.
//
// Options:
//   --quick             small counts, for a smoke run (figures not comparable)
//   --explore           also run the exploratory variants (publish modes, runtime knobs)
//   --only a,b          only these variant ids (the peer is always added)
//   --extra JSON        more servers to compare, e.g. a prototype build of the daemon:
//                       '[{"id":"proto","command":"/tmp/x/colab","args":["daemon","--stdio"],"env":{}}]'
//   --rounds N          latency/throughput rounds per server, interleaved (default 5)
//   --launches N        cold starts per server, interleaved (default 21)
//   --no-build          use what is built; fail if something is missing
//   --rebuild           rebuild and republish even when the sources did not change
//   --build-only        build what the selected variants need, then stop
//   --poll-idle         hold /dev/cpu_dma_latency at 0 while measuring (Linux, root): idle
//                       CPUs poll instead of halting, so a round trip does not pay a vCPU
//                       wake-up; the setting ends with the process (see docs/benchmarks.md)
//   --out FILE          results file (default bench/results/latest.json)
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureBuilt, sourceHash } from './lib/build.mjs';
import { load, machine } from './lib/machine.mjs';
import { coldStart, latency, median, startServer, throughput } from './lib/measure.mjs';
import { variants } from './variants.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    explore: { type: 'boolean', default: false },
    only: { type: 'string' },
    extra: { type: 'string' },
    rounds: { type: 'string' },
    launches: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    rebuild: { type: 'boolean', default: false },
    'build-only': { type: 'boolean', default: false },
    'poll-idle': { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/results/latest.json' },
  },
});

const config = opts.quick
  ? { rounds: 1, warmupSeconds: 0, latencyWarmup: 200, latencyCount: 2_000, throughputWarmup: 2_000, throughputCount: 10_000, window: 1_000, launches: 3, memoryLaunches: 1 }
  : { rounds: 5, warmupSeconds: 4, latencyWarmup: 2_000, latencyCount: 20_000, throughputWarmup: 10_000, throughputCount: 100_000, window: 1_000, launches: 21, memoryLaunches: 3 };
if (opts.rounds) config.rounds = Number(opts.rounds);
if (opts.launches) config.launches = Number(opts.launches);
config.memoryLaunches = Math.min(config.memoryLaunches, config.launches);

const log = (...a) => console.error('[bench]', ...a);

// ---- which servers -----------------------------------------------------------------
let servers = variants(root).filter((v) => opts.explore || !v.explore);
if (opts.only) {
  const wanted = new Set(opts.only.split(',').map((s) => s.trim()));
  const known = new Set(variants(root).map((v) => v.id));
  const unknown = [...wanted].filter((id) => !known.has(id));
  if (unknown.length) throw new Error(`unknown variant(s) ${unknown.join(', ')}; known: ${[...known].join(', ')}`);
  servers = servers.filter((v) => v.role === 'peer' || wanted.has(v.id));
}
if (opts.extra) {
  const extra = JSON.parse(opts.extra);
  for (const e of Array.isArray(extra) ? extra : [extra]) {
    if (!e.id || !e.command) throw new Error(`--extra: every server needs an id and a command: ${JSON.stringify(e)}`);
    servers.push({ role: 'ours', label: `extra: ${e.command}`, args: [], ...e });
  }
}
const peer = servers.find((v) => v.role === 'peer');

// ---- builds --------------------------------------------------------------------------
const builds = {};
const daemonHash = sourceHash(root, ['daemon', 'Directory.Build.props', 'scripts/publish-daemon.sh']);
const done = new Set();
for (const v of servers) {
  if (!v.build) continue;
  const key = `${v.build.command} ${v.build.args.join(' ')}`;
  if (done.has(key)) continue;
  done.add(key);
  if (opts['no-build']) {
    if (!existsSync(v.command)) throw new Error(`${v.id}: ${v.command} is missing (run without --no-build)`);
    continue;
  }
  const hash =
    v.build.kind === 'reference'
      ? sourceHash(root, ['bench/peer/TrivialEcho', 'Directory.Build.props'])
      : sourceHash(root, [], `${daemonHash} ${key}`);
  const stampFile = path.join(root, '.artifacts', 'bench', 'stamps', `${v.id}.stamp`);
  builds[v.id] = ensureBuilt({ root, stampFile, hash, output: v.command, command: v.build.command, args: v.build.args, force: opts.rebuild, log });
}
for (const v of servers) {
  if (!existsSync(v.command)) throw new Error(`${v.id}: ${v.command} does not exist`);
}
if (opts['build-only']) {
  log(`built: ${JSON.stringify(builds)}`);
  process.exit(0);
}

// ---- measure ---------------------------------------------------------------------------
let idleFd = null;
if (opts['poll-idle']) {
  try {
    // PM QoS: while this file stays open with 0, no CPU enters an idle state with exit latency > 0 µs.
    idleFd = openSync('/dev/cpu_dma_latency', 'w');
    writeSync(idleFd, Buffer.from(Int32Array.of(0).buffer));
  } catch (e) {
    throw new Error(`--poll-idle needs a writable /dev/cpu_dma_latency (Linux, root): ${e.message}`);
  }
}
const info = machine();
const loadBefore = load();
log(`machine: ${info.nproc} × ${info.cpuModel}, ${info.memoryGiB} GiB, ${info.os}; .NET ${info.dotnetRuntime}, Node ${info.node}; load ${loadBefore}`);
log(`servers: ${servers.map((s) => s.id).join(', ')}`);
const started = Date.now();
const serverSpec = (v) => ({ name: v.id, command: v.command, args: v.args, env: v.env ? { ...process.env, ...v.env } : process.env });

const steady = Object.fromEntries(servers.map((v) => [v.id, []]));
for (let round = 0; round < config.rounds; round++) {
  // Interleaved (A B C, A B C, …) so a burst of load elsewhere on the machine hits every server alike.
  for (const v of servers) {
    const client = await startServer(serverSpec(v));
    // Warm-up until both runtimes have settled: .NET's tiered compilation keeps a background
    // thread busy for the first 2-3 s of traffic (R2R/tier-0 -> instrumented -> tier-1, on a
    // core the client and server need), and V8 tiers up too. The daemon lives for a whole
    // editor session, so the steady state is what is compared.
    const warmStart = Date.now();
    for (let w = 0; w === 0 || Date.now() - warmStart < config.warmupSeconds * 1000; w++) {
      await throughput(client, { count: config.throughputWarmup, window: config.window, firstId: 10_000_000 + w * 100_000 });
      await latency(client, { warmup: 0, count: config.latencyWarmup, firstId: 50_000_000 + w * 100_000 });
    }
    const cpu0 = client.cpuMs();
    const lat = await latency(client, { warmup: config.latencyWarmup, count: config.latencyCount });
    const cpu1 = client.cpuMs();
    const clientCpu1 = process.cpuUsage();
    const tp = await throughput(client, { count: config.throughputCount, window: config.window, firstId: 20_000_000 });
    const clientCpu2 = process.cpuUsage(clientCpu1);
    const cpu3 = client.cpuMs();
    await client.close();
    const r = {
      round,
      latencyUs: lat,
      latencyServerCpuUsPerRequest: ((cpu1 - cpu0) * 1000) / (config.latencyWarmup + config.latencyCount),
      throughput: {
        perSecond: tp.perSecond,
        seconds: tp.seconds,
        serverCpuUsPerRequest: ((cpu3 - cpu1) * 1000) / config.throughputCount,
        // Client CPU seconds per wall second during the run: well under 1 means the one-threaded client was not the limit.
        clientCpuShare: (clientCpu2.user + clientCpu2.system) / 1e6 / tp.seconds,
      },
    };
    steady[v.id].push(r);
    log(
      `round ${round + 1}/${config.rounds} ${v.id.padEnd(22)} p50 ${lat.p50.toFixed(1)} µs  p99 ${lat.p99.toFixed(1)} µs  ` +
        `${Math.round(tp.perSecond).toLocaleString('en-US')} req/s  (client CPU ${(r.throughput.clientCpuShare * 100).toFixed(0)}%)`,
    );
  }
}

const cold = Object.fromEntries(servers.map((v) => [v.id, []]));
for (let i = 0; i < config.launches; i++) {
  for (const v of servers) {
    cold[v.id].push(await coldStart(serverSpec(v), { measureMemory: i < config.memoryLaunches }));
  }
  if ((i + 1) % 5 === 0 || i + 1 === config.launches) log(`cold starts: ${i + 1}/${config.launches}`);
}
const loadAfter = load();
if (idleFd !== null) closeSync(idleFd);

// ---- summarise -------------------------------------------------------------------------
const round1 = (x, d = 1) => (x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 10 ** d) / 10 ** d);
const summary = {};
for (const v of servers) {
  const s = steady[v.id];
  const c = cold[v.id];
  const mem = c.filter((x) => x.memory).map((x) => x.memory);
  summary[v.id] = {
    role: v.role,
    label: v.label,
    command: [path.relative(root, v.command) || v.command, ...v.args].join(' '),
    env: v.env ?? {},
    latencyP50Us: round1(median(s.map((r) => r.latencyUs.p50))),
    latencyP99Us: round1(median(s.map((r) => r.latencyUs.p99))),
    latencyServerCpuUsPerRequest: round1(median(s.map((r) => r.latencyServerCpuUsPerRequest))),
    throughputPerSecond: Math.round(median(s.map((r) => r.throughput.perSecond))),
    throughputServerCpuUsPerRequest: round1(median(s.map((r) => r.throughput.serverCpuUsPerRequest))),
    throughputClientCpuShare: round1(median(s.map((r) => r.throughput.clientCpuShare)), 2),
    coldStartMedianMs: round1(median(c.map((x) => x.ms))),
    coldStartMinMs: round1(Math.min(...c.map((x) => x.ms))),
    coldStartCpuMedianMs: round1(median(c.map((x) => x.cpuMs))),
    idleRssMiB: round1(median(mem.map((m) => m.rssKiB)) / 1024),
    idleThreads: median(mem.map((m) => m.threads)),
    build: builds[v.id] ?? null,
  };
}
const p = summary[peer.id];
const ratio = (a, b) => (a && b ? Math.round((a / b) * 100) / 100 : null);
for (const v of servers) {
  const s = summary[v.id];
  s.ratios = {
    latencyP50: ratio(s.latencyP50Us, p.latencyP50Us),
    latencyP99: ratio(s.latencyP99Us, p.latencyP99Us),
    throughput: ratio(s.throughputPerSecond, p.throughputPerSecond),
    coldStart: ratio(s.coldStartMedianMs, p.coldStartMedianMs),
    coldStartCpu: ratio(s.coldStartCpuMedianMs, p.coldStartCpuMedianMs),
    idleRss: ratio(s.idleRssMiB, p.idleRssMiB),
  };
  if (v.role === 'ours') {
    s.targets = {
      'latency p50 <= 0.7x peer': s.ratios.latencyP50 !== null && s.ratios.latencyP50 <= 0.7,
      'throughput >= 2x peer': s.ratios.throughput !== null && s.ratios.throughput >= 2,
      'cold start <= 1.5x peer': s.ratios.coldStart !== null && s.ratios.coldStart <= 1.5,
    };
  }
}

const result = {
  date: new Date().toISOString(),
  durationSeconds: Math.round((Date.now() - started) / 1000),
  machine: info,
  loadAverage1m: { before: loadBefore, after: loadAfter },
  idle: opts['poll-idle'] ? 'poll (/dev/cpu_dma_latency held at 0)' : 'default (CPUs may halt when idle)',
  client:
    'bench/lib/raw-client.mjs: one Node process, pre-serialised LSP frames written to the server stdin, ' +
    'responses found by Content-Length and the id digits only (no JSON.parse on the hot path); the same client for every server',
  request: 'colab/diag/echo with params {"text":"hello, colab","n":12345,"ok":true,"list":[1,2,3]} (57 bytes of params, 130-byte frame)',
  config,
  peer: peer.id,
  summary,
  raw: { steady, cold },
};
mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
writeFileSync(path.resolve(opts.out), `${JSON.stringify(result, null, 2)}\n`);

// ---- table -----------------------------------------------------------------------------
const fmt = (x, d = 1) => (x === null || x === undefined ? '—' : x.toFixed(d));
const rx = (x) => (x === null || x === undefined ? '' : ` (${x.toFixed(2)}×)`);
const rows = [['server', 'p50 µs', 'p99 µs', 'req/s', 'CPU µs/req', 'cold start ms', 'cold CPU ms', 'idle RSS MiB']];
for (const v of servers) {
  const s = summary[v.id];
  const isPeer = v.role === 'peer';
  rows.push([
    v.id,
    fmt(s.latencyP50Us) + (isPeer ? '' : rx(s.ratios.latencyP50)),
    fmt(s.latencyP99Us) + (isPeer ? '' : rx(s.ratios.latencyP99)),
    Math.round(s.throughputPerSecond).toLocaleString('en-US') + (isPeer ? '' : rx(s.ratios.throughput)),
    fmt(s.throughputServerCpuUsPerRequest),
    fmt(s.coldStartMedianMs) + (isPeer ? '' : rx(s.ratios.coldStart)),
    fmt(s.coldStartCpuMedianMs) + (isPeer ? '' : rx(s.ratios.coldStartCpu)),
    fmt(s.idleRssMiB) + (isPeer ? '' : rx(s.ratios.idleRss)),
  ]);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
console.log();
console.log(`Ratios are ours / ${peer.id}. Medians of ${config.rounds} rounds and ${config.launches} launches. Load average ${loadBefore} before, ${loadAfter} after; ${info.nproc} cores; idle CPUs: ${result.idle}.`);
console.log('CPU µs/req: server CPU time per request in the throughput run. cold CPU ms: server CPU time used by the time initialize was answered.');
console.log(line(rows[0]));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows.slice(1)) console.log(line(r));
console.log();
for (const v of servers.filter((x) => x.role === 'ours')) {
  const t = summary[v.id].targets;
  console.log(`${v.id.padEnd(widths[0])}  ${Object.entries(t).map(([k, ok]) => `${ok ? 'met ' : 'MISSED'} ${k}`).join(' | ')}`);
}
console.log(`\nwrote ${path.relative(root, path.resolve(opts.out))} (${result.durationSeconds} s)`);
