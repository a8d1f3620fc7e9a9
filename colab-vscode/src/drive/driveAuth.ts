// Google Drive sign-in. The daemon runs OAuth for installed apps (PKCE, state, a one-shot
// loopback listener) and hands the tokens back; this file only opens the browser (through
// asExternalUri, so a remote workspace forwards the port), offers the paste-the-code
// fallback, and keeps the tokens in SecretStorage — never in settings, files or logs.

import type * as vscode from 'vscode';
import { methods, type DriveAccountTokens, type DriveOAuthSettings, type DriveSignInBeginResult, type DriveSignOutResult } from '../protocol';

export const driveTokensKey = 'colab.drive.oauth.tokens';
export const driveAuthCommandIds = { signIn: 'colab.driveSignIn', signOut: 'colab.driveSignOut' } as const;
export const driveSignedInContext = 'colab.driveSignedIn';
const asExternalUriWaitMs = 10_000;

export const driveAuthSettings = {
  clientId: 'colab.drive.oauth.clientId',
  clientSecret: 'colab.drive.oauth.clientSecret',
  authorizeUrl: 'colab.drive.oauth.authorizeUrl',
  tokenUrl: 'colab.drive.oauth.tokenUrl',
  revokeUrl: 'colab.drive.oauth.revokeUrl',
  access: 'colab.drive.access',
  apiUrl: 'colab.drive.apiUrl',
} as const;

export interface DriveAuthDaemon {
  request<R>(method: string, params?: unknown, token?: vscode.CancellationToken): Promise<R>;
  onNotification<P>(method: string, listener: (params: P) => void): vscode.Disposable;
}

export interface DriveAuthDeps {
  vscode: Pick<typeof vscode, 'window' | 'workspace' | 'env' | 'Uri' | 'commands' | 'ProgressLocation'>;
  daemon: DriveAuthDaemon;
  secrets: Pick<vscode.SecretStorage, 'get' | 'store' | 'delete'>;
  /** Redraws the Drive view. */
  refresh(): void;
  /** After sign-out: go back to the mounted folder the user picked, if any. */
  restoreFolder(): Promise<void>;
}

export interface DriveAuthConfig {
  oauth?: DriveOAuthSettings;
  access: 'read' | 'readWrite' | 'full';
  apiUrl?: string;
}

export function readDriveAuthConfig(workspace: Pick<typeof vscode.workspace, 'getConfiguration'>): DriveAuthConfig {
  const config = workspace.getConfiguration();
  const text = (name: string) => {
    const v = config.get<unknown>(name);
    return typeof v === 'string' && v.trim() ? v.trim() : undefined;
  };
  const clientId = text(driveAuthSettings.clientId);
  const access = text(driveAuthSettings.access);
  return {
    oauth: clientId
      ? { clientId, clientSecret: text(driveAuthSettings.clientSecret), authorizeUrl: text(driveAuthSettings.authorizeUrl), tokenUrl: text(driveAuthSettings.tokenUrl), revokeUrl: text(driveAuthSettings.revokeUrl) }
      : undefined,
    access: access === 'read' || access === 'full' ? access : 'readWrite',
    apiUrl: text(driveAuthSettings.apiUrl),
  };
}

