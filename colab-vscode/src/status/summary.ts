// How the daemon's state reads to a person: the status bar text and tooltip, the
// one-line summary of Show Status. Presentation only; the facts come from the daemon.

import type { DaemonSnapshot } from '../daemon/client';
import type { CapabilityState, ServerStatus } from '../protocol';

export type DaemonHealth = 'starting' | 'ready' | 'failed' | 'stopped';

/** What the status bar and the Status view call the daemon's state. */
export function daemonHealth(snapshot: DaemonSnapshot): DaemonHealth {
  switch (snapshot.phase) {
    case 'running':
      return snapshot.status?.health === 'ready' ? 'ready' : 'starting';
    default:
      return snapshot.phase;
  }
}

export const healthIcon: Readonly<Record<DaemonHealth, string>> = {
  starting: 'sync~spin',
  ready: 'check',
  failed: 'error',
  stopped: 'circle-slash',
};

export const capabilityIcon: Readonly<Record<CapabilityState, string>> = {
  probing: 'sync~spin',
  available: 'pass',
  unavailable: 'circle-slash',
};

export function statusBarText(health: DaemonHealth): string {
  return `$(${healthIcon[health]}) Colab: ${health}`;
}

export function statusBarTooltip(snapshot: DaemonSnapshot): string {
  const health = daemonHealth(snapshot);
  const lines: string[] = [];
  const status = snapshot.status;
  if (status) {
    lines.push(`Colab daemon ${status.version} ${status.health} · pid ${status.pid} · ${status.platform}`);
  } else {
    lines.push(`Colab daemon: ${health}`);
  }
  if (snapshot.reason && health !== 'ready') {
    lines.push(snapshot.reason);
  }
  if (snapshot.launch) {
    lines.push(snapshot.launch.path);
  }
  lines.push(health === 'stopped' ? "Use 'Colab: Restart Daemon' to start it." : 'Click for the status.');
  return lines.join('\n');
}

/** "Colab daemon 0.1.0 ready · pid 1234 · up 12 s — gpu: unavailable, python: available, …" */
export function statusSummary(status: ServerStatus): string {
  const capabilities = status.capabilities.map((c) => `${c.name}: ${c.state}`).join(', ');
  return (
    `Colab daemon ${status.version} ${status.health} · pid ${status.pid} · up ${formatDuration(status.uptimeSeconds)}` +
    (capabilities ? ` — ${capabilities}` : '')
  );
}

/** 12 s, 3 min 4 s, 2 h 5 min, 3 d 4 h. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) {
    return `${s} s`;
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)} min ${s % 60} s`;
  }
  if (s < 86400) {
    return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  }
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}
