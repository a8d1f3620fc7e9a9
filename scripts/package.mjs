#!/usr/bin/env node
// npm run package: one platform-specific VSIX per target, each with the extension bundled
// by esbuild into one file (vscode external) and the daemon published self-contained,
// trimmed and ReadyToRun for that platform (scripts/publish-daemon.sh), so that neither the
// user's machine nor a Remote-SSH host needs .NET.
//
// Usage: node scripts/package.mjs [--target T]... [--out DIR] [--daemon-dir DIR] [--keep-stage]
//   --target T       VS Code target: linux-x64 (default), linux-arm64, darwin-arm64, darwin-x64,
//                    win32-x64, win32-arm64, alpine-x64. Repeat for several.
//   --out DIR        where the .vsix files go (default .artifacts/vsix)
//   --daemon-dir DIR use an already published daemon (a folder holding colab / colab.exe)
//                    instead of publishing one; only with a single --target
//   --keep-stage     keep the staging folder (.artifacts/vsix-stage/<target>) for inspection
//
// The VSIX is assembled in a staging folder, never in colab-vscode/ itself: a daemon copied
// into colab-vscode/daemon/ would shadow the development build for `npm start` and the e2e
// tests. Inside the VSIX the daemon lies at extension/daemon/<platform>-<arch>/colab, the
// first place colab-vscode/src/daemon/locate.ts looks.
//
// Prints one line per VSIX on stdout: "<target> <path> <bytes>". Fails when a VSIX is over
// the size budget (30 MB) or holds a file it must not (checkVsixEntries below).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const extensionDir = path.join(repoRoot, 'colab-vscode');
/** Size budget per VSIX (issue 8). */
export const sizeBudgetBytes = 30 * 1000 * 1000;

/** VS Code target → .NET runtime identifier and the folder/executable the extension looks for. */
export const targets = {
  'linux-x64': { rid: 'linux-x64', dir: 'linux-x64', exe: 'colab' },
  'linux-arm64': { rid: 'linux-arm64', dir: 'linux-arm64', exe: 'colab' },
  'alpine-x64': { rid: 'linux-musl-x64', dir: 'linux-x64', exe: 'colab' },
  'darwin-x64': { rid: 'osx-x64', dir: 'darwin-x64', exe: 'colab' },
  'darwin-arm64': { rid: 'osx-arm64', dir: 'darwin-arm64', exe: 'colab' },
  'win32-x64': { rid: 'win-x64', dir: 'win32-x64', exe: 'colab.exe' },
  'win32-arm64': { rid: 'win-arm64', dir: 'win32-arm64', exe: 'colab.exe' },
};

/**
 * What a VSIX may hold besides the VSIX's own metadata: the manifest, README, changelog,
 * licence, the bundle, media and the one daemon executable. Anything else (sources, tests,
 * source maps, node_modules, keys, .env files, build output) fails the package.
 */
