#!/usr/bin/env node
// Benchmarks of the shipped package (issue 8):
//  1. cold start (launch → `initialize` answered) and idle RSS of the daemon as the VSIX
//     ships it, and of the other publish modes tried, against the Node peer
//     (bench/peer/echo-server.mjs: a vscode-jsonrpc server on stdio) and the dev build;
//  2. extension activation time in code-server, from the installed VSIX: from opening the
//     Colab view (the activation event, onView:colab.status) to "Colab: ready", and from the
//     extension's status item appearing (activate() creates it) to "Colab: ready".
//
// Usage: node bench/package.mjs [--launches N] [--no-activation] [--activations N]
//   Needs: node scripts/build.mjs (dev daemon, out/tests for the code-server harness).
//   Builds .artifacts/vsix/…linux-x64….vsix with scripts/package.mjs when it is missing, and
//   publishes each extra mode once into .artifacts/bench-package/<mode>/ (reused after).
// Writes bench/results/package.json; prints the tables for docs/benchmarks.md.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { coldStart, median } from './lib/measure.mjs';
import { load, machine } from './lib/machine.mjs';
import { packageTarget, targets, zipEntries } from '../scripts/package.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : dflt; };
const launches = opt('--launches', 15);
const activations = opt('--activations', 3);
const withActivation = !args.includes('--no-activation');
const log = (s) => process.stderr.write(`[bench/package] ${s}\n`);

// --- the VSIX and the daemon inside it ---------------------------------------------------
const vsixDir = path.join(root, '.artifacts', 'vsix');
let vsix = path.join(vsixDir, 'colab-vscode-linux-x64-0.1.0.vsix');
if (!fs.existsSync(vsix)) {
  log('no VSIX yet: npm run package');
  vsix = (await packageTarget('linux-x64', { outDir: vsixDir })).vsix;
}
const work = path.join(root, '.artifacts', 'bench-package');
fs.mkdirSync(work, { recursive: true });
const shipped = path.join(work, 'vsix', 'colab');
{
  // Extract the daemon exactly as VS Code would: unzip (Debian's) keeps the mode bits.
  fs.rmSync(path.join(work, 'vsix'), { recursive: true, force: true });
  fs.mkdirSync(path.join(work, 'vsix'), { recursive: true });
  const r = spawnSync('unzip', ['-q', '-j', '-o', vsix, `extension/daemon/${targets['linux-x64'].dir}/colab`, '-d', path.join(work, 'vsix')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`unzip: ${r.stderr || r.error?.message}`);
}

/** Extra publish modes, each published once (scripts/publish-daemon.sh) and reused. */
const modes = [
  { id: 'untrimmed', label: 'self-contained, R2R composite, single file, **not trimmed**', publish: ['-p:PublishTrimmed=false'] },
  { id: 'trimmed-lean', label: 'the shipped mode (which has `EventSourceSupport=false` since the fourth round) + `ConcurrentGarbageCollection=false`', publish: ['-p:ConcurrentGarbageCollection=false'] },
];
for (const m of modes) {
  m.command = path.join(work, m.id, 'colab');
  if (!fs.existsSync(m.command)) {
    log(`publishing ${m.id} (once)`);
    const r = spawnSync('bash', ['scripts/publish-daemon.sh', 'linux-x64', '--out', path.join(work, m.id), ...m.publish], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`publish ${m.id} failed`);
  }
}
const size = (file) => fs.statSync(file).size;
const daemonArgs = ['daemon', '--stdio'];
const servers = [
  { id: 'node-peer', label: 'peer: Node + vscode-jsonrpc echo server', command: process.execPath, args: [path.join(root, 'bench', 'peer', 'echo-server.mjs')] },
  { id: 'daemon-fdd', label: 'dev build: `dotnet build` apphost (needs .NET)', command: path.join(root, 'daemon', 'bin', 'Release', 'net10.0', 'colab'), args: daemonArgs },
  { id: 'vsix', label: '**the VSIX\'s daemon**: self-contained, trimmed, R2R composite, single file', command: shipped, args: daemonArgs, bytes: size(shipped) },
  ...modes.map((m) => ({ id: m.id, label: m.label, command: m.command, args: daemonArgs, bytes: size(m.command) })),
].map((s) => ({ ...s, name: s.id }));
for (const s of servers) if (!fs.existsSync(s.command)) throw new Error(`${s.id}: ${s.command} is missing (node scripts/build.mjs)`);

const loadBefore = load();
log(`cold start: ${launches} interleaved launches of ${servers.length} servers (load ${loadBefore})`);
const samples = Object.fromEntries(servers.map((s) => [s.id, { ms: [], cpu: [], rss: [] }]));
for (let i = 0; i < launches; i++) {
  for (const s of servers) {
    const withMemory = i < 3;
    const r = await coldStart(s, { measureMemory: withMemory });
    samples[s.id].ms.push(r.ms);
    samples[s.id].cpu.push(r.cpuMs);
    if (withMemory) samples[s.id].rss.push(r.memory.rssKiB / 1024);
  }
}
const peerMs = median(samples['node-peer'].ms);
const peerRss = median(samples['node-peer'].rss);
const coldRows = servers.map((s) => {
  const ms = median(samples[s.id].ms);
  const rss = median(samples[s.id].rss);
  return { id: s.id, label: s.label, bytes: s.bytes, ms, cpuMs: median(samples[s.id].cpu), rssMiB: rss, msRatio: ms / peerMs, rssRatio: rss / peerRss };
});

// --- activation in code-server ---------------------------------------------------------
let activationRows = [];
if (withActivation) {
  const harnessFile = path.join(root, 'out', 'tests', 'e2e', 'harness.js');
  if (!fs.existsSync(harnessFile)) throw new Error('out/tests/e2e/harness.js is missing: node scripts/build.mjs');
  const { createRequire } = await import('node:module');
  const { VsCodeSession, loadCodeServerModule } = createRequire(import.meta.url)(harnessFile);
  const cs = await loadCodeServerModule();
  for (let i = 0; i < activations; i++) {
    const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'colab-bench-activation-'));
    try {
      const extensionsDir = path.join(temp, 'extensions');
      const r = spawnSync(process.execPath, [cs.codeServerEntry(), '--config', path.join(temp, 'config.yaml'), '--user-data-dir', path.join(temp, 'ud'),
        '--extensions-dir', extensionsDir, '--install-extension', vsix], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`--install-extension: ${r.stderr}`);
      const installed = fs.readdirSync(extensionsDir).find((e) => e.startsWith('colab-vscode.colab-vscode-'));
      const vs = await VsCodeSession.start({ name: `bench-activation-${i}`, extensionDir: path.join(extensionsDir, installed) });
      try {
        // The window is up (the harness waited for the status bar). Activation is lazy:
        // opening the Colab view is the activation event (onView:colab.status); then poll the item.
        const t0 = Date.now();
        await vs.openActivity('Colab');
        let firstSeen;
        let ready;
        while (Date.now() - t0 < 120_000) {
          const texts = await vs.statusBarTexts();
          const colab = texts.find((t) => /^Colab\b/.test(t));
          const now = Date.now();
          if (colab && firstSeen === undefined) firstSeen = now;
          if (colab === 'Colab: ready' || texts.some((t) => t.startsWith('Colab: ready'))) { ready = now; break; }
          await new Promise((res) => setTimeout(res, 10));
        }
        if (ready === undefined) throw new Error(`no "Colab: ready" within 120 s: ${JSON.stringify(await vs.statusBarTexts())}`);
        activationRows.push({ round: i, itemToReadyMs: ready - firstSeen, openViewToReadyMs: ready - t0 });
        log(`activation ${i}: status item → ready ${ready - firstSeen} ms; Colab view opened → ready ${ready - t0} ms`);
      } finally {
        await vs.close();
      }
    } finally {
      fs.rmSync(temp, { recursive: true, force: true });
    }
  }
}

