// The GitHub commands: Open Notebook from GitHub (any link form, or browse a repository),
// Copy Open-in-VS-Code Link, Copy Open-in-Colab Badge, and the vscode:// URI handler.
// The daemon parses, fetches and checks (colab/github/*); these only ask, dispatch and show.
// A notebook opens as an UNTITLED copy: nothing is written until the user saves it.
// The token comes from SecretStorage or VS Code's GitHub sign-in, goes into the request
// params only, and is never logged.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as vscode from 'vscode';
import { messageOf } from '../daemon/client';
import type { Disposable } from '../events';
import type { PlainItem } from '../notebook/outputs';
import {
  errorCodes,
  methods,
  type GitHubLinksResult,
  type GitHubListResult,
  type GitHubOpenParams,
  type GitHubOpenResult,
  type GitHubTarget,
  type DriveStatusResult,
  type DriveTransfer,
} from '../protocol';
import { plainNotebook } from './notebookData';

export const gitHubCommandIds = {
  openFromGitHub: 'colab.openFromGitHub',
  copyOpenInVsCodeLink: 'colab.copyOpenInVsCodeLink',
  copyColabBadge: 'colab.copyColabBadge',
} as const;

export const gitHubSettings = {
  enterpriseUrl: 'colab.github.enterpriseUrl',
  maxNotebookSizeMB: 'colab.github.maxNotebookSizeMB',
} as const;

export const tokenSecretKey = 'colab.github.token';
export const recentReposKey = 'colab.github.recentRepos';
export const signInAction = 'Sign in to GitHub';
export const setTokenAction = 'Enter a Token';
export const saveCopyAction = 'Save a Copy…';
export const saveToDriveAction = 'Save a Copy to Drive';
const switchRefLabel = '$(git-branch) Switch branch or tag…';

type Api = Pick<
  typeof vscode,
  'window' | 'workspace' | 'commands' | 'env' | 'authentication' | 'NotebookData' | 'NotebookCellData' | 'NotebookCellKind' | 'NotebookCellOutput' | 'NotebookCellOutputItem'
>;

export interface GitHubCommandContext {
  readonly vscode: Api;
  readonly daemon: { request<R>(method: string, params?: unknown): Promise<R> };
  readonly secrets: Pick<vscode.SecretStorage, 'get' | 'store'>;
  readonly state: Pick<vscode.Memento, 'get' | 'update'>;
  /** publisher.name, for vscode://<id>/github/… links. */
  readonly extensionId: string;
  readonly log: { error(message: string): void; info(message: string): void };
}

function errorCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

function access(ctx: GitHubCommandContext): { baseUrl?: string; maxBytes?: number } {
  const config = ctx.vscode.workspace.getConfiguration();
  const baseUrl = config.get<unknown>(gitHubSettings.enterpriseUrl);
  const mb = config.get<unknown>(gitHubSettings.maxNotebookSizeMB);
  return {
    baseUrl: typeof baseUrl === 'string' && baseUrl.trim() ? baseUrl.trim() : undefined,
    maxBytes: typeof mb === 'number' && mb > 0 ? Math.round(mb * 1024 * 1024) : undefined,
  };
}

/** A saved token, else a GitHub session VS Code already has (never prompts here). */
async function token(ctx: GitHubCommandContext): Promise<string | undefined> {
  const saved = await ctx.secrets.get(tokenSecretKey);
  if (saved) {
    return saved;
  }
  try {
    const session = await ctx.vscode.authentication.getSession('github', ['repo'], { silent: true });
    return session?.accessToken;
  } catch {
    return undefined; // no GitHub authentication provider in this host
  }
}

