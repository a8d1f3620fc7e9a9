// Issue 8: the VSIX as a user gets it. Builds the linux-x64 VSIX (npm run package's code),
// checks what is inside and its size, installs it with `--install-extension` into a fresh
// code-server, and runs the smoke scenarios against the installed package — its bundle and
// its self-contained daemon, not the source tree or the development build.
//
// Run: node scripts/build.mjs && node --test out/tests/package/
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { builtinModules } from 'node:module';
import { after, describe, it } from 'node:test';
import { VsCodeSession, isAlive, loadCodeServerModule, timeoutMs, waitFor, withScreenshot } from '../e2e/harness';
import { locateDaemon } from '../../colab-vscode/src/daemon/locate';
import { BuiltVsix, extractZipEntry, packageModule, packagedVsix, repoRoot, target } from './vsix';

const daemonEntry = `extension/daemon/${target}/colab`;
const trainingHelperEntry = `extension/daemon/${target}/Training/python/colab_resume.py`;
const driveExtractorEntry = `extension/daemon/${target}/Drive/python/colab_extract.py`;

describe('the VSIX (npm run package)', { timeout: 15 * 60_000 }, () => {
  let built: Promise<BuiltVsix> | undefined;
  const vsix = () => (built ??= packagedVsix());

  it('builds a linux-x64 VSIX within the 30 MB budget holding only the manifest, README, media, the bundle and the daemon', { timeout: 10 * 60_000 }, async () => {
    const pkg = await packageModule();
    const v = await vsix();
    process.stderr.write(`[package] ${v.vsix}: ${v.bytes} bytes, ${v.entries.length} entries${v.built ? `, built in ${v.buildMs} ms` : ', reused from this run'}\n`);
    assert.ok(v.bytes <= pkg.sizeBudgetBytes, `${v.bytes} bytes is over the budget of ${pkg.sizeBudgetBytes}`);
    assert.deepEqual(pkg.checkVsixEntries(v.entries, target), []);
    assert.ok(v.entries.includes(daemonEntry), `no ${daemonEntry} in ${JSON.stringify(v.entries)}`);
    // The training supervisor runs these with Python, from next to the daemon.
    assert.ok(v.entries.includes(trainingHelperEntry), `no ${trainingHelperEntry} in ${JSON.stringify(v.entries)}`);
    // The daemon sends this extractor to a remote runtime for "copy a dataset to the runtime".
    assert.ok(v.entries.includes(driveExtractorEntry), `no ${driveExtractorEntry} in ${JSON.stringify(v.entries)}`);
    assert.ok(!v.entries.some((e) => e.endsWith('.map')), 'a source map is in the VSIX');
    assert.ok(!v.entries.some((e) => /\/(src|tests?|node_modules)\//.test(e)), `sources, tests or node_modules in ${JSON.stringify(v.entries)}`);
    const vsixManifest = extractZipEntry(v.vsix, 'extension.vsixmanifest').toString('utf8');
    assert.match(vsixManifest, /TargetPlatform="linux-x64"/, 'the VSIX is not marked platform-specific for linux-x64');
  });

  it('ships a manifest for a workspace extension, bundled into one file that needs only vscode and Node built-ins', async () => {
    const v = await vsix();
    const manifest = JSON.parse(extractZipEntry(v.vsix, 'extension/package.json').toString('utf8')) as Record<string, unknown>;
    assert.deepEqual(manifest.extensionKind, ['workspace']);
    assert.equal(manifest.main, './dist/extension.js');
    assert.equal(manifest.dependencies, undefined, 'runtime dependencies in a bundled extension');
    assert.equal(manifest.devDependencies, undefined);
    const bundle = extractZipEntry(v.vsix, 'extension/dist/extension.js').toString('utf8');
    assert.doesNotMatch(bundle, /sourceMappingURL/, 'the bundle points at a source map that is not shipped');
    const required = new Set([...bundle.matchAll(/\brequire\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]));
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    const foreign = [...required].filter((m) => m !== 'vscode' && !builtins.has(m));
    assert.deepEqual(foreign, [], `the bundle requires modules that are not in the VSIX: ${foreign.join(', ')}`);
    assert.ok(required.has('vscode'), 'the bundle does not load vscode (external) at all');
  });

  it('ships a daemon that runs with no .NET installed: a self-contained executable answering --version', async () => {
    const v = await vsix();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'colab-vsix-daemon-'));
    try {
      const exe = path.join(dir, 'colab');
      fs.writeFileSync(exe, extractZipEntry(v.vsix, daemonEntry), { mode: 0o755 });
      // No dotnet on PATH and no DOTNET_ROOT: a framework-dependent build could not start.
      const env = { PATH: '/usr/bin:/bin', HOME: dir, DOTNET_ROOT: path.join(dir, 'no-dotnet') };
      const r = spawnSync(exe, ['--version'], { env, encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, `colab --version exited ${r.status}: ${r.stderr}`);
      assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the package check refuses source maps, sources, keys, node_modules, another platform\'s daemon and a missing daemon', async () => {
    const pkg = await packageModule();
    const good = ['[Content_Types].xml', 'extension.vsixmanifest', 'extension/package.json', 'extension/readme.md',
      'extension/dist/extension.js', 'extension/media/colab.svg', daemonEntry, trainingHelperEntry,
      'extension/daemon/linux-x64/Training/python/examples/train_digits.py', driveExtractorEntry];
    assert.deepEqual(pkg.checkVsixEntries(good, target), []);
    const hostile: [string, RegExp][] = [
      ['extension/dist/extension.js.map', /source map/],
      ['extension/src/extension.ts', /sources or tests/],
      ['extension/tests/x.test.js', /sources or tests/],
      ['extension/node_modules/left-pad/index.js', /node_modules/],
      ['extension/.env', /secret/],
      ['extension/media/id_rsa', /secret/],
      ['extension/daemon/linux-x64/colab.pdb', /debug-symbol/],
      ['extension/daemon/win32-x64/colab.exe', /not an expected file/],
      ['extension/../../etc/passwd', /not an expected file/],
      ['extension/daemon/linux-x64/Training/python/../../../../x.py', /not an expected file/],
      ['extension/daemon/linux-x64/Training/python/run.sh', /not an expected file/],
      ['extension/daemon/linux-x64/Drive/python/sub/x.py', /not an expected file/],
    ];
    for (const [entry, why] of hostile) {
      const problems = pkg.checkVsixEntries([...good, entry], target);
      assert.equal(problems.length, 1, `${entry}: ${JSON.stringify(problems)}`);
      assert.match(problems[0], why, entry);
    }
    assert.match(pkg.checkVsixEntries(good.filter((e) => e !== daemonEntry), target).join('\n'), /daemon\/linux-x64\/colab: missing/);
    assert.match(pkg.checkVsixEntries(good.filter((e) => e !== trainingHelperEntry), target).join('\n'), /colab_resume\.py: missing/);
    assert.match(pkg.checkVsixEntries(good.filter((e) => e !== driveExtractorEntry), target).join('\n'), /colab_extract\.py: missing/);
    assert.throws(() => pkg.checkVsixEntries(good, 'solaris-sparc'), /unknown target/);
  });

  it('npm run package refuses unknown targets and arguments, and the zip reader refuses what is not a zip', async () => {
    const pkg = await packageModule();
    const script = path.join(repoRoot, 'scripts', 'package.mjs');
    const bad = spawnSync(process.execPath, [script, '--target', 'solaris-sparc'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /unknown target "solaris-sparc"; known: linux-x64, linux-arm64/);
    const odd = spawnSync(process.execPath, [script, '--frobnicate'], { encoding: 'utf8' });
    assert.equal(odd.status, 2);
    assert.match(odd.stderr, /unknown argument --frobnicate/);
    const two = spawnSync(process.execPath, [script, '--target', 'linux-x64', '--target', 'win32-x64', '--daemon-dir', '/nonexistent'], { encoding: 'utf8' });
    assert.equal(two.status, 2);
    assert.match(two.stderr, /--daemon-dir goes with a single --target/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'colab-vsix-notzip-'));
    try {
      const notZip = path.join(dir, 'fake.vsix');
      fs.writeFileSync(notZip, 'PK this is not a zip file at all'.repeat(10));
      assert.throws(() => pkg.zipEntries(notZip), /is not a zip file/);
      assert.throws(() => extractZipEntry(notZip, 'extension/package.json'), /is not a zip file/);
      const v = await vsix();
      assert.throws(() => extractZipEntry(v.vsix, 'extension/../../etc/passwd'), /has no entry/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an extension packaged for another platform says which platform its daemon is for', () => {
    const ext = fs.mkdtempSync(path.join(os.tmpdir(), 'colab-vsix-platform-'));
    try {
      fs.mkdirSync(path.join(ext, 'daemon', 'linux-x64'), { recursive: true });
      fs.writeFileSync(path.join(ext, 'daemon', 'linux-x64', 'colab'), '', { mode: 0o755 });
      const found = locateDaemon({ extensionPath: ext, platform: 'linux', arch: 'x64' });
      assert.ok(found.ok && found.daemon.source === 'bundled');
      const other = locateDaemon({ extensionPath: ext, platform: 'darwin', arch: 'arm64' });
      assert.equal(other.ok, false);
      assert.match(!other.ok ? other.reason : '', /has no daemon for darwin-arm64: it bundles one for linux-x64 only/);
      assert.match(!other.ok ? other.reason : '', /colab\.daemon\.path/);
    } finally {
      fs.rmSync(ext, { recursive: true, force: true });
    }
  });
});

describe('the VSIX installed into a fresh code-server', { timeout: 15 * 60_000 }, () => {
  let session: VsCodeSession | undefined;
  let installed: string | undefined;
  let tempDir: string | undefined;
  let starting: Promise<VsCodeSession> | undefined;
  const seenDaemons = new Set<number>();

  const s = async (): Promise<VsCodeSession> => {
    starting ??= (async () => {
      const v = await packagedVsix();
      const cs = await loadCodeServerModule();
      tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'colab-vsix-install-'));
      const extensionsDir = path.join(tempDir, 'extensions');
      // code-server's own CLI installs the VSIX: `code-server --install-extension <vsix>`.
      const install = (into: string) => {
        const r = spawnSync(process.execPath, [cs.codeServerEntry(), '--config', path.join(tempDir!, 'config.yaml'),
          '--user-data-dir', path.join(tempDir!, 'install-user-data'), '--extensions-dir', into, '--install-extension', v.vsix],
        { encoding: 'utf8', timeout: 120_000 });
        assert.equal(r.status, 0, `--install-extension failed (${r.status}): ${r.stdout}\n${r.stderr}`);
        assert.match(r.stdout + r.stderr, /successfully installed/);
      };
      install(extensionsDir);
      const list = JSON.parse(fs.readFileSync(path.join(extensionsDir, 'extensions.json'), 'utf8')) as { identifier: { id: string }; relativeLocation: string; metadata?: { source?: string } }[];
      const ours = list.find((e) => e.identifier.id === 'colab-vscode.colab-vscode');
      assert.ok(ours, `not in extensions.json: ${JSON.stringify(list)}`);
      assert.equal(ours.metadata?.source, 'vsix');
      installed = path.join(extensionsDir, ours.relativeLocation);
      const exe = path.join(installed, 'daemon', target, 'colab');
      fs.accessSync(exe, fs.constants.X_OK); // the executable bit survives the VSIX
      assert.ok(!fs.existsSync(path.join(installed, 'src')), 'the installed extension holds sources');
      // The session's fresh code-server gets the VSIX installed the same way into its own profile.
      session = await VsCodeSession.start({ name: 'package', extensionDir: installed, install });
      installed = path.join(session.tempDir, 'extensions', ours.relativeLocation);
      assert.ok(fs.existsSync(path.join(installed, 'daemon', target, 'colab')), `the VSIX was not installed into the session: ${installed}`);
      return session;
    })();
    return starting;
  };
  const scenario = (name: string, title: string, body: () => Promise<void>) =>
    it(title, { timeout: 6 * timeoutMs + 10 * 60_000 }, withScreenshot(() => session, name, body));

  after(async () => {
    if (session) {
      for (const pid of session.daemonPids()) seenDaemons.add(pid);
      await session.close();
    }
    if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
    const left = [...seenDaemons].filter(isAlive);
    assert.deepEqual(left, [], `daemon processes still running after teardown: ${left.join(', ')}`);
  });

  scenario('package-1-ready', 'activates from the installed VSIX: the bundled daemon starts and the status bar reads "Colab: ready"', async () => {
    const vs = await s();
    // Activation is lazy: opening the Colab view activates the installed extension.
    await vs.openActivity('Colab');
    await vs.waitForStatus('Colab: ready', 2 * timeoutMs);
    const pid = await vs.waitForDaemon();
    seenDaemons.add(pid);
    const exe = fs.realpathSync(`/proc/${pid}/exe`);
    assert.equal(exe, fs.realpathSync(path.join(installed!, 'daemon', target, 'colab')),
      `the daemon running is ${exe}, not the one installed from the VSIX`);
  });

  scenario('package-2-notebook', 'runs a notebook cell on the local runtime through the installed package', async () => {
    const vs = await s();
    await vs.openActivity('Colab');
    await vs.waitForStatus('Colab: ready', 2 * timeoutMs);
    const marker = `hello from the vsix ${process.pid}`;
    const notebook = {
      cells: [{ cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: [`print("${marker}")\n`, '6 * 7'] }],
      metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' }, language_info: { name: 'python' } },
      nbformat: 4,
      nbformat_minor: 5,
    };
    fs.writeFileSync(path.join(vs.workspace, 'vsix.ipynb'), JSON.stringify(notebook, null, 1));
    await vs.page.keyboard.press('Control+P');
    await vs.page.keyboard.type('vsix.ipynb');
    await waitFor('Quick Open to offer vsix.ipynb', async () => ((await vs.paletteRows()).some((r) => r.includes('vsix.ipynb')) ? true : undefined),
      async () => `rows: ${JSON.stringify(await vs.paletteRows())}`);
    await vs.page.keyboard.press('Enter');
    await waitFor('the notebook editor', async () => ((await vs.page.locator('.notebook-editor').count()) > 0 ? true : undefined), () => 'no .notebook-editor');
    await vs.page.locator('.notebook-toolbar-container').getByText('Run All', { exact: true }).first().click();
    const seen = await waitFor(
      `the output "${marker}" and the result 42`,
      async () => {
        const texts: string[] = [];
        for (const frame of vs.page.frames()) texts.push(await frame.locator('body').innerText({ timeout: 1000 }).catch(() => ''));
        const all = texts.join('\n');
        return all.includes(marker) && /\b42\b/.test(all) ? all : undefined;
      },
      async () => `status bar: ${JSON.stringify(await vs.statusBarTexts())}; notifications: ${JSON.stringify(await vs.notificationTexts())}`,
      4 * timeoutMs,
    );
    assert.ok(seen.includes(marker));
    for (const pid of vs.daemonPids()) {
      seenDaemons.add(pid);
      assert.equal(fs.realpathSync(`/proc/${pid}/exe`), fs.realpathSync(path.join(installed!, 'daemon', target, 'colab')));
    }
  });
  scenario('package-3-walkthrough', 'the installed VSIX offers the Getting Started walkthrough, and its runtime step completes when the user connects', async () => {
    const vs = await s();
    await vs.openActivity('Colab');
    await vs.waitForStatus('Colab: ready', 2 * timeoutMs);
    await vs.openPalette();
    await vs.page.keyboard.type('Welcome: Open Walkthrough');
    await waitFor('the palette to offer "Welcome: Open Walkthrough..."', async () => ((await vs.paletteRows()).some((r) => r.startsWith('Welcome: Open Walkthrough')) ? true : undefined),
      async () => `rows: ${JSON.stringify(await vs.paletteRows())}`);
    await vs.page.keyboard.press('Enter');
    const title = 'Get Started with Colab for VS Code';
    const index = await waitFor(`the walkthrough list to offer "${title}"`, async () => {
      const i = (await vs.paletteRows()).findIndex((r) => r.startsWith(title));
      return i >= 0 ? i : undefined;
    }, async () => `rows: ${JSON.stringify(await vs.paletteRows())}`);
    await vs.page.locator('.quick-input-widget .quick-input-list .monaco-list-row').nth(index).click();
    const steps = ['Connect a runtime', 'Check the GPU', 'Open a notebook from GitHub', 'Browse Google Drive', 'Start the example training'];
    await waitFor('the walkthrough with its five steps', async () => {
      const text = await vs.page.locator('.gettingStartedContainer').first().innerText({ timeout: 1000 }).catch(() => '');
      return steps.every((t) => text.includes(t)) ? text : undefined;
    }, async () => vs.page.locator('.gettingStartedContainer').first().innerText({ timeout: 1000 }).catch(() => '(no walkthrough page)'));
    const step = vs.page.locator('[data-step-id$="#connectRuntime"]').first();
    // VS Code marks a done step by its status icon: `.codicon.complete` (codicon-pass-filled).
    const isComplete = async () => (await step.locator('.codicon.complete').count()) > 0;
    assert.equal(await isComplete(), false, 'the runtime step is complete before the user did anything');
    // The step's own button runs colab.connectLocalRuntime; its completion event is onCommand of it.
    await step.click();
    await vs.page.locator('.gettingStartedContainer').getByText('Connect to Local Runtime', { exact: true }).first().click();
    await waitFor('the "Connect a runtime" step to be checked off', async () => ((await isComplete()) ? true : undefined),
      async () => `step: ${await step.innerHTML().catch(() => '?')}; notifications: ${JSON.stringify(await vs.notificationTexts())}`, 2 * timeoutMs);
  });
});
