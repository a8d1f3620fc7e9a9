// The TypeScript mirror of the daemon's one list of methods
// (daemon/Protocol/Methods.cs, daemon/Protocol/ErrorCodes.cs, daemon/Protocol/Messages.cs).
// tests/daemon/ProtocolListTests.cs fails when this file, the daemon and
// docs/protocol.md disagree. Keep one method per line in `methods`.

export type MethodKind = 'request' | 'notification';
export type MethodDirection = 'clientToServer' | 'serverToClient';

export interface MethodInfo {
  readonly name: string;
  readonly kind: MethodKind;
  readonly direction: MethodDirection;
}

export const methods = {
  initialize: { name: 'initialize', kind: 'request', direction: 'clientToServer' },
  initialized: { name: 'initialized', kind: 'notification', direction: 'clientToServer' },
  shutdown: { name: 'shutdown', kind: 'request', direction: 'clientToServer' },
  exit: { name: 'exit', kind: 'notification', direction: 'clientToServer' },
  cancelRequest: { name: '$/cancelRequest', kind: 'notification', direction: 'clientToServer' },
  progress: { name: '$/progress', kind: 'notification', direction: 'serverToClient' },
  workDoneProgressCreate: { name: 'window/workDoneProgress/create', kind: 'request', direction: 'serverToClient' },
  showMessage: { name: 'window/showMessage', kind: 'notification', direction: 'serverToClient' },
  logMessage: { name: 'window/logMessage', kind: 'notification', direction: 'serverToClient' },
  serverStatus: { name: 'colab/serverStatus', kind: 'request', direction: 'clientToServer' },
  serverStatusChanged: { name: 'colab/serverStatusChanged', kind: 'notification', direction: 'serverToClient' },
  diagEcho: { name: 'colab/diag/echo', kind: 'request', direction: 'clientToServer' },
  diagDelay: { name: 'colab/diag/delay', kind: 'request', direction: 'clientToServer' },
  gpuSnapshot: { name: 'colab/gpu/snapshot', kind: 'request', direction: 'clientToServer' },
  gpuWatch: { name: 'colab/gpu/watch', kind: 'request', direction: 'clientToServer' },
  gpuChanged: { name: 'colab/gpu/changed', kind: 'notification', direction: 'serverToClient' },
  runtimeConnect: { name: 'colab/runtime/connect', kind: 'request', direction: 'clientToServer' },
  runtimeList: { name: 'colab/runtime/list', kind: 'request', direction: 'clientToServer' },
  runtimeDisconnect: { name: 'colab/runtime/disconnect', kind: 'request', direction: 'clientToServer' },
  runtimeChanged: { name: 'colab/runtime/changed', kind: 'notification', direction: 'serverToClient' },
  kernelStart: { name: 'colab/kernel/start', kind: 'request', direction: 'clientToServer' },
  kernelList: { name: 'colab/kernel/list', kind: 'request', direction: 'clientToServer' },
  kernelExecute: { name: 'colab/kernel/execute', kind: 'request', direction: 'clientToServer' },
  kernelOutput: { name: 'colab/kernel/output', kind: 'notification', direction: 'serverToClient' },
  kernelInput: { name: 'colab/kernel/input', kind: 'request', direction: 'serverToClient' },
  kernelInterrupt: { name: 'colab/kernel/interrupt', kind: 'request', direction: 'clientToServer' },
  kernelRestart: { name: 'colab/kernel/restart', kind: 'request', direction: 'clientToServer' },
  kernelShutdown: { name: 'colab/kernel/shutdown', kind: 'request', direction: 'clientToServer' },
  // -- runtime methods (issue 3) --

  // -- terminal methods (issue 3, terminals/files) --
  // -- gpu methods (issue 4) --

  // -- training methods (issue 5) --

  // -- drive methods (issue 6) --
  driveUse: { name: 'colab/drive/use', kind: 'request', direction: 'clientToServer' },
  driveStatus: { name: 'colab/drive/status', kind: 'request', direction: 'clientToServer' },
  driveList: { name: 'colab/drive/list', kind: 'request', direction: 'clientToServer' },
  driveItem: { name: 'colab/drive/item', kind: 'request', direction: 'clientToServer' },
  driveGet: { name: 'colab/drive/get', kind: 'request', direction: 'clientToServer' },
  drivePut: { name: 'colab/drive/put', kind: 'request', direction: 'clientToServer' },
  driveCopyToRuntime: { name: 'colab/drive/copyToRuntime', kind: 'request', direction: 'clientToServer' },
  driveFlush: { name: 'colab/drive/flush', kind: 'request', direction: 'clientToServer' },
  driveRead: { name: 'colab/drive/read', kind: 'request', direction: 'clientToServer' },
  driveWrite: { name: 'colab/drive/write', kind: 'request', direction: 'clientToServer' },

  // -- github methods (issue 7) --

} as const satisfies Record<string, MethodInfo>;

