#!/usr/bin/env node
// Starts code-server (a real VS Code served on loopback) with the Colab extension installed.
// Shared by scripts/start.sh (the CLI below) and the end-to-end tests (tests/e2e/, which
// import the functions). Recipe and traps: shared/notes/vscode-e2e.md.
//
// CLI:  node scripts/code-server.mjs [--host 127.0.0.1] [--port 8080] [--state-dir DIR] [--workspace DIR]
//       Stays in the foreground; Ctrl+C (SIGINT) or SIGTERM stops code-server and everything it started.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const extensionDir = path.join(repoRoot, 'colab-vscode');
export const daemonPath = path.join(repoRoot, 'daemon', 'bin', 'Release', 'net10.0', 'colab');

/** Settings every profile gets: no trust dialog and no welcome page over the window. */
export const baseSettings = {
  'security.workspace.trust.enabled': false,
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  // Every kernel listens on five loopback ports: without this, code-server offers to forward
  // each of them and covers the window with "Over 20 ports have been automatically forwarded".
  'remote.autoForwardPorts': false,
};

export function toolsDir() {
  return process.env.COLAB_TOOLS_DIR || path.join(os.homedir(), '.cache', 'colab-vscode-tools');
}

/** code-server's entry script; throws (naming scripts/setup.sh) when it is not installed. */
export function codeServerEntry() {
  const dir = path.join(toolsDir(), 'code-server');
  const entry = path.join(dir, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
  if (!fs.existsSync(path.join(dir, '.ready')) || !fs.existsSync(entry)) {
    throw new Error(`code-server is not installed (looked for ${entry} and ${path.join(dir, '.ready')}). ` +
      'Run scripts/setup.sh (it installs code-server 4.100.3 there; COLAB_TOOLS_DIR moves it).');
  }
  return entry;
}

/** Writes D/User/settings.json: `settings` over what is there (kept when `keepExisting`). */
export function writeSettings(userDataDir, settings = baseSettings, { keepExisting = false } = {}) {
  const file = path.join(userDataDir, 'User', 'settings.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let current = {};
  if (keepExisting && fs.existsSync(file)) {
    try { current = JSON.parse(fs.readFileSync(file, 'utf8')); } catch { current = {}; }
  }
  // Existing values win when keeping a person's profile; our base only fills the gaps.
  const merged = keepExisting ? { ...settings, ...current } : { ...current, ...settings };
  fs.writeFileSync(file, JSON.stringify(merged, null, 2) + '\n');
  return file;
}

/**
 * Installs the extension folder into `extensionsDir` as a symlink named
 * `<publisher>.<name>-<version>` (code-server picks symlinked folders up; the extension
 * finds its daemon through realpath(extensionPath)). Stale links of other versions go.
 */
export function installExtension(extensionsDir, folder = extensionDir) {
  const pkg = JSON.parse(fs.readFileSync(path.join(folder, 'package.json'), 'utf8'));
  const id = `${pkg.publisher}.${pkg.name}`;
  const name = `${id}-${pkg.version}`;
  fs.mkdirSync(extensionsDir, { recursive: true });
  for (const entry of fs.readdirSync(extensionsDir)) {
    if (entry.startsWith(`${id}-`) && entry !== name) fs.rmSync(path.join(extensionsDir, entry), { recursive: true, force: true });
  }
  const link = path.join(extensionsDir, name);
  let existing;
  try { existing = fs.readlinkSync(link); } catch { existing = undefined; }
  if (existing !== path.resolve(folder)) {
    fs.rmSync(link, { recursive: true, force: true });
    fs.symlinkSync(path.resolve(folder), link, 'dir');
  }
  // VS Code keeps its own list of user extensions; a stale entry for another version of
  // ours would hide the link, so drop our entries and let it re-scan the folder.
  const manifest = path.join(extensionsDir, 'extensions.json');
  if (fs.existsSync(manifest)) {
    try {
      const list = JSON.parse(fs.readFileSync(manifest, 'utf8'));
      const kept = list.filter((e) => e?.identifier?.id?.toLowerCase() !== id.toLowerCase() || e?.relativeLocation === name);
      if (kept.length !== list.length) fs.writeFileSync(manifest, JSON.stringify(kept));
    } catch { fs.rmSync(manifest, { force: true }); }
  }
  return { id, version: pkg.version, link };
}

/** A free TCP port on `host` (the OS picks it). */
export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Whether something answers HTTP on host:port. */
export function isListening(host, port) {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: '/healthz', timeout: 1000 }, (res) => { res.resume(); resolve(true); });
    req.on('error', () => resolve(false));
    req.on('timeout', () => { req.destroy(); resolve(false); });
  });
}

