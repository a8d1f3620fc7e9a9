// The runtime and kernel methods of the daemon, by the names in protocol.ts (`methods`),
// and the params and results the extension uses (kept here, in the extension's own
// terms; protocol.ts mirrors the daemon's records).

import { methods } from '../protocol';

export const runtimeMethods = {
  runtimeConnect: methods.runtimeConnect.name,
  runtimeList: methods.runtimeList.name,
  runtimeDisconnect: methods.runtimeDisconnect.name,
  runtimeChanged: methods.runtimeChanged.name,
  kernelStart: methods.kernelStart.name,
  kernelExecute: methods.kernelExecute.name,
  kernelOutput: methods.kernelOutput.name,
  kernelInput: methods.kernelInput.name,
  kernelInterrupt: methods.kernelInterrupt.name,
  kernelRestart: methods.kernelRestart.name,
  kernelShutdown: methods.kernelShutdown.name,
} as const;

export type RuntimeKind = 'local' | 'remote';

/** colab/runtime/connect params. The token travels here only; it is never logged. */
export interface RuntimeConnectParams {
  kind: RuntimeKind;
  url?: string;
  token?: string;
  root?: string;
}

export interface RuntimeInfo {
  id: string;
  kind: RuntimeKind;
  url: string;
  serverVersion?: string;
  insecureTransport: boolean;
  connectedAt: string;
  state: 'connected' | 'exited';
  detail?: string;
  processId?: number;
  rootDirectory?: string;
}

export interface RuntimeListResult {
  runtimes: RuntimeInfo[];
}

/** colab/runtime/changed params. */
export interface RuntimesChanged {
  runtimes: RuntimeInfo[];
}

export interface RuntimeDisconnectParams {
  runtimeId: string;
}

export interface KernelStartParams {
  runtimeId: string;
  kernelName?: string;
}

export interface RuntimeKernelInfo {
  runtimeId: string;
  id: string;
  name: string;
  executionState: string;
  lastActivity?: string;
  connections: number;
  startedHere: boolean;
  connected: boolean;
}

/** colab/kernel/interrupt, restart and shutdown params. */
export interface KernelRef {
  runtimeId: string;
  kernelId: string;
}

export interface KernelExecuteParams extends KernelRef {
  code: string;
  executionId: string;
  allowStdin?: boolean;
  stopOnError?: boolean;
}

export interface KernelExecuteResult {
  status: 'ok' | 'error' | 'aborted';
  executionCount?: number;
}

export type MimeBundle = Record<string, unknown>;

/** One Jupyter output message, as the daemon forwards it. */
export type KernelOutput =
  | { type: 'stream'; name: 'stdout' | 'stderr'; text: string }
  | { type: 'execute_result'; executionCount?: number; data: MimeBundle; metadata?: Record<string, unknown> }
  | { type: 'display_data'; data: MimeBundle; metadata?: Record<string, unknown>; displayId?: string }
  | { type: 'update_display_data'; data: MimeBundle; metadata?: Record<string, unknown>; displayId?: string }
  | { type: 'error'; ename: string; evalue: string; traceback: string[] }
  | { type: 'clear_output'; wait: boolean }
  | { type: 'execute_input'; code: string; executionCount?: number };

/** colab/kernel/output params. */
export interface KernelOutputParams {
  executionId: string;
  output: KernelOutput;
}

/** colab/kernel/input params (server→client request) and its answer. */
export interface KernelInputParams {
  executionId: string;
  prompt: string;
  password: boolean;
}

export interface KernelInputResult {
  value: string;
}
