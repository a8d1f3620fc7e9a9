#!/usr/bin/env node
// Drive benchmarks: `node bench/drive.mjs [--mb 256] [--items 50000] [--files 10000] [--rounds 3]`.
// Two colab sides where a peer is compared: "cli" is a fresh `colab drive …` process per run
// (process start + JIT included); "daemon" is one warm `colab daemon` over JSON-RPC on stdio
// (colab/drive/get|put|copyToRuntime with a workDoneToken), which is the path the extension takes.
// 1. Download and upload of one large file through the Drive v3 stand-in: `colab drive get|put --api`
//    (ranged download + sha256 verification, the stand-in gives sha256Checksum as Drive does; resumable
//    upload in 8 MiB chunks + sha256) vs curl on the same endpoints (one plain GET; one PUT of the whole
//    file, streamed with -T, to a resumable session; no checksum). The download also runs, warm daemon
//    only, on an "old" file that has only md5Checksum (verified with md5), for the md5/sha256 comparison.
//    Sides alternate within each round; per-round times go to stderr, the table has best and median.
// 2. Listing a 50,000-item folder: time to the first page and to all items (`colab drive ls --api`).
// 3. Dataset to runtime: `colab drive cp-to-runtime` of a 10,000-file zip from a mounted folder
//    (copy to local disk + md5 + safe extraction) vs Info-ZIP `unzip -q` of the same archive.
// `--only download,zip` runs just those cases (download, upload, list, zip).
// Needs the built daemon (node scripts/build.mjs or dotnet build -c Release).
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { INITIALIZE_PARAMS } from './lib/measure.mjs';
import { RawClient } from './lib/raw-client.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? Number(process.argv[i + 1]) : dflt; };
const MB = arg('--mb', 256);
const ITEMS = arg('--items', 50000);
const FILES = arg('--files', 10000);
const ROUNDS = arg('--rounds', 3);
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt > 0 ? new Set(process.argv[onlyAt + 1].split(',')) : null;
const want = (name) => only === null || only.has(name);
// COLAB_BIN: another build of colab (e.g. the previous commit's, for before/after figures).
const colab = process.env.COLAB_BIN ?? ['Release', 'Debug'].map((c) => path.join(root, 'daemon', 'bin', c, 'net10.0', 'colab')).find((p) => fs.existsSync(p));
if (!colab) { console.error('Build the daemon first (dotnet build ColabDaemon.sln -c Release).'); process.exit(2); }
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'colab-drive-bench-'));

function startStandIn() {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(root, 'tests', 'standins', 'drive-standin.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
    p.stdout.once('data', (d) => resolve({ p, base: `http://127.0.0.1:${String(d).trim().split(' ')[1]}/` }));
    p.on('error', reject);
  });
}