/** Environment for code-server: without the variables that would make it reuse another instance or ask for a password. */
function cleanEnv(extra) {
  const env = { ...process.env };
  for (const k of ['VSCODE_IPC_HOOK_CLI', 'VSCODE_IPC_HOOK', 'PORT', 'PASSWORD', 'HASHED_PASSWORD', 'VSCODE_PROXY_URI',
    'CODE_SERVER_PARENT_PID', 'ELECTRON_RUN_AS_NODE']) delete env[k];
  return { ...env, ...extra };
}

/**
 * Starts code-server. Options: host, port, userDataDir, extensionsDir, workspace (folder to open),
 * env (extra variables), logFile (its output goes there; otherwise it is kept in memory, and
 * `echo: true` also copies it to this process's stderr), detached (own process group; default true).
 * Returns { child, pid, url, workspaceUrl, output(), ready(timeoutMs), stop() }.
 */
export function startCodeServer(opts) {
  const host = opts.host ?? '127.0.0.1';
  const { port, userDataDir, extensionsDir, workspace } = opts;
  const entry = codeServerEntry();
  fs.mkdirSync(userDataDir, { recursive: true });
  fs.mkdirSync(extensionsDir, { recursive: true });
  const args = [entry,
    '--config', path.join(userDataDir, 'code-server.yaml'),
    '--auth', 'none',
    '--bind-addr', `${host}:${port}`,
    '--user-data-dir', userDataDir,
    '--extensions-dir', extensionsDir,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--ignore-last-opened',
  ];
  if (workspace) args.push(workspace);
  const child = spawn(process.execPath, args, {
    cwd: workspace ?? repoRoot,
    env: cleanEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.detached ?? true,
  });
  let output = '';
  let logStream;
  if (opts.logFile) {
    fs.mkdirSync(path.dirname(opts.logFile), { recursive: true });
    logStream = fs.createWriteStream(opts.logFile, { flags: 'a' });
  }
  const onData = (chunk) => {
    const text = chunk.toString();
    output = (output + text).slice(-200_000);
    logStream?.write(text);
    if (opts.echo) process.stderr.write(text);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  let exited = null;
  const exitPromise = new Promise((resolve) => child.on('exit', (code, signal) => { exited = { code, signal }; logStream?.end(); resolve(exited); }));
  const url = `http://${host}:${port}/`;
  const workspaceUrl = workspace ? `${url}?folder=${encodeURIComponent(path.resolve(workspace)).replace(/%2F/g, '/')}` : url;
  return {
    child,
    pid: child.pid,
    url,
    workspaceUrl,
    output: () => output,
    exited: () => exited,
    exitPromise,
    /** Resolves once code-server answers HTTP; rejects with its output if it exits or the time runs out. */
    async ready(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (exited) throw new Error(`code-server exited (${JSON.stringify(exited)}) before it listened on ${url}. Its output:\n${output}`);
        if (await isListening(host, port)) return;
        await Promise.race([new Promise((r) => setTimeout(r, 200)), exitPromise]);
      }
      throw new Error(`code-server did not answer on ${url} within ${timeoutMs} ms. Its output:\n${output}`);
    },
    /**
     * Stops code-server and every process under it (extension host, the daemon). With
     * `graceMs`, code-server first gets SIGTERM and that long to exit on its own; whatever
     * of the tree (as it was before) is still there then is SIGKILLed.
     */
    async stop({ graceMs = 0 } = {}) {
      const before = processTree(child.pid);
      if (graceMs > 0 && !exited) {
        try { process.kill(child.pid, 'SIGTERM'); } catch { /* gone */ }
        await Promise.race([exitPromise, new Promise((r) => setTimeout(r, graceMs))]);
      }
      killTree(child.pid);
      for (const pid of before) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
      if (!exited) await Promise.race([exitPromise, new Promise((r) => setTimeout(r, 5000))]);
    },
  };
}

