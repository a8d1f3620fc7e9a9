#!/usr/bin/env node
// node bench/training.mjs [--rounds N] [--epochs N] [--runs N] [--steps-only]
//
// Training (issue 5), each against a named peer in the same run:
//   checkpoint save    colab_resume Run.save, asynchronous (default): the time the training loop is blocked
//                      (state copied to CPU memory) vs plain torch.save of the same state to a file   target <= 1.1x
//                      and its time-to-durable (until committed: serialized, sha256, fsynced, renamed,
//                      manifest committed) vs a durable hand-written save (torch.save to a temp file,
//                      fsync, rename, dir fsync); the synchronous mode against both
//   training loop      the same model's steps with a checkpoint every 10 steps: loop wall time with
//                      colab_resume (async, sync) vs torch.save / the durable hand-written save
//   resume             colab_resume (one chunked read, sha256 of each chunk overlapped with the next read and with
//                      torch.load) + apply vs torch.load + apply, with the files in the page cache and evicted   <= 1.1x
//   steps/s            the built-in example under the supervisor (colab train start --follow)
//                      vs the same script run bare with the same checkpoint dir and metrics file   target >= 0.98x
// Needs the daemon built (dotnet build ColabDaemon.sln -c Release) and Debian's python3-torch.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? Number(process.argv[i + 1]) : dflt; };
const rounds = arg('--rounds', 21), epochs = arg('--epochs', 10), runs = arg('--runs', 5), loops = arg('--loops', 5);
const python = process.env.COLAB_PYTHON || '/usr/bin/python3';
const colab = path.join(root, 'daemon', 'bin', 'Release', 'net10.0', 'colab');
const example = path.join(root, 'daemon', 'Training', 'python', 'examples', 'train_digits.py');

const stepsOnly = process.argv.includes('--steps-only');
const ck = stepsOnly ? null : JSON.parse(execFileSync(python, [path.join(root, 'bench', 'training_bench.py'), String(rounds), '64', String(loops)], { encoding: 'utf8' }));
const rate = (out) => { const m = /steps\/s ([0-9.]+)/.exec(out); if (!m) throw new Error(`no steps/s in: ${out.slice(-400)}`); return Number(m[1]); };
const bare = [], supervised = [], paired = [];
const runBare = () => {
  // The same work bare: a checkpoint directory and a metrics file, as the supervisor gives the worker
  // (colab_resume checkpoints every 20 steps and logs every step only when they are set), so the ratio
  // is the supervisor's own cost, not that of checkpoints the bare run would not write.
  const alone = mkdtempSync(path.join(os.tmpdir(), 'colab-bench-bare-'));
  const bareEnv = { ...process.env, COLAB_CHECKPOINT_DIR: path.join(alone, 'checkpoints'), COLAB_CHECKPOINT_KEEP: '3', COLAB_METRICS_FILE: path.join(alone, 'metrics.jsonl') };
  return rate(execFileSync(python, [example, '--epochs', String(epochs), '--device', 'cpu'], { encoding: 'utf8', env: bareEnv }));
};
const runSupervised = () => {
  const jobs = mkdtempSync(path.join(os.tmpdir(), 'colab-bench-jobs-'));
  return rate(execFileSync(colab, ['train', 'start', '--follow', '--', python, example, '--epochs', String(epochs), '--device', 'cpu'],
    { encoding: 'utf8', env: { ...process.env, COLAB_TRAINING_JOBS: jobs }, stdio: ['ignore', 'pipe', 'ignore'] }));
};
for (let i = 0; i < runs; i++) { // interleaved, ABBA: which side goes first alternates, so a drift of the machine favours neither
  let b, s;
  if (i % 2 === 0) { b = runBare(); s = runSupervised(); } else { s = runSupervised(); b = runBare(); }
  bare.push(b); supervised.push(s); paired.push(s / b);
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const f = (x) => x.toFixed(2);
if (!stepsOnly) {
const m = ck.median_ms, lm = ck.loop.median_ms;
console.log(`checkpoint payload ${(ck.bytes / 1e6).toFixed(2)} MB, ${ck.rounds} rounds, medians (load average ${ck.loadavg.toFixed(1)} on ${os.cpus().length} CPUs, torch ${ck.torch})`);
console.log(`  save, loop blocked   colab async ${f(m.async_block)} ms   torch.save ${f(m.plain_save)} ms   ratio ${f(ck.block_ratio)}x (target <= 1.1)`);
console.log(`  save, to durable     colab async ${f(m.async_durable)} ms   durable torch.save + fsync + rename + dir fsync ${f(m.durable_save)} ms   ratio ${f(ck.durable_ratio)}x`);
console.log(`  save, synchronous    colab sync ${f(m.sync_save)} ms   ratio ${f(ck.sync_ratio)}x vs torch.save, ${f(ck.sync_durable_ratio)}x vs durable`);
console.log(`  training loop        ${ck.loop.steps} steps, checkpoint every ${ck.loop.every}, ${ck.loop.rounds} rounds: colab async ${f(lm.async)} ms   torch.save ${f(lm['torch.save'])} ms   ratio ${f(lm.async / lm['torch.save'])}x`);
console.log(`                       colab sync ${f(lm.sync)} ms   durable hand-written ${f(lm.durable)} ms   no checkpoint ${f(lm.none)} ms`);
console.log(`  resume               colab ${f(m.ours_load)} ms   torch.load ${f(m.plain_load)} ms   ratio ${f(ck.load_ratio)}x (target <= 1.1)`);
console.log(`  resume, cold cache   colab ${f(m.ours_load_cold)} ms   torch.load ${f(m.plain_load_cold)} ms   ratio ${f(ck.load_cold_ratio)}x (target <= 1.1)`);
const b = ck.min_ms, br = ck.min_ratios;
console.log(`quietest round of each (min): loop blocked ${f(b.async_block)} vs torch.save ${f(b.plain_save)} ms (${f(br.block)}x); ` +
  `to durable ${f(b.async_durable)} vs ${f(b.durable_save)} ms (${f(br.durable)}x); resume ${f(b.ours_load)} vs ${f(b.plain_load)} ms (${f(br.load)}x); cold ${f(b.ours_load_cold)} vs ${f(b.plain_load_cold)} ms (${f(br.load_cold)}x)`);
}
if (runs === 0) process.exit(0);
console.log(`example ${epochs} epochs on CPU, ${runs} runs each, median steps/s`);
console.log(`  supervised ${f(median(supervised))}   bare ${f(median(bare))}   ratio ${f(median(supervised) / median(bare))}x (target >= 0.98)`);
const sorted = [...paired].sort((x, y) => x - y);
console.log(`  paired ratios (supervised / bare of the same pair): median ${f(median(paired))}x, min ${f(sorted[0])}x, max ${f(sorted[sorted.length - 1])}x; load average ${os.loadavg().map(f).join(' ')}`);
console.log(`  bare runs ${bare.map(f).join(' ')}`);
console.log(`  supervised runs ${supervised.map(f).join(' ')}`);
