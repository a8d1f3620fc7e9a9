// Training jobs in the editor: the colab-train task type (a pseudoterminal that streams the
// job's log), Colab: Start Training / Try the Training Example / Show Training Metrics, a
// status bar item while a job runs, and a notification when one ends. The jobs themselves
// run detached under the daemon's supervisor (docs/training.md); this only dispatches.

import type * as vscode from 'vscode';
import type { Disposable, Event } from '../events';
import { errorCodes, methods, type ProgressParams, type RuntimeInfo, type TrainJobInfo, type TrainListResult, type TrainLogsResult, type TrainMetricsResult, type TrainStartParams } from '../protocol';
import { doneMessage, metricsHtml, splitCommand, trainingStatusText, trainingTooltip, type MetricRecord } from './trainingText';

export const trainingCommandIds = {
  startTraining: 'colab.startTraining',
  tryTrainingExample: 'colab.tryTrainingExample',
  showTrainingMetrics: 'colab.showTrainingMetrics',
  setTrainingWebhook: 'colab.setTrainingWebhook',
} as const;
/** The SecretStorage key of the webhook URL (template) jobs call when they end. */
export const trainingWebhookSecret = 'colab.training.webhookUrl';
export const trainTaskType = 'colab-train';
export const trainingStatusBarItemId = 'colab.trainingStatus';

export interface TrainingDaemon {
  request<R>(method: string, params?: unknown): Promise<R>;
  onNotification<P>(method: string, listener: (params: P) => void): Disposable;
}

/** What a colab-train task in tasks.json may say. */
export interface TrainTaskDefinition extends vscode.TaskDefinition {
  type: 'colab-train';
  command?: string | string[];
  example?: boolean;
  epochs?: number;
  checkpointDir?: string;
  maxRestarts?: number;
  checkpointEvery?: number;
  /** GPU models of which one must be present; default: the colab.gpu.required setting. [] turns the check off. */
  requiredGpu?: string | string[];
  /** 'disconnect': disconnect the job's runtime when it ends, releasing the GPU. */
  onDone?: 'notify' | 'disconnect';
  /** The local runtime the job belongs to; default with onDone 'disconnect': the connected local runtime. */
  runtimeId?: string;
  /** false: do not call the webhook (Colab: Set Training Webhook) for this job. */
  webhook?: boolean;
  /** 'remote': run the job on the connected remote Jupyter runtime (after syncing syncGlobs); default: the daemon's host. */
  runtime?: 'host' | 'remote';
  /** Remote jobs: workspace files to sync (relative globs; default ["**\/*.py"]). */
  syncGlobs?: string[];
  /** A persistent directory (e.g. a mounted Google Drive folder) each committed checkpoint is copied to; resume also looks there. */
  mirror?: string;
  /** A Google Drive folder (id or link) each committed checkpoint is uploaded to through the Drive sign-in; a new job restores from it. */
  driveFolder?: string;
}

const final = new Set(['succeeded', 'failed', 'stopped', 'lost']);

export function isFinal(job: TrainJobInfo): boolean {
  return final.has(job.state);
}

