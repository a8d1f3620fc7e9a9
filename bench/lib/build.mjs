// Builds what the benchmarks run, once: a build is redone only when the daemon's
// sources (or the publish arguments) changed since the stamp it left.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** A hash of every source file under `dirs` (bin/ and obj/ left out) plus `extra`. */
export function sourceHash(root, dirs, extra = '') {
  const hash = createHash('sha256');
  hash.update(extra);
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      if (name === 'bin' || name === 'obj' || name.startsWith('.')) continue;
      const full = path.join(dir, name);
      const st = statSync(full);
      if (st.isDirectory()) walk(full);
      else if (/\.(cs|csproj|props|targets|json)$/.test(name)) {
        hash.update(path.relative(root, full));
        hash.update(readFileSync(full));
      }
    }
  };
  for (const d of dirs) {
    const full = path.join(root, d);
    if (!existsSync(full)) continue;
    if (statSync(full).isDirectory()) walk(full);
    else {
      hash.update(d);
      hash.update(readFileSync(full));
    }
  }
  return hash.digest('hex').slice(0, 16);
}

function run(command, args, cwd) {
  const started = Date.now();
  const r = spawnSync(command, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed with exit code ${r.status ?? r.signal}`);
  }
  return (Date.now() - started) / 1000;
}

/**
 * Runs `build` unless `stampFile` holds `hash` and `output` exists. Returns what happened,
 * for the report: { built: boolean, seconds }.
 */
export function ensureBuilt({ root, stampFile, hash, output, command, args, force = false, log }) {
  const stamp = existsSync(stampFile) ? readFileSync(stampFile, 'utf8').trim() : '';
  if (!force && stamp === hash && existsSync(output)) {
    return { built: false, seconds: 0 };
  }
  log(`building: ${command} ${args.join(' ')}`);
  const seconds = run(command, args, root);
  if (!existsSync(output)) throw new Error(`the build finished but ${output} is not there`);
  mkdirSync(path.dirname(stampFile), { recursive: true });
  writeFileSync(stampFile, `${hash}\n`);
  return { built: true, seconds };
}
