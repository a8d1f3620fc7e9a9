// End-to-end harness: a real VS Code (code-server, from scripts/setup.sh) with the Colab
// extension installed, driven in Debian's Chromium by playwright-core.
// Recipe and traps: shared/notes/vscode-e2e.md. Launching code-server is shared with
// scripts/start.sh through scripts/code-server.mjs.
//
// Synchronisation is always "poll a condition until one shared timeout", never a sleep;
// every failure says what was seen.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';

/** The repository root (this file runs from out/tests/e2e/). */
export const repoRoot = path.resolve(__dirname, '..', '..', '..');
/** Screenshots and logs of each run (gitignored). */
export const resultsDir = path.join(repoRoot, 'test-results', 'e2e');
/** The one timeout every wait in a scenario uses (COLAB_E2E_TIMEOUT_MS overrides). */
export const timeoutMs = Number(process.env.COLAB_E2E_TIMEOUT_MS || 30_000);
/** Debian's Chromium (scripts/setup.sh installs it); playwright never downloads a browser here. */
export const chromiumPath = process.env.COLAB_CHROMIUM || '/usr/bin/chromium';

const setupHint = 'Run scripts/setup.sh (it installs Chromium, ripgrep and code-server for the end-to-end tests).';

/** The parts of scripts/code-server.mjs the harness uses. */
interface CodeServerModule {
  baseSettings: Record<string, unknown>;
  extensionDir: string;
  daemonPath: string;
  codeServerEntry(): string;
  writeSettings(userDataDir: string, settings?: Record<string, unknown>, opts?: { keepExisting?: boolean }): string;
  installExtension(extensionsDir: string, folder?: string): { id: string; version: string; link: string };
  freePort(host?: string): Promise<number>;
  startCodeServer(opts: {
    host?: string; port: number; userDataDir: string; extensionsDir: string; workspace?: string;
    env?: Record<string, string>; logFile?: string; echo?: boolean; detached?: boolean;
  }): RunningCodeServer;
  processTree(rootPid: number): number[];
  commandLine(pid: number): string;
  killTree(rootPid: number, signal?: NodeJS.Signals): number[];
}

interface RunningCodeServer {
  pid: number;
  url: string;
  workspaceUrl: string;
  output(): string;
  exited(): { code: number | null; signal: string | null } | null;
  ready(timeoutMs?: number): Promise<void>;
  stop(opts?: { graceMs?: number }): Promise<void>;
}

// TypeScript compiles import() to require() for CommonJS output; keep a real dynamic import
// so that the ES module loads on every Node 20.
const importEsm = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

let codeServerModule: CodeServerModule | undefined;
export async function loadCodeServerModule(): Promise<CodeServerModule> {
  codeServerModule ??= (await importEsm(pathToFileURL(path.join(repoRoot, 'scripts', 'code-server.mjs')).href)) as CodeServerModule;
  return codeServerModule;
}

/** Polls `probe` until it returns something other than undefined; on timeout throws with `what` and the last thing seen. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  seen: () => Promise<string> | string,
  timeout = timeoutMs,
): Promise<T> {
  const deadline = Date.now() + timeout;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 100)); // poll interval, not a synchronisation sleep
  }
  let lastSeen: string;
  try { lastSeen = await seen(); } catch (e) { lastSeen = `(could not read: ${(e as Error).message})`; }
  const err = lastError ? `; last error: ${(lastError as Error).message}` : '';
  throw new Error(`Timed out after ${timeout} ms waiting for ${what}. Seen: ${lastSeen}${err}`);
}

export interface SessionOptions {
  /** Extension folder to install (default: COLAB_E2E_EXTENSION_DIR, else colab-vscode/). */
  extensionDir?: string;
  /**
   * Installs the extension into the session's fresh extensions folder instead of linking
   * `extensionDir` there (the package tests: `--install-extension` of the VSIX).
   */
  install?: (extensionsDir: string) => void;
  /** Extra environment for code-server (and so for the extension host and the daemon). */
  env?: Record<string, string>;
  /** Name of the run, for the log folder under test-results/e2e/. */
  name: string;
}