/** Asks the daemon; on an access error offers sign-in or a token and asks once more. */
async function withAccess<R>(ctx: GitHubCommandContext, method: string, params: Record<string, unknown>): Promise<R | undefined> {
  const first = await token(ctx);
  try {
    return await ctx.daemon.request<R>(method, { ...params, ...access(ctx), token: first });
  } catch (error) {
    const code = errorCode(error);
    const accessProblem = code === errorCodes.GitHubNotFound || code === errorCodes.GitHubUnauthorized || code === errorCodes.GitHubRateLimited;
    if (!accessProblem) {
      throw error;
    }
    const choice = await ctx.vscode.window.showErrorMessage(`Colab: ${messageOf(error)}`, signInAction, setTokenAction);
    let next: string | undefined;
    if (choice === signInAction) {
      try {
        next = (await ctx.vscode.authentication.getSession('github', ['repo'], { createIfNone: true }))?.accessToken;
      } catch (signInError) {
        await ctx.vscode.window.showErrorMessage(`Colab: GitHub sign-in failed: ${messageOf(signInError)}`);
        return undefined;
      }
    } else if (choice === setTokenAction) {
      next = await ctx.vscode.window.showInputBox({
        title: 'GitHub Token',
        prompt: 'A personal access token with read access to the repository (kept in VS Code secret storage)',
        password: true,
        ignoreFocusOut: true,
      });
      if (next) {
        await ctx.secrets.store(tokenSecretKey, next);
      }
    }
    if (!next) {
      return undefined;
    }
    return await ctx.daemon.request<R>(method, { ...params, ...access(ctx), token: next });
  }
}

function toItem(ctx: GitHubCommandContext, item: PlainItem): vscode.NotebookCellOutputItem {
  const Item = ctx.vscode.NotebookCellOutputItem;
  switch (item.kind) {
    case 'stdout':
      return Item.stdout(item.text);
    case 'stderr':
      return Item.stderr(item.text);
    case 'text':
      return Item.text(item.text, item.mime);
    case 'bytes':
      return new Item(item.bytes, item.mime);
    case 'json':
      return Item.json(item.value, item.mime);
    case 'error':
      return Item.error({ name: item.name, message: item.message, stack: item.stack });
  }
}

/** Opens the answer as an untitled notebook and offers to save a copy. */
export async function showNotebook(ctx: GitHubCommandContext, result: GitHubOpenResult): Promise<vscode.NotebookDocument> {
  const api = ctx.vscode;
  const plain = plainNotebook(result.notebook);
  const cells = plain.cells.map((c) => {
    const cell = new api.NotebookCellData(c.kind === 'code' ? api.NotebookCellKind.Code : api.NotebookCellKind.Markup, c.source, c.language);
    cell.metadata = c.metadata;
    cell.outputs = c.outputs.map((o) => new api.NotebookCellOutput(o.items.map((i) => toItem(ctx, i)), o.metadata));
    if (c.executionCount !== undefined) {
      cell.executionSummary = { executionOrder: c.executionCount };
    }
    return cell;
  });
  const data = new api.NotebookData(cells);
  data.metadata = plain.metadata;
  const document = await api.workspace.openNotebookDocument('jupyter-notebook', data);
  await api.window.showNotebookDocument(document);
  const where = result.source.kind === 'gist' ? `gist ${result.source.gistId}` : `${result.source.owner}/${result.source.repo}@${result.source.ref ?? 'default branch'}`;
  ctx.log.info(`github: opened ${result.suggestedName} from ${where} (${result.bytes} bytes)`);
  void Promise.resolve(
    api.window.showInformationMessage(
      `Colab: opened ${result.suggestedName} from ${where} as an untitled copy.${result.note ? ` ${result.note}` : ''}`,
      saveCopyAction,
      saveToDriveAction,
    ),
  ).then(async (choice) => {
    if (choice === saveCopyAction) {
      await api.window.showNotebookDocument(document);
      await api.commands.executeCommand('workbench.action.files.saveAs');
    } else if (choice === saveToDriveAction) {
      await saveCopyToDrive(ctx, result);
    }
  });
  return document;
}

/**
 * Uploads the notebook as opened to the top of the Drive in use (a mounted folder, or My
 * Drive through the API) with colab/drive/put, which verifies the md5. The daemon uploads
 * from a file, so the copy goes through a private temporary folder that is removed after.
 */
