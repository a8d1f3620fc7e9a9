// The GPU history view's page: per source (this machine, each runtime) and GPU, two small
// inline-SVG charts (utilisation %, memory used of total) over the last minutes. Pure
// function of colab/gpu/history's answer; no scripts, no CDN (the page's CSP allows none).

import type { GpuHistoryResult, GpuSeries, GpuSourceHistory } from '../protocol';
import { gigabytes } from './gpuText';

const width = 360;
const height = 80;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** A polyline of `values` (0…1, null = gap) spread over [from, to] by their times. */
export function chartPoints(times: number[], values: (number | undefined)[], from: number, to: number): string[] {
  const span = Math.max(1, to - from);
  const lines: string[] = [];
  let current: string[] = [];
  values.forEach((v, i) => {
    if (v === undefined || !Number.isFinite(v)) {
      if (current.length > 0) {
        lines.push(current.join(' '));
        current = [];
      }
      return;
    }
    const x = ((times[i] - from) / span) * width;
    const y = height - Math.min(1, Math.max(0, v)) * height;
    current.push(`${x.toFixed(1)},${y.toFixed(1)}`);
  });
  if (current.length > 0) {
    lines.push(current.join(' '));
  }
  return lines;
}

function chart(title: string, latest: string, times: number[], values: (number | undefined)[], from: number, to: number, colour: string): string {
  const lines = chartPoints(times, values, from, to)
    .map((p) => (p.includes(' ') ? `<polyline points="${p}" fill="none" stroke="${colour}" stroke-width="1.5"/>` : `<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="1.5" fill="${colour}"/>`))
    .join('');
  return `<figure><figcaption>${escapeHtml(title)} <b>${escapeHtml(latest)}</b></figcaption>
<svg role="img" aria-label="${escapeHtml(title)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">
<rect x="0" y="0" width="${width}" height="${height}" class="frame"/>
<line x1="0" y1="${height / 2}" x2="${width}" y2="${height / 2}" class="grid"/>${lines}</svg></figure>`;
}

function series(gpu: GpuSeries, from: number, to: number): string {
  const times = gpu.samples.map((s) => Date.parse(s.at));
  const util = gpu.samples.map((s) => (s.utilizationGpuPercent === undefined ? undefined : s.utilizationGpuPercent / 100));
  const mem = gpu.samples.map((s) =>
    s.memoryUsedBytes === undefined || !s.memoryTotalBytes ? undefined : s.memoryUsedBytes / s.memoryTotalBytes,
  );
  const last = gpu.samples.at(-1);
  const utilText = last?.utilizationGpuPercent === undefined ? '-' : `${last.utilizationGpuPercent}%`;
  const memText =
    last?.memoryUsedBytes === undefined || last.memoryTotalBytes === undefined
      ? '-'
      : `${gigabytes(last.memoryUsedBytes)}/${gigabytes(last.memoryTotalBytes)} GB`;
  return `<section class="gpu"><h3>GPU ${gpu.index}: ${escapeHtml(gpu.name ?? 'unknown')}</h3>
${chart('Utilisation', utilText, times, util, from, to, 'var(--vscode-charts-blue, #3794ff)')}
${chart('Memory', memText, times, mem, from, to, 'var(--vscode-charts-orange, #d18616)')}</section>`;
}

function source(s: GpuSourceHistory, label: (source: string) => string, from: number, to: number): string {
  const body =
    s.gpus.length > 0
      ? s.gpus.map((g) => series(g, from, to)).join('\n')
      : `<p class="none">No GPU${s.reason ? `: ${escapeHtml(s.reason)}` : ''}</p>`;
  return `<h2>${escapeHtml(label(s.source))}</h2>\n${body}`;
}

export function gpuHistoryHtml(history: GpuHistoryResult, minutes: number, now: number, label: (source: string) => string, cspSource = "'none'"): string {
  const from = now - minutes * 60_000;
  const body =
    history.sources.length > 0
      ? history.sources.map((s) => source(s, label, from, now)).join('\n')
      : '<p class="none">No readings yet: GPUs are read while a VS Code window is focused.</p>';
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline' ${cspSource}; img-src ${cspSource};">
<title>GPU history</title>
<style>
body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); }
section.gpu { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
section.gpu h3 { flex-basis: 100%; margin: 8px 0 0; font-size: 1em; }
figure { margin: 0; } figcaption { font-size: 0.9em; opacity: 0.85; }
svg .frame { fill: none; stroke: var(--vscode-panel-border, #8884); }
svg .grid { stroke: var(--vscode-panel-border, #8884); stroke-dasharray: 2 3; }
.none { opacity: 0.8; }
</style></head>
<body><p>Last ${minutes} minutes, one reading every ${Math.round(history.intervalMs / 100) / 10} s.</p>
${body}
</body></html>`;
}
