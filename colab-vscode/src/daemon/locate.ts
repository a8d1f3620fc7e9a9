// Finds the daemon to start. In order: the colab.daemon.path setting, the
// COLAB_DAEMON_PATH environment variable, the daemon bundled in the extension
// (<extension>/daemon/<platform>-<arch>/colab[.exe]), then the development build
// next to the extension folder (<repo>/daemon/bin/{Release,Debug}/net10.0/colab or
// colab.dll). A path ending in .dll is run with `dotnet`.
// An explicit choice (setting or variable) that is not usable is an error rather
// than silently falling through to another daemon.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export type DaemonSource = 'setting' | 'environment' | 'bundled' | 'development';

export interface LocatedDaemon {
  /** The daemon file: an executable or colab.dll. */
  readonly path: string;
  /** What to spawn: the daemon itself or `dotnet`. */
  readonly command: string;
  /** Arguments before the daemon's own (`[path]` for a .dll, else none). */
  readonly args: readonly string[];
  readonly source: DaemonSource;
}

export type LocateResult =
  | { readonly ok: true; readonly daemon: LocatedDaemon; readonly tried: readonly string[] }
  | { readonly ok: false; readonly reason: string; readonly tried: readonly string[] };

export interface LocateOptions {
  /** colab.daemon.path; empty = not set. */
  readonly settingPath?: string;
  /** COLAB_DAEMON_PATH; empty = not set. */
  readonly environmentPath?: string;
  readonly extensionPath: string;
  readonly platform?: NodeJS.Platform;
  readonly arch?: string;
}

type Check = 'ok' | 'missing' | 'not a file' | 'not executable';

const sourceLabel: Record<DaemonSource, string> = {
  setting: 'colab.daemon.path',
  environment: 'COLAB_DAEMON_PATH',
  bundled: 'bundled',
  development: 'development build',
};

export function locateDaemon(options: LocateOptions): LocateResult {
  const platform = options.platform ?? process.platform;
  const arch = options.arch ?? process.arch;
  const exe = platform === 'win32' ? 'colab.exe' : 'colab';
  const tried: string[] = [];

  const explicit: [DaemonSource, string | undefined][] = [
    ['setting', options.settingPath],
    ['environment', options.environmentPath],
  ];
  for (const [source, value] of explicit) {
    const given = value?.trim();
    if (!given) {
      continue;
    }
    const file = expandHome(given);
    const check = checkFile(file, platform);
    tried.push(`${file} (${sourceLabel[source]}: ${check === 'ok' ? 'found' : check})`);
    if (check === 'ok') {
      return { ok: true, daemon: launchFor(file, source), tried };
    }
    const fix = source === 'setting' ? 'Fix or clear the setting' : 'Fix or unset the variable';
    return {
      ok: false,
      tried,
      reason: `${sourceLabel[source]} is set to "${file}", which is ${check}. ${fix} to use the bundled or development daemon.`,
    };
  }

  const candidates: [DaemonSource, string][] = [
    ['bundled', path.join(options.extensionPath, 'daemon', `${platform}-${arch}`, exe)],
  ];
  const repoRoot = path.dirname(realpathOr(options.extensionPath));
  for (const configuration of ['Release', 'Debug']) {
    const dir = path.join(repoRoot, 'daemon', 'bin', configuration, 'net10.0');
    candidates.push(['development', path.join(dir, exe)], ['development', path.join(dir, 'colab.dll')]);
  }
  for (const [source, file] of candidates) {
    const check = checkFile(file, platform);
    tried.push(`${file} (${sourceLabel[source]}: ${check === 'ok' ? 'found' : check})`);
    if (check === 'ok') {
      return { ok: true, daemon: launchFor(file, source), tried };
    }
  }
  const bundledFor = bundledPlatforms(options.extensionPath);
  if (bundledFor.length > 0) {
    // A packaged extension (VSIX) for another platform: say so rather than suggest a build.
    return {
      ok: false,
      tried,
      reason:
        `This Colab for VS Code package has no daemon for ${platform}-${arch}: it bundles one for ${bundledFor.join(', ')} only. ` +
        `Install the VSIX built for ${platform}-${arch} (if one is published), or set colab.daemon.path to a Colab daemon for this machine.\n` +
        `Looked for:\n` +
        tried.map((t) => `  ${t}`).join('\n'),
    };
  }
  return {
    ok: false,
    tried,
    reason:
      `No Colab daemon found for ${platform}-${arch}. Looked for:\n` +
      tried.map((t) => `  ${t}`).join('\n') +
      `\nSet colab.daemon.path to a daemon (colab or colab.dll), or build one with 'npm run build'.`,
  };
}

/** The <platform>-<arch> folders under <extension>/daemon/ (a packaged extension has exactly one). */
function bundledPlatforms(extensionPath: string): string[] {
  try {
    return fs
      .readdirSync(path.join(extensionPath, 'daemon'), { withFileTypes: true })
      .filter((e) => e.isDirectory() && /^[a-z0-9]+-[a-z0-9]+$/.test(e.name))
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}

function launchFor(file: string, source: DaemonSource): LocatedDaemon {
  return file.toLowerCase().endsWith('.dll')
    ? { path: file, command: 'dotnet', args: [file], source }
    : { path: file, command: file, args: [], source };
}

function checkFile(file: string, platform: NodeJS.Platform): Check {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    return 'missing';
  }
  if (!stat.isFile()) {
    return 'not a file';
  }
  if (platform !== 'win32' && !file.toLowerCase().endsWith('.dll')) {
    try {
      fs.accessSync(file, fs.constants.X_OK);
    } catch {
      return 'not executable';
    }
  }
  return 'ok';
}

function expandHome(file: string): string {
  return file === '~' || file.startsWith('~/') || file.startsWith('~\\') ? path.join(os.homedir(), file.slice(1)) : file;
}

function realpathOr(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    return file;
  }
}