/** One code-server with the extension, one Chromium page on it. Shared by the scenarios of a test file. */
export class VsCodeSession {
  private constructor(
    readonly cs: CodeServerModule,
    readonly server: RunningCodeServer,
    readonly browser: Browser,
    readonly context: BrowserContext,
    readonly page: Page,
    readonly tempDir: string,
    readonly userDataDir: string,
    readonly workspace: string,
    readonly name: string,
  ) {}

  static async start(opts: SessionOptions): Promise<VsCodeSession> {
    const cs = await loadCodeServerModule();
    if (!fs.existsSync(chromiumPath)) throw new Error(`Chromium not found at ${chromiumPath}. ${setupHint}`);
    cs.codeServerEntry(); // throws, naming scripts/setup.sh, when code-server is not installed
    const extensionDir = opts.extensionDir ?? process.env.COLAB_E2E_EXTENSION_DIR ?? cs.extensionDir;
    const pkg = JSON.parse(fs.readFileSync(path.join(extensionDir, 'package.json'), 'utf8')) as { main?: string };
    const main = path.resolve(extensionDir, pkg.main ?? 'dist/extension.js');
    if (!fs.existsSync(main) && !fs.existsSync(`${main}.js`)) {
      throw new Error(`The extension is not built (${main} is missing). Run: node scripts/build.mjs`);
    }
    if (!opts.env?.COLAB_DAEMON_PATH && !fs.existsSync(cs.daemonPath)) {
      throw new Error(`The daemon is not built (${cs.daemonPath} is missing). Run: node scripts/build.mjs`);
    }
    const { chromium } = await import('playwright-core');

    const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'colab-e2e-'));
    const userDataDir = path.join(tempDir, 'user-data');
    const extensionsDir = path.join(tempDir, 'extensions');
    const workspace = path.join(tempDir, 'workspace');
    fs.mkdirSync(workspace, { recursive: true });
    fs.writeFileSync(path.join(workspace, 'README.md'), '# e2e workspace\n');
    cs.writeSettings(userDataDir, cs.baseSettings);
    if (opts.install) opts.install(extensionsDir);
    else cs.installExtension(extensionsDir, extensionDir);
    fs.mkdirSync(resultsDir, { recursive: true });

    const port = await cs.freePort('127.0.0.1');
    const logFile = path.join(resultsDir, `${opts.name}.code-server.log`);
    fs.rmSync(logFile, { force: true });
    const server = cs.startCodeServer({ host: '127.0.0.1', port, userDataDir, extensionsDir, workspace, env: opts.env, logFile });
    registerEmergencyKill(cs, server.pid, tempDir);
    let browser: Browser | undefined;
    const t0 = Date.now();
    try {
      await server.ready(timeoutMs * 2);
      const tServer = Date.now();
      browser = await chromium.launch({
        executablePath: chromiumPath,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
          '--disable-component-update', '--disable-sync', '--no-first-run'],
      }).catch((e: Error) => { throw new Error(`Chromium (${chromiumPath}) did not start: ${e.message}\n${setupHint}`); });
      const context = await browser.newContext({ viewport: { width: 1400, height: 860 } });
      const page = await context.newPage();
      const session = new VsCodeSession(cs, server, browser, context, page, tempDir, userDataDir, workspace, opts.name);
      await page.goto(server.workspaceUrl, { timeout: timeoutMs * 2 });
      await page.waitForSelector('.monaco-workbench', { timeout: timeoutMs * 2 });
      // The status bar is the last part the workbench lays out; wait for it so key presses land.
      await page.waitForSelector('.part.statusbar .statusbar-item', { timeout: timeoutMs });
      process.stderr.write(`[e2e] code-server ${server.url} answered in ${tServer - t0} ms; workbench loaded in Chromium ${Date.now() - tServer} ms later\n`);
      return session;
    } catch (e) {
      await browser?.close().catch(() => undefined);
      await server.stop();
      unregisterEmergencyKill(server.pid);
      fs.rmSync(tempDir, { recursive: true, force: true });
      throw new Error(`${(e as Error).message}\ncode-server output:\n${server.output().slice(-4000)}`);
    }
  }

  // ---- processes --------------------------------------------------------------------------

  /** Pids of daemon processes (`colab daemon`) under this code-server (normally one). */
  daemonPids(): number[] {
    return this.cs.processTree(this.server.pid)
      .filter((pid) => pid !== process.pid && /\bcolab(?:\.dll|\.exe)? daemon\b/.test(this.cs.commandLine(pid)))
      .sort((a, b) => a - b);
  }

  /** What runs under code-server, for failure messages. */
  describeProcesses(): string {
    return this.cs.processTree(this.server.pid).map((pid) => `${pid} ${this.cs.commandLine(pid).slice(0, 160)}`).join('\n  ');
  }

  /** Waits until exactly one daemon runs under code-server and it is not one of `notPids`. */
  async waitForDaemon(notPids: number[] = []): Promise<number> {
    return waitFor(
      notPids.length ? `a new daemon process (not ${notPids.join(', ')})` : 'a daemon process',
      () => {
        const pids = this.daemonPids();
        return pids.length === 1 && !notPids.includes(pids[0]) ? pids[0] : undefined;
      },
      () => `processes under code-server (pid ${this.server.pid}):\n  ${this.describeProcesses()}`,
    );
  }

  /** Waits until `pid` has exited (or is a zombie). */
  async waitForExit(pid: number): Promise<void> {
    await waitFor(`process ${pid} to exit`, () => (isAlive(pid) ? undefined : true), () => `${pid} ${this.cs.commandLine(pid)}`);
  }

  // ---- the workbench --------------------------------------------------------------------------

  /** The text of the Colab status bar item ("Colab: ready", …), or undefined when there is none. */
  async colabStatus(): Promise<string | undefined> {
    const texts = await this.statusBarTexts();
    return texts.find((t) => /^Colab:/.test(t));
  }

  async statusBarTexts(): Promise<string[]> {
    return this.page.$$eval('.part.statusbar .statusbar-item', (els) =>
      els.map((e) => (e.textContent ?? '').replace(/\s+/g, ' ').trim()).filter((t) => t.length > 0));
  }

  /** Waits for the Colab status bar item to read `text` exactly (the codicon is not text). */
  async waitForStatus(text: string, timeout = timeoutMs): Promise<void> {
    await waitFor(
      `the status bar to show "${text}"`,
      async () => ((await this.colabStatus()) === text ? true : undefined),
      async () => `status bar items: ${JSON.stringify(await this.statusBarTexts())}`,
      timeout,
    );
  }

  /**
   * Records every text the Colab status bar item shows from now on (a MutationObserver in
   * the page), so that a quick "starting" between two "ready"s is not missed.
   */
  async recordStatus(): Promise<() => Promise<string[]>> {
    const key = `__colabStatus${Date.now()}`;
    await this.page.evaluate((k) => {
      const w = window as unknown as Record<string, unknown>;
      const seen: string[] = [];
      w[k] = seen;
      const read = () => {
        for (const el of Array.from(document.querySelectorAll('.part.statusbar .statusbar-item'))) {
          const t = (el.textContent ?? '').replace(/\s+/g, ' ').trim();
          if (t.startsWith('Colab:')) return t;
        }
        return '(no Colab item)';
      };
      seen.push(read());
      const bar = document.querySelector('.part.statusbar');
      if (bar) {
        new MutationObserver(() => {
          const t = read();
          if (seen[seen.length - 1] !== t) seen.push(t);
        }).observe(bar, { subtree: true, childList: true, characterData: true, attributes: true });
      }
    }, key);
    return () => this.page.evaluate((k) => (window as unknown as Record<string, string[]>)[k].slice(), key);
  }

  /**
   * Waits until the Colab status, as recorded by `history` (from recordStatus()), has left
   * `text` and come back to it. Checking the current text alone would race: the daemon's
   * process can be seen to change before the status bar in the page has caught up.
   */
  async waitForStatusCycle(history: () => Promise<string[]>, text = 'Colab: ready'): Promise<string[]> {
    return waitFor(
      `the status bar to leave "${text}" and come back to it`,
      async () => {
        const seen = await history();
        const left = seen.slice(1).some((t) => t !== text);
        return left && seen[seen.length - 1] === text && (await this.colabStatus()) === text ? seen : undefined;
      },
      async () => `status texts since recording began: ${JSON.stringify(await history())}; status bar now: ${JSON.stringify(await this.statusBarTexts())}`,
    );
  }

  /** Opens the command palette (F1) with an empty query after the '>' prefix. */
  async openPalette(): Promise<void> {
    const input = this.page.locator('.quick-input-widget .quick-input-box input');
    if (await input.isVisible()) await this.page.keyboard.press('Escape');
    await this.page.locator('.monaco-workbench').focus().catch(() => undefined);
    await this.page.keyboard.press('F1');
    await waitFor(
      'the command palette to open',
      async () => ((await input.isVisible()) && (await input.inputValue()) === '>' ? true : undefined),
      async () => `palette visible=${await input.isVisible()}, value=${JSON.stringify(await input.inputValue().catch(() => null))}`,
    );
  }

  /** Labels of the palette rows currently shown. */
  async paletteRows(): Promise<string[]> {
    return this.page.$$eval('.quick-input-widget .quick-input-list .monaco-list-row', (els) =>
      els.map((e) => (e.querySelector('.label-name')?.textContent ?? e.getAttribute('aria-label') ?? '').trim()));
  }

  /** Types `query` in the palette and returns the labels shown once every one of `expected` is there. */
  async paletteSearch(query: string, expected: string[]): Promise<string[]> {
    await this.openPalette();
    await this.page.keyboard.type(query);
    // The palette stays open for the caller's screenshot; closePalette() closes it.
    return waitFor(
      `the palette, filtered by ${JSON.stringify(query)}, to list ${JSON.stringify(expected)}`,
      async () => {
        const rows = await this.paletteRows();
        return expected.every((t) => rows.includes(t)) ? rows : undefined;
      },
      async () => `rows: ${JSON.stringify(await this.paletteRows())}`,
    );
  }

  async closePalette(): Promise<void> {
    const input = this.page.locator('.quick-input-widget .quick-input-box input');
    if (await input.isVisible()) await this.page.keyboard.press('Escape');
    await waitFor('the command palette to close', async () => ((await input.isVisible()) ? undefined : true), () => 'palette still open');
  }

  /** Runs a palette command by its full title ("Colab: Show Status"): F1, type, pick that exact row. */
  async runCommand(title: string): Promise<void> {
    await this.openPalette();
    await this.page.keyboard.type(title);
    const rowSel = '.quick-input-widget .quick-input-list .monaco-list-row';
    const index = await waitFor(
      `the palette to offer "${title}"`,
      async () => {
        const i = (await this.paletteRows()).indexOf(title);
        return i >= 0 ? i : undefined;
      },
      async () => `rows: ${JSON.stringify(await this.paletteRows())}`,
    );
    const row = this.page.locator(rowSel).nth(index);
    if ((await row.getAttribute('class'))?.includes('focused')) await this.page.keyboard.press('Enter');
    else await row.click();
    const input = this.page.locator('.quick-input-widget .quick-input-box input');
    await waitFor(`the palette to close after running "${title}"`, async () => ((await input.isVisible()) ? undefined : true),
      async () => `palette still open with rows ${JSON.stringify(await this.paletteRows())}`);
  }

  /** Texts of the notifications shown (toasts and the notification center). */
  async notificationTexts(): Promise<string[]> {
    return this.page.$$eval('.notifications-toasts .notification-list-item-message, .notifications-center .notification-list-item-message',
      (els) => els.map((e) => (e.textContent ?? '').replace(/\s+/g, ' ').trim()));
  }

  /** Texts of the notification toasts that have finished fading in (fully opaque). */
  async shownToastTexts(): Promise<string[]> {
    return this.page.$$eval('.notifications-toasts .notification-toast', (els) =>
      els.filter((e) => getComputedStyle(e).opacity === '1')
        .map((e) => (e.querySelector('.notification-list-item-message')?.textContent ?? '').replace(/\s+/g, ' ').trim()));
  }

  /** Waits for a notification whose text matches `pattern` (a toast, fully shown, or in the center); returns that text. */
  async waitForNotification(pattern: RegExp): Promise<string> {
    await waitFor(
      `a notification matching ${pattern}`,
      async () => (await this.notificationTexts()).find((t) => pattern.test(t)),
      async () => `notifications: ${JSON.stringify(await this.notificationTexts())}`,
    );
    // Then, for a readable screenshot, until its toast has faded in (unless it went to the center).
    return waitFor(
      `the notification matching ${pattern} to be fully shown`,
      async () => (await this.shownToastTexts()).find((t) => pattern.test(t))
        ?? (await this.page.$$eval('.notifications-center .notification-list-item-message', (els) => els.map((e) => (e.textContent ?? '').replace(/\s+/g, ' ').trim()))).find((t) => pattern.test(t)),
      async () => `notifications: ${JSON.stringify(await this.notificationTexts())}, fully shown toasts: ${JSON.stringify(await this.shownToastTexts())}`,
    );
  }

  async clearNotifications(): Promise<void> {
    await this.runCommand('Notifications: Clear All Notifications');
    await waitFor('no notifications', async () => ((await this.notificationTexts()).length === 0 ? true : undefined),
      async () => `notifications: ${JSON.stringify(await this.notificationTexts())}`);
  }

  /** Opens a view container from the activity bar by its title ("Colab"). */
  async openActivity(title: string): Promise<void> {
    const item = this.page.locator(`.part.activitybar .action-label[aria-label="${title}"], .part.activitybar .action-label[aria-label^="${title} ("]`).first();
    await waitFor(`the activity bar to have "${title}"`, async () => ((await item.count()) > 0 ? true : undefined),
      async () => `activity bar: ${JSON.stringify(await this.page.$$eval('.part.activitybar .action-label', (els) => els.map((e) => e.getAttribute('aria-label'))))}`);
    const sidebarTitle = async () => (await this.page.locator('.part.sidebar .composite.title').textContent().catch(() => null)) ?? '';
    if (!(await sidebarTitle()).startsWith(title)) {
      await item.click();
      // Move the pointer off the activity bar so that its hover does not cover screenshots.
      await this.page.mouse.move(700, 400);
    }
    await waitFor(`the side bar to show "${title}"`, async () => ((await sidebarTitle()).startsWith(title) ? true : undefined),
      async () => `side bar title: ${JSON.stringify(await sidebarTitle())}`);
  }

  /** The side bar's title and the headers of its views. */
  async sideBarTitles(): Promise<{ title: string; views: string[] }> {
    const title = ((await this.page.locator('.part.sidebar .composite.title').textContent().catch(() => null)) ?? '').trim();
    const views = await this.page.$$eval('.part.sidebar .pane-header', (els) => els.map((e) => (e.textContent ?? '').trim()));
    return { title, views };
  }

  /** The output channel the Output view shows, and the text of its editor. */
  async outputView(): Promise<{ channel: string; text: string } | undefined> {
    return this.page.evaluate(() => {
      const view = document.querySelector('.part.panel .output-view');
      if (!view || !(view as HTMLElement).offsetParent) return undefined;
      const select = document.querySelector('.part.panel .title-actions select.monaco-select-box, .part.panel select.monaco-select-box') as HTMLSelectElement | null;
      const lines = view.querySelector('.monaco-editor .view-lines') as HTMLElement | null;
      return { channel: select?.value ?? '', text: (lines?.innerText ?? '').replace(/\u00a0/g, ' ') };
    });
  }

  /** Saves test-results/e2e/<name>.png. */
  async screenshot(name: string): Promise<string> {
    fs.mkdirSync(resultsDir, { recursive: true });
    const file = path.join(resultsDir, `${name}.png`);
    await this.page.screenshot({ path: file, timeout: 10_000 });
    return file;
  }

  /** Closes Chromium, kills code-server's whole tree (extension host, daemon), keeps the logs, removes the temp dir. */
  async close(): Promise<void> {
    const daemons = this.daemonPids();
    await this.browser.close().catch(() => undefined);
    await this.server.stop();
    for (const pid of daemons) if (isAlive(pid)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    unregisterEmergencyKill(this.server.pid);
    // Keep VS Code's own logs (extension host, the output channels) next to the screenshots.
    const logs = path.join(this.userDataDir, 'logs');
    if (fs.existsSync(logs)) {
      const dest = path.join(resultsDir, `${this.name}.vscode-logs`);
      fs.rmSync(dest, { recursive: true, force: true });
      fs.cpSync(logs, dest, { recursive: true });
    }
    fs.rmSync(this.tempDir, { recursive: true, force: true });
  }
}