/** The stored tokens, or undefined when there are none or they are not the shape this extension stores. */
export async function readStoredTokens(secrets: Pick<vscode.SecretStorage, 'get'>): Promise<DriveAccountTokens | undefined> {
  const raw = await secrets.get(driveTokensKey);
  if (!raw) return undefined;
  try {
    const t = JSON.parse(raw) as Partial<DriveAccountTokens>;
    if (typeof t.accessToken !== 'string' || typeof t.expiresAt !== 'string') return undefined;
    if (t.refreshToken !== undefined && typeof t.refreshToken !== 'string') return undefined;
    return { accessToken: t.accessToken, refreshToken: t.refreshToken, expiresAt: t.expiresAt, scope: typeof t.scope === 'string' ? t.scope : undefined };
  } catch {
    return undefined;
  }
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Hands the stored account to a (re)started daemon; false when there is none to use. */
export async function restoreDriveAccount(deps: DriveAuthDeps): Promise<boolean> {
  const tokens = await readStoredTokens(deps.secrets);
  const cfg = readDriveAuthConfig(deps.vscode.workspace);
  if (!tokens || !cfg.oauth) {
    await deps.vscode.commands.executeCommand('setContext', driveSignedInContext, false);
    return false;
  }
  await deps.daemon.request(methods.driveUseAccount.name, { tokens, oauth: cfg.oauth, baseUrl: cfg.apiUrl });
  await deps.vscode.commands.executeCommand('setContext', driveSignedInContext, true);
  return true;
}

/**
 * The forwarded address of the listener's callback. code-server's asExternalUri answers only
 * its proxy for the port (`http://host/proxy/<port>/`) and drops the path, which its proxy
 * then strips again on the way in: put the callback path (`/oauth2callback`) back.
 */
export function forwardedRedirect(loopback: string, external: string): string {
  let l: URL;
  let e: URL;
  try {
    l = new URL(loopback);
    e = new URL(external);
  } catch {
    return external; // the daemon checks it and says what is wrong
  }
  if (e.pathname.endsWith(l.pathname)) return external;
  e.pathname = e.pathname.replace(/\/+$/, '') + l.pathname;
  return e.toString();
}

/** colab.driveSignIn: true when signed in. */
export async function signIn(deps: DriveAuthDeps): Promise<boolean> {
  const v = deps.vscode;
  const cfg = readDriveAuthConfig(v.workspace);
  if (!cfg.oauth) {
    const open = 'Open Settings';
    const choice = await v.window.showErrorMessage(
      'Signing in to Google Drive needs an OAuth client: set "colab.drive.oauth.clientId" and "colab.drive.oauth.clientSecret" to a Desktop-app client from the Google Cloud console (with the Drive API enabled). A mounted Drive folder needs no sign-in.',
      open,
    );
    if (choice === open) await v.commands.executeCommand('workbench.action.openSettings', 'colab.drive');
    return false;
  }
  try {
    let flow = await deps.daemon.request<DriveSignInBeginResult>(methods.driveSignInBegin.name, { oauth: cfg.oauth, access: cfg.access });
    // In a remote workspace the listener is on the remote host: the editor forwards its port.
    const loopback = v.Uri.parse(flow.loopbackUri);
    // Never wait forever for the editor's port forwarding: after 10 s go on with the loopback
    // address (a local browser reaches it); the paste fallback covers the rest.
    let giveUp: (v: undefined) => void = () => undefined;
    const timer = setTimeout(() => giveUp(undefined), asExternalUriWaitMs);
    const external = await Promise.race([v.env.asExternalUri(loopback), new Promise<undefined>((r) => (giveUp = r))]).finally(() => clearTimeout(timer));
    if (external && external.toString(true) !== loopback.toString(true)) {
      flow = await deps.daemon.request<DriveSignInBeginResult>(methods.driveSignInRedirect.name, { flowId: flow.flowId, redirectUri: forwardedRedirect(flow.loopbackUri, external.toString(true)) });
    }
    const tokens = await v.window.withProgress(
      { location: v.ProgressLocation.Notification, title: 'Signing in to Google Drive: finish in the browser…', cancellable: true },
      async (_progress, cancel) => {
        const finished = deps.daemon.request<DriveAccountTokens>(methods.driveSignInFinish.name, { flowId: flow.flowId }, cancel);
        const opened = await v.env.openExternal(v.Uri.parse(flow.authorizeUrl, true));
        void offerPaste(deps, flow, opened, finished);
        return finished;
      },
    );
    await deps.secrets.store(driveTokensKey, JSON.stringify(tokens));
    await deps.daemon.request(methods.driveUseAccount.name, { tokens, oauth: cfg.oauth, baseUrl: cfg.apiUrl });
    await v.commands.executeCommand('setContext', driveSignedInContext, true);
    deps.refresh();
    void v.window.showInformationMessage('Signed in to Google Drive.');
    return true;
  } catch (e) {
    void v.window.showErrorMessage(`Google Drive sign-in: ${message(e)}`);
    return false;
  }
}

/** The fallback when the browser's redirect cannot reach the listener: paste the code or the address. */
async function offerPaste(deps: DriveAuthDeps, flow: DriveSignInBeginResult, opened: boolean, finished: Promise<unknown>): Promise<void> {
  const v = deps.vscode;
  const paste = 'Paste Code…';
  const copy = 'Copy Sign-in Link';
  let done = false;
  void finished.then(() => (done = true), () => (done = true));
  const prompt = opened
    ? 'If the browser cannot return to VS Code after you allow access, paste the code or the address the browser ended on.'
    : 'The browser did not open: copy the sign-in link into a browser, then paste the code or the address it ended on.';
  const choice = await v.window.showInformationMessage(prompt, paste, copy);
  if (done || !choice) return;
  if (choice === copy) {
    await v.env.clipboard.writeText(flow.authorizeUrl);
    return offerPaste(deps, flow, true, finished);
  }
  const text = await v.window.showInputBox({ prompt: 'The code Google showed, or the whole address the browser ended on', ignoreFocusOut: true, password: true });
  if (done || !text) return;
  try {
    await deps.daemon.request(methods.driveSignInPaste.name, { flowId: flow.flowId, text });
  } catch (e) {
    void v.window.showErrorMessage(`Google Drive sign-in: ${message(e)}`);
    return offerPaste(deps, flow, true, finished);
  }
}

/** colab.driveSignOut: revokes at Google and forgets the tokens here, whatever Google answers. */
export async function signOut(deps: DriveAuthDeps): Promise<void> {
  const v = deps.vscode;
  const tokens = await readStoredTokens(deps.secrets);
  const cfg = readDriveAuthConfig(v.workspace);
  let result: DriveSignOutResult | undefined;
  let failure: unknown;
  try {
    result = await deps.daemon.request<DriveSignOutResult>(methods.driveSignOut.name, { token: tokens?.refreshToken ?? tokens?.accessToken, revokeUrl: cfg.oauth?.revokeUrl });
  } catch (e) {
    failure = e;
  } finally {
    await deps.secrets.delete(driveTokensKey);
    await v.commands.executeCommand('setContext', driveSignedInContext, false);
  }
  await deps.restoreFolder().catch(() => undefined);
  deps.refresh();
  if (failure) void v.window.showWarningMessage(`Signed out of Google Drive here; revoking at Google failed: ${message(failure)}`);
  else if (result?.revoked) void v.window.showInformationMessage('Signed out of Google Drive; access was revoked.');
  else void v.window.showInformationMessage(`Signed out of Google Drive. ${result?.message ?? ''}`.trim());
}

/** Commands and the refresh listener (the daemon's refreshed tokens go to SecretStorage). */
export function registerDriveAuth(deps: DriveAuthDeps): vscode.Disposable[] {
  const v = deps.vscode;
  return [
    v.commands.registerCommand(driveAuthCommandIds.signIn, () => signIn(deps)),
    v.commands.registerCommand(driveAuthCommandIds.signOut, () => signOut(deps)),
    deps.daemon.onNotification<DriveAccountTokens>(methods.driveTokensRefreshed.name, (t) => {
      if (t && typeof t.accessToken === 'string' && typeof t.expiresAt === 'string') void deps.secrets.store(driveTokensKey, JSON.stringify(t));
    }),
  ];
}