/** tasks.json definition → colab/train/start params; throws a message for the user on a bad definition. */
export function startParamsOf(def: TrainTaskDefinition, cwd: string | undefined, requiredGpuSetting: readonly string[] = []): TrainStartParams {
  const required = def.requiredGpu === undefined ? [...requiredGpuSetting] : typeof def.requiredGpu === 'string' ? [def.requiredGpu] : Array.isArray(def.requiredGpu) ? def.requiredGpu.map(String) : [];
  if (def.onDone !== undefined && def.onDone !== 'notify' && def.onDone !== 'disconnect') throw new Error('"onDone" in a colab-train task is "notify" or "disconnect"');
  const common: TrainStartParams = {
    ...(required.length > 0 ? { requiredGpu: required } : {}),
    ...(def.onDone ? { onDone: def.onDone } : {}),
    ...(typeof def.runtimeId === 'string' ? { runtimeId: def.runtimeId } : {}),
    ...(Array.isArray(def.syncGlobs) ? { syncGlobs: def.syncGlobs.map(String) } : {}),
    ...(typeof def.mirror === 'string' && def.mirror !== '' ? { mirror: def.mirror } : {}),
    ...(typeof def.driveFolder === 'string' && def.driveFolder !== '' ? { driveFolder: def.driveFolder } : {}),
  };
  if (def.runtime !== undefined && def.runtime !== 'host' && def.runtime !== 'remote') throw new Error('"runtime" in a colab-train task is "host" or "remote"');
  if (def.example) return { example: true, epochs: def.epochs, ...common };
  const argv = typeof def.command === 'string' ? splitCommand(def.command) : Array.isArray(def.command) ? def.command.map(String) : [];
  if (argv.length === 0) throw new Error('a colab-train task needs "command" (e.g. "python3 train.py") or "example": true');
  return {
    command: argv,
    workingDirectory: cwd,
    checkpointDirectory: def.checkpointDir,
    maxRestarts: def.maxRestarts,
    checkpointEvery: def.checkpointEvery,
    ...common,
  };
}

type Api = Pick<typeof vscode, 'window' | 'workspace' | 'StatusBarAlignment' | 'tasks' | 'Task' | 'TaskScope' | 'CustomExecution' | 'ViewColumn' | 'EventEmitter'> & {
  commands?: Pick<typeof vscode.commands, 'executeCommand'>;
  /** Absent: jobs start without a workDoneToken (colab/train/changed still drives the status bar). */
  ProgressLocation?: Pick<typeof vscode.ProgressLocation, 'Notification'>;
};

type ProgressSink = { report(value: { message?: string; increment?: number }): void };
export type TrainingSecrets = Pick<vscode.SecretStorage, 'get' | 'store' | 'delete'>;

export class TrainingController implements Disposable {
  private readonly jobs = new Map<string, TrainJobInfo>();
  private readonly item: vscode.StatusBarItem;
  private readonly subscriptions: Disposable[] = [];
  private panel: { panel: vscode.WebviewPanel; jobId: string; records: MetricRecord[]; offset: number; timer: ReturnType<typeof setInterval> } | undefined;

  constructor(
    private readonly api: Api,
    private readonly daemon: TrainingDaemon,
    private readonly pollMs = 500,
    private readonly secrets?: TrainingSecrets,
  ) {
    this.item = api.window.createStatusBarItem(trainingStatusBarItemId, api.StatusBarAlignment.Left, -2);
    this.item.name = 'Colab Training';
    this.item.command = trainingCommandIds.showTrainingMetrics;
    this.subscriptions.push(daemon.onNotification<TrainJobInfo>(methods.trainChanged.name, (job) => this.changed(job)));
    if (api.ProgressLocation) this.subscriptions.push(daemon.onNotification<ProgressParams>(methods.progress.name, (p) => this.progress(p)));
  }

  /** Work-done progress of jobs this window started: begin opens a notification, report moves it, end closes it. */
  private readonly progressByToken = new Map<string, { sink?: ProgressSink; done?: () => void; percentage: number; pending: ProgressParams['value'][] }>();

  progress(p: ProgressParams): void {
    const entry = this.progressByToken.get(String(p?.token));
    if (!entry || !p.value) return;
    const v = p.value;
    if (v.kind === 'begin' && !entry.done && this.api.ProgressLocation) {
      void this.api.window.withProgress({ location: this.api.ProgressLocation.Notification, title: v.title ?? 'Training', cancellable: false }, (sink) =>
        new Promise<void>((resolve) => {
          entry.sink = sink;
          entry.done = resolve;
          if (v.message) sink.report({ message: v.message });
          for (const queued of entry.pending.splice(0)) this.apply(entry, queued);
        }));
      return;
    }
    if (!entry.sink) {
      entry.pending.push(v);
      return;
    }
    this.apply(entry, v);
  }

