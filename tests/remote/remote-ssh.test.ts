// Issue 8, the Remote-SSH shape for real: an OpenSSH server on loopback is "the GPU box".
// The daemon from the VSIX is copied to a folder on that side and driven over an SSH
// channel's stdio (`ssh root@127.0.0.1 … colab daemon --stdio`) by vscode-jsonrpc — what a
// workspace extension's daemon sees in a Remote-SSH window. On that side it starts a local
// Jupyter runtime, runs a cell, and reads the GPUs through a (fake) libnvidia-ml.
//
// The sshd is a child of the test (`sshd -D -e -f <temp config>`), with a throwaway host key,
// a key-only login for root from 127.0.0.1 and an authorized key generated here.
// It needs root (sshd's privilege separation) and openssh-server (scripts/setup.sh).
//
// Run: node scripts/build.mjs && node --test out/tests/remote/
import * as assert from 'node:assert/strict';
import { ChildProcess, ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as JsonRpcNode from '../../node_modules/vscode-jsonrpc/lib/node/main';
import type { ExecuteResult, GpuSnapshot, KernelOutputParams, RuntimeInfo, RuntimeKernelInfo } from '../../colab-vscode/src/protocol';
import { extractZipEntry, packagedVsix, repoRoot, target } from '../package/vsix';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const rpc: typeof JsonRpcNode = require('vscode-jsonrpc/node');

const sshd = '/usr/sbin/sshd';
const fakeGpuName = 'NVIDIA Remote Fake A100';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function sh(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Whether `pid` has `ancestor` above it (Linux /proc). */
function descendsFrom(pid: number, ancestor: number): boolean {
  for (let p = pid, hops = 0; p > 1 && hops < 64; hops++) {
    if (p === ancestor) return true;
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      p = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      return false;
    }
  }
  return false;
}

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2)[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('Remote-SSH shape: the packaged daemon on the far side of an SSH channel', { timeout: 15 * 60_000 }, () => {
  let dir = '';
  let port = 0;
  let server: ChildProcess | undefined;
  let serverLog = '';
  const sshBase = (): string[] => [
    '-p', String(port), '-i', path.join(dir, 'client_key'),
    '-o', `UserKnownHostsFile=${path.join(dir, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'ConnectTimeout=20', '-F', '/dev/null',
  ];

  before(async () => {
    assert.ok(fs.existsSync(sshd), `${sshd} is missing: install openssh-server (scripts/setup.sh does)`);
    assert.equal(process.getuid?.(), 0, 'the Remote-SSH test runs sshd, which needs root (privilege separation)');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'colab-remote-ssh-'));
    const keygen = (file: string) => {
      const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'colab-test', '-f', path.join(dir, file)], { encoding: 'utf8' });
      assert.equal(r.status, 0, `ssh-keygen ${file}: ${r.stderr}`);
    };
    keygen('host_key');
    keygen('client_key');
    keygen('stranger_key');
    fs.copyFileSync(path.join(dir, 'client_key.pub'), path.join(dir, 'authorized_keys'));
    fs.chmodSync(path.join(dir, 'authorized_keys'), 0o600);

    // "The remote": the daemon from the VSIX and a fake libnvidia-ml in a folder of their own.
    const remote = path.join(dir, 'remote');
    fs.mkdirSync(path.join(remote, 'lib'), { recursive: true });
    fs.mkdirSync(path.join(remote, 'work'), { recursive: true });
    const v = await packagedVsix();
    fs.writeFileSync(path.join(remote, 'colab'), extractZipEntry(v.vsix, `extension/daemon/${target}/colab`), { mode: 0o755 });
    const gcc = spawnSync('gcc', ['-shared', '-fPIC', '-O1', '-o', path.join(remote, 'lib', 'libnvidia-ml.so.1'),
      path.join(repoRoot, 'tests', 'fixtures', 'fake-nvml', 'fake_nvml.c')], { encoding: 'utf8' });
    assert.equal(gcc.status, 0, `gcc (fake NVML): ${gcc.stderr}`);

    port = await freePort();
    const config = [
      'ListenAddress 127.0.0.1',
      `Port ${port}`,
      `HostKey ${path.join(dir, 'host_key')}`,
      'PidFile none',
      'UsePAM no',
      // The temp folder sits under the world-writable /tmp, which StrictModes refuses.
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'AllowUsers root@127.0.0.1',
      'X11Forwarding no',
      'AllowTcpForwarding no',
      'AllowAgentForwarding no',
      'PermitTTY no',
      'PrintMotd no',
      'LogLevel VERBOSE',
    ].join('\n') + '\n';
    fs.writeFileSync(path.join(dir, 'sshd_config'), config);
    fs.writeFileSync(path.join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${fs.readFileSync(path.join(dir, 'host_key.pub'), 'utf8')}`);
    // sshd's privilege-separation folder (systemd makes it at boot; a container may not have it).
    fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    const check = spawnSync(sshd, ['-t', '-f', path.join(dir, 'sshd_config')], { encoding: 'utf8' });
    assert.equal(check.status, 0, `sshd -t: ${check.stderr}`);
    server = spawn(sshd, ['-D', '-e', '-f', path.join(dir, 'sshd_config')], { stdio: ['ignore', 'pipe', 'pipe'] });
    server.stderr!.on('data', (d: Buffer) => { serverLog += d.toString(); });
    server.stdout!.on('data', (d: Buffer) => { serverLog += d.toString(); });
    await until('sshd to listen', () => (/Server listening on 127\.0\.0\.1/.test(serverLog) ? true : server!.exitCode !== null ? (() => { throw new Error(`sshd exited: ${serverLog}`); })() : undefined), 30_000);
  });

  after(() => {
    if (server?.pid && server.exitCode === null) server.kill('SIGTERM');
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('sshd lets in only the authorized key: a stranger key is refused', () => {
    const ok = spawnSync('ssh', [...sshBase(), 'root@127.0.0.1', 'echo "$SSH_CONNECTION"'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(ok.status, 0, `ssh with the authorized key: ${ok.stderr}\nsshd: ${serverLog}`);
    assert.match(ok.stdout, new RegExp(`^127\\.0\\.0\\.1 \\d+ 127\\.0\\.0\\.1 ${port}$`, 'm'));
    const args = sshBase();
    args[args.indexOf(path.join(dir, 'client_key'))] = path.join(dir, 'stranger_key');
    const stranger = spawnSync('ssh', [...args, 'root@127.0.0.1', 'true'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(stranger.status, 255);
    assert.match(stranger.stderr, /Permission denied \(publickey\)/);
  });

  it('over ssh stdio: initialize, a local runtime on the remote side, a cell, the remote GPU (fake NVML), disconnect, shutdown and exit', { timeout: 10 * 60_000 }, async () => {
    const remote = path.join(dir, 'remote');
    const env: Record<string, string> = {
      COLAB_NVMLLIBRARY: path.join(remote, 'lib', 'libnvidia-ml.so.1'),
      FAKE_NVML_DEVICE_COUNT: '1',
      FAKE_NVML_GPU0_NAME: fakeGpuName,
      FAKE_NVML_GPU0_UTIL_GPU: '37',
    };
    // What VS Code Remote-SSH does, reduced: run the workspace extension's daemon on the host
    // over the SSH channel and speak the protocol on its stdin/stdout.
    const command = `cd ${sh(path.join(remote, 'work'))} && exec env ${Object.entries(env).map(([k, v]) => `${k}=${sh(v)}`).join(' ')} ${sh(path.join(remote, 'colab'))} daemon --stdio`;
    const ssh: ChildProcessWithoutNullStreams = spawn('ssh', [...sshBase(), 'root@127.0.0.1', command], { stdio: ['pipe', 'pipe', 'pipe'] });
    let log = '';
    ssh.stderr.on('data', (d: Buffer) => { log += d.toString(); });
    const exited = new Promise<number | null>((resolve) => ssh.on('exit', (code) => resolve(code)));
    const connection = rpc.createMessageConnection(new rpc.StreamMessageReader(ssh.stdout), new rpc.StreamMessageWriter(ssh.stdin));
    const outputs: KernelOutputParams[] = [];
    connection.onNotification('colab/kernel/output', (p: KernelOutputParams) => { outputs.push(p); });
    connection.onRequest('window/workDoneProgress/create', () => null);
    connection.onRequest('colab/kernel/input', () => ({ value: '' }));
    connection.listen();
    const why = () => `daemon log (over ssh stderr):\n${log.slice(-4000)}\nsshd:\n${serverLog.slice(-2000)}`;
    let runtimePid: number | undefined;
    try {
      const init = await connection.sendRequest<{ serverInfo?: { name: string; version?: string } }>('initialize', {
        processId: null, clientInfo: { name: 'colab-remote-ssh-test', version: '0.0.0' }, rootUri: null,
        capabilities: { window: { workDoneProgress: true } },
      });
      assert.ok(init.serverInfo?.name, `initialize answered without serverInfo: ${JSON.stringify(init)}`);
      await connection.sendNotification('initialized', {});

      // The daemon is on the far side of sshd: its parent chain leads to the sshd child, not to us.
      const daemonPid = await until('the daemon process under sshd', () => {
        for (const entry of fs.readdirSync('/proc')) {
          if (!/^\d+$/.test(entry)) continue;
          try {
            if (fs.realpathSync(`/proc/${entry}/exe`) === fs.realpathSync(path.join(remote, 'colab'))) return Number(entry);
          } catch { /* gone or not ours */ }
        }
        return undefined;
      }, 30_000);
      assert.ok(descendsFrom(daemonPid, server!.pid!), `the daemon (pid ${daemonPid}) does not run under sshd (pid ${server!.pid})`);
      assert.ok(!descendsFrom(daemonPid, ssh.pid!), 'the daemon is a child of the ssh client, not of the SSH server');

      const gpu = await connection.sendRequest<GpuSnapshot>('colab/gpu/snapshot');
      assert.equal(gpu.source, 'nvml', `GPU snapshot: ${JSON.stringify(gpu)}\n${why()}`);
      assert.equal(gpu.devices.length, 1);
      assert.equal(gpu.devices[0].name, fakeGpuName);
      assert.equal(gpu.devices[0].utilizationGpuPercent, 37);

      const runtime = await connection.sendRequest<RuntimeInfo>('colab/runtime/connect', { kind: 'local', root: path.join(remote, 'work') });
      assert.equal(runtime.kind, 'local');
      assert.equal(runtime.state, 'connected');
      assert.match(runtime.url, /^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d+/);
      assert.doesNotMatch(runtime.url, /token=/);
      runtimePid = runtime.processId;
      assert.ok(runtimePid, `the local runtime has no process id: ${JSON.stringify(runtime)}`);
      assert.ok(descendsFrom(runtimePid, daemonPid), `the Jupyter server (pid ${runtimePid}) is not the remote daemon's child`);

      const kernel = await connection.sendRequest<RuntimeKernelInfo>('colab/kernel/start', { runtimeId: runtime.id });
      const executionId = 'remote-1';
      const result = await connection.sendRequest<ExecuteResult>('colab/kernel/execute', {
        runtimeId: runtime.id, kernelId: kernel.id, executionId,
        code: 'import os\nprint("ssh:", os.environ.get("SSH_CONNECTION", "none").split()[0], os.getcwd())\n6 * 7',
      });
      assert.equal(result.status, 'ok', `execute: ${JSON.stringify(result)} outputs ${JSON.stringify(outputs)}`);
      const mine = outputs.filter((o) => o.executionId === executionId).map((o) => o.output);
      const stdout = mine.filter((o) => o.type === 'stream').map((o) => (o as { text: string }).text).join('');
      assert.match(stdout, /ssh: 127\.0\.0\.1 /, `the kernel does not run in the SSH session: ${JSON.stringify(mine)}`);
      const value = mine.find((o) => o.type === 'execute_result') as { data: Record<string, unknown> } | undefined;
      assert.equal(value?.data['text/plain'], '42');

      await connection.sendRequest('colab/runtime/disconnect', { runtimeId: runtime.id });
      await until(`the remote Jupyter server (pid ${runtimePid}) to stop after disconnect`, () => (alive(runtimePid!) ? undefined : true), 60_000);

      assert.equal(await connection.sendRequest('shutdown'), null);
      await connection.sendNotification('exit');
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running'), 30_000))]);
      assert.equal(code, 0, `ssh (the remote daemon) ended with ${code}\n${why()}`);
      assert.ok(!alive(daemonPid), `the remote daemon (pid ${daemonPid}) outlived exit`);
    } catch (e) {
      (e as Error).message += `\n${why()}`;
      throw e;
    } finally {
      connection.dispose();
      if (ssh.exitCode === null) ssh.kill('SIGKILL');
      if (runtimePid && alive(runtimePid)) try { process.kill(runtimePid, 'SIGKILL'); } catch { /* gone */ }
    }
  });
});