/** Whether `pid` runs (a zombie counts as gone). */
/** The pids still alive after a bounded wait: a SIGKILLed process takes a moment to be gone on a loaded machine. */
export async function stillAlive(pids: Iterable<number>, waitMs = 15_000): Promise<number[]> {
  let left = [...pids].filter(isAlive);
  for (const deadline = Date.now() + waitMs; left.length > 0 && Date.now() < deadline; left = left.filter(isAlive)) {
    await new Promise((r) => setTimeout(r, 200));
  }
  return left;
}

export function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

// If the test process dies (an uncaught error, Ctrl+C), still kill what it started.
const liveServers = new Map<number, string>();
let emergencyHooked = false;
function registerEmergencyKill(cs: CodeServerModule, pid: number, tempDir: string): void {
  liveServers.set(pid, tempDir);
  if (emergencyHooked) return;
  emergencyHooked = true;
  const killAll = () => {
    for (const [p, dir] of liveServers) {
      cs.killTree(p);
      try { fs.rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ }
    }
    liveServers.clear();
  };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => { killAll(); process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1)); });
  }
}
function unregisterEmergencyKill(pid: number): void {
  liveServers.delete(pid);
}

/** A scenario body that always leaves a screenshot named after it, pass or fail. */
export function withScreenshot(session: () => VsCodeSession | undefined, name: string, body: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await body();
    } finally {
      const s = session();
      if (s) await s.screenshot(name).catch((e) => process.stderr.write(`screenshot ${name} failed: ${(e as Error).message}\n`));
    }
  };
}

