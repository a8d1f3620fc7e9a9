#!/usr/bin/env node
// A Google OAuth 2.0 stand-in for installed apps, written from Google's public reference
// ("OAuth 2.0 for Mobile & Desktop Apps", https://developers.google.com/identity/protocols/oauth2/native-app):
//   GET  /o/oauth2/v2/auth  client_id, redirect_uri (loopback), response_type=code, scope, state,
//                           code_challenge + code_challenge_method=S256 → 302 to redirect_uri with
//                           code+state (or error=access_denied when consent is refused)
//   POST /token             grant_type=authorization_code (code, code_verifier, redirect_uri, client_id,
//                           client_secret) and grant_type=refresh_token → {access_token, expires_in,
//                           refresh_token?, scope, token_type}; errors {error, error_description}
//   POST /revoke            token=… (a refresh token also revokes its access tokens) → 200, or 400 invalid_token
// Control: POST /__control/oauth {consent: "allow"|"deny", expiresIn, clientSecret, allowAnyRedirect}
// and POST /__control/oauth/expire (every access token stops working), GET /__control/oauth/state.
// Mounted into drive-standin.mjs (issued access tokens are valid for its Drive API) or run alone:
// node oauth-standin.mjs prints "LISTENING <port>".
import http from 'node:http';
import crypto from 'node:crypto';
import { pathToFileURL } from 'node:url';

export const CLIENT_ID = 'test-client.apps.googleusercontent.com';
export const CLIENT_SECRET = 'test-installed-app-secret';

const b64url = (buf) => buf.toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');

