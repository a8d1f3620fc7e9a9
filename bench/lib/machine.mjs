// What the figures were measured on.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';

function tryRun(command, args) {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

function osName() {
  if (existsSync('/etc/os-release')) {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (m) return `${m[1]} (kernel ${os.release()})`;
  }
  return `${os.type()} ${os.release()}`;
}

export function machine() {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  return {
    nproc: Number(tryRun('nproc', [])) || os.availableParallelism(),
    cpuModel: model,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: osName(),
    dotnetSdk: tryRun('dotnet', ['--version']),
    dotnetRuntime: /Microsoft\.NETCore\.App (\S+)/.exec(tryRun('dotnet', ['--list-runtimes']) ?? '')?.[1] ?? null,
    node: process.version,
    vscodeJsonrpc: JSON.parse(readFileSync(new URL('../../node_modules/vscode-jsonrpc/package.json', import.meta.url), 'utf8')).version,
  };
}

/** 1-minute load average: other work on the machine shows up here. */
export function load() {
  return Math.round(os.loadavg()[0] * 100) / 100;
}