  private apply(entry: { sink?: ProgressSink; done?: () => void; percentage: number }, v: ProgressParams['value']): void {
    const increment = typeof v.percentage === 'number' && v.percentage > entry.percentage ? v.percentage - entry.percentage : undefined;
    if (increment !== undefined) entry.percentage = v.percentage!;
    entry.sink?.report({ message: v.message, ...(increment !== undefined ? { increment } : {}) });
    if (v.kind === 'end') {
      entry.done?.();
      for (const [token, e] of this.progressByToken) if (e === entry) this.progressByToken.delete(token);
    }
  }

  /** A job changed: remember it, redraw the status bar, tell the user when one this window watched has ended. */
  changed(job: TrainJobInfo): void {
    const before = this.jobs.get(job.id);
    this.jobs.set(job.id, job);
    this.render();
    if (isFinal(job) && (!before || !isFinal(before))) {
      const m = doneMessage(job);
      const shown = m.kind === 'info' ? this.api.window.showInformationMessage(m.text, 'Show Metrics') : this.api.window.showErrorMessage(m.text, 'Show Metrics');
      void Promise.resolve(shown).then((pick) => {
        if (pick === 'Show Metrics') void this.showMetrics(job.id);
      });
    }
  }

  render(): void {
    const running = [...this.jobs.values()].filter((j) => !isFinal(j));
    if (running.length === 0) {
      this.item.hide();
      return;
    }
    const job = running.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt))[0];
    this.item.text = trainingStatusText(job) + (running.length > 1 ? ` (+${running.length - 1})` : '');
    this.item.tooltip = trainingTooltip(job);
    this.item.show();
  }

  /** Starts a job: the webhook from SecretStorage goes along (unless useWebhook is false), and onDone 'disconnect' gets the local runtime. */
  async start(params: TrainStartParams, useWebhook = true, runtime: 'host' | 'remote' = 'host'): Promise<TrainJobInfo> {
    const p: TrainStartParams = { ...params };
    if (runtime === 'remote' && !p.runtimeId) {
      const runtimes = (await this.daemon.request<{ runtimes: RuntimeInfo[] }>(methods.runtimeList.name, {})).runtimes;
      const remote = runtimes.filter((r) => r.kind === 'remote' && r.state === 'connected');
      if (remote.length === 0) throw new Error('"runtime": "remote" needs a connected remote runtime (Colab: Connect to Remote Runtime)');
      p.runtimeId = remote[remote.length - 1].id;
    }
    if (useWebhook && p.webhookUrl === undefined) {
      const url = await this.secrets?.get(trainingWebhookSecret);
      if (url) p.webhookUrl = url;
    }
    if (p.onDone === 'disconnect' && !p.runtimeId) {
      const runtimes = (await this.daemon.request<{ runtimes: RuntimeInfo[] }>(methods.runtimeList.name, {})).runtimes;
      const local = runtimes.filter((r) => r.kind === 'local' && r.state === 'connected');
      if (local.length === 0) throw new Error('onDone "disconnect" needs a connected local runtime (Colab: Connect to Local Runtime), or give "runtimeId"');
      p.runtimeId = local[local.length - 1].id;
    }
    if (this.api.ProgressLocation && p.workDoneToken === undefined) {
      p.workDoneToken = `colab-train-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
      this.progressByToken.set(p.workDoneToken, { percentage: 0, pending: [] });
    }
    let job: TrainJobInfo;
    try {
      job = await this.daemon.request<TrainJobInfo>(methods.trainStart.name, p);
    } catch (e) {
      if ((e as { code?: number }).code === errorCodes.TrainGpuMismatch) {
        void Promise.resolve(this.api.window.showErrorMessage((e as Error).message, 'Check GPU')).then((pick) => {
          if (pick === 'Check GPU') void this.api.commands?.executeCommand('colab.checkGpu');
        });
      }
      throw e;
    }
    this.changed(job);
    return job;
  }

  /** Colab: Set Training Webhook — the URL (template) kept in SecretStorage; empty removes it. */
  async setWebhook(): Promise<void> {
    if (!this.secrets) return;
    const url = await this.api.window.showInputBox({
      prompt: 'Webhook called when a training job succeeds or fails (POST, JSON). {jobId}, {state} and {text} are replaced. Empty removes it.',
      placeHolder: 'https://ntfy.sh/my-topic',
      password: true,
      ignoreFocusOut: true,
      validateInput: (v) => (v === '' || webhookUrlProblem(v) === undefined ? undefined : webhookUrlProblem(v)),
    });
    if (url === undefined) return;
    if (url === '') {
      await this.secrets.delete(trainingWebhookSecret);
      void this.api.window.showInformationMessage('Training webhook removed.');
      return;
    }
    await this.secrets.store(trainingWebhookSecret, url);
    void this.api.window.showInformationMessage('Training webhook saved in VS Code\'s secret storage; jobs started from now on call it when they end.');
  }

  /** Colab: Start Training — asks for the command, runs it as a colab-train task so its log streams to a terminal. */
  async startTraining(): Promise<void> {
    const line = await this.api.window.showInputBox({ prompt: 'Training command (run detached and resumable on the daemon\'s host)', placeHolder: 'python3 train.py --epochs 10' });
    if (!line) return;
    let argv: string[];
    try {
      argv = splitCommand(line);
    } catch (e) {
      void this.api.window.showErrorMessage(String((e as Error).message));
      return;
    }
    if (argv.length === 0) return;
    await this.api.tasks.executeTask(this.task({ type: trainTaskType, command: argv }, `train: ${argv.join(' ')}`));
  }

  async tryExample(): Promise<void> {
    await this.api.tasks.executeTask(this.task({ type: trainTaskType, example: true }, 'train: built-in digits example'));
  }

  task(def: TrainTaskDefinition, name: string): vscode.Task {
    const cwd = this.api.workspace.workspaceFolders?.[0]?.uri.fsPath;
    return new this.api.Task(def, this.api.TaskScope.Workspace, name, 'colab', new this.api.CustomExecution(async (resolved) =>
      new TrainTerminal(this.api, this, this.daemon, startParamsOf(resolved as TrainTaskDefinition, cwd, this.requiredGpuSetting()), this.pollMs,
        (resolved as TrainTaskDefinition).webhook !== false, (resolved as TrainTaskDefinition).runtime === 'remote' ? 'remote' : 'host')));
  }

  private requiredGpuSetting(): string[] {
    const v = this.api.workspace.getConfiguration?.('colab')?.get<unknown>('gpu.required');
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x.trim() !== '') : [];
  }

  taskProvider(): vscode.TaskProvider {
    return {
      provideTasks: () => [this.task({ type: trainTaskType, example: true }, 'built-in digits example')],
      resolveTask: (t: vscode.Task) => this.task(t.definition as TrainTaskDefinition, t.name),
    };
  }

  /** Colab: Show Training Metrics — live SVG curves of every scalar the job logs. */
  async showMetrics(jobId?: string): Promise<void> {
    let id = jobId;
    if (!id) {
      const list = (await this.daemon.request<TrainListResult>(methods.trainList.name, {})).jobs;
      list.forEach((j) => this.jobs.set(j.id, j));
      if (list.length === 0) {
        void this.api.window.showInformationMessage('No training jobs yet. Try "Colab: Try the Training Example".');
        return;
      }
      const newest = [...list].sort((a, b) => b.startedAt.localeCompare(a.startedAt));
      id = newest.length === 1 ? newest[0].id : (await this.api.window.showQuickPick(newest.map((j) => ({ label: j.id, description: j.state }))))?.label;
      if (!id) return;
    }
    this.panel?.panel.dispose();
    const panel = this.api.window.createWebviewPanel('colab.trainingMetrics', `Training ${id}`, this.api.ViewColumn.Beside, { enableScripts: false });
    const state = { panel, jobId: id, records: [] as MetricRecord[], offset: 0, timer: setInterval(() => void this.refresh(), 2000) };
    this.panel = state;
    panel.onDidDispose(() => {
      clearInterval(state.timer);
      if (this.panel === state) this.panel = undefined;
    });
    await this.refresh();
  }

  async refresh(): Promise<void> {
    const p = this.panel;
    if (!p) return;
    try {
      const r = await this.daemon.request<TrainMetricsResult>(methods.trainMetrics.name, { jobId: p.jobId, offset: p.offset });
      p.records.push(...r.records);
      p.offset = r.nextOffset;
      p.panel.webview.html = metricsHtml(this.jobs.get(p.jobId), p.records, p.panel.webview.cspSource);
      const job = this.jobs.get(p.jobId);
      if (job && isFinal(job) && r.records.length === 0) clearInterval(p.timer); // kept on screen after the run
    } catch {
      // the daemon restarts: the next tick asks again
    }
  }

  dispose(): void {
    this.panel?.panel.dispose();
    this.subscriptions.forEach((s) => s.dispose());
    this.item.dispose();
  }
}

/** The task's terminal: starts the job, then streams its log until it ends. Closing it stops following, not the detached job. */
export class TrainTerminal implements vscode.Pseudoterminal {
  private readonly writer: vscode.EventEmitter<string>;
  private readonly closer: vscode.EventEmitter<number>;
  readonly onDidWrite: Event<string>;
  readonly onDidClose: Event<number>;
  private closed = false;

  constructor(
    api: Pick<typeof vscode, 'EventEmitter'>,
    private readonly controller: TrainingController,
    private readonly daemon: TrainingDaemon,
    private readonly params: TrainStartParams,
    private readonly pollMs: number,
    private readonly useWebhook = true,
    private readonly runtime: 'host' | 'remote' = 'host',
  ) {
    this.writer = new api.EventEmitter<string>();
    this.closer = new api.EventEmitter<number>();
    this.onDidWrite = this.writer.event;
    this.onDidClose = this.closer.event;
  }

  open(): void {
    void this.run();
  }

  close(): void {
    this.closed = true;
  }

  private write(text: string): void {
    this.writer.fire(text.replace(/\r?\n/g, '\r\n'));
  }

  async run(): Promise<number> {
    let job: TrainJobInfo;
    try {
      job = await this.controller.start(this.params, this.useWebhook, this.runtime);
    } catch (e) {
      this.write(`Could not start the training job: ${(e as Error).message}\n`);
      this.closer.fire(1);
      return 1;
    }
    this.write(`Training job ${job.id} (detached: it keeps running if this terminal or VS Code closes; stop it with "colab train stop ${job.id}")\n`);
    let offset = 0;
    while (!this.closed) {
      let chunk: TrainLogsResult;
      try {
        chunk = await this.daemon.request<TrainLogsResult>(methods.trainLogs.name, { jobId: job.id, offset });
      } catch {
        await new Promise((r) => setTimeout(r, this.pollMs * 4));
        continue;
      }
      if (chunk.text) this.write(chunk.text);
      offset = chunk.nextOffset;
      if (chunk.ended) {
        const info = await this.daemon.request<TrainJobInfo>(methods.trainStatus.name, { jobId: job.id });
        this.controller.changed(info);
        const m = doneMessage(info);
        this.write(`\n${m.text}\n`);
        const code = info.state === 'succeeded' ? 0 : 1;
        this.closer.fire(code);
        return code;
      }
      if (!chunk.text) await new Promise((r) => setTimeout(r, this.pollMs));
    }
    return 0;
  }
}

/** Why a webhook URL would be refused (the daemon checks the same), or undefined. */
export function webhookUrlProblem(url: string): string | undefined {
  if (url.length > 2048 || /[\s\u0000-\u001f\u007f]/.test(url)) return 'at most 2048 characters, no spaces or control characters';
  let parsed: URL;
  try {
    parsed = new URL(url.replace(/\{(jobId|state|text)\}/g, 'x'));
  } catch {
    return 'not a URL';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'an http:// or https:// URL';
  return undefined;
}