/** hooks.issue(token) / hooks.revoke(token): keep another server's token list in step. */
export function createOAuth(hooks = {}) {
  const s = {
    consent: 'allow', expiresIn: 3600, clientSecret: CLIENT_SECRET, allowAnyRedirect: false,
    codes: new Map(), refresh: new Map(), access: new Map(), log: [],
  };
  const issue = (scope, refreshToken) => {
    const token = `ya29.${b64url(crypto.randomBytes(24))}`;
    s.access.set(token, { scope, refreshToken });
    hooks.issue?.(token);
    return token;
  };
  const revokeAccess = (token) => { s.access.delete(token); hooks.revoke?.(token); };

  function readBody(req) {
    return new Promise((resolve, reject) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  }
  function json(res, code, obj) {
    const b = Buffer.from(JSON.stringify(obj));
    res.writeHead(code, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': b.length, 'Cache-Control': 'no-store' });
    res.end(b);
  }
  function page(res, code, text) {
    res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(text);
  }
  function loopbackRedirect(uri) {
    try {
      const u = new URL(uri);
      if (s.allowAnyRedirect) return u.protocol === 'http:' || u.protocol === 'https:';
      // Google: http on 127.0.0.1, [::1] or localhost, any port; no fragment.
      return u.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname) && !u.hash;
    } catch {
      return false;
    }
  }

  function authorize(url, res) {
    const p = url.searchParams;
    s.log.push({ endpoint: 'authorize', params: Object.fromEntries(p) });
    if (p.get('client_id') !== CLIENT_ID) return page(res, 401, 'Error 401: invalid_client. The OAuth client was not found.');
    const redirect = p.get('redirect_uri');
    if (!redirect || !loopbackRedirect(redirect)) return page(res, 400, 'Error 400: invalid_request. redirect_uri must be a loopback address.');
    if (p.get('response_type') !== 'code') return page(res, 400, 'Error 400: unsupported_response_type');
    const challenge = p.get('code_challenge');
    if (p.get('code_challenge_method') !== 'S256' || !challenge || !/^[A-Za-z0-9_-]{43}$/.test(challenge)) return page(res, 400, 'Error 400: invalid_request. PKCE S256 is required here.');
    const scope = p.get('scope') ?? '';
    if (!scope || !scope.split(' ').every((x) => x.startsWith('https://www.googleapis.com/auth/drive'))) return page(res, 400, 'Error 400: invalid_scope');
    const to = new URL(redirect);
    if (s.consent === 'deny') {
      to.searchParams.set('error', 'access_denied');
    } else {
      const code = `4/${b64url(crypto.randomBytes(24))}`;
      s.codes.set(code, { challenge, redirect, scope, used: false, at: Date.now() });
      to.searchParams.set('code', code);
      to.searchParams.set('scope', scope);
    }
    if (p.has('state')) to.searchParams.set('state', p.get('state'));
    res.writeHead(302, { Location: to.toString(), 'Content-Length': 0 });
    res.end();
  }

  async function token(req, res) {
    const p = new URLSearchParams(await readBody(req));
    const grant = p.get('grant_type');
    s.log.push({ endpoint: 'token', grant, hasVerifier: p.has('code_verifier') });
    if (p.get('client_id') !== CLIENT_ID || (s.clientSecret && p.get('client_secret') !== s.clientSecret)) {
      return json(res, 401, { error: 'invalid_client', error_description: 'Unauthorized' });
    }
    if (grant === 'authorization_code') {
      const c = s.codes.get(p.get('code') ?? '');
      if (!c || c.used || Date.now() - c.at > 600_000) return json(res, 400, { error: 'invalid_grant', error_description: 'Malformed auth code.' });
      c.used = true;
      if (p.get('redirect_uri') !== c.redirect) return json(res, 400, { error: 'redirect_uri_mismatch', error_description: 'Bad Request' });
      const verifier = p.get('code_verifier') ?? '';
      if (b64url(crypto.createHash('sha256').update(verifier).digest()) !== c.challenge) return json(res, 400, { error: 'invalid_grant', error_description: 'Invalid code verifier.' });
      const refreshToken = `1//${b64url(crypto.randomBytes(32))}`;
      s.refresh.set(refreshToken, { scope: c.scope });
      return json(res, 200, { access_token: issue(c.scope, refreshToken), expires_in: s.expiresIn, refresh_token: refreshToken, scope: c.scope, token_type: 'Bearer' });
    }
    if (grant === 'refresh_token') {
      const r = s.refresh.get(p.get('refresh_token') ?? '');
      if (!r) return json(res, 400, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
      return json(res, 200, { access_token: issue(r.scope, p.get('refresh_token')), expires_in: s.expiresIn, scope: r.scope, token_type: 'Bearer' });
    }
    return json(res, 400, { error: 'unsupported_grant_type', error_description: `Invalid grant_type: ${grant}` });
  }

  async function revoke(req, res) {
    const p = new URLSearchParams(await readBody(req));
    const t = p.get('token') ?? '';
    s.log.push({ endpoint: 'revoke' });
    if (s.refresh.has(t)) {
      s.refresh.delete(t);
      for (const [a, v] of [...s.access]) if (v.refreshToken === t) revokeAccess(a);
      return json(res, 200, {});
    }
    if (s.access.has(t)) { revokeAccess(t); return json(res, 200, {}); }
    return json(res, 400, { error: 'invalid_token', error_description: 'Token expired or revoked' });
  }

  /** Serves the OAuth routes; false when the request is not for them. */
  async function handle(req, res, url) {
    if (url.pathname === '/o/oauth2/v2/auth' && req.method === 'GET') { authorize(url, res); return true; }
    if (url.pathname === '/token' && req.method === 'POST') { await token(req, res); return true; }
    if (url.pathname === '/revoke' && req.method === 'POST') { await revoke(req, res); return true; }
    if (url.pathname === '/__control/oauth' && req.method === 'POST') {
      const body = await readBody(req);
      const j = body ? JSON.parse(body) : {};
      for (const k of ['consent', 'expiresIn', 'clientSecret', 'allowAnyRedirect']) if (j[k] !== undefined) s[k] = j[k];
      json(res, 200, {}); return true;
    }
    if (url.pathname === '/__control/oauth/expire') {
      for (const a of [...s.access.keys()]) revokeAccess(a);
      json(res, 200, {}); return true;
    }
    if (url.pathname === '/__control/oauth/state') {
      json(res, 200, { refreshTokens: s.refresh.size, accessTokens: s.access.size, log: s.log }); return true;
    }
    return false;
  }

  return { handle };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const oauth = createOAuth();
  const server = http.createServer((req, res) => {
    oauth.handle(req, res, new URL(req.url, 'http://x')).then((done) => {
      if (!done) { res.writeHead(404); res.end(); }
    }, (e) => { if (!res.headersSent) { res.writeHead(500); res.end(String(e?.message ?? e)); } });
  });
  const portArg = process.argv.indexOf('--port');
  server.listen(portArg > 0 ? Number(process.argv[portArg + 1]) : 0, '127.0.0.1', () => process.stdout.write(`LISTENING ${server.address().port}\n`));
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