export const errorCodes = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  ServerNotInitialized: -32002,
  UnknownErrorCode: -32001,
  RequestFailed: -32803,
  ServerCancelled: -32802,
  RequestCancelled: -32800,
  MessageTooLarge: -32000,
  NotAvailable: -32010,
  ShuttingDown: -32011,
  // -- runtime codes (issue 3) --

  // -- terminal codes (issue 3, terminals/files) --
  // -- gpu codes (issue 4) --

  // -- training codes (issue 5) --

  // -- drive codes (issue 6) --
  DriveNotFound: -32060,
  DriveAuth: -32061,
  DriveQuota: -32062,
  DriveRateLimited: -32063,
  DriveIntegrity: -32064,
  DriveUnsafe: -32065,

  // -- github codes (issue 7) --

} as const;

// ---- params and results ------------------------------------------------------

export type CapabilityState = 'probing' | 'available' | 'unavailable';

export interface CapabilityStatus {
  name: string;
  state: CapabilityState;
  detail: string;
}

/** colab/serverStatus result and colab/serverStatusChanged params. */
export interface ServerStatus {
  health: 'starting' | 'ready';
  version: string;
  startedAt: string;
  uptimeSeconds: number;
  pid: number;
  platform: string;
  runtime: string;
  capabilities: CapabilityStatus[];
}

export interface ColabServerCapabilities {
  protocolVersion: string;
  methods: string[];
  serverStatusNotifications: boolean;
}

export interface DelayParams {
  milliseconds: number;
  reportProgress?: boolean;
}

export interface DelayResult {
  elapsedMilliseconds: number;
}

// ---- GPU (daemon/Gpu/GpuModels.cs). Unknown values are absent. ---------------------

export type GpuState = 'ok' | 'noDriver' | 'noGpu' | 'driverMismatch' | 'timedOut' | 'error';

export interface GpuProcess {
  pid: number;
  usedMemoryBytes?: number;
  name?: string;
  user?: string;
  gpuInstanceId?: number;
  computeInstanceId?: number;
}

export interface MigDevice {
  index: number;
  name?: string;
  uuid?: string;
  utilizationGpuPercent?: number;
  utilizationMemoryPercent?: number;
  memoryUsedBytes?: number;
  memoryTotalBytes?: number;
  processes?: GpuProcess[];
  notes: string[];
}

export interface GpuDevice {
  index: number;
  name?: string;
  uuid?: string;
  utilizationGpuPercent?: number;
  utilizationMemoryPercent?: number;
  memoryUsedBytes?: number;
  memoryTotalBytes?: number;
  temperatureCelsius?: number;
  powerDrawWatts?: number;
  powerLimitWatts?: number;
  migEnabled?: boolean;
  migDevices: MigDevice[];
  processes?: GpuProcess[];
  notes: string[];
}

/** colab/gpu/snapshot result and colab/gpu/changed params. */
export interface GpuSnapshot {
  state: GpuState;
  source: 'nvml' | 'nvidia-smi' | 'none';
  reason?: string;
  takenAt: string;
  driverVersion?: string;
  cudaDriverVersion?: string;
  devices: GpuDevice[];
  notes: string[];
}

export interface GpuWatchParams {
  enabled: boolean;
  intervalMs?: number;
}