export function checkVsixEntries(entries, target) {
  const spec = targets[target];
  if (!spec) throw new Error(`unknown target ${target}`);
  const problems = [];
  const allowed = [
    /^\[Content_Types\]\.xml$/,
    /^extension\.vsixmanifest$/,
    /^extension\/package\.json$/,
    /^extension\/(readme|changelog|license)(\.md|\.txt)?$/i,
    /^extension\/dist\/extension\.js$/,
    /^extension\/media\/[\w./-]+\.(svg|png|md)$/,
    new RegExp(`^extension/daemon/${spec.dir}/${spec.exe.replace('.', '\\.')}$`),
    // The training helper and example the daemon runs with Python (daemon/Training/python).
    new RegExp(`^extension/daemon/${spec.dir}/Training/python/[\\w/]+\\.py$`),
    // The extractor the daemon runs on a remote runtime for "copy a dataset to the runtime" (daemon/Drive/python).
    new RegExp(`^extension/daemon/${spec.dir}/Drive/python/\\w+\\.py$`),
  ];
  const forbidden = [
    [/\.map$/, 'a source map'],
    [/(^|\/)node_modules\//, 'node_modules'],
    [/(^|\/)(src|tests?|out)\//, 'sources or tests'],
    [/\.(ts|tsx|cs|csproj|pdb|dbg)$/, 'a source or debug-symbol file'],
    [/(^|\/)(\.env[^/]*|id_(rsa|ed25519|ecdsa)[^/]*|[^/]*\.(pem|key|p12|pfx))$/i, 'a secret or key file'],
    [/(^|\/)\.(git|vscode)(\/|$)/, 'editor or VCS metadata'],
  ];
  for (const entry of entries) {
    const bad = forbidden.find(([re]) => re.test(entry));
    if (bad) problems.push(`${entry}: ${bad[1]}`);
    else if (!allowed.some((re) => re.test(entry))) problems.push(`${entry}: not an expected file`);
  }
  const daemon = `extension/daemon/${spec.dir}/${spec.exe}`;
  const trainingHelper = `extension/daemon/${spec.dir}/Training/python/colab_resume.py`;
  const driveExtractor = `extension/daemon/${spec.dir}/Drive/python/colab_extract.py`;
  for (const required of ['extension/package.json', 'extension/dist/extension.js', daemon, trainingHelper, driveExtractor]) {
    if (!entries.includes(required)) problems.push(`${required}: missing`);
  }
  return problems;
}

/** The file names in a zip (its central directory), without extracting anything. */
export function zipEntries(file) {
  const buf = fs.readFileSync(file);
  // End of central directory: signature 0x06054b50 within the last 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error(`${file} is not a zip file (no end-of-central-directory record)`);
  const count = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  const names = [];
  for (let n = 0; n < count; n++) {
    if (at + 46 > buf.length || buf.readUInt32LE(at) !== 0x02014b50) throw new Error(`${file}: broken central directory at entry ${n}`);
    const nameLength = buf.readUInt16LE(at + 28);
    const extraLength = buf.readUInt16LE(at + 30);
    const commentLength = buf.readUInt16LE(at + 32);
    names.push(buf.toString('utf8', at + 46, at + 46 + nameLength));
    at += 46 + nameLength + extraLength + commentLength;
  }
  return names;
}

function run(command, args, opts = {}) {
  process.stderr.write(`[package] ${command} ${args.join(' ')}\n`);
  const result = spawnSync(command, args, { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'], ...opts });
  if (result.error) throw new Error(`${command}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status}`);
}

/** Bundles the extension into `outfile`: one minified CommonJS file, vscode external, no source map. */
export async function bundleExtension(outfile) {
  const esbuild = await import('esbuild');
  await esbuild.build({
    absWorkingDir: repoRoot,
    entryPoints: ['colab-vscode/src/extension.ts'],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
  });
}

/** Publishes the daemon for a target into `dir` (scripts/publish-daemon.sh). */
export function publishDaemon(target, dir) {
  run('bash', [path.join(repoRoot, 'scripts', 'publish-daemon.sh'), targets[target].rid, '--out', dir]);
}

/** Assembles the staging folder for one target and runs vsce in it. Returns { vsix, bytes, entries }. */
export async function packageTarget(target, { outDir, daemonDir, keepStage = false } = {}) {
  const spec = targets[target];
  if (!spec) throw new Error(`unknown target "${target}"; known: ${Object.keys(targets).join(', ')}`);
  outDir = path.resolve(outDir ?? path.join(repoRoot, '.artifacts', 'vsix'));
  const stage = path.join(repoRoot, '.artifacts', 'vsix-stage', target);
  fs.rmSync(stage, { recursive: true, force: true });
  fs.mkdirSync(stage, { recursive: true });
  fs.mkdirSync(outDir, { recursive: true });

  // The manifest as it is, less what only the workspace needs.
  const manifest = JSON.parse(fs.readFileSync(path.join(extensionDir, 'package.json'), 'utf8'));
  delete manifest.devDependencies;
  delete manifest.scripts;
  // Bundled: nothing to install at run time.
  delete manifest.dependencies;
  fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  for (const file of ['README.md', 'CHANGELOG.md', 'LICENSE', 'LICENSE.md', '.vscodeignore']) {
    const from = path.join(extensionDir, file);
    if (fs.existsSync(from)) fs.copyFileSync(from, path.join(stage, file));
  }
  fs.cpSync(path.join(extensionDir, 'media'), path.join(stage, 'media'), { recursive: true });
  await bundleExtension(path.join(stage, 'dist', 'extension.js'));

  let daemonSource = daemonDir ? path.resolve(daemonDir) : path.join(repoRoot, '.artifacts', 'publish', spec.rid);
  if (!daemonDir) publishDaemon(target, daemonSource);
  const exe = path.join(daemonSource, spec.exe);
  if (!fs.existsSync(exe)) throw new Error(`no published daemon at ${exe}`);
  const daemonTarget = path.join(stage, 'daemon', spec.dir, spec.exe);
  fs.mkdirSync(path.dirname(daemonTarget), { recursive: true });
  // Only the single-file executable: the publish folder may also hold .pdb/.dbg files.
  fs.copyFileSync(exe, daemonTarget);
  fs.chmodSync(daemonTarget, 0o755);
  // The Python files the training supervisor runs live next to the executable (AppContext.BaseDirectory).
  const python = path.join(daemonSource, 'Training', 'python');
  if (!fs.existsSync(path.join(python, 'colab_resume.py'))) throw new Error(`no training helper at ${python}`);
  fs.cpSync(python, path.join(path.dirname(daemonTarget), 'Training', 'python'), {
    recursive: true,
    filter: (f) => fs.statSync(f).isDirectory() || f.endsWith('.py'),
  });
  // The extractor for a remote runtime's dataset copies (daemon/Drive/python), likewise.
  const driveExtractor = path.join(daemonSource, 'Drive', 'python', 'colab_extract.py');
  if (!fs.existsSync(driveExtractor)) throw new Error(`no Drive extractor at ${driveExtractor}`);
  fs.mkdirSync(path.join(path.dirname(daemonTarget), 'Drive', 'python'), { recursive: true });
  fs.copyFileSync(driveExtractor, path.join(path.dirname(daemonTarget), 'Drive', 'python', 'colab_extract.py'));

  const vsix = path.join(outDir, `${manifest.name}-${target}-${manifest.version}.vsix`);
  fs.rmSync(vsix, { force: true });
  const vsce = createRequire(path.join(repoRoot, 'package.json')).resolve('@vscode/vsce/vsce');
  run(process.execPath, [vsce, 'package', '--target', target, '--no-dependencies', '--allow-missing-repository',
    '--skip-license', '--out', vsix], { cwd: stage });
  if (!keepStage) fs.rmSync(stage, { recursive: true, force: true });

  const bytes = fs.statSync(vsix).size;
  const entries = zipEntries(vsix);
  const problems = checkVsixEntries(entries, target);
  if (bytes > sizeBudgetBytes) problems.push(`${path.basename(vsix)} is ${bytes} bytes, over the ${sizeBudgetBytes}-byte budget`);
  if (problems.length > 0) throw new Error(`${path.basename(vsix)} fails the package check:\n  ${problems.join('\n  ')}`);
  return { vsix, bytes, entries };
}

function parseArgs(argv) {
  const o = { targets: [], keepStage: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    if (a === '--target') o.targets.push(value());
    else if (a === '--out') o.outDir = value();
    else if (a === '--daemon-dir') o.daemonDir = value();
    else if (a === '--keep-stage') o.keepStage = true;
    else if (a === '-h' || a === '--help') o.help = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (o.targets.length === 0) o.targets.push('linux-x64');
  for (const t of o.targets) if (!targets[t]) throw new Error(`unknown target "${t}"; known: ${Object.keys(targets).join(', ')}`);
  if (o.daemonDir && o.targets.length > 1) throw new Error('--daemon-dir goes with a single --target');
  return o;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.help) {
    console.log('usage: node scripts/package.mjs [--target T]... [--out DIR] [--daemon-dir DIR] [--keep-stage]');
    return 0;
  }
  let failed = 0;
  for (const target of o.targets) {
    try {
      const { vsix, bytes } = await packageTarget(target, o);
      process.stdout.write(`${target} ${vsix} ${bytes}\n`);
    } catch (e) {
      failed++;
      process.stderr.write(`[package] ${target}: FAILED: ${e.message}\n`);
    }
  }
  return failed === 0 ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then((code) => process.exit(code), (e) => { process.stderr.write(`[package] ${e.message}\n`); process.exit(2); });
}