/** pid → parent pid for every process (Linux /proc). */
export function processTable() {
  const table = new Map();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name (field 2) is in parentheses and may hold spaces: parse after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(Number(entry), Number(fields[1]));
    } catch { /* gone meanwhile */ }
  }
  return table;
}

/** `rootPid` and all its descendants (Linux /proc). */
export function processTree(rootPid) {
  const table = processTable();
  const children = new Map();
  for (const [pid, ppid] of table) {
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push(pid);
  }
  const out = [];
  const stack = [rootPid];
  while (stack.length) {
    const pid = stack.pop();
    if (!table.has(pid) && pid !== rootPid) continue;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out.filter((pid) => table.has(pid));
}

/** The command line of a process ('' when it is gone). */
export function commandLine(pid) {
  try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' '); } catch { return ''; }
}

/** SIGKILLs `rootPid` and all its descendants, snapshotting the tree first so that orphans are not missed. */
export function killTree(rootPid, signal = 'SIGKILL') {
  const pids = processTree(rootPid);
  // Stop the tree from growing while it is being killed, then kill everything.
  for (const pid of pids) { try { process.kill(pid, 'SIGSTOP'); } catch { /* gone */ } }
  for (const pid of processTree(rootPid).concat(pids)) { try { process.kill(pid, signal); } catch { /* gone */ } }
  try { process.kill(-rootPid, signal); } catch { /* not a group leader, or gone */ }
  return pids;
}

// ---------------------------------------------------------------------------------------
// CLI (scripts/start.sh)

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    if (a === '--host') o.host = value();
    else if (a === '--port') o.port = Number(value());
    else if (a === '--state-dir') o.stateDir = value();
    else if (a === '--workspace') o.workspace = value();
    else if (a === '-h' || a === '--help') o.help = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.help) {
    console.log('usage: node scripts/code-server.mjs [--host 127.0.0.1] [--port 8080] [--state-dir DIR] [--workspace DIR]');
    return 0;
  }
  const host = o.host ?? process.env.COLAB_HOST ?? '127.0.0.1';
  const port = o.port ?? Number(process.env.COLAB_PORT || 8080);
  const stateDir = path.resolve(o.stateDir ?? process.env.COLAB_STATE_DIR ?? path.join(os.homedir(), '.local', 'share', 'colab-vscode-dev'));
  const workspace = path.resolve(o.workspace ?? process.env.COLAB_WORKSPACE ?? process.cwd());
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`bad port ${port}`);
  if (!fs.existsSync(workspace)) throw new Error(`workspace ${workspace} does not exist`);
  if (await isListening(host, port)) {
    throw new Error(`something already answers on http://${host}:${port}/ — stop it, or pick another port with COLAB_PORT=…`);
  }
  const userDataDir = path.join(stateDir, 'user-data');
  const extensionsDir = path.join(stateDir, 'extensions');
  writeSettings(userDataDir, baseSettings, { keepExisting: true });
  const ext = installExtension(extensionsDir);
  const server = startCodeServer({ host, port, userDataDir, extensionsDir, workspace, echo: true, detached: true });
  let stopping = false;
  const stop = async (why) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n[start] ${why}: stopping code-server (pid ${server.pid}) and everything it started\n`);
    await server.stop({ graceMs: 3000 });
    process.exit(0);
  };
  process.on('SIGINT', () => stop('Ctrl+C'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => stop('SIGHUP'));
  server.exitPromise.then((e) => {
    if (!stopping) {
      process.stderr.write(`[start] code-server exited (${JSON.stringify(e)})\n`);
      killTree(server.pid);
      process.exit(1);
    }
  });
  await server.ready(120_000);
  const line = '-'.repeat(72);
  process.stderr.write(`\n${line}\n` +
    `  Colab for VS Code is running in code-server (VS Code in the browser).\n` +
    `  Open: ${server.workspaceUrl}\n` +
    `  Extension ${ext.id} ${ext.version} linked from ${extensionDir}\n` +
    `  Profile and extensions: ${stateDir}\n` +
    `  Ctrl+C stops it.\n${line}\n\n`);
  // The URL on stdout as well, alone on its line, for scripts.
  process.stdout.write(`${server.workspaceUrl}\n`);
  return new Promise(() => { /* foreground until a signal */ });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => { process.stderr.write(`[start] ${e.message}\n`); process.exit(1); });
}