export async function saveCopyToDrive(ctx: GitHubCommandContext, result: GitHubOpenResult): Promise<DriveTransfer | undefined> {
  const api = ctx.vscode;
  try {
    const status = await ctx.daemon.request<DriveStatusResult>(methods.driveStatus.name, {});
    if (!status.kind) {
      void api.window.showWarningMessage('Colab: no Drive in use. Run "Colab: Use a Drive Folder…" first, then save the copy again.');
      return undefined;
    }
    const name = path.basename(result.suggestedName) || 'notebook.ipynb';
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'colab-github-'));
    try {
      const file = path.join(dir, name);
      fs.writeFileSync(file, JSON.stringify(result.notebook, null, 1) + '\n', { mode: 0o600 });
      const parentId = status.kind === 'api' ? 'root' : '';
      const sent = await ctx.daemon.request<DriveTransfer>(methods.drivePut.name, { localPath: file, parentId, name });
      void api.window.showInformationMessage(`Colab: saved ${name} to Drive${sent.verified ? ` (${sent.verifiedWith ?? 'checksum'} verified)` : ''}.`);
      return sent;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  } catch (e) {
    ctx.log.error(`github: saving a copy to Drive failed: ${messageOf(e)}`);
    void api.window.showErrorMessage(`Colab: could not save the copy to Drive: ${messageOf(e)}`);
    return undefined;
  }
}

async function remember(ctx: GitHubCommandContext, repo: string): Promise<void> {
  const recent = (ctx.state.get<string[]>(recentReposKey) ?? []).filter((r) => r !== repo);
  await ctx.state.update(recentReposKey, [repo, ...recent].slice(0, 10));
}

async function openTarget(ctx: GitHubCommandContext, target: GitHubTarget): Promise<void> {
  const result = await withAccess<GitHubOpenResult>(ctx, methods.gitHubOpen.name, { target });
  if (result) {
    if (target.owner && target.repo) {
      await remember(ctx, `${target.owner}/${target.repo}`);
    }
    await showNotebook(ctx, result);
  }
}

/** A quick pick of every notebook in the repository at a ref, with a branch/tag switch. */
async function browse(ctx: GitHubCommandContext, repoText: string, ref?: string): Promise<void> {
  const window = ctx.vscode.window;
  let currentRef = ref;
  for (;;) {
    const list = await withAccess<GitHubListResult>(ctx, methods.gitHubList.name, { repo: repoText, ref: currentRef });
    if (!list) {
      return;
    }
    await remember(ctx, `${list.owner}/${list.repo}`);
    const items: (vscode.QuickPickItem & { path?: string })[] = [
      { label: switchRefLabel, description: `now ${list.ref}` },
      ...list.notebooks.map((n) => ({ label: n.path.split('/').pop() ?? n.path, description: n.path, path: n.path })),
    ];
    const pick = await window.showQuickPick(items, {
      title: `${list.owner}/${list.repo}@${list.ref}: ${list.notebooks.length} notebook(s)${list.truncated ? ' (GitHub truncated the tree)' : ''}`,
      placeHolder: list.notebooks.length ? 'The notebook to open' : 'No notebooks at this ref; switch branch or tag',
      matchOnDescription: true,
    });
    if (!pick) {
      return;
    }
    if (pick.path !== undefined) {
      await openTarget(ctx, { kind: 'file', owner: list.owner, repo: list.repo, ref: list.ref, path: pick.path });
      return;
    }
    const refPick = await window.showQuickPick(
      [
        ...list.branches.map((b) => ({ label: b, description: b === list.defaultBranch ? 'default branch' : 'branch' })),
        ...list.tags.map((t) => ({ label: t, description: 'tag' })),
      ],
      { title: `${list.owner}/${list.repo}: branch or tag`, placeHolder: list.ref },
    );
    if (!refPick) {
      return;
    }
    currentRef = refPick.label;
  }
}

/** colab.openFromGitHub [link]: resolve, then open a notebook or browse a folder/repository. */
export function openFromGitHub(ctx: GitHubCommandContext): (link?: unknown) => Promise<void> {
  return async (link?: unknown) => {
    const window = ctx.vscode.window;
    let text = typeof link === 'string' ? link : undefined;
    if (text === undefined) {
      const recent = ctx.state.get<string[]>(recentReposKey) ?? [];
      text = await window.showInputBox({
        title: 'Open Notebook from GitHub',
        prompt: 'A GitHub, raw, "Open in Colab" or gist link, or owner/repo[/path.ipynb][@ref]',
        placeHolder: recent.length ? `e.g. ${recent[0]} (recent: ${recent.slice(0, 3).join(', ')})` : 'https://github.com/owner/repo/blob/main/notebook.ipynb',
        ignoreFocusOut: true,
      });
      if (text === undefined) {
        return;
      }
      if (!text.trim() && recent.length) {
        const pick = await window.showQuickPick(recent, { title: 'Recent repositories', placeHolder: 'The repository to browse' });
        if (!pick) {
          return;
        }
        text = pick;
      }
    }
    const target = await withAccess<GitHubTarget>(ctx, methods.gitHubResolve.name, { url: text } satisfies GitHubOpenParams);
    if (!target) {
      return;
    }
    if (target.kind === 'file' || target.kind === 'gist') {
      await openTarget(ctx, target);
    } else {
      await browse(ctx, text, target.ref);
    }
  };
}

