// The three measurements, each driving one server through RawClient.
import { setTimeout as sleep } from 'node:timers/promises';
import { echoFrames, RawClient } from './raw-client.mjs';

/** ~50 bytes of JSON: the "small request" of the benchmarks. */
export const SMALL_PARAMS = { text: 'hello, colab', n: 12345, ok: true, list: [1, 2, 3] };

export const INITIALIZE_PARAMS = { processId: process.pid, clientInfo: { name: 'colab-bench' }, rootUri: null, capabilities: {} };

const ns = () => process.hrtime.bigint();

/** Starts a server and completes initialize + initialized. */
export async function startServer(server) {
  const client = new RawClient(server.command, server.args, { env: server.env });
  const init = await client.request(1, 'initialize', INITIALIZE_PARAMS);
  if (!init.result) throw new Error(`${server.name}: initialize failed: ${JSON.stringify(init)}\n${client.stderr}`);
  client.notify('initialized', {});
  return client;
}

/**
 * Sequential round trips of a small echo: `warmup` unmeasured, then `count` measured.
 * The next request is written from inside the response callback: no promise, no timer.
 */
export function latency(client, { warmup, count, firstId = 1_000 }) {
  const total = warmup + count;
  const { buffer, offsets } = echoFrames(firstId, total, SMALL_PARAMS);
  const samples = new Float64Array(count);
  return new Promise((resolve, reject) => {
    let i = 0;
    let sentAt = 0n;
    const send = () => {
      sentAt = ns();
      client.write(buffer.subarray(offsets[i], offsets[i + 1]));
    };
    client.exited.then((code) => reject(new Error(`server exited (${code}) during the latency run\n${client.stderr}`)));
    client.onResponse = (id) => {
      const now = ns();
      if (id !== firstId + i) {
        reject(new Error(`latency: expected id ${firstId + i}, got ${id}`));
        return;
      }
      if (i >= warmup) samples[i - warmup] = Number(now - sentAt) / 1000; // µs
      i++;
      if (i < total) send();
      else {
        client.onResponse = () => {};
        resolve(summarise(samples));
      }
    };
    send();
  });
}

/**
 * Pipelined small echoes: `count` requests with at most `window` in flight, refilled in
 * one write per chunk read. Returns requests per second over the measured part.
 */
export function throughput(client, { count, window, firstId = 10_000_000 }) {
  const { buffer, offsets } = echoFrames(firstId, count, SMALL_PARAMS);
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = 0;
    let t0 = 0n;
    const refill = () => {
      const upTo = Math.min(count, answered + window);
      if (upTo > sent) {
        client.write(buffer.subarray(offsets[sent], offsets[upTo]));
        sent = upTo;
      }
    };
    client.exited.then((code) => reject(new Error(`server exited (${code}) during the throughput run\n${client.stderr}`)));
    client.onResponse = () => {
      answered++;
    };
    client.onBatch = () => {
      if (answered >= count) {
        const seconds = Number(ns() - t0) / 1e9;
        client.onResponse = () => {};
        client.onBatch = () => {};
        resolve({ requests: count, window, seconds, perSecond: count / seconds });
        return;
      }
      refill();
    };
    t0 = ns();
    refill();
  });
}

/** Launch → initialize answered, in ms (wall) and CPU ms used by then; optionally the idle RSS 1 s after initialized. */
export async function coldStart(server, { measureMemory = false, idleMs = 1000 } = {}) {
  const client = new RawClient(server.command, server.args, { env: server.env });
  try {
    const answered = client.request(1, 'initialize', INITIALIZE_PARAMS);
    const response = await answered;
    const ms = Number(ns() - client.spawnedAt) / 1e6;
    const cpuMs = client.cpuMs();
    if (!response.result) throw new Error(`${server.name}: initialize failed: ${JSON.stringify(response)}`);
    let memory;
    if (measureMemory) {
      client.notify('initialized', {});
      await sleep(idleMs);
      memory = client.memory();
    }
    return { ms, cpuMs, memory };
  } finally {
    await client.close();
  }
}

export function summarise(samples) {
  const sorted = Float64Array.from(samples).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  let sum = 0;
  for (const s of sorted) sum += s;
  return { count: sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1], mean: sum / sorted.length };
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
