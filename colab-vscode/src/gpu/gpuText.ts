// How a GPU reading reads in the status bar and its tooltip. Pure functions: the
// reading itself comes from the daemon (colab/gpu/changed).

import type { GpuDevice, GpuSnapshot } from '../protocol';

const gib = 1024 ** 3;

/** "NVIDIA H100 80GB HBM3" → "H100", "Tesla T4" → "T4", "NVIDIA GeForce RTX 4090" → "RTX 4090". */
export function shortGpuName(name: string | undefined): string {
  if (!name) {
    return 'GPU';
  }
  const words = name.replace(/\b(NVIDIA|Tesla|GeForce|Quadro)\b/gi, ' ').trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) {
    return name.trim();
  }
  const first = words[0].split('-')[0];
  return /\d/.test(first) || words.length === 1 ? first : `${first} ${words[1]}`;
}

/** Bytes as GB with one decimal below 100 (12.4), none above (80). */
export function gigabytes(bytes: number): string {
  const value = bytes / gib;
  return value >= 100 || Number.isInteger(Math.round(value * 10) / 10) ? String(Math.round(value)) : value.toFixed(1);
}

function memoryText(d: GpuDevice): string | undefined {
  if (d.memoryUsedBytes === undefined || d.memoryTotalBytes === undefined) {
    return undefined;
  }
  return `${gigabytes(d.memoryUsedBytes)}/${gigabytes(d.memoryTotalBytes)} GB`;
}

/** `$(chip) H100 · 37% · 12.4/80 GB · 61°C`; with several GPUs the first one and "+N". */
export function gpuStatusText(snapshot: GpuSnapshot): string {
  if (snapshot.state !== 'ok' || snapshot.devices.length === 0) {
    return '$(chip) No GPU';
  }
  const d = snapshot.devices[0];
  const parts = [shortGpuName(d.name)];
  if (d.utilizationGpuPercent !== undefined) {
    parts.push(`${d.utilizationGpuPercent}%`);
  }
  const memory = memoryText(d);
  if (memory) {
    parts.push(memory);
  }
  if (d.temperatureCelsius !== undefined) {
    parts.push(`${d.temperatureCelsius}°C`);
  }
  const more = snapshot.devices.length > 1 ? ` +${snapshot.devices.length - 1}` : '';
  return `$(chip) ${parts.join(' · ')}${more}`;
}

/** The tooltip as Markdown: every GPU, its processes, driver/CUDA version and power. */
export function gpuTooltip(snapshot: GpuSnapshot): string {
  if (snapshot.state !== 'ok' || snapshot.devices.length === 0) {
    return `**No GPU on this host** (${snapshot.state})\n\n${snapshot.reason ?? 'No NVIDIA GPU was found.'}`;
  }
  const lines: string[] = [];
  const via = snapshot.source === 'none' ? '' : ` (via ${snapshot.source})`;
  lines.push(`Driver ${snapshot.driverVersion ?? 'unknown'}, CUDA ${snapshot.cudaDriverVersion ?? 'unknown'}${via}`, '');
  for (const d of snapshot.devices) {
    const unknown = 'unknown';
    lines.push(`**GPU ${d.index}: ${d.name ?? unknown}**`);
    lines.push(
      `- utilisation ${d.utilizationGpuPercent ?? unknown}${d.utilizationGpuPercent !== undefined ? '%' : ''}, ` +
        `memory ${memoryText(d) ?? unknown}, temperature ${d.temperatureCelsius !== undefined ? `${d.temperatureCelsius}°C` : unknown}`,
    );
    if (d.powerDrawWatts !== undefined || d.powerLimitWatts !== undefined) {
      lines.push(`- power ${d.powerDrawWatts?.toFixed(0) ?? unknown} W of ${d.powerLimitWatts?.toFixed(0) ?? unknown} W`);
    }
    if (d.migEnabled) {
      lines.push(`- MIG on: ${d.migDevices.length} instance(s)`);
    }
    for (const p of d.processes ?? []) {
      const memory = p.usedMemoryBytes !== undefined ? `${gigabytes(p.usedMemoryBytes)} GB` : 'memory unknown';
      lines.push(`- pid ${p.pid} ${p.name ?? ''}${p.user ? ` (${p.user})` : ''}: ${memory}`);
    }
    for (const note of d.notes) {
      lines.push(`- _${note}_`);
    }
    lines.push('');
  }
  return lines.join('\n').trim();
}
