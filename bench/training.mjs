#!/usr/bin/env node
// node bench/training.mjs [--rounds N] [--epochs N] [--runs N]
//
// Training (issue 5), each against a named peer in the same run:
//   checkpoint save    colab_resume commit (torch.save to memory + sha256 + fsync + rename + manifest)
//                      vs plain torch.save of the same state to a file           target <= 1.1x
//   resume             colab_resume load_newest (read + verify sha256) + apply vs torch.load + apply   <= 1.1x
//   steps/s            the built-in example under the supervisor (colab train start --follow)
//                      vs the same script run bare                               target >= 0.98x
// Needs the daemon built (dotnet build ColabDaemon.sln -c Release) and Debian's python3-torch.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? Number(process.argv[i + 1]) : dflt; };
const rounds = arg('--rounds', 21), epochs = arg('--epochs', 10), runs = arg('--runs', 5);
const python = process.env.COLAB_PYTHON || '/usr/bin/python3';
const colab = path.join(root, 'daemon', 'bin', 'Release', 'net10.0', 'colab');
const example = path.join(root, 'daemon', 'Training', 'python', 'examples', 'train_digits.py');

const ck = JSON.parse(execFileSync(python, [path.join(root, 'bench', 'training_bench.py'), String(rounds)], { encoding: 'utf8' }));
const rate = (out) => { const m = /steps\/s ([0-9.]+)/.exec(out); if (!m) throw new Error(`no steps/s in: ${out.slice(-400)}`); return Number(m[1]); };
const bare = [], supervised = [];
for (let i = 0; i < runs; i++) { // interleaved
  bare.push(rate(execFileSync(python, [example, '--epochs', String(epochs), '--device', 'cpu'], { encoding: 'utf8' })));
  const jobs = mkdtempSync(path.join(os.tmpdir(), 'colab-bench-jobs-'));
  supervised.push(rate(execFileSync(colab, ['train', 'start', '--follow', '--', python, example, '--epochs', String(epochs), '--device', 'cpu'],
    { encoding: 'utf8', env: { ...process.env, COLAB_TRAINING_JOBS: jobs }, stdio: ['ignore', 'pipe', 'ignore'] })));
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const f = (x) => x.toFixed(2);
console.log(`checkpoint payload ${(ck.bytes / 1e6).toFixed(2)} MB, ${ck.rounds} rounds, medians (load average ${ck.loadavg.toFixed(1)} on ${os.cpus().length} CPUs)`.replace(/^checkpoint/, 'checkpoint'));
console.log(`  save    colab_resume ${f(ck.median_ms.ours_save)} ms   torch.save ${f(ck.median_ms.plain_save)} ms   ratio ${f(ck.save_ratio)}x (target <= 1.1)`);
console.log(`          vs torch.save + fsync + rename + dir fsync ${f(ck.median_ms.durable_save)} ms   ratio ${f(ck.durable_save_ratio)}x`);
console.log(`  resume  colab_resume ${f(ck.median_ms.ours_load)} ms   torch.load ${f(ck.median_ms.plain_load)} ms   ratio ${f(ck.load_ratio)}x (target <= 1.1)`);
console.log(`example ${epochs} epochs on CPU, ${runs} runs each, median steps/s`);
console.log(`  supervised ${f(median(supervised))}   bare ${f(median(bare))}   ratio ${f(median(supervised) / median(bare))}x (target >= 0.98)`);
