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
  runtimeSessions: { name: 'colab/runtime/sessions', kind: 'request', direction: 'clientToServer' },
  kernelKillIdle: { name: 'colab/kernel/killIdle', kind: 'request', direction: 'clientToServer' },
  runtimeKeepAlive: { name: 'colab/runtime/keepAlive', kind: 'request', direction: 'clientToServer' },
  runtimeSetIdleTimeout: { name: 'colab/runtime/setIdleTimeout', kind: 'request', direction: 'clientToServer' },
  runtimeIdleWarning: { name: 'colab/runtime/idleWarning', kind: 'notification', direction: 'serverToClient' },
  runtimeIdleDisconnected: { name: 'colab/runtime/idleDisconnected', kind: 'notification', direction: 'serverToClient' },

  // -- terminal methods (issue 3, terminals/files) --
  terminalOpen: { name: 'colab/terminal/open', kind: 'request', direction: 'clientToServer' },
  terminalList: { name: 'colab/terminal/list', kind: 'request', direction: 'clientToServer' },
  terminalInput: { name: 'colab/terminal/input', kind: 'request', direction: 'clientToServer' },
  terminalResize: { name: 'colab/terminal/resize', kind: 'request', direction: 'clientToServer' },
  terminalClose: { name: 'colab/terminal/close', kind: 'request', direction: 'clientToServer' },
  terminalOutput: { name: 'colab/terminal/output', kind: 'notification', direction: 'serverToClient' },
  terminalClosed: { name: 'colab/terminal/closed', kind: 'notification', direction: 'serverToClient' },
  filesList: { name: 'colab/files/list', kind: 'request', direction: 'clientToServer' },
  filesUpload: { name: 'colab/files/upload', kind: 'request', direction: 'clientToServer' },
  filesDownload: { name: 'colab/files/download', kind: 'request', direction: 'clientToServer' },
  runtimeSetup: { name: 'colab/runtime/setup', kind: 'request', direction: 'clientToServer' },
  // -- gpu methods (issue 4) --
  gpuRuntimeSnapshot: { name: 'colab/gpu/runtimeSnapshot', kind: 'request', direction: 'clientToServer' },
  gpuRuntimeChanged: { name: 'colab/gpu/runtimeChanged', kind: 'notification', direction: 'serverToClient' },
  gpuCheck: { name: 'colab/gpu/check', kind: 'request', direction: 'clientToServer' },
  gpuHistory: { name: 'colab/gpu/history', kind: 'request', direction: 'clientToServer' },
  gpuBenchmark: { name: 'colab/gpu/benchmark', kind: 'request', direction: 'clientToServer' },

  // -- training methods (issue 5) --
  trainStart: { name: 'colab/train/start', kind: 'request', direction: 'clientToServer' },
  trainStatus: { name: 'colab/train/status', kind: 'request', direction: 'clientToServer' },
  trainList: { name: 'colab/train/list', kind: 'request', direction: 'clientToServer' },
  trainStop: { name: 'colab/train/stop', kind: 'request', direction: 'clientToServer' },
  trainLogs: { name: 'colab/train/logs', kind: 'request', direction: 'clientToServer' },
  trainChanged: { name: 'colab/train/changed', kind: 'notification', direction: 'serverToClient' },
  trainMetrics: { name: 'colab/train/metrics', kind: 'request', direction: 'clientToServer' },

  // -- drive methods (issue 6) --
  driveSignInBegin: { name: 'colab/drive/signInBegin', kind: 'request', direction: 'clientToServer' },
  driveSignInRedirect: { name: 'colab/drive/signInRedirect', kind: 'request', direction: 'clientToServer' },
  driveSignInPaste: { name: 'colab/drive/signInPaste', kind: 'request', direction: 'clientToServer' },
  driveSignInFinish: { name: 'colab/drive/signInFinish', kind: 'request', direction: 'clientToServer' },
  driveUseAccount: { name: 'colab/drive/useAccount', kind: 'request', direction: 'clientToServer' },
  driveTokensRefreshed: { name: 'colab/drive/tokensRefreshed', kind: 'notification', direction: 'serverToClient' },
  driveSignOut: { name: 'colab/drive/signOut', kind: 'request', direction: 'clientToServer' },
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
  driveParseLink: { name: 'colab/drive/parseLink', kind: 'request', direction: 'clientToServer' },
  driveGetLink: { name: 'colab/drive/getLink', kind: 'request', direction: 'clientToServer' },

  // -- github methods (issue 7) --
  gitHubResolve: { name: 'colab/github/resolve', kind: 'request', direction: 'clientToServer' },
  gitHubOpen: { name: 'colab/github/open', kind: 'request', direction: 'clientToServer' },
  gitHubList: { name: 'colab/github/list', kind: 'request', direction: 'clientToServer' },
  gitHubLinks: { name: 'colab/github/links', kind: 'request', direction: 'clientToServer' },

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
  TargetExists: -32035,
  // -- gpu codes (issue 4) --

  // -- training codes (issue 5) --
  TrainGpuMismatch: -32050,

  // -- drive codes (issue 6) --
  DriveNotFound: -32060,
  DriveAuth: -32061,
  DriveQuota: -32062,
  DriveRateLimited: -32063,
  DriveIntegrity: -32064,
  DriveUnsafe: -32065,

  // -- github codes (issue 7) --
  GitHubBadLink: -32070,
  GitHubNotFound: -32071,
  GitHubUnauthorized: -32072,
  GitHubRateLimited: -32073,
  GitHubUnreachable: -32074,
  GitHubBadNotebook: -32075,
  GitHubTooLarge: -32076,

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
  state: 'connected' | 'exited' | 'disconnected';
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
  /** Re-attach to this kernel (still running on the server, e.g. after a daemon restart) instead of starting one. */
  kernelId?: string;
  /** A new kernel's notebook (workspace-relative path or name): the kernel gets a Jupyter session with this path. */
  notebook?: string;
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