function run(cmd, args, env = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let first = null;
    let out = '';
    const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.on('data', (d) => { if (first === null) first = Number(process.hrtime.bigint() - t0) / 1e6; out += d.length < 4096 ? d : ''; });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`));
      else resolve({ ms, first, out });
    });
  });
}

// CPU seconds (user + sys) from /proc: a running process's own, and this process's reaped children
// (each `colab drive` CLI run and each curl). On a loaded machine CPU time is steadier than wall time.
const TICK = 100; // USER_HZ on Linux
const statFields = (file) => { const s = fs.readFileSync(file, 'utf8'); return s.slice(s.lastIndexOf(')') + 2).split(' '); };
const cpuOf = (pid) => { const f = statFields(`/proc/${pid}/stat`); return (Number(f[11]) + Number(f[12])) / TICK; };
const childrenCpu = () => { const f = statFields('/proc/self/stat'); return (Number(f[13]) + Number(f[14])) / TICK; };
const withCpu = async (pid, f) => {
  const c0 = pid === null ? childrenCpu() : cpuOf(pid);
  const r = await f();
  return { ms: r.ms ?? r, cpu: (pid === null ? childrenCpu() : cpuOf(pid)) - c0, standin: null };
};

const best = async (n, f) => { let b = Infinity; for (let i = 0; i < n; i++) b = Math.min(b, (await f()).ms); return b; };
// One warm daemon for the "daemon" side: the extension's path (no process start, JIT done by the warm-up).
const daemon = new RawClient(colab, ['daemon'], { env: { ...process.env, COLAB_LOG_LEVEL: 'warning' } });
let nextId = 1;
const call = async (method, params) => {
  const t0 = process.hrtime.bigint();
  const r = await daemon.request(nextId++, method, { ...params, workDoneToken: `bench-${nextId}` });
  if (r.error) throw new Error(`${method}: ${JSON.stringify(r.error)}`);
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, result: r.result };
};
{
  const init = await daemon.request(nextId++, 'initialize', INITIALIZE_PARAMS);
  if (!init.result) throw new Error(`daemon initialize failed: ${JSON.stringify(init)}\n${daemon.stderr}`);
  daemon.notify('initialized', {});
}
const loads = [os.loadavg()[0]];
const post = (base, p, body) => fetch(base + p, { method: 'POST', body: JSON.stringify(body) }).then((r) => r.json());
const env = (base) => ({ COLAB_DRIVE_TOKEN: 'test-token' });
const rows = [];
const medians = [];
const cpuRows = [];
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const { p: standin, base } = await startStandIn();
try {
  // 1. Large file.
  const [file, oldFile] = await post(base, '__control/files', [{ name: 'big.bin', size: MB * 1024 * 1024 },
    ...(want('download') ? [{ name: 'big-old.bin', size: MB * 1024 * 1024, legacy: true }] : [])]);
  const dl = path.join(work, 'dl.bin');
  if (want('download') || want('upload')) await run(colab, ['drive', 'get', '--api', '--api-url', base, file.id, dl], env(base));
  if (want('download')) {
    await call('colab/drive/use', { kind: 'api', accessToken: 'test-token', baseUrl: base });
    await call('colab/drive/get', { id: file.id, localPath: dl }); // warm-up
    await call('colab/drive/get', { id: oldFile.id, localPath: dl });
    // Alternating sides each round: a loaded machine's noise falls on all of them.
    const t = { cli: [], sha: [], md5: [], curl: [] };
    const daemonGet = async (id, want) => {
      const r = await call('colab/drive/get', { id, localPath: dl });
      if (!r.result.verified || r.result.verifiedWith !== want) throw new Error(`download not verified with ${want}: ${JSON.stringify(r.result)}`);
      return r.ms;
    };
    // Each sample: wall ms, the side's own CPU s, and the stand-in's CPU s while it served that side.
    // Every side writes a new file: the previous one is removed first, outside the timing (curl -o
    // would otherwise truncate its old file in the timed run, and colab's rename would unlink its old one).
    const sample = async (pid, f) => { fs.rmSync(dl, { force: true }); fs.rmSync(path.join(work, 'curl.bin'), { force: true }); const s0 = cpuOf(standin.pid); const r = await withCpu(pid, f); r.standin = cpuOf(standin.pid) - s0; return r; };
    const fmt = (x) => `${x.ms.toFixed(0)} ms / ${x.cpu.toFixed(2)} s cpu (stand-in ${x.standin.toFixed(2)} s)`;
    for (let i = 0; i < ROUNDS; i++) {
      t.cli.push(await sample(null, () => run(colab, ['drive', 'get', '--api', '--api-url', base, file.id, dl], env(base))));
      t.sha.push(await sample(daemon.proc.pid, () => daemonGet(file.id, 'sha256')));
      t.curl.push(await sample(null, () => run('curl', ['-sf', '-H', 'Authorization: Bearer test-token', '-o', path.join(work, 'curl.bin'), `${base}drive/v3/files/${file.id}?alt=media`])));
      t.md5.push(await sample(daemon.proc.pid, () => daemonGet(oldFile.id, 'md5')));
      loads.push(os.loadavg()[0]);
      console.error(`download round ${i + 1}: cli ${fmt(t.cli[i])}; daemon sha256 ${fmt(t.sha[i])}; curl ${fmt(t.curl[i])}; daemon md5 (old file) ${fmt(t.md5[i])}; load ${os.loadavg()[0].toFixed(1)}`);
    }
    const ms = (xs) => xs.map((x) => x.ms);
    const cpu = (xs) => xs.map((x) => x.cpu);
    rows.push([`download ${MB} MB (sha256-verified)`, Math.min(...ms(t.cli)), Math.min(...ms(t.sha)), Math.min(...ms(t.curl))]);
    rows.push([`download ${MB} MB, old file (md5-verified)`, null, Math.min(...ms(t.md5)), Math.min(...ms(t.curl))]);
    medians.push([`download ${MB} MB (sha256-verified)`, median(ms(t.cli)), median(ms(t.sha)), median(ms(t.curl))]);
    medians.push([`download ${MB} MB, old file (md5-verified)`, null, median(ms(t.md5)), median(ms(t.curl))]);
    cpuRows.push([`download ${MB} MB (sha256-verified)`, median(cpu(t.cli)), median(cpu(t.sha)), median(cpu(t.curl))]);
    cpuRows.push([`download ${MB} MB, old file (md5-verified)`, null, median(cpu(t.md5)), median(cpu(t.curl))]);
  }

  if (want('upload')) {
    await call('colab/drive/use', { kind: 'api', accessToken: 'test-token', baseUrl: base });
    await call('colab/drive/put', { localPath: dl, parentId: 'root' }); // warm-up
    const curlPut = async () => {
      const r = await fetch(`${base}upload/drive/v3/files?uploadType=resumable`, { method: 'POST', headers: { Authorization: 'Bearer test-token', 'Content-Type': 'application/json' }, body: '{"name":"curl.bin"}' });
      const loc = r.headers.get('location');
      const size = fs.statSync(dl).size;
      return run('curl', ['-sf', '-X', 'PUT', '-T', dl, '-H', `Content-Range: bytes 0-${size - 1}/${size}`, '-H', 'Expect:', '-o', '/dev/null', loc]);
    };
    let colabPut = Infinity, daemonPut = Infinity, peerPut = Infinity;
    for (let i = 0; i < ROUNDS; i++) {
      colabPut = Math.min(colabPut, (await run(colab, ['drive', 'put', '--api', '--api-url', base, dl, 'root'], env(base))).ms);
      daemonPut = Math.min(daemonPut, (await call('colab/drive/put', { localPath: dl, parentId: 'root' })).ms);
      peerPut = Math.min(peerPut, (await curlPut()).ms);
      loads.push(os.loadavg()[0]);
      await post(base, '__control/reset', {}); // the uploads would pile up in the stand-in's memory
    }
    rows.push([`upload ${MB} MB`, colabPut, daemonPut, peerPut]);
  }
  fs.rmSync(dl, { force: true });
  await post(base, '__control/reset', {});

  // 2. Listing.
  if (want('list')) {
  const [folder] = await post(base, '__control/files', { name: 'huge', mimeType: 'application/vnd.google-apps.folder' });
  await post(base, '__control/bulk', { parent: folder.id, count: ITEMS });
  const ls = await run(colab, ['drive', 'ls', '--api', '--api-url', base, '--json', folder.id], env(base));
  const lines = Number(execFileSync('sh', ['-c', `"${colab}" drive ls --api --api-url ${base} ${folder.id} | wc -l`], { env: { ...process.env, ...env(base) } }).toString().trim());
  if (lines !== ITEMS) throw new Error(`listing gave ${lines} items, expected ${ITEMS}`);
  rows.push([`list ${ITEMS} items: first page`, ls.first, null, null]);
  rows.push([`list ${ITEMS} items: all`, ls.ms, null, null]);
  }
} finally {
  standin.kill();
}

// 3. Zip of FILES small files, extracted by cp-to-runtime vs unzip.
if (want('zip')) {
const src = path.join(work, 'src');
fs.mkdirSync(path.join(src, 'ds'), { recursive: true });
for (let i = 0; i < FILES; i++) {
  const d = path.join(src, 'ds', `c${i % 100}`);
  if (i < 100) fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, `img${i}.txt`), `sample ${i} `.repeat(20 + (i % 50)));
}
const mount = path.join(work, 'mnt');
fs.mkdirSync(mount);
execFileSync('zip', ['-qr', path.join(mount, 'ds.zip'), 'ds'], { cwd: src });
let n = 0;
await call('colab/drive/use', { kind: 'folder', path: mount });
await call('colab/drive/copyToRuntime', { id: 'ds.zip', target: path.join(work, `x${n++}`) }); // warm-up
let colabX = Infinity, daemonX = Infinity, unzipX = Infinity;
for (let i = 0; i < ROUNDS; i++) {
  // Alternating sides, best of 3 each; every run extracts into a fresh folder.
  colabX = Math.min(colabX, (await run(colab, ['drive', 'cp-to-runtime', '--folder', mount, 'ds.zip', path.join(work, `x${n++}`)])).ms);
  daemonX = Math.min(daemonX, (await call('colab/drive/copyToRuntime', { id: 'ds.zip', target: path.join(work, `x${n++}`) })).ms);
  unzipX = Math.min(unzipX, (await run('unzip', ['-q', '-o', path.join(mount, 'ds.zip'), '-d', path.join(work, `u${n++}`)])).ms);
  loads.push(os.loadavg()[0]);
}
rows.push([`zip of ${FILES} files to runtime`, colabX, daemonX, unzipX]);
const skip = await run(colab, ['drive', 'cp-to-runtime', '--folder', mount, 'ds.zip', path.join(work, 'x0')]);
const skipD = await call('colab/drive/copyToRuntime', { id: 'ds.zip', target: path.join(work, 'x0') });
if (!skip.out.includes('already holds') || !skipD.result.skipped) throw new Error('the second copy of the same zip was not skipped');
rows.push([`same zip again (already complete)`, skip.ms, skipD.ms, null]);
}
await daemon.close();
fs.rmSync(work, { recursive: true, force: true });

loads.push(os.loadavg()[0]);
const f0 = (x) => (x === null ? '—' : x.toFixed(0));
const ratio = (peer, ours) => (peer === null || ours === null ? '—' : (peer / ours).toFixed(2) + '×');
console.log(`\nDrive benchmarks (${os.cpus().length} CPUs; best of ${ROUNDS} where a peer is compared; 1-min load ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)})\n`);
console.log('| case | colab cli (ms) | colab daemon, warm (ms) | peer (ms) | peer/cli | peer/daemon |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const [name, cli, dmn, peer] of rows) console.log(`| ${name} | ${f0(cli)} | ${f0(dmn)} | ${f0(peer)} | ${ratio(peer, cli)} | ${ratio(peer, dmn)} |`);
if (medians.length) {
  console.log(`\nMedians of ${ROUNDS} rounds:\n`);
  console.log('| case | colab cli (ms) | colab daemon, warm (ms) | peer (ms) | peer/cli | peer/daemon |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const [name, cli, dmn, peer] of medians) console.log(`| ${name} | ${f0(cli)} | ${f0(dmn)} | ${f0(peer)} | ${ratio(peer, cli)} | ${ratio(peer, dmn)} |`);
}
if (cpuRows.length) {
  const f2 = (x) => (x === null ? '—' : x.toFixed(2));
  console.log(`\nCPU seconds (user + sys) of each side's own process, medians of ${ROUNDS} rounds:\n`);
  console.log('| case | colab cli (s) | colab daemon, warm (s) | peer (s) | peer/cli | peer/daemon |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const [name, cli, dmn, peer] of cpuRows) console.log(`| ${name} | ${f2(cli)} | ${f2(dmn)} | ${f2(peer)} | ${ratio(peer, cli)} | ${ratio(peer, dmn)} |`);
}
