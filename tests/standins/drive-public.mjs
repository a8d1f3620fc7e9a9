// The public, no-sign-in side of Google Drive, for the stand-in (drive-standin.mjs): what a
// share link leads to. One origin plays drive.google.com, docs.google.com and
// drive.usercontent.google.com (the client is configured with that origin for all three):
//   GET /uc?export=download&id=ID        → 303 to /download?id=ID&export=download (as Drive does
//                                            today), or the older warning page (mode "legacy")
//   GET /download?id=ID&export=download  → the file as an attachment, or for files over the scan
//                                            threshold the "Virus scan warning" page whose form
//                                            GETs /download with hidden id, export, confirm, uuid
//   GET /{document|spreadsheets|presentation}/d/ID/export?format=F → the export as an attachment
// Private files redirect to accounts.google.com; "quota" serves Drive's quota-exceeded page.
// Hostile modes (for the client's tests) serve forms or redirects that point elsewhere.
// Control: POST /__control/link { id, public?, mode?, scanThreshold? }.
import crypto from 'node:crypto';

const pub = new Map(); // id -> { public, mode }
let scanThreshold = 100 * 1024 * 1024;
const uuids = new Map(); // uuid -> id
const legacyTokens = new Map(); // id -> token

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function page(res, code, title, body, headers = {}) {
  const b = Buffer.from(`<!DOCTYPE html><html><head><title>${esc(title)}</title><meta http-equiv="content-type" content="text/html; charset=utf-8"/></head><body>${body}</body></html>`);
  res.writeHead(code, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': b.length, ...headers });
  res.end(b);
}

function human(n) {
  return n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(1)}G` : `${Math.round(n / (1 << 20))}M`;
}

function sendAttachment(req, res, buf, name, mime, fault) {
  let start = 0, end = buf.length - 1, code = 200;
  const headers = {
    'Content-Type': mime,
    'Content-Disposition': `attachment; filename="${name.replace(/[^\x20-\x7e]|"/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`,
    'Accept-Ranges': 'bytes',
  };
  const m = req.headers.range ? /^bytes=(\d+)-$/.exec(req.headers.range) : null;
  if (m) {
    start = Number(m[1]);
    if (start >= buf.length) { res.writeHead(416, { 'Content-Range': `bytes */${buf.length}` }); res.end(); return; }
    code = 206; headers['Content-Range'] = `bytes ${start}-${end}/${buf.length}`;
  }
  headers['Content-Length'] = end - start + 1;
  res.writeHead(code, headers);
  if (fault?.dropAfterBytes !== undefined) {
    const cut = Math.min(fault.dropAfterBytes, end - start + 1);
    res.write(buf.subarray(start, start + cut), () => setTimeout(() => res.socket?.destroy(), 20));
    return;
  }
  res.end(buf.subarray(start, end + 1));
}

function signIn(res, req, url) {
  res.writeHead(302, { Location: `https://accounts.google.com/ServiceLogin?service=wise&passive=1209600&continue=${encodeURIComponent(`http://${req.headers.host}${url.pathname}${url.search}`)}`, 'Content-Length': 0 });
  res.end();
}

function quotaPage(res) {
  page(res, 200, 'Google Drive - Quota exceeded',
    '<div class="uc-main"><div id="uc-text"><p class="uc-error-caption">Sorry, you can&#39;t view or download this file at this time.</p>'
    + '<p class="uc-error-subcaption">Too many users have viewed or downloaded this file recently. Please try accessing the file again later. If the file you are trying to access is particularly large or is shared with many people, it may take up to 24 hours to be able to view or download the file. If you still can&#39;t access a file after 24 hours, contact your domain administrator.</p></div></div>');
}

function scanPage(req, res, f, mode) {
  const uuid = crypto.randomUUID();
  uuids.set(uuid, f.id);
  const host = `http://${req.headers.host}`;
  const action = mode === 'formOtherHost' ? 'http://169.254.169.254/download' : mode === 'formRelative' ? '/download' : `${host}/download`;
  const id = mode === 'formOtherId' ? 'OtherFile0123456789' : f.id;
  const confirm = mode === 'formOddToken' ? 't&quot;&gt;&lt;script&gt;' : 't';
  page(res, 200, 'Google Drive - Virus scan warning',
    '<div class="uc-main"><div id="uc-text"><p class="uc-warning-caption">Google Drive can\'t scan this file for viruses.</p>'
    + `<p class="uc-warning-subcaption"><span class="uc-name-size"><a href="/open?id=${esc(f.id)}">${esc(f.name)}</a> (${human(f.content.length)})</span> is too large for Google to scan for viruses. Would you still like to download this file?</p>`
    + `<form id="download-form" action="${esc(action)}" method="get"><input type="submit" id="uc-download-link" class="goog-inline-block jfk-button jfk-button-action" value="Download anyway"/>`
    + `<input type="hidden" name="id" value="${esc(id)}"><input type="hidden" name="export" value="download"><input type="hidden" name="confirm" value="${confirm}"><input type="hidden" name="uuid" value="${uuid}"></form></div></div>`
    + '<div class="uc-footer"><hr class="uc-footer-divider"></div>');
}