// ---- helpers shared by the scenario files -------------------------------------

/** Builds the fake NVML library (tests/fixtures/fake-nvml) into a temporary folder; returns its path. */
export function buildFakeNvml(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'colab-e2e-nvml-'));
  const lib = path.join(dir, 'libnvidia-ml.so.1');
  const gcc = spawnSync('gcc', ['-shared', '-fPIC', '-O1', '-o', lib, path.join(repoRoot, 'tests', 'fixtures', 'fake-nvml', 'fake_nvml.c')], { encoding: 'utf8' });
  if (gcc.status !== 0) throw new Error(`gcc could not build the fake NVML (apt-get install build-essential): ${gcc.stderr}`);
  return lib;
}

/** An nbformat 4 notebook of Python code cells, as file text. */
export function notebook(cells: string[]): string {
  return JSON.stringify(
    {
      cells: cells.map((source) => ({ cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: [source] })),
      metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' }, language_info: { name: 'python' } },
      nbformat: 4,
      nbformat_minor: 5,
    },
    null,
    1,
  );
}

/** The text of every frame (outputs and webviews render in nested frames); Monaco's non-breaking spaces as spaces. */
export async function allText(vs: VsCodeSession): Promise<string> {
  const texts: string[] = [];
  for (const frame of vs.page.frames()) {
    texts.push((await frame.locator('body').innerText({ timeout: 1000 }).catch(() => '')).replace(/\u00a0/g, ' '));
  }
  return texts.join('\n');
}