export interface GpuWatchResult {
  enabled: boolean;
  intervalMs: number;
}

/** colab/runtime/connect params: a local server started by the daemon in `root`, or a remote one by `url` and `token`. */
export interface ConnectParams {
  kind: 'local' | 'remote';
  url?: string;
  token?: string;
  root?: string;
}

/** A connected Jupyter server (colab/runtime/connect result; colab/runtime/list and colab/runtime/changed carry `{runtimes}`). */
export interface RuntimeInfo {
  id: string;
  kind: 'local' | 'remote';
  /** The base URL, never with a token. */
  url: string;
  serverVersion?: string;
  /** Plain http to a host that is not loopback. */
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

export interface RuntimeIdParams {
  runtimeId: string;
}

export interface KernelStartParams {
  runtimeId: string;
  kernelName?: string;
}

export interface KernelIdParams {
  runtimeId: string;
  kernelId: string;
}

/** A kernel on a runtime (colab/kernel/start and colab/kernel/restart result; colab/kernel/list carries `{kernels}`). */
export interface RuntimeKernelInfo {
  runtimeId: string;
  id: string;
  name: string;
  /** starting, idle, busy, restarting, dead. */
  executionState: string;
  lastActivity?: string;
  connections: number;
  startedHere: boolean;
  connected: boolean;
}

export interface KernelListResult {
  kernels: RuntimeKernelInfo[];
}

export interface ExecuteParams {
  runtimeId: string;
  kernelId: string;
  code: string;
  /** The client's id for this execution, echoed in colab/kernel/output and colab/kernel/input. */
  executionId: string;
  /** Default true: input() sends colab/kernel/input; false: input() raises. */
  allowStdin?: boolean;
  /** Default true. */
  stopOnError?: boolean;
}

export interface ExecuteResult {
  status: 'ok' | 'error' | 'aborted';
  executionCount?: number;
}

export type MimeBundle = Record<string, unknown>;

export type KernelOutput =
  | { type: 'stream'; name: 'stdout' | 'stderr'; text: string }
  | { type: 'execute_result'; executionCount?: number; data: MimeBundle; metadata?: Record<string, unknown> }
  | { type: 'display_data'; data: MimeBundle; metadata?: Record<string, unknown>; displayId?: string }
  | { type: 'update_display_data'; data: MimeBundle; metadata?: Record<string, unknown>; displayId?: string }
  | { type: 'error'; ename: string; evalue: string; traceback: string[] }
  | { type: 'clear_output'; wait: boolean }
  | { type: 'execute_input'; code: string; executionCount?: number };

/** colab/kernel/output params: one output of an execution in flight, in order, before the execute answer. */
export interface KernelOutputParams {
  executionId: string;
  output: KernelOutput;
}

/** colab/kernel/input params (a request from the daemon); answer with KernelInputResult. */
export interface KernelInputParams {
  executionId: string;
  prompt: string;
  password: boolean;
}

export interface KernelInputResult {
  value: string;
}

// ---- runtime types (issue 3) ----

// ---- terminal types (issue 3, terminals/files) ----
// ---- gpu types (issue 4) ----

// ---- training types (issue 5) ----

// ---- drive types (issue 6) ----

/** A Drive file or folder (for a mounted folder, id is the path under its root). */
export interface DriveItem {
  id: string;
  name: string;
  mimeType: string;
  size?: number;
  modifiedTime?: string;
  md5Checksum?: string;
  isFolder: boolean;
}

/** colab/drive/use and colab/drive/status result. */
export interface DriveStatusResult {
  kind?: 'folder' | 'api';
  root?: string;
  pendingUploads: number;
}

export interface DriveListResult {
  items: DriveItem[];
  nextPageToken?: string;
}

/** colab/drive/get, put and write result. */
export interface DriveTransfer {
  fileId: string;
  localPath: string;
  bytes: number;
  md5Checksum: string;
  verified: boolean;
}

export interface DriveReadResult {
  contentBase64: string;
  md5Checksum: string;
}

// ---- github types (issue 7) ----