/** colab/runtime/sessions params: one runtime, or all. */
export interface RuntimeSessionsParams {
  runtimeId?: string;
}

export interface RuntimeSessionInfo {
  id: string;
  path?: string;
  name?: string;
  type?: string;
}

export interface KernelSessionsInfo {
  kernel: RuntimeKernelInfo;
  /** Seconds since its last activity while idle; 0 while busy or starting; absent when unknown. */
  idleSeconds?: number;
  sessions: RuntimeSessionInfo[];
}

export interface RuntimeSessionsInfo {
  runtime: RuntimeInfo;
  /** A cell or a job holding the runtime is running through the daemon. */
  busy: boolean;
  /** Seconds since the daemon last used the runtime; 0 while busy. */
  idleSeconds: number;
  kernels: KernelSessionsInfo[];
  /** Why the kernels could not be listed (the server is down …). */
  error?: string;
}

export interface RuntimeSessionsResult {
  runtimes: RuntimeSessionsInfo[];
}

/** colab/kernel/killIdle params. */
export interface KillIdleParams {
  runtimeId: string;
  idleSeconds?: number;
}

export interface KillIdleResult {
  killed: string[];
}

/** colab/runtime/setIdleTimeout params (0 minutes = never). */
export interface IdleTimeoutParams {
  minutes: number;
  warningSeconds?: number;
}

export interface IdleTimeoutResult {
  minutes: number;
  warningSeconds: number;
}

/** colab/runtime/idleWarning params. */
export interface IdleWarningParams {
  runtimeId: string;
  secondsLeft: number;
}

/** colab/runtime/idleDisconnected params. */
export interface IdleDisconnectedParams {
  runtimeId: string;
  idleSeconds: number;
}

// ---- terminal types (issue 3, terminals/files) ----

/** colab/terminal/open: a new terminal, or reattach to the existing terminal `name`. */
export interface TerminalOpenParams {
  runtimeId: string;
  name?: string;
  rows?: number;
  cols?: number;
}

export interface TerminalInfo {
  /** The daemon's id for this open terminal (input, resize, close, notifications). */
  terminalId: string;
  runtimeId: string;
  /** The terminal's name on the server; give it to open again to reattach. */
  name: string;
  reattached: boolean;
}

export interface TerminalListResult {
  names: string[];
}

export interface TerminalInputParams {
  terminalId: string;
  data: string;
}

export interface TerminalResizeParams {
  terminalId: string;
  rows: number;
  cols: number;
}

export interface TerminalCloseParams {
  terminalId: string;
  /** Default true: end the shell on the runtime; false: only detach. */
  shutdown?: boolean;
}

export interface TerminalOutputParams {
  terminalId: string;
  data: string;
}

export interface TerminalClosedParams {
  terminalId: string;
  reason: string;
}

export interface RuntimeFileEntry {
  name: string;
  path: string;
  type: 'file' | 'directory' | 'notebook';
  size?: number;
  lastModified?: string;
}

export interface FilesListResult {
  entries: RuntimeFileEntry[];
}

/** colab/files/upload: localPath absolute; remotePath relative to the runtime's root. */
export interface FilesUploadParams {
  runtimeId: string;
  localPath: string;
  remotePath: string;
  overwrite?: boolean;
}

export interface FilesDownloadParams {
  runtimeId: string;
  remotePath: string;
  localPath: string;
  overwrite?: boolean;
}

/** colab/runtime/setup: run the setup commands once per runtime; force runs them again. */
export interface SetupParams {
  runtimeId: string;
  commands: string[];
  force?: boolean;
}