const result = {
  when: new Date().toISOString(),
  machine: machine(),
  load: { before: loadBefore, after: load() },
  vsix: { file: path.relative(root, vsix), bytes: size(vsix), entries: zipEntries(vsix).length },
  launches,
  coldStart: coldRows,
  activation: activationRows,
};
fs.mkdirSync(path.join(root, 'bench', 'results'), { recursive: true });
fs.writeFileSync(path.join(root, 'bench', 'results', 'package.json'), JSON.stringify(result, null, 2) + '\n');

const f1 = (x) => (x === undefined || Number.isNaN(x) ? '—' : x.toFixed(1));
console.log(`VSIX ${result.vsix.file}: ${(result.vsix.bytes / 1e6).toFixed(2)} MB (budget 30 MB)`);
console.log(`load average ${loadBefore} → ${result.load.after}; ${launches} launches each, RSS median of 3`);
console.log('| server | executable | cold start ms | cold CPU ms | idle RSS MiB |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const r of coldRows) {
  const ratio = r.id === 'node-peer' ? '' : ` (${r.msRatio.toFixed(2)}×)`;
  const rssRatio = r.id === 'node-peer' ? '' : ` (${r.rssRatio.toFixed(2)}×)`;
  console.log(`| ${r.label} | ${r.bytes ? `${(r.bytes / 1e6).toFixed(1)} MB` : '—'} | ${f1(r.ms)}${ratio} | ${f1(r.cpuMs)} | ${f1(r.rssMiB)}${rssRatio} |`);
}
if (activationRows.length) {
  console.log(`activation (installed VSIX, code-server): status item → "Colab: ready" median ${median(activationRows.map((a) => a.itemToReadyMs))} ms; ` +
    `Colab view opened (the activation event) → ready median ${median(activationRows.map((a) => a.openViewToReadyMs))} ms (${activationRows.length} fresh code-servers)`);
}
