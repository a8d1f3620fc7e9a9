// GitHub notebook open: time from request to notebook JSON ready for a 5 MB notebook
// served by a local GitHub stand-in (the Enterprise API layout on loopback).
//   ours:  colab/github/open over JSON-RPC to the built daemon (link parsing, ref lookup,
//          contents API fetch, nbformat check) and the client's JSON.parse of the answer, which
//          carries the notebook as embedded JSON (an older daemon sent it as a string: then the
//          string is parsed too) — what the extension has before it builds cells. Also split:
//          the time until the whole answer frame has arrived (daemon + pipe) and the parse.
//   peer:  curl fetching the same raw file (process start included, as a user would run it),
//          and curl's own time_total (transfer only) for a stricter comparison.
// Run: node scripts/build.mjs && node bench/github.mjs [--runs 21] [--warmup 5] [--dll path/to/colab.dll]
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { load, machine } from './lib/machine.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : fallback);
const runs = Math.max(15, arg('--runs', 21));
const warmups = arg('--warmup', 5);
// --dll <path>: another build of the daemon (e.g. the previous commit's, for a before/after in one sitting).
const dll = process.argv.includes('--dll') ? path.resolve(process.argv[process.argv.indexOf('--dll') + 1]) : path.join(root, 'daemon', 'bin', 'Release', 'net10.0', 'colab.dll');
if (!fs.existsSync(dll)) {
  console.error(`The daemon is not built (${dll}); run: node scripts/build.mjs`);
  process.exit(1);
}

// A 5 MB notebook: code cells with text outputs and a base64 image each, like a real one.
const cells = [];
const png = Buffer.alloc(12_000, 7).toString('base64');
let size = 0;
for (let i = 0; size < 5 * 1024 * 1024; i++) {
  cells.push({
    cell_type: 'code', execution_count: i, metadata: {}, source: [`x = ${i}\n`, 'print(x * 2)'],
    outputs: [
      { output_type: 'stream', name: 'stdout', text: [`${i * 2}\n`] },
      { output_type: 'display_data', data: { 'image/png': png, 'text/plain': ['<Figure>'] }, metadata: {} },
    ],
  });
  size += JSON.stringify(cells[cells.length - 1]).length;
}
const body = Buffer.from(JSON.stringify({ cells, metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } }, nbformat: 4, nbformat_minor: 5 }));

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/api/v3/repos/org/repo/contents/big.ipynb' || url.pathname === '/raw/big.ipynb') {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    return res.end(body);
  }
  if (url.pathname.startsWith('/api/v3/repos/org/repo/git/matching-refs/')) {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end('[]');
  }
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end('{"message":"Not Found"}');
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

// A minimal LSP-framed client that keeps a large answer's chunks in a list and joins them
// once (lib/raw-client.mjs re-concatenates per chunk, quadratic for a 5 MB answer).
const daemon = spawn('dotnet', [dll, 'daemon', '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, COLAB_LogLevel: 'Warning' } });
const waiting = new Map();
let chunks = [];
let have = 0;
let need = -1;
let firstByte = 0n; // when the current frame's header arrived
daemon.stdout.on('data', (chunk) => {
  chunks.push(chunk);
  have += chunk.length;
  for (;;) {
    if (need < 0) {
      const head = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, have);
      chunks = [head];
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      need = end + 4 + Number(/Content-Length: (\d+)/i.exec(head.toString('ascii', 0, end))[1]);
      firstByte = process.hrtime.bigint();
    }
    if (have < need) return; // keep the chunks; join once the body is complete
    const buf = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, have);
    const headerEnd = buf.indexOf('\r\n\r\n') + 4;
    const received = process.hrtime.bigint();
    const message = JSON.parse(buf.toString('utf8', headerEnd, need));
    message.received = received;
    message.firstByte = firstByte;
    const rest = buf.subarray(need);
    chunks = rest.length ? [rest] : [];
    have = rest.length;
    need = -1;
    if (message.id !== undefined && waiting.has(message.id)) {
      waiting.get(message.id)(message);
      waiting.delete(message.id);
    }
    if (!have) return;
  }
});
const send = (message) => {
  const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...message }));
  daemon.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
  daemon.stdin.write(body);
};
const client = {
  request: (id, method, params) => new Promise((resolve) => { waiting.set(id, resolve); send({ id, method, params }); }),
  close: async () => { await client.request(999999, 'shutdown'); send({ method: 'exit' }); await new Promise((r) => daemon.once('exit', r)); },
};
await client.request(1, 'initialize', { processId: process.pid, capabilities: {} });
send({ method: 'initialized', params: {} });

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

let id = 10;
const open = async () => {
  const t0 = process.hrtime.bigint();
  const answer = await client.request(id++, 'colab/github/open', { url: 'https://colab.research.google.com/github/org/repo/blob/main/big.ipynb', baseUrl: base });
  if (!answer.result) throw new Error(`open failed: ${JSON.stringify(answer.error)}`);
  const notebook = answer.result.notebook;
  const nb = typeof notebook === 'string' ? JSON.parse(notebook) : notebook;
  const t = ms(t0);
  if (nb.cells.length !== cells.length) throw new Error('wrong notebook');
  return { t, received: Number(answer.received - t0) / 1e6, firstByte: Number(answer.firstByte - t0) / 1e6 };
};
// Asynchronous: the stand-in runs in this process, so a synchronous spawn would starve it.
const curl = () => new Promise((resolve, reject) => {
  const t0 = process.hrtime.bigint();
  execFile('curl', ['-sS', '-o', '/dev/null', '-w', '%{time_total}', `${base}/raw/big.ipynb`], (error, stdout, stderr) => {
    const wall = ms(t0);
    if (error) return reject(new Error(`curl failed: ${stderr || error.message}`));
    resolve({ wall, transfer: Number(stdout) * 1000 });
  });
});

const loadBefore = load();
for (let i = 0; i < warmups; i++) { await open(); await curl(); } // warm-up: JIT, connection pool
const ours = [];
const oursReceived = [];
const oursFirstByte = [];
const peerWall = [];
const peerTransfer = [];
for (let i = 0; i < runs; i++) {
  const r = await open();
  ours.push(r.t);
  oursReceived.push(r.received);
  oursFirstByte.push(r.firstByte);
  const c = await curl();
  peerWall.push(c.wall);
  peerTransfer.push(c.transfer);
}
await client.close();
server.close();

const o = median(ours), w = median(peerWall), t = median(peerTransfer), rcv = median(oursReceived), first = median(oursFirstByte);
const m = machine();
const host = `${m.cpuModel}, ${m.nproc} CPUs, load (1 min) before ${loadBefore}, after ${load()}`;
console.log(`GitHub open, ${(body.length / 1024 / 1024).toFixed(1)} MB notebook (${cells.length} cells), ${runs} runs after ${warmups} warm-ups, medians — ${host}`);
console.log(`  colab/github/open + JSON.parse (ours)   ${o.toFixed(1)} ms   (answer's first byte at ${first.toFixed(1)} ms, complete at ${rcv.toFixed(1)} ms)`);
console.log(`  curl, process wall time (peer)          ${w.toFixed(1)} ms   ratio ${(o / w).toFixed(2)}x (target <= 1.5x)`);
console.log(`  curl, its own time_total (transfer)     ${t.toFixed(1)} ms   ratio ${(o / t).toFixed(2)}x`);
