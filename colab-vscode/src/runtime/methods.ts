// The runtime and kernel methods of the daemon, by the names in protocol.ts (`methods`),
// and the extension's names for their params and results — aliases of the one mirror
// of the daemon's records in protocol.ts, never copies.

import {
  methods,
  type ConnectParams,
  type ExecuteParams,
  type ExecuteResult,
  type KernelIdParams,
  type RuntimeIdParams,
  type RuntimeListResult,
} from '../protocol';

export type {
  KernelInputParams,
  KernelInputResult,
  KernelOutput,
  KernelOutputParams,
  KernelStartParams,
  MimeBundle,
  RuntimeInfo,
  RuntimeKernelInfo,
  RuntimeListResult,
} from '../protocol';

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

export type RuntimeKind = ConnectParams['kind'];

/** colab/runtime/connect params. The token travels here only; it is never logged. */
export type RuntimeConnectParams = ConnectParams;

/** colab/runtime/changed params. */
export type RuntimesChanged = RuntimeListResult;

export type RuntimeDisconnectParams = RuntimeIdParams;

/** colab/kernel/interrupt, restart and shutdown params. */
export type KernelRef = KernelIdParams;

export type KernelExecuteParams = ExecuteParams;

export type KernelExecuteResult = ExecuteResult;
