// The one benchmark client, used unchanged against every server: it writes
// pre-serialised LSP frames to the child's stdin and reads responses by scanning
// Content-Length headers and the id digits only (no JSON.parse on the hot path), so the
// client stays far from being the bottleneck.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const HEADER_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = Buffer.from('content-length:');
// Both servers write a response as {"jsonrpc":"2.0","id":N,...}: the daemon's writer and
// vscode-jsonrpc's reply() build the object in that order.
const RESPONSE_PREFIX = Buffer.from('{"jsonrpc":"2.0","id":');

/** One framed JSON-RPC message as bytes. */
export function frame(message) {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, 'ascii'), body]);
}

/** `count` echo request frames with ids first..first+count-1, in one buffer plus offsets. */
export function echoFrames(first, count, params) {
  const parts = [];
  const offsets = new Uint32Array(count + 1);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const f = frame({ jsonrpc: '2.0', id: first + i, method: 'colab/diag/echo', params });
    parts.push(f);
    offsets[i] = at;
    at += f.length;
  }
  offsets[count] = at;
  return { buffer: Buffer.concat(parts, at), offsets };
}

export class RawClient {
  /**
   * Spawns `command args` with piped stdio. `onResponse(id)` is called for each response
   * with an integer id; anything else (notifications, server requests) goes to
   * `onOther(body)` after a full JSON.parse, which is off the hot path.
   */
  constructor(command, args, { env, cwd } = {}) {
    this.spawnedAt = process.hrtime.bigint();
    this.proc = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: env ?? process.env, cwd });
    this.stderr = '';
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (d) => {
      if (this.stderr.length < 64 * 1024) this.stderr += d;
    });
    this.proc.stdin.on('error', () => {});
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => resolve(code ?? signal));
      this.proc.once('error', (e) => {
        this.stderr += `${e.message}\n`;
        resolve(e.code ?? 'error');
      });
    });
    this.onResponse = () => {};
    this.onOther = () => {};
    /** Called after each chunk of stdout has been scanned (to refill a pipeline in one write). */
    this.onBatch = () => {};
    this.pending = null;
    this.received = 0;
    this.proc.stdout.on('data', (chunk) => this.#data(chunk));
  }

  get pid() {
    return this.proc.pid;
  }

  #data(chunk) {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    let pos = 0;
    for (;;) {
      const headerEnd = buf.indexOf(HEADER_END, pos);
      if (headerEnd < 0) break;
      const length = contentLength(buf, pos, headerEnd);
      const bodyStart = headerEnd + 4;
      if (buf.length - bodyStart < length) break;
      this.received++;
      if (buf.compare(RESPONSE_PREFIX, 0, RESPONSE_PREFIX.length, bodyStart, bodyStart + RESPONSE_PREFIX.length) === 0) {
        let id = 0;
        let i = bodyStart + RESPONSE_PREFIX.length;
        for (let c = buf[i]; c >= 0x30 && c <= 0x39; c = buf[++i]) id = id * 10 + (c - 0x30);
        this.onResponse(id, buf, bodyStart, length);
      } else {
        this.onOther(JSON.parse(buf.toString('utf8', bodyStart, bodyStart + length)));
      }
      pos = bodyStart + length;
    }
    this.pending = pos < buf.length ? buf.subarray(pos) : null;
    if (this.pending && this.pending.length > 1 << 20 && pos === 0) {
      // keep a copy so a huge partial body does not pin many chunks
      this.pending = Buffer.from(this.pending);
    }
    this.onBatch();
  }

  write(bytes) {
    return this.proc.stdin.write(bytes);
  }

  /** Sends one request and resolves with the parsed response body (not for the hot path). */
  request(id, method, params) {
    return new Promise((resolve, reject) => {
      const previous = this.onResponse;
      this.onResponse = (rid, buf, start, length) => {
        if (rid !== id) return previous(rid, buf, start, length);
        this.onResponse = previous;
        resolve(JSON.parse(buf.toString('utf8', start, start + length)));
      };
      this.exited.then((code) => reject(new Error(`server exited (${code}) before answering ${method}. stderr:\n${this.stderr}`)));
      this.write(frame({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) }));
    });
  }

  notify(method, params) {
    this.write(frame({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }) }));
  }

  /** shutdown + exit, then waits for the process to end (kills it after `graceMs`). */
  async close(graceMs = 5000) {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      try {
        await Promise.race([this.request(999_999_999, 'shutdown'), this.exited]);
        this.notify('exit');
        this.proc.stdin.end();
      } catch {
        // already gone
      }
    }
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  /**
   * CPU time the child has used so far, in ms: the sum of its live threads' on-CPU time
   * from /proc/<pid>/task/<tid>/schedstat (ns precision; Linux only). Unlike wall time it
   * barely moves when other processes compete for the cores.
   */
  cpuMs() {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${this.pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${this.pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // the thread ended between the listing and the read
      }
    }
    return ns / 1e6;
  }

  /** VmRSS and VmHWM of the child in KiB, from /proc (Linux only). */
  memory() {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kib = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM'), threads: Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? NaN) };
  }
}

const FAST = Buffer.from('Content-Length: ');

function contentLength(buf, start, end) {
  // Fast path: the header block is exactly "Content-Length: N" (what both servers write).
  if (buf.compare(FAST, 0, FAST.length, start, start + FAST.length) === 0) {
    let n = 0;
    let i = start + FAST.length;
    for (let c = buf[i]; c >= 0x30 && c <= 0x39; c = buf[++i]) n = n * 10 + (c - 0x30);
    if (i === end) return n;
  }
  // Header names are case-insensitive, and other headers may come first.
  const header = buf.toString('latin1', start, end).toLowerCase();
  const at = header.indexOf(CONTENT_LENGTH.toString('latin1'));
  if (at < 0) throw new Error(`frame without Content-Length: ${JSON.stringify(header)}`);
  return parseInt(header.slice(at + CONTENT_LENGTH.length), 10);
}
