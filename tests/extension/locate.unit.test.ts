import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { locateDaemon } from '../../colab-vscode/src/daemon/locate';

// A temp "repository": <root>/colab-vscode is the extension, <root>/daemon/bin/... the dev build.
let root: string;
let extensionPath: string;

beforeEach(() => {
  root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'colab-locate-')));
  extensionPath = path.join(root, 'colab-vscode');
  fs.mkdirSync(extensionPath);
});

afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

function file(relative: string, mode = 0o755): string {
  const full = path.join(root, relative);
  fs.mkdirSync(path.dirname(full), { recursive: true });
  fs.writeFileSync(full, '');
  fs.chmodSync(full, mode);
  return full;
}

const linux = { platform: 'linux' as const, arch: 'x64' };

test('with no daemon anywhere, locating fails and names the platform and every path tried', () => {
  const result = locateDaemon({ extensionPath, ...linux });
  assert.equal(result.ok, false);
  const expected = [
    path.join(extensionPath, 'daemon/linux-x64/colab'),
    path.join(root, 'daemon/bin/Release/net10.0/colab'),
    path.join(root, 'daemon/bin/Release/net10.0/colab.dll'),
    path.join(root, 'daemon/bin/Debug/net10.0/colab'),
    path.join(root, 'daemon/bin/Debug/net10.0/colab.dll'),
  ];
  assert.deepEqual(
    result.tried.map((t) => t.replace(/ \(.*\)$/, '')),
    expected,
  );
  if (!result.ok) {
    assert.match(result.reason, /^No Colab daemon found for linux-x64\./);
    for (const p of expected) assert.ok(result.reason.includes(p), `reason names ${p}`);
    assert.match(result.reason, /colab\.daemon\.path/);
  }
});

test('the development build is used when nothing else exists: the Release apphost first', () => {
  file('daemon/bin/Release/net10.0/colab.dll', 0o644);
  file('daemon/bin/Debug/net10.0/colab');
  const apphost = file('daemon/bin/Release/net10.0/colab');
  const result = locateDaemon({ extensionPath, ...linux });
  assert.ok(result.ok);
  assert.deepEqual(result.daemon, { path: apphost, command: apphost, args: [], source: 'development' });
});

test('a colab.dll is run with dotnet, and Release wins over Debug', () => {
  const dll = file('daemon/bin/Release/net10.0/colab.dll', 0o644);
  file('daemon/bin/Debug/net10.0/colab');
  const result = locateDaemon({ extensionPath, ...linux });
  assert.ok(result.ok);
  assert.deepEqual(result.daemon, { path: dll, command: 'dotnet', args: [dll], source: 'development' });
});

test('the bundled daemon for this platform wins over the development build', () => {
  file('daemon/bin/Release/net10.0/colab');
  file('colab-vscode/daemon/linux-arm64/colab');
  const bundled = file('colab-vscode/daemon/linux-x64/colab');
  const result = locateDaemon({ extensionPath, ...linux });
  assert.ok(result.ok);
  assert.equal(result.daemon.path, bundled);
  assert.equal(result.daemon.source, 'bundled');
});

test('the colab.daemon.path setting wins over COLAB_DAEMON_PATH, which wins over the bundled daemon', () => {
  file('colab-vscode/daemon/linux-x64/colab');
  const fromSetting = file('custom/setting/colab');
  const fromEnvironment = file('custom/env/colab.dll', 0o644);

  const both = locateDaemon({ extensionPath, settingPath: fromSetting, environmentPath: fromEnvironment, ...linux });
  assert.ok(both.ok);
  assert.deepEqual(both.daemon, { path: fromSetting, command: fromSetting, args: [], source: 'setting' });

  const env = locateDaemon({ extensionPath, settingPath: '  ', environmentPath: fromEnvironment, ...linux });
  assert.ok(env.ok);
  assert.deepEqual(env.daemon, { path: fromEnvironment, command: 'dotnet', args: [fromEnvironment], source: 'environment' });
});

test('a colab.daemon.path that names a missing file fails with that path instead of starting another daemon', () => {
  file('colab-vscode/daemon/linux-x64/colab');
  const missing = path.join(root, 'nowhere/colab');
  const result = locateDaemon({ extensionPath, settingPath: missing, ...linux });
  assert.equal(result.ok, false);
  if (!result.ok) {
    assert.equal(
      result.reason,
      `colab.daemon.path is set to "${missing}", which is missing. Fix or clear the setting to use the bundled or development daemon.`,
    );
    assert.deepEqual(result.tried, [`${missing} (colab.daemon.path: missing)`]);
  }
});

test('an apphost without the executable bit is skipped for colab.dll, and the list says why', { skip: process.platform === 'win32' }, () => {
  const apphost = file('daemon/bin/Release/net10.0/colab', 0o644);
  const dll = file('daemon/bin/Release/net10.0/colab.dll', 0o644);
  const result = locateDaemon({ extensionPath, ...linux });
  assert.ok(result.ok);
  assert.equal(result.daemon.path, dll);
  assert.ok(result.tried.includes(`${apphost} (development build: not executable)`), result.tried.join('\n'));
});

test('the development build is found through a symlinked extension folder', { skip: process.platform === 'win32' }, () => {
  const apphost = file('daemon/bin/Release/net10.0/colab');
  const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'colab-extensions-'));
  try {
    const link = path.join(elsewhere, 'colab-vscode');
    fs.symlinkSync(extensionPath, link);
    const result = locateDaemon({ extensionPath: link, ...linux });
    assert.ok(result.ok);
    assert.equal(result.daemon.path, apphost);
  } finally {
    fs.rmSync(elsewhere, { recursive: true, force: true });
  }
});

test('on Windows the daemon is colab.exe', () => {
  const exe = file('colab-vscode/daemon/win32-x64/colab.exe', 0o644);
  const result = locateDaemon({ extensionPath, platform: 'win32', arch: 'x64' });
  assert.ok(result.ok);
  assert.equal(result.daemon.path, exe);
});

test('a leading ~ in colab.daemon.path is the home folder', () => {
  const result = locateDaemon({ extensionPath, settingPath: '~/no-such-colab-daemon-here', ...linux });
  assert.equal(result.ok, false);
  assert.deepEqual(result.tried, [`${path.join(os.homedir(), 'no-such-colab-daemon-here')} (colab.daemon.path: missing)`]);
});