function legacyPage(req, res, f) {
  const token = crypto.randomBytes(3).toString('base64url').replace(/[^A-Za-z0-9]/g, 'x');
  legacyTokens.set(f.id, token);
  page(res, 200, 'Google Drive - Virus scan warning',
    '<div class="uc-main"><div id="uc-text"><p class="uc-warning-caption">Google Drive can\'t scan this file for viruses.</p>'
    + `<p class="uc-warning-subcaption"><span class="uc-name-size"><a href="/open?id=${esc(f.id)}">${esc(f.name)}</a> (${human(f.content.length)})</span> is too large for Google to scan for viruses. Would you still like to download this file?</p>`
    + `<a id="uc-download-link" class="goog-inline-block jfk-button jfk-button-action" href="/uc?export=download&amp;confirm=${token}&amp;id=${esc(f.id)}">Download anyway</a></div></div>`,
    { 'Set-Cookie': `download_warning_13058876669334088843_${f.id}=${token}; Domain=127.0.0.1; Path=/uc; Secure; HttpOnly` });
}

function cookieOf(req, name) {
  for (const part of String(req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return null;
}

/** Handles the public routes; answers false for anything else. */
export function publicRoutes({ state, takeFault }) {
  return async function handlePublic(req, res, url) {
    if (url.pathname === '/__control/link') {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const j = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      if (j.scanThreshold !== undefined) scanThreshold = j.scanThreshold;
      if (j.id) pub.set(j.id, { public: j.public ?? true, mode: j.mode ?? null });
      if (j.reset) { pub.clear(); uuids.clear(); legacyTokens.clear(); scanThreshold = 100 * 1024 * 1024; }
      res.writeHead(200, { 'Content-Type': 'application/json' }); res.end('{}');
      return true;
    }
    let m;
    const isUc = url.pathname === '/uc';
    const isDownload = url.pathname === '/download';
    const exp = (m = /^\/(document|spreadsheets|presentation)\/d\/([^/]+)\/export$/.exec(url.pathname));
    if (!isUc && !isDownload && !exp) return false;
    if (req.method !== 'GET') { res.writeHead(405); res.end(); return true; }
    state.requests.push({ method: req.method, url: req.url, range: req.headers.range, public: true });
    const id = exp ? decodeURIComponent(m[2]) : url.searchParams.get('id');
    const f = id ? state.files.get(id) : null;
    if (!f || f.trashed) { page(res, 404, 'Google Drive - Page Not Found', '<p>Sorry, the file you have requested does not exist.</p>'); return true; }
    const p = pub.get(f.id) ?? { public: false, mode: null };
    if (p.mode === 'redirectElsewhere') {
      res.writeHead(302, { Location: 'http://169.254.169.254/latest/meta-data/', 'Content-Length': 0 }); res.end(); return true;
    }
    if (!p.public) { signIn(res, req, url); return true; }
    if (p.mode === 'quota') { quotaPage(res); return true; }
    if (p.mode === 'hugePage') {
      const b = Buffer.alloc(3 << 20, 'x');
      res.writeHead(200, { 'Content-Type': 'text/html' }); res.end(b); return true;
    }
    if (p.mode === 'unknownPage') { page(res, 200, 'Google Drive', '<p>Something changed.</p>'); return true; }
    if (exp) {
      if (!f.exportContent) { page(res, 404, 'Google Docs - Page Not Found', '<p>Sorry, the file you have requested does not exist.</p>'); return true; }
      const fmt = url.searchParams.get('format');
      if (f.exportContent.length > 10 * 1024 * 1024) { page(res, 200, 'Google Docs', '<p class="uc-error-caption">This file is too large to be exported.</p>'); return true; }
      sendAttachment(req, res, f.exportContent, `${f.name}.${fmt}`, 'application/octet-stream', null);
      return true;
    }
    if (!f.content) { page(res, 403, 'Google Drive - Access denied', '<p class="uc-error-caption">Only files with binary content can be downloaded.</p>'); return true; }
    if (isUc) {
      if (p.mode === 'legacy') {
        const token = legacyTokens.get(f.id);
        if (token && url.searchParams.get('confirm') === token && cookieOf(req, `download_warning_13058876669334088843_${f.id}`) === token) {
          sendAttachment(req, res, f.content, f.name, f.mimeType, takeFault('link', f.id));
        } else {
          legacyPage(req, res, f);
        }
        return true;
      }
      const q = new URLSearchParams({ id: f.id, export: 'download' });
      for (const k of ['confirm', 'resourcekey']) if (url.searchParams.has(k)) q.set(k, url.searchParams.get(k));
      res.writeHead(303, { Location: `http://${req.headers.host}/download?${q}`, 'Content-Length': 0 });
      res.end();
      return true;
    }
    // /download on drive.usercontent.google.com
    const uuid = url.searchParams.get('uuid');
    const confirmed = url.searchParams.get('confirm') === 't' && uuid && uuids.get(uuid) === f.id;
    if (p.mode === 'alwaysWarn' || (f.content.length >= scanThreshold && !confirmed) || (p.mode?.startsWith('form') && !confirmed)) {
      scanPage(req, res, f, p.mode);
      return true;
    }
    sendAttachment(req, res, f.content, f.name, f.mimeType, takeFault('link', f.id));
    return true;
  };
}