export interface SetupResult {
  /** False when a marker showed these commands already succeeded on this runtime. */
  ran: boolean;
  ok: boolean;
  output: string;
  marker: string;
}

export interface TransferResult {
  files: number;
  folders: number;
  bytes: number;
  /** Entries not copied: links (never followed) and names that are not safe file names. */
  skipped: string[];
}
// ---- gpu types (issue 4) ----

/** colab/gpu/runtimeSnapshot params. */
export interface GpuRuntimeParams {
  runtimeId: string;
}

/** colab/gpu/runtimeChanged params: `snapshot` absent when the runtime was disconnected. */
export interface GpuRuntimeChangedParams {
  runtimeId: string;
  snapshot?: GpuSnapshot;
}

/** colab/gpu/check params: a runtime's GPUs (else the daemon's host) against required names (e.g. ["A100", "H100"]). */
export interface GpuCheckParams {
  runtimeId?: string;
  required?: string[];
}

export interface GpuCheckResult {
  /** 'local' or the runtime id. */
  source: string;
  /** The nvidia-smi-style report. */
  text: string;
  /** Absent when nothing is required. */
  matches?: boolean;
  /** One line for a notification. */
  message: string;
  required: string[];
  gpus: string[];
  snapshot: GpuSnapshot;
}

export interface GpuHistoryParams {
  minutes?: number;
}

export interface GpuSample {
  at: string;
  utilizationGpuPercent?: number;
  memoryUsedBytes?: number;
  memoryTotalBytes?: number;
  temperatureCelsius?: number;
}

export interface GpuSeries {
  index: number;
  name?: string;
  samples: GpuSample[];
}

export interface GpuSourceHistory {
  /** 'local' or a runtime id. */
  source: string;
  gpus: GpuSeries[];
  state?: GpuState;
  reason?: string;
}

export interface GpuHistoryResult {
  sources: GpuSourceHistory[];
  intervalMs: number;
}

export interface GpuBenchmarkParams {
  runtimeId: string;
  diskMegabytes?: number;
}

export interface NominalGpu {
  model: string;
  fp32Tflops: number;
  fp16TensorTflops: number;
  memoryBandwidthGBps: number;
  memoryGb: number;
}

export interface RuntimeBenchmarkResult {
  runtimeId: string;
  gpuName?: string;
  gpuMatmulFp32Tflops?: number;
  gpuMatmulFp16Tflops?: number;
  gpuMemoryBandwidthGBps?: number;
  cpuMatmulGflops?: number;
  cpuLibrary?: string;
  cpuCount?: number;
  diskWriteMBps?: number;
  diskReadMBps?: number;
  nominal?: NominalGpu;
  notes: string[];
  /** The table for people. */
  text: string;
}

// ---- training types (issue 5) ----
export interface TrainStartParams {
  command?: string[];
  example?: boolean;
  epochs?: number;
  workingDirectory?: string;
  checkpointDirectory?: string;
  maxRestarts?: number;
  keep?: number;
  checkpointEvery?: number;
  graceSeconds?: number;
  /** GPU models of which one must be present (as colab.gpu.required); the job is refused otherwise. */
  requiredGpu?: string[];
  /** 'disconnect': also disconnect runtimeId when the job ends (releases the GPU). */
  onDone?: 'notify' | 'disconnect';
  /** The connected local runtime the job belongs to. */
  runtimeId?: string;
  /** From SecretStorage; POSTed to when the job succeeds or fails; never stored by the daemon. */
  webhookUrl?: string;
  /** Remote jobs: the workspace files to sync (relative globs). */
  syncGlobs?: string[];
  /** Jobs on the daemon's host: a persistent directory (e.g. a mounted Drive folder) each committed checkpoint is copied to, verified. */
  mirror?: string;
  /** Jobs on the daemon's host: a Google Drive folder (id or link; a path for a mounted folder) each committed checkpoint is uploaded to through the daemon's Drive sign-in; a newer checkpoint there is restored before the job starts. */
  driveFolder?: string;
  /** LSP work-done progress: $/progress with this token follows the job until it ends. */
  workDoneToken?: string | number;
}
export interface TrainProgress {
  step?: number;
  totalSteps?: number;
  epoch?: number;
  loss?: number;
  accuracy?: number;
  samplesPerSecond?: number;
  etaSeconds?: number;
}
export interface TrainJobInfo {
  id: string;
  state: 'starting' | 'running' | 'restarting' | 'succeeded' | 'failed' | 'stopped' | 'lost';
  restarts: number;
  maxRestarts: number;
  workerPid?: number;
  lastExitCode?: number;
  lastError?: string;
  command: string[];
  checkpointDirectory: string;
  progress?: TrainProgress;
  startedAt: string;
  updatedAt: string;
  onDone?: 'notify' | 'disconnect';
  runtimeId?: string;
  /** A webhook was given (its URL is never sent back). */
  webhook?: boolean;
  requiredGpu?: string[];
  mirror?: string;
  /** The newest checkpoint step the mirror holds. */
  mirroredStep?: number;
  /** The last mirroring failure (retried at the next checkpoint; the job goes on). */
  mirrorError?: string;
  /** The Drive folder the job's checkpoints are uploaded to. */
  driveFolder?: string;
  /** The newest checkpoint step the Drive folder holds, verified. */
  driveMirroredStep?: number;
  /** The last Drive mirroring failure (retried; the job goes on). */
  driveMirrorError?: string;
}
/** One $/progress notification (LSP work-done progress). */
export interface ProgressParams {
  token: string | number;
  value: { kind: 'begin' | 'report' | 'end'; title?: string; message?: string; percentage?: number; cancellable?: boolean };
}
export interface TrainListResult {
  jobs: TrainJobInfo[];
}
export interface TrainMetricsResult {
  records: Record<string, number>[];
  nextOffset: number;
}
export interface TrainLogsResult {
  text: string;
  nextOffset: number;
  ended: boolean;
}

