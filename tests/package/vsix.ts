// The VSIX the package and Remote-SSH tests share: built once per test run with
// scripts/package.mjs (which publishes the daemon self-contained, trimmed, ReadyToRun —
// a minute or more), then reused by every test file of the same run.
//
// A run is named by COLAB_PACKAGE_RUN (scripts/test.sh sets it): when the stamp next to
// the VSIX names the same run, the VSIX is reused; otherwise it is built again. Without
// the variable every test process builds its own.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { pathToFileURL } from 'node:url';

export const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const target = 'linux-x64';
export const packageDir = path.join(repoRoot, '.artifacts', 'test-package');

/** The parts of scripts/package.mjs the tests use. */
export interface PackageModule {
  sizeBudgetBytes: number;
  targets: Record<string, { rid: string; dir: string; exe: string }>;
  checkVsixEntries(entries: string[], target: string): string[];
  zipEntries(file: string): string[];
  packageTarget(target: string, opts: { outDir?: string; daemonDir?: string; keepStage?: boolean }): Promise<{ vsix: string; bytes: number; entries: string[] }>;
}

const importEsm = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

let loaded: PackageModule | undefined;
export async function packageModule(): Promise<PackageModule> {
  loaded ??= (await importEsm(pathToFileURL(path.join(repoRoot, 'scripts', 'package.mjs')).href)) as PackageModule;
  return loaded;
}

export interface BuiltVsix {
  vsix: string;
  bytes: number;
  entries: string[];
  /** Whether this process built it (false: reused from earlier in the same run). */
  built: boolean;
  buildMs?: number;
}

/** Builds (or, within one run, reuses) the linux-x64 VSIX. */
export async function packagedVsix(): Promise<BuiltVsix> {
  const pkg = await packageModule();
  const run = process.env.COLAB_PACKAGE_RUN;
  const stamp = path.join(packageDir, 'run.json');
  if (run) {
    try {
      const s = JSON.parse(fs.readFileSync(stamp, 'utf8')) as { run: string; vsix: string };
      if (s.run === run && fs.existsSync(s.vsix)) {
        const entries = pkg.zipEntries(s.vsix);
        return { vsix: s.vsix, bytes: fs.statSync(s.vsix).size, entries, built: false };
      }
    } catch { /* no stamp yet */ }
  }
  fs.rmSync(packageDir, { recursive: true, force: true });
  const t0 = Date.now();
  const result = await pkg.packageTarget(target, { outDir: packageDir });
  const buildMs = Date.now() - t0;
  if (run) fs.writeFileSync(stamp, JSON.stringify({ run, vsix: result.vsix }));
  return { ...result, built: true, buildMs };
}

/** One file of a zip, inflated (stored and deflated entries; what vsce writes). */
export function extractZipEntry(file: string, name: string): Buffer {
  const buf = fs.readFileSync(file);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error(`${file} is not a zip file`);
  const count = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  for (let n = 0; n < count; n++) {
    const method = buf.readUInt16LE(at + 10);
    const compressed = buf.readUInt32LE(at + 20);
    const nameLength = buf.readUInt16LE(at + 28);
    const extraLength = buf.readUInt16LE(at + 30);
    const commentLength = buf.readUInt16LE(at + 32);
    const local = buf.readUInt32LE(at + 42);
    const entry = buf.toString('utf8', at + 46, at + 46 + nameLength);
    if (entry === name) {
      if (buf.readUInt32LE(local) !== 0x04034b50) throw new Error(`${file}: broken local header for ${name}`);
      const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
      const data = buf.subarray(start, start + compressed);
      if (method === 0) return Buffer.from(data);
      if (method === 8) return zlib.inflateRawSync(data);
      throw new Error(`${file}: ${name} uses zip method ${method}`);
    }
    at += 46 + nameLength + extraLength + commentLength;
  }
  throw new Error(`${file} has no entry ${name}`);
}
