// "Copy to Runtime": a Drive zip or tar goes to the chosen runtime's disk and is extracted
// there (colab/drive/copyToRuntime). The active runtime comes first in the pick, a remote one
// included: the daemon streams the archive to it and extracts it on the runtime.

import type * as vscode from 'vscode';
import { methods, type RuntimeInfo, type RuntimeListResult } from '../protocol';
import type { DriveNode, DriveRequester } from './driveTree';

export const driveCopyToRuntimeCommand = 'colab.driveCopyToRuntime';

export interface ExtractResult {
  target: string;
  files: number;
  bytes: number;
  skipped: boolean;
}

export interface DriveCopyDeps {
  vscode: typeof vscode;
  daemon: DriveRequester;
  /** The runtime this window runs notebooks on (RuntimeSession.current). */
  active: () => RuntimeInfo | undefined;
}

export interface RuntimeChoice {
  label: string;
  description?: string;
  runtime: RuntimeInfo;
}

/** The connected runtimes, the active one first and marked; remote ones by URL. */
export function runtimeChoices(runtimes: RuntimeInfo[], activeId: string | undefined): RuntimeChoice[] {
  return runtimes
    .filter((r) => r.state === 'connected')
    .sort((a, b) => Number(b.id === activeId) - Number(a.id === activeId))
    .map((r) => ({
      label: r.kind === 'remote' ? `Remote runtime ${r.url}` : 'Local runtime',
      description: r.id === activeId ? 'active' : undefined,
      runtime: r,
    }));
}

/** A default folder for the dataset: datasets/<name without .zip/.tar/.tar.gz/.tgz>. */
export function defaultTarget(name: string): string {
  const stem = name.replace(/\.(zip|tar\.gz|tgz|tar)$/i, '').replace(/[^\w.-]+/g, '_').replace(/^\.+/, '') || 'dataset';
  return `datasets/${stem}`;
}

export function registerDriveCopyToRuntime({ vscode: v, daemon, active }: DriveCopyDeps): vscode.Disposable[] {
  const fail = (e: unknown) => void v.window.showErrorMessage(`Drive: ${e instanceof Error ? e.message : String(e)}`);
  return [
    v.commands.registerCommand(driveCopyToRuntimeCommand, async (node?: DriveNode) => {
      if (node?.kind !== 'item' || node.item.isFolder) return;
      try {
        const list = await daemon.request<RuntimeListResult>(methods.runtimeList.name, {});
        const choices = runtimeChoices(list.runtimes, active()?.id);
        if (choices.length === 0) {
          void v.window.showErrorMessage('Drive: no runtime is connected; connect a local or remote runtime first.');
          return;
        }
        const picked = choices.length === 1 ? choices[0] : await v.window.showQuickPick(choices, { title: `Copy ${node.item.name} to which runtime?` });
        if (!picked) return;
        const target = await v.window.showInputBox({
          title: `Extract ${node.item.name} on the ${picked.runtime.kind} runtime into`,
          prompt: "A folder relative to the runtime's root",
          value: defaultTarget(node.item.name),
        });
        if (!target) return;
        const r = await v.window.withProgress({ location: v.ProgressLocation.Notification, title: `Copying ${node.item.name} to the runtime`, cancellable: false }, () =>
          daemon.request<ExtractResult>(methods.driveCopyToRuntime.name, { id: node.item.id, target, runtimeId: picked.runtime.id }));
        void v.window.showInformationMessage(r.skipped
          ? `${target} on the runtime already holds ${node.item.name}; nothing to do.`
          : `Extracted ${r.files} files (${(r.bytes / (1024 * 1024)).toFixed(1)} MB) into ${target} on the runtime.`);
      } catch (e) {
        fail(e);
      }
    }),
  ];
}