// ---- drive types (issue 6) ----

/** A Drive file or folder (for a mounted folder, id is the path under its root). */
export interface DriveItem {
  id: string;
  name: string;
  mimeType: string;
  size?: number;
  modifiedTime?: string;
  md5Checksum?: string;
  /** Drive's SHA-256 of the content; absent for Docs Editors files and some very old files. */
  sha256Checksum?: string;
  isFolder: boolean;
  /** The shared drive that holds it (pass it back as driveId when listing its children). */
  driveId?: string;
}

/** The roots of a signed-in Drive besides My Drive (folder id `root`). */
export const driveRootIds = { myDrive: 'root', sharedDrives: ':sharedDrives', sharedWithMe: ':sharedWithMe' } as const;

/** The installed-app OAuth client and endpoints (colab.drive.oauth.* settings). */
export interface DriveOAuthSettings {
  clientId: string;
  clientSecret?: string;
  authorizeUrl?: string;
  tokenUrl?: string;
  revokeUrl?: string;
}

/** colab/drive/signInBegin and signInRedirect result. */
export interface DriveSignInBeginResult {
  flowId: string;
  loopbackUri: string;
  authorizeUrl: string;
}

/** The signed-in account's tokens: kept in SecretStorage only. */
export interface DriveAccountTokens {
  accessToken: string;
  refreshToken?: string;
  expiresAt: string;
  scope?: string;
}

export interface DriveSignOutResult {
  revoked: boolean;
  message?: string;
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
  /** The digests the daemon computed of the bytes transferred (sha256, or md5 where Drive has no sha256). */
  md5Checksum?: string;
  sha256Checksum?: string;
  verified: boolean;
  /** Which checksum `verified` is about. */
  verifiedWith?: 'sha256' | 'md5';
}

export interface DriveReadResult {
  contentBase64: string;
  md5Checksum?: string;
  sha256Checksum?: string;
}

/** colab/drive/parseLink result: what a share link points at; formats (default first) for Docs/Sheets/Slides. */
export interface DriveLinkInfo {
  kind: 'file' | 'document' | 'spreadsheet' | 'presentation' | 'folder';
  id: string;
  formats?: string[];
}

// ---- github types (issue 7) ----

/** A GitHub link resolved: kind file | directory | repo | gist; ref absent = the default branch. */
export interface GitHubTarget {
  kind: 'file' | 'directory' | 'repo' | 'gist';
  owner?: string;
  repo?: string;
  ref?: string;
  path?: string;
  gistId?: string;
  gistFile?: string;
}

/** colab/github/resolve and colab/github/open params. The token is never logged. */
export interface GitHubOpenParams {
  url?: string;
  target?: GitHubTarget;
  token?: string;
  baseUrl?: string;
  maxBytes?: number;
}

/** colab/github/open result: the nbformat 4 notebook (a JSON object embedded in the answer, not text) and the name for the untitled copy. */
export interface GitHubOpenResult {
  notebook: Record<string, unknown>;
  suggestedName: string;
  source: GitHubTarget;
  webUrl: string;
  bytes: number;
  note?: string;
}

export interface GitHubListParams {
  repo: string;
  ref?: string;
  token?: string;
  baseUrl?: string;
}

export interface GitHubListResult {
  owner: string;
  repo: string;
  ref: string;
  defaultBranch: string;
  notebooks: { path: string; size?: number }[];
  branches: string[];
  tags: string[];
  truncated: boolean;
}

export interface GitHubLinksParams {
  path: string;
  baseUrl?: string;
}

export interface GitHubLinksResult {
  owner: string;
  repo: string;
  ref: string;
  path: string;
  gitHubUrl: string;
  colabUrl: string;
  badgeMarkdown: string;
}