function notebookPath(ctx: GitHubCommandContext, arg: unknown): string | undefined {
  const uri = (arg as { fsPath?: string; scheme?: string } | undefined) ?? ctx.vscode.window.activeNotebookEditor?.notebook.uri;
  return uri?.scheme === 'file' && uri.fsPath ? uri.fsPath : undefined;
}

async function links(ctx: GitHubCommandContext, arg: unknown): Promise<GitHubLinksResult | undefined> {
  const path = notebookPath(ctx, arg);
  if (!path) {
    await ctx.vscode.window.showInformationMessage('Colab: open a notebook saved in a git repository first.');
    return undefined;
  }
  return ctx.daemon.request<GitHubLinksResult>(methods.gitHubLinks.name, { path, baseUrl: access(ctx).baseUrl });
}

/** vscode://<publisher.name>/github/<owner>/<repo>/blob/<ref>/<path> for a GitHub file. */
export function vscodeLink(extensionId: string, l: Pick<GitHubLinksResult, 'owner' | 'repo' | 'ref' | 'path'>): string {
  const escape = (p: string) => p.split('/').map(encodeURIComponent).join('/');
  return `vscode://${extensionId}/github/${l.owner}/${l.repo}/blob/${escape(l.ref)}/${escape(l.path)}`;
}

export function copyOpenInVsCodeLink(ctx: GitHubCommandContext): (arg?: unknown) => Promise<void> {
  return async (arg?: unknown) => {
    const l = await links(ctx, arg);
    if (l) {
      const link = vscodeLink(ctx.extensionId, l);
      await ctx.vscode.env.clipboard.writeText(link);
      await ctx.vscode.window.showInformationMessage(`Colab: copied ${link}`);
    }
  };
}

export function copyColabBadge(ctx: GitHubCommandContext): (arg?: unknown) => Promise<void> {
  return async (arg?: unknown) => {
    const l = await links(ctx, arg);
    if (l) {
      await ctx.vscode.env.clipboard.writeText(l.badgeMarkdown);
      await ctx.vscode.window.showInformationMessage(`Colab: copied the Open-in-Colab badge for ${l.owner}/${l.repo}/${l.path} (Markdown).`);
    }
  };
}

/** vscode://<id>/github/… and /gist/…: the path is a link form the daemon reads. */
export function gitHubUriHandler(ctx: GitHubCommandContext): vscode.UriHandler {
  const open = reported(ctx, 'uri', openFromGitHub(ctx));
  return {
    handleUri: async (uri: vscode.Uri) => {
      if (uri.path.startsWith('/github/') || uri.path.startsWith('/gist/')) {
        await open(uri.path);
      } else {
        await ctx.vscode.window.showErrorMessage(`Colab: this link is not one Colab opens (${uri.path.slice(0, 80)}).`);
      }
    },
  };
}

function reported<A extends unknown[]>(ctx: GitHubCommandContext, name: string, command: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await command(...args);
    } catch (error) {
      ctx.log.error(`${name} failed: ${messageOf(error)}`);
      await ctx.vscode.window.showErrorMessage(`Colab: ${messageOf(error)}`);
    }
  };
}

export function registerGitHubCommands(ctx: GitHubCommandContext): Disposable[] {
  return [
    ctx.vscode.commands.registerCommand(gitHubCommandIds.openFromGitHub, reported(ctx, gitHubCommandIds.openFromGitHub, openFromGitHub(ctx))),
    ctx.vscode.commands.registerCommand(gitHubCommandIds.copyOpenInVsCodeLink, reported(ctx, gitHubCommandIds.copyOpenInVsCodeLink, copyOpenInVsCodeLink(ctx))),
    ctx.vscode.commands.registerCommand(gitHubCommandIds.copyColabBadge, reported(ctx, gitHubCommandIds.copyColabBadge, copyColabBadge(ctx))),
  ];
}
