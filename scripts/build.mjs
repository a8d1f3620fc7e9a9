#!/usr/bin/env node
// npm run build: the daemon (dotnet build, Release), the extension bundle
// (esbuild → colab-vscode/dist/extension.js), the extension type check, and the
// compiled tests (out/). Usage: node scripts/build.mjs [--no-daemon]
// Exits non-zero, naming the step, when any step fails.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const unknown = [...args].filter((a) => a !== '--no-daemon');
if (unknown.length > 0) {
  console.error(`build: unknown argument(s) ${unknown.join(' ')}. Usage: node scripts/build.mjs [--no-daemon]`);
  process.exit(2);
}

const failed = [];

function step(name, fn) {
  const started = Date.now();
  process.stderr.write(`[build] ${name}\n`);
  try {
    const ok = fn();
    if (ok === false) {
      failed.push(name);
      process.stderr.write(`[build] FAILED: ${name}\n`);
    } else {
      process.stderr.write(`[build] ok: ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
    }
  } catch (error) {
    failed.push(name);
    process.stderr.write(`[build] FAILED: ${name}: ${error?.message ?? error}\n`);
  }
}

function run(command, commandArgs) {
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: 'inherit' });
  if (result.error) {
    throw new Error(`${command}: ${result.error.message}`);
  }
  return result.status === 0;
}

// The workspace's own TypeScript, run with this node (quicker and quieter than npx).
const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');

if (!args.has('--no-daemon')) {
  step('daemon: dotnet build ColabDaemon.sln -c Release', () =>
    run('dotnet', ['build', 'ColabDaemon.sln', '-c', 'Release', '-nologo', '-v', 'q']),
  );
}

await (async () => {
  const name = 'extension: esbuild colab-vscode/src/extension.ts → colab-vscode/dist/extension.js';
  process.stderr.write(`[build] ${name}\n`);
  try {
    const esbuild = await import('esbuild');
    await esbuild.build({
      absWorkingDir: root,
      entryPoints: ['colab-vscode/src/extension.ts'],
      outfile: 'colab-vscode/dist/extension.js',
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      external: ['vscode'],
      sourcemap: 'linked',
      logLevel: 'warning',
    });
    process.stderr.write(`[build] ok: ${name}\n`);
  } catch (error) {
    failed.push(name);
    process.stderr.write(`[build] FAILED: ${name}: ${error?.message ?? error}\n`);
  }
})();

step('extension: type check (tsc -p colab-vscode)', () => run(process.execPath, [tsc, '-p', 'colab-vscode']));
step('tests: compile (tsc -p tests)', () => run(process.execPath, [tsc, '-p', 'tests']));

if (failed.length > 0) {
  process.stderr.write(`[build] ${failed.length} step(s) failed:\n${failed.map((f) => `  - ${f}`).join('\n')}\n`);
  process.exit(1);
}
process.stderr.write('[build] done\n');
