// Pure text and pictures for training jobs: the status bar line, the done message, argv
// splitting for the command box, and the SVG curves of the metrics view (no scripts, no CDN).

import type { TrainJobInfo } from '../protocol';

export function formatEta(seconds: number | undefined): string | undefined {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    return undefined;
  }
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** `$(pulse) Training 120/450 · loss 0.412 · 2m10s` for the status bar. */
export function trainingStatusText(job: TrainJobInfo): string {
  const p = job.progress;
  const parts = [`$(pulse) Training`];
  if (p?.step !== undefined) parts[0] += p.totalSteps ? ` ${p.step}/${p.totalSteps}` : ` step ${p.step}`;
  if (p?.loss !== undefined) parts.push(`loss ${p.loss.toPrecision(3)}`);
  const eta = formatEta(p?.etaSeconds);
  if (eta) parts.push(eta);
  if (job.restarts > 0) parts.push(`↻${job.restarts}`);
  return parts.join(' · ');
}

export function trainingTooltip(job: TrainJobInfo): string {
  const p = job.progress ?? {};
  const lines = [`Job ${job.id}: ${job.state}`, `Command: ${job.command.join(' ')}`];
  if (p.epoch !== undefined) lines.push(`Epoch ${p.epoch}`);
  if (p.samplesPerSecond !== undefined) lines.push(`${p.samplesPerSecond.toFixed(1)} samples/s`);
  if (p.accuracy !== undefined) lines.push(`Accuracy ${(p.accuracy * 100).toFixed(1)}%`);
  lines.push(`Restarts ${job.restarts}/${job.maxRestarts}`, `Checkpoints: ${job.checkpointDirectory}`);
  return lines.join('\n');
}

/** The notification when a job ends. */
export function doneMessage(job: TrainJobInfo): { kind: 'info' | 'error'; text: string } {
  const p = job.progress ?? {};
  const figures = [
    p.step !== undefined ? `step ${p.step}` : undefined,
    p.loss !== undefined ? `loss ${p.loss.toPrecision(4)}` : undefined,
    p.accuracy !== undefined ? `accuracy ${(p.accuracy * 100).toFixed(2)}%` : undefined,
    job.restarts > 0 ? `${job.restarts} restart(s)` : undefined,
  ].filter((x): x is string => x !== undefined);
  switch (job.state) {
    case 'succeeded':
      return { kind: 'info', text: `Training ${job.id} finished${figures.length ? `: ${figures.join(', ')}` : ''}.` };
    case 'stopped':
      return { kind: 'info', text: `Training ${job.id} stopped${figures.length ? ` at ${figures.join(', ')}` : ''}; resume with "colab train resume ${job.id}".` };
    default:
      return { kind: 'error', text: `Training ${job.id} ${job.state}: ${job.lastError ?? 'no error recorded'}` };
  }
}

/** Splits a command line like a POSIX shell would for words and quotes (no expansion). */
export function splitCommand(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < line.length && '"\\$`'.includes(line[i + 1])) cur += line[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unclosed ${quote} in the command`);
  if (inWord) out.push(cur);
  return out;
}

export type MetricRecord = Record<string, number>;

const ignored = new Set(['time', 'step', 'epoch', 'total_steps', 'eta_s', 'size', 'restarts']);

/** The scalar series in the records, each as [step, value] points, in the order first seen. */
export function seriesOf(records: readonly MetricRecord[]): Map<string, [number, number][]> {
  const series = new Map<string, [number, number][]>();
  records.forEach((r, i) => {
    const x = r.step ?? i;
    for (const [k, v] of Object.entries(r)) {
      if (ignored.has(k) || typeof v !== 'number' || !Number.isFinite(v)) continue;
      let s = series.get(k);
      if (!s) series.set(k, (s = []));
      s.push([x, v]);
    }
  });
  return series;
}

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** One SVG line chart per series: axes with min/max labels, a polyline of at most `maxPoints` points. */
export function chartSvg(name: string, points: readonly [number, number][], width = 420, height = 180, maxPoints = 600): string {
  const pad = { l: 52, r: 10, t: 22, b: 24 };
  const step = Math.max(1, Math.ceil(points.length / maxPoints));
  const pts = points.filter((_, i) => i % step === 0 || i === points.length - 1);
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y0 === y1) [y0, y1] = [y0 - 1, y1 + 1];
  const sx = (x: number) => pad.l + (x1 === x0 ? 0 : ((x - x0) / (x1 - x0)) * (width - pad.l - pad.r));
  const sy = (y: number) => pad.t + (1 - (y - y0) / (y1 - y0)) * (height - pad.t - pad.b);
  const poly = pts.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
  const last = pts.length ? pts[pts.length - 1][1] : undefined;
  const fmt = (v: number) => (Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(2) : v.toPrecision(3));
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-label="${escapeXml(name)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<text x="${pad.l}" y="14" class="title">${escapeXml(name)}${last !== undefined ? ` — ${fmt(last)}` : ''}</text>` +
    `<line x1="${pad.l}" y1="${height - pad.b}" x2="${width - pad.r}" y2="${height - pad.b}" class="axis"/>` +
    `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${height - pad.b}" class="axis"/>` +
    `<text x="${pad.l - 4}" y="${pad.t + 4}" text-anchor="end" class="label">${fmt(y1)}</text>` +
    `<text x="${pad.l - 4}" y="${height - pad.b}" text-anchor="end" class="label">${fmt(y0)}</text>` +
    `<text x="${pad.l}" y="${height - 6}" class="label">${x0}</text>` +
    `<text x="${width - pad.r}" y="${height - 6}" text-anchor="end" class="label">${x1} steps</text>` +
    (pts.length ? `<polyline fill="none" class="line" points="${poly}"/>` : '') +
    `</svg>`
  );
}

/** The whole metrics page: a chart per series, loss and accuracy first. Strict CSP, no scripts. */
export function metricsHtml(job: TrainJobInfo | undefined, records: readonly MetricRecord[], cspSource: string): string {
  const series = seriesOf(records);
  const order = [...series.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const charts = order.map((k) => chartSvg(k, series.get(k)!)).join('\n');
  const title = job ? `${escapeXml(job.id)} — ${escapeXml(job.state)}` : 'No training job';
  return `<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${cspSource} 'unsafe-inline'; img-src ${cspSource} data:;">
<style>
body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); }
.chart { margin: 6px; background: var(--vscode-editor-background); }
.chart .title { fill: var(--vscode-foreground); font-size: 12px; }
.chart .label { fill: var(--vscode-descriptionForeground); font-size: 10px; }
.chart .axis { stroke: var(--vscode-editorWidget-border, #888); }
.chart .line { stroke: var(--vscode-charts-blue, #3794ff); stroke-width: 1.5; }
</style></head><body><h3>${title}</h3>
${charts || '<p>No metrics yet.</p>'}
</body></html>`;
}

function rank(name: string): number {
  return name === 'loss' ? 0 : name === 'accuracy' ? 1 : name.includes('loss') ? 2 : name.includes('acc') ? 3 : 4;
}