/** Quick Open (Ctrl+P): types a file name, waits for it to be offered, opens it. */
export async function quickOpen(vs: VsCodeSession, file: string): Promise<void> {
  await vs.page.keyboard.press('Control+P');
  await vs.page.keyboard.type(file);
  await waitFor(`Quick Open to offer ${file}`, async () => ((await vs.paletteRows()).some((r) => r.includes(file)) ? true : undefined),
    async () => `rows: ${JSON.stringify(await vs.paletteRows())}`);
  await vs.page.keyboard.press('Enter');
}

/** The rows of a side bar view ("Runtimes", "Google Drive") as "label — description", expanding it first; undefined when absent. */
export async function viewRows(vs: VsCodeSession, title: string): Promise<string[] | undefined> {
  return vs.page.evaluate((t) => {
    for (const pane of Array.from(document.querySelectorAll('.part.sidebar .pane'))) {
      const header = pane.querySelector('.pane-header');
      const name = (header?.querySelector('.title')?.textContent ?? '').trim();
      if (name.toLowerCase() !== t.toLowerCase()) continue;
      if (header && !header.classList.contains('expanded')) {
        (header as HTMLElement).click();
        return [];
      }
      return Array.from(pane.querySelectorAll('.pane-body .monaco-list-row')).map((row) => {
        const label = (row.querySelector('.label-name')?.textContent ?? '').trim();
        const description = (row.querySelector('.label-description')?.textContent ?? '').trim();
        return description ? `${label} — ${description}` : label;
      });
    }
    return undefined;
  }, title);
}
