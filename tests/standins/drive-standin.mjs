#!/usr/bin/env node
// A Google Drive v3 stand-in, written from the public REST reference
// (https://developers.google.com/drive/api/reference/rest/v3): files.list (q, pageSize,
// pageToken, fields, orderBy), files.get (metadata; alt=media with Range), files.export
// (10 MB cap), resumable uploads (uploadType=resumable: 308 + Range, status query with
// "Content-Range: bytes */N", 404 for unknown sessions), files.update via a resumable PATCH.
// drives.list, corpora=user/drive with driveId, q=sharedWithMe; the OAuth stand-in
// (oauth-standin.mjs) is mounted too, so the tokens it issues are valid here.
// Every file with content has md5Checksum, sha1Checksum and sha256Checksum (switches per file and
// upload faults: legacy, noChecksums, wrongMd5, wrongSha256, checksums). Faults are injected
// through /__control/faults. Usage: node drive-standin.mjs [--port N];
// prints "LISTENING <port>" on stdout once ready.
import http from 'node:http';
import crypto from 'node:crypto';
import { createOAuth } from './oauth-standin.mjs';
import { publicRoutes } from './drive-public.mjs';

const FOLDER = 'application/vnd.google-apps.folder';
const EXPORT_LIMIT = 10 * 1024 * 1024;

const state = {
  files: new Map(),
  children: new Map(), // parent id -> array of child ids (insertion order)
  sessions: new Map(), // upload id -> { meta, fileId, received: Buffer[], size, total }
  faults: [],
  tokens: new Set(['test-token']),
  requests: [],
  nextId: 1,
  drives: [], // shared drives: { id, name }
};

// The OAuth stand-in shares this server: an access token it issues is valid for the Drive API.
const oauth = createOAuth({ issue: (t) => state.tokens.add(t), revoke: (t) => state.tokens.delete(t) });

function reset() {
  state.files.clear();
  state.children.clear();
  state.sessions.clear();
  state.faults = [];
  state.tokens = new Set(['test-token']);
  state.requests = [];
  state.nextId = 1;
  state.drives = [];
  addFile({ id: 'root', name: 'My Drive', mimeType: FOLDER, parents: [] });
}

// Drive stores md5Checksum, sha1Checksum and sha256Checksum with the file (output-only fields,
// "only populated for files with content stored in Drive"); the stand-in computes them once per
// content buffer (a new upload or update is a new buffer), so metadata reads of a large file cost
// what they cost on Drive and are not charged to the client in the benchmarks.
const digestCache = new WeakMap();
function digests(buf) {
  let h = digestCache.get(buf);
  if (h === undefined) {
    const hex = (alg) => crypto.createHash(alg).update(buf).digest('hex');
    h = { md5: hex('md5'), sha1: hex('sha1'), sha256: hex('sha256') };
    digestCache.set(buf, h);
  }
  return h;
}

function addFile(spec) {
  const id = spec.id ?? `f${state.nextId++}_${crypto.randomBytes(4).toString('hex')}`;
  const content = spec.content ?? (spec.contentBase64 !== undefined ? Buffer.from(spec.contentBase64, 'base64')
    : spec.size !== undefined ? patterned(spec.size) : null);
  const f = {
    id,
    name: spec.name,
    mimeType: spec.mimeType ?? 'application/octet-stream',
    parents: spec.parents ?? ['root'],
    modifiedTime: spec.modifiedTime ?? new Date(Date.UTC(2026, 0, 1) + state.nextId * 1000).toISOString(),
    trashed: spec.trashed ?? false,
    shared: spec.shared ?? false,
    sharedWithMe: spec.sharedWithMe ?? false,
    driveId: spec.driveId,
    content,
    // Checksum switches: legacy (an old file: md5 only, no sha1/sha256), noChecksums (none at all),
    // wrongMd5/wrongSha256 (a well-formed wrong value), checksums (raw values sent as they are: hostile input).
    legacy: !!spec.legacy,
    noChecksums: !!spec.noChecksums,
    wrongMd5: !!spec.wrongMd5,
    wrongSha256: !!spec.wrongSha256,
    checksums: spec.checksums ?? null,
    exportContent: spec.exportText !== undefined ? Buffer.from(spec.exportText) : spec.exportSize !== undefined ? patterned(spec.exportSize) : null,
  };
  state.files.set(id, f);
  for (const p of f.parents) {
    if (!state.children.has(p)) state.children.set(p, []);
    state.children.get(p).push(id);
  }
  return f;
}

function patterned(size) {
  const b = Buffer.allocUnsafe(size);
  let x = 2463534242;
  for (let i = 0; i + 4 <= size; i += 4) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b.writeUInt32LE(x, i);
  }
  for (let i = size - (size % 4); i < size; i++) b[i] = i & 0xff;
  return b;
}

function resource(f) {
  const r = {
    kind: 'drive#file',
    id: f.id,
    name: f.name,
    mimeType: f.mimeType,
    parents: f.parents,
    modifiedTime: f.modifiedTime,
    trashed: f.trashed,
    shared: f.shared,
  };
  if (f.driveId) r.driveId = f.driveId;
  if (f.content) {
    r.size = String(f.content.length);
    if (!f.noChecksums) {
      const d = digests(f.content);
      r.md5Checksum = f.wrongMd5 ? '0'.repeat(32) : d.md5;
      if (!f.legacy) {
        r.sha1Checksum = d.sha1;
        r.sha256Checksum = f.wrongSha256 ? '0'.repeat(64) : d.sha256;
      }
    }
    if (f.checksums) Object.assign(r, f.checksums);
  }
  return r;
}

// fields: "nextPageToken, files(id,name)" or "id,name,size"; "*" means everything.
function parseFields(fields) {
  if (!fields || fields.trim() === '*') return null;
  const top = new Map();
  let depth = 0, start = 0;
  const parts = [];
  for (let i = 0; i <= fields.length; i++) {
    const c = fields[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if ((c === ',' || c === undefined) && depth === 0) { parts.push(fields.slice(start, i).trim()); start = i + 1; }
  }
  for (const p of parts) {
    const m = /^([A-Za-z0-9]+)(?:\((.*)\))?$/.exec(p);
    if (!m) throw badRequest(`Invalid field selection ${p}`);
    top.set(m[1], m[2] ? new Set(m[2].split(',').map((s) => s.trim())) : null);
  }
  return top;
}

function pick(obj, set) {
  if (!set) return obj;
  const o = {};
  for (const k of set) if (obj[k] !== undefined) o[k] = obj[k];
  return o;
}

class HttpError extends Error {
  constructor(code, reason, message, domain = 'global', headers = {}) {
    super(message);
    this.code = code; this.reason = reason; this.domain = domain; this.headers = headers;
  }
}
const badRequest = (m) => new HttpError(400, 'invalid', m);

// --- the q language: clauses joined by "and" -------------------------------------------
function tokenize(q) {
  const toks = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i];
    if (/\s/.test(c)) { i++; continue; }
    if (c === "'") {
      let s = ''; i++;
      while (i < q.length && q[i] !== "'") {
        if (q[i] === '\\' && i + 1 < q.length) { s += q[i + 1]; i += 2; } else s += q[i++];
      }
      if (i >= q.length) throw badRequest('Invalid Value: unterminated string in q');
      i++; toks.push({ t: 'str', v: s }); continue;
    }
    const m = /^(!=|=|<=|>=|<|>|\(|\)|[A-Za-z_][A-Za-z0-9_]*)/.exec(q.slice(i));
    if (!m) throw badRequest(`Invalid Value: unexpected ${c} in q`);
    toks.push({ t: 'w', v: m[1] }); i += m[1].length;
  }
  return toks;
}

function parseQ(q) {
  const toks = tokenize(q);
  const preds = [];
  let i = 0;
  const expect = (v) => { if (toks[i]?.v !== v) throw badRequest(`Invalid Value: expected ${v} in q`); i++; };
  while (i < toks.length) {
    const a = toks[i];
    if (a.t === 'str' && toks[i + 1]?.v === 'in') {
      i += 2; expect('parents');
      preds.push((f) => f.parents.includes(a.v));
    } else if (a.t === 'w' && a.v === 'sharedWithMe') {
      i++; preds.push((f) => f.sharedWithMe);
    } else if (a.t === 'w' && a.v === 'not') {
      throw badRequest('Invalid Value: not is not supported here');
    } else if (a.t === 'w' && ['name', 'mimeType', 'trashed', 'fullText'].includes(a.v)) {
      const field = a.v; const op = toks[i + 1]?.v; const val = toks[i + 2];
      if (!val) throw badRequest('Invalid Value: incomplete clause in q');
      i += 3;
      if (field === 'trashed') {
        if (val.t !== 'w' || !['true', 'false'].includes(val.v)) throw badRequest('Invalid Value: trashed takes true or false');
        const want = val.v === 'true';
        preds.push(op === '!=' ? (f) => f.trashed !== want : (f) => f.trashed === want);
      } else {
        if (val.t !== 'str') throw badRequest(`Invalid Value: ${field} takes a quoted string`);
        const key = field === 'fullText' ? 'name' : field;
        if (op === 'contains') preds.push((f) => f[key].toLowerCase().includes(val.v.toLowerCase()));
        else if (op === '=') preds.push((f) => f[key] === val.v);
        else if (op === '!=') preds.push((f) => f[key] !== val.v);
        else throw badRequest(`Invalid Value: operator ${op} is not supported for ${field}`);
      }
    } else {
      throw badRequest(`Invalid Value: cannot parse q near ${a.v}`);
    }
    if (i < toks.length) { if (toks[i].v !== 'and') throw badRequest('Invalid Value: only "and" joins clauses here'); i++; }
  }
  return (f) => preds.every((p) => p(f));
}

function sorter(orderBy) {
  const keys = (orderBy ?? '').split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    const [k, dir] = s.split(/\s+/);
    if (!['name', 'modifiedTime', 'quotaBytesUsed', 'folder', 'createdTime', 'name_natural'].includes(k)) throw badRequest(`Invalid Value: orderBy ${k}`);
    return { k, desc: dir === 'desc' };
  });
  return (a, b) => {
    for (const { k, desc } of keys) {
      let c = 0;
      if (k === 'folder') c = (b.mimeType === FOLDER) - (a.mimeType === FOLDER);
      else if (k === 'quotaBytesUsed') c = (a.content?.length ?? 0) - (b.content?.length ?? 0);
      else if (k === 'modifiedTime' || k === 'createdTime') c = a.modifiedTime < b.modifiedTime ? -1 : a.modifiedTime > b.modifiedTime ? 1 : 0;
      else c = a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
      if (c !== 0) return desc ? -c : c;
    }
    return 0;
  };
}

const listCache = new Map(); // pageToken -> { ids, offset }

function list(url) {
  const p = url.searchParams;
  const pageSize = Math.min(Math.max(Number(p.get('pageSize') ?? 100) || 100, 1), 1000);
  let ids;
  let offset = 0;
  const token = p.get('pageToken');
  if (token) {
    const c = listCache.get(token);
    if (!c) throw badRequest('Invalid Value: pageToken');
    ids = c.ids; offset = c.offset; listCache.delete(token);
  } else {
    const q = p.get('q');
    const pred = q ? parseQ(q) : (f) => !f.trashed;
    // Use the parent index for the common "'<id>' in parents" query (keeps 50k folders fast).
    const m = q ? /^'([^'\\]+)' in parents/.exec(q) : null;
    const pool = m ? (state.children.get(m[1]) ?? []).map((id) => state.files.get(id)) : [...state.files.values()];
    // corpora: "user" (the default) does not hold shared-drive items unless shared directly;
    // "drive" needs driveId with includeItemsFromAllDrives and supportsAllDrives (as Drive requires).
    const corpora = p.get('corpora') ?? 'user';
    const driveId = p.get('driveId');
    if (driveId && corpora !== 'drive') throw badRequest('Invalid Value: driveId needs corpora=drive');
    if (corpora === 'drive' && (!driveId || p.get('includeItemsFromAllDrives') !== 'true' || p.get('supportsAllDrives') !== 'true')) {
      throw badRequest('Invalid Value: corpora=drive needs driveId, includeItemsFromAllDrives=true and supportsAllDrives=true');
    }
    if (!['user', 'drive', 'allDrives'].includes(corpora)) throw badRequest(`Invalid Value: corpora ${corpora}`);
    const inCorpus = corpora === 'drive' ? (f) => f.driveId === driveId : corpora === 'user' ? (f) => !f.driveId || f.sharedWithMe : () => true;
    let matches = pool.filter((f) => f.id !== 'root' && inCorpus(f) && pred(f));
    if (p.get('orderBy')) matches = matches.sort(sorter(p.get('orderBy')));
    ids = matches.map((f) => f.id);
  }
  const page = ids.slice(offset, offset + pageSize);
  const fields = parseFields(p.get('fields'));
  const fileFields = fields ? fields.get('files') : null;
  const body = { kind: 'drive#fileList', incompleteSearch: false };
  body.files = page.map((id) => pick(resource(state.files.get(id)), fileFields));
  if (offset + pageSize < ids.length) {
    const t = crypto.randomBytes(8).toString('hex');
    listCache.set(t, { ids, offset: offset + pageSize });
    body.nextPageToken = t;
  }
  if (fields) {
    const out = {};
    for (const k of fields.keys()) if (body[k] !== undefined) out[k] = body[k];
    return out;
  }
  return body;
}

function takeFault(kind, id) {
  const i = state.faults.findIndex((f) => f.on === kind && (!f.fileId || f.fileId === id) && f.times > 0);
  if (i < 0) return null;
  const f = state.faults[i];
  f.times--;
  if (f.times <= 0) state.faults.splice(i, 1);
  return f;
}

function applyFault(fault) {
  if (!fault || fault.status === undefined) return;
  const headers = {};
  if (fault.retryAfter !== undefined) headers['Retry-After'] = String(fault.retryAfter);
  if (fault.malformed) throw Object.assign(new HttpError(fault.status, '', ''), { malformed: true, headers });
  throw new HttpError(fault.status, fault.reason ?? 'backendError', fault.message ?? `injected ${fault.status}`, fault.domain ?? 'global', headers);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJson(res, code, obj, headers = {}) {
  const b = Buffer.from(JSON.stringify(obj));
  res.writeHead(code, { 'Content-Type': 'application/json; charset=UTF-8', 'Content-Length': b.length, ...headers });
  res.end(b);
}

function sendError(res, e) {
  if (e.malformed) {
    const b = Buffer.from('{"error": {"code": ');
    res.writeHead(e.code, { 'Content-Type': 'application/json', 'Content-Length': b.length, ...e.headers });
    res.end(b);
    return;
  }
  sendJson(res, e.code, { error: { code: e.code, message: e.message, errors: [{ domain: e.domain, reason: e.reason, message: e.message }] } }, e.headers);
}

function getFile(id) {
  const f = state.files.get(id);
  if (!f) throw new HttpError(404, 'notFound', `File not found: ${id}.`);
  return f;
}

function sendMedia(req, res, buf, fault) {
  let start = 0, end = buf.length - 1, code = 200;
  const headers = { 'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes' };
  const range = req.headers.range;
  if (range) {
    const m = /^bytes=(\d+)-(\d*)$/.exec(range);
    if (!m) throw new HttpError(416, 'requestedRangeNotSatisfiable', 'Bad Range header');
    start = Number(m[1]); end = m[2] ? Math.min(Number(m[2]), buf.length - 1) : buf.length - 1;
    if (start >= buf.length && buf.length > 0) throw new HttpError(416, 'requestedRangeNotSatisfiable', 'Range not satisfiable');
    code = 206; headers['Content-Range'] = `bytes ${start}-${end}/${buf.length}`;
  }
  const len = Math.max(0, end - start + 1);
  headers['Content-Length'] = len;
  res.writeHead(code, headers);
  if (fault?.dropAfterBytes !== undefined) {
    const cut = Math.min(fault.dropAfterBytes, len);
    res.write(buf.subarray(start, start + cut), () => setTimeout(() => res.socket?.destroy(), 20));
    return;
  }
  res.end(buf.subarray(start, start + len));
}

async function handleUploadInit(req, res, url, fileId) {
  const body = await readBody(req);
  let meta = {};
  if (body.length) {
    try { meta = JSON.parse(body.toString('utf8')); } catch { throw badRequest('Invalid JSON metadata'); }
  }
  if (fileId) getFile(fileId);
  const total = req.headers['x-upload-content-length'];
  const uid = crypto.randomBytes(12).toString('hex');
  state.sessions.set(uid, { meta, fileId, chunks: [], size: 0, total: total !== undefined ? Number(total) : null, done: null });
  const loc = `http://${req.headers.host}${url.pathname}?uploadType=resumable&upload_id=${uid}`;
  res.writeHead(200, { Location: loc, 'Content-Length': 0 });
  res.end();
}

async function handleUploadChunk(req, res, url) {
  const s = state.sessions.get(url.searchParams.get('upload_id'));
  if (!s) throw new HttpError(404, 'notFound', 'Upload session not found or expired.');
  const cr = req.headers['content-range'];
  const fault = takeFault('upload', s.fileId);
  if (s.done) { await readBody(req); sendJson(res, 200, resource(s.done)); return; }
  // Checksum faults describe the stored file: kept on the session until its last chunk arrives.
  if (fault && ['wrongMd5', 'wrongSha256', 'legacy', 'noChecksums', 'checksums'].some((k) => fault[k])) s.checksumFault = fault;
  const rangeHeader = () => (s.size > 0 ? { Range: `bytes=0-${s.size - 1}` } : {});
  const status = cr ? /^bytes \*\/(\d+|\*)$/.exec(cr) : null;
  if (status) {
    await readBody(req);
    res.writeHead(308, { ...rangeHeader(), 'Content-Length': 0 });
    res.end();
    return;
  }
  if (fault?.status !== undefined) { await readBody(req); applyFault(fault); }
  const m = cr ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(cr) : null;
  if (cr && !m) throw badRequest('Invalid Content-Range');
  const first = m ? Number(m[1]) : 0;
  if (first !== s.size) { await readBody(req); throw badRequest(`Chunk starts at ${first}, expected ${s.size}`); }
  const total = m ? (m[3] === '*' ? null : Number(m[3])) : Number(req.headers['content-length']);
  if (fault?.dropAfterBytes !== undefined) {
    // Keep what arrived up to the cut (in 256 KiB units, as Drive persists), then drop the connection.
    let got = 0;
    await new Promise((resolve) => {
      req.on('data', (c) => {
        const room = fault.dropAfterBytes - got;
        if (room > 0) { s.chunks.push(c.subarray(0, Math.min(room, c.length))); got += Math.min(room, c.length); }
        if (got >= fault.dropAfterBytes) { req.socket.destroy(); resolve(); }
      });
      req.on('end', resolve); req.on('close', resolve);
    });
    const kept = Math.floor(got / 262144) * 262144;
    let buf = Buffer.concat(s.chunks);
    s.chunks = [buf.subarray(0, s.size + kept)];
    s.size += kept;
    return;
  }
  const body = await readBody(req);
  if (m && body.length !== Number(m[2]) - first + 1) throw badRequest('Content-Range does not match the body length');
  s.chunks.push(body); s.size += body.length;
  if (total !== null && s.size > total) throw badRequest('More bytes than declared');
  if (total !== null && s.size === total) {
    const content = Buffer.concat(s.chunks);
    const quota = takeFault('quota');
    if (quota) throw new HttpError(403, 'storageQuotaExceeded', 'The user\'s Drive storage quota has been exceeded.', 'usageLimits');
    let f;
    if (s.fileId) {
      f = getFile(s.fileId); f.content = content; f.modifiedTime = new Date().toISOString();
      if (s.meta.name) f.name = s.meta.name;
    } else {
      f = addFile({ name: s.meta.name ?? 'Untitled', mimeType: s.meta.mimeType, parents: s.meta.parents ?? ['root'], content });
    }
    // Drive computes the checksums from the content it stored: a new upload of the file is judged afresh.
    const cf = s.checksumFault;
    f.wrongMd5 = !!cf?.wrongMd5;
    f.wrongSha256 = !!cf?.wrongSha256;
    f.legacy = !!cf?.legacy;
    f.noChecksums = !!cf?.noChecksums;
    f.checksums = cf?.checksums ?? null;
    s.done = f;
    sendJson(res, s.fileId ? 200 : 200, resource(f));
    return;
  }
  if (s.size % 262144 !== 0) throw badRequest('Chunk size must be a multiple of 256 KiB except the last');
  res.writeHead(308, { ...rangeHeader(), 'Content-Length': 0 });
  res.end();
}

// drives.list: pageSize 1-100 (default 10), pageToken, q with "name contains '…'" only.
function listDrives(url) {
  const p = url.searchParams;
  const pageSize = Math.min(Math.max(Number(p.get('pageSize') ?? 10) || 10, 1), 100);
  const offset = p.get('pageToken') ? Number(Buffer.from(p.get('pageToken'), 'base64url').toString()) : 0;
  if (!Number.isInteger(offset) || offset < 0) throw badRequest('Invalid Value: pageToken');
  let all = state.drives;
  const q = p.get('q');
  if (q) {
    const mm = /^name contains '((?:[^'\\]|\\.)*)'$/.exec(q);
    if (!mm) throw badRequest('Invalid Value: q for drives.list');
    const needle = mm[1].replace(/\\(.)/g, '$1').toLowerCase();
    all = all.filter((d) => d.name.toLowerCase().includes(needle));
  }
  const page = all.slice(offset, offset + pageSize).map((d) => ({ kind: 'drive#drive', id: d.id, name: d.name }));
  const body = { kind: 'drive#driveList', drives: page };
  if (offset + pageSize < all.length) body.nextPageToken = Buffer.from(String(offset + pageSize)).toString('base64url');
  return body;
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://x');
  if (await oauth.handle(req, res, url)) return;
  if (await handlePublic(req, res, url)) return; // share links without sign-in: drive-public.mjs
  if (url.pathname.startsWith('/__control/')) return control(req, res, url);
  state.requests.push({ method: req.method, url: req.url, range: req.headers.range, contentRange: req.headers['content-range'] });
  if (state.requests.length > 10000) state.requests.splice(0, 5000);

  const auth = req.headers.authorization;
  const token = auth?.startsWith('Bearer ') ? auth.slice(7) : null;
  const isSessionChunk = url.pathname.startsWith('/upload/') && url.searchParams.has('upload_id');
  if (!isSessionChunk && (!token || !state.tokens.has(token))) {
    throw new HttpError(401, 'authError', 'Request had invalid authentication credentials.', 'global', { 'WWW-Authenticate': 'Bearer realm="https://accounts.google.com/"' });
  }

  let m;
  if (url.pathname === '/drive/v3/drives' && req.method === 'GET') return sendJson(res, 200, listDrives(url));
  if (url.pathname === '/drive/v3/files' && req.method === 'GET') {
    applyFault(takeFault('list'));
    return sendJson(res, 200, list(url));
  }
  if ((m = /^\/drive\/v3\/files\/([^/]+)$/.exec(url.pathname)) && req.method === 'GET') {
    const f = getFile(decodeURIComponent(m[1]));
    if (url.searchParams.get('alt') === 'media') {
      const fault = takeFault('media', f.id);
      applyFault(fault);
      if (!f.content) throw new HttpError(403, 'fileNotDownloadable', 'Only files with binary content can be downloaded. Use Export with Docs Editors files.');
      const dq = takeFault('downloadQuota', f.id);
      if (dq) throw new HttpError(403, 'downloadQuotaExceeded', 'The download quota for this file has been exceeded.', 'usageLimits');
      return sendMedia(req, res, f.content, fault);
    }
    applyFault(takeFault('get', f.id));
    const fields = parseFields(url.searchParams.get('fields'));
    const r = resource(f);
    return sendJson(res, 200, fields ? pick(r, new Set(fields.keys())) : r);
  }
  if ((m = /^\/drive\/v3\/files\/([^/]+)$/.exec(url.pathname)) && req.method === 'PATCH') {
    // files.update without media: metadata only; of the writable fields the stand-in serves trashed and name.
    const f = getFile(decodeURIComponent(m[1]));
    applyFault(takeFault('update', f.id));
    let patch;
    try {
      patch = JSON.parse((await readBody(req)).toString('utf8') || '{}');
    } catch {
      throw badRequest('Invalid JSON payload received.');
    }
    if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw badRequest('Invalid JSON payload received.');
    for (const key of Object.keys(patch)) {
      if (!['trashed', 'name'].includes(key)) throw new HttpError(403, 'fieldNotWritable', `The resource body includes fields which are not directly writable: ${key}`);
    }
    if ('trashed' in patch) {
      if (typeof patch.trashed !== 'boolean') throw badRequest('Invalid value for: trashed');
      f.trashed = patch.trashed;
    }
    if ('name' in patch) {
      if (typeof patch.name !== 'string' || patch.name === '') throw badRequest('Invalid value for: name');
      f.name = patch.name;
    }
    f.modifiedTime = new Date().toISOString();
    const fields = parseFields(url.searchParams.get('fields'));
    const r = resource(f);
    return sendJson(res, 200, fields ? pick(r, new Set(fields.keys())) : r);
  }
  if ((m = /^\/drive\/v3\/files\/([^/]+)\/export$/.exec(url.pathname)) && req.method === 'GET') {
    const f = getFile(decodeURIComponent(m[1]));
    if (!url.searchParams.get('mimeType')) throw badRequest('Required parameter: mimeType');
    if (!f.exportContent) throw new HttpError(403, 'fileNotExportable', 'Export only supports Docs Editors files.');
    if (f.exportContent.length > EXPORT_LIMIT) throw new HttpError(403, 'exportSizeLimitExceeded', 'This file is too large to be exported.');
    return sendMedia(req, res, f.exportContent, null);
  }
  if (url.pathname === '/upload/drive/v3/files' || (m = /^\/upload\/drive\/v3\/files\/([^/]+)$/.exec(url.pathname))) {
    if (url.searchParams.get('uploadType') !== 'resumable') throw badRequest('Only uploadType=resumable is served here');
    if (url.searchParams.has('upload_id') && req.method === 'PUT') return handleUploadChunk(req, res, url);
    if (req.method === 'POST' && !m) return handleUploadInit(req, res, url, null);
    if (req.method === 'PATCH' && m) return handleUploadInit(req, res, url, decodeURIComponent(m[1]));
  }
  throw new HttpError(404, 'notFound', `No route for ${req.method} ${url.pathname}`);
}

async function control(req, res, url) {
  const body = await readBody(req);
  const json = body.length ? JSON.parse(body.toString('utf8')) : {};
  switch (url.pathname) {
    case '/__control/reset': reset(); return sendJson(res, 200, {});
    case '/__control/files': return sendJson(res, 200, (Array.isArray(json) ? json : [json]).map((s) => resource(addFile(s))));
    case '/__control/bulk': {
      const parent = json.parent ?? 'root';
      for (let i = 0; i < json.count; i++) addFile({ name: `${json.prefix ?? 'item'}-${String(i).padStart(6, '0')}`, parents: [parent], size: json.size ?? 0, mimeType: 'text/plain' });
      return sendJson(res, 200, { count: json.count });
    }
    case '/__control/faults': state.faults.push(...(Array.isArray(json) ? json : [json]).map((f) => ({ times: 1, ...f }))); return sendJson(res, 200, {});
    case '/__control/drives': {
      // Shared drives; each drive's root folder has the drive's id.
      for (const d of Array.isArray(json) ? json : [json]) {
        state.drives.push({ id: d.id, name: d.name });
        if (!state.files.has(d.id)) addFile({ id: d.id, name: d.name, mimeType: FOLDER, parents: [], driveId: d.id });
      }
      return sendJson(res, 200, {});
    }
    case '/__control/tokens': state.tokens = new Set(json.tokens); return sendJson(res, 200, {});
    case '/__control/requests': return sendJson(res, 200, state.requests);
    case '/__control/content': {
      const f = state.files.get(url.searchParams.get('id'));
      if (!f?.content) return sendJson(res, 404, {});
      res.writeHead(200, { 'Content-Length': f.content.length }); return res.end(f.content);
    }
    case '/__control/expire': state.sessions.clear(); return sendJson(res, 200, {});
    default: return sendJson(res, 404, {});
  }
}

reset();
const handlePublic = publicRoutes({ state, takeFault });
const server = http.createServer((req, res) => {
  handle(req, res).catch((e) => {
    if (res.headersSent) { res.socket?.destroy(); return; }
    if (e instanceof HttpError) sendError(res, e);
    else sendError(res, new HttpError(500, 'backendError', String(e?.message ?? e)));
  });
});
server.keepAliveTimeout = 30000;
const portArg = process.argv.indexOf('--port');
server.listen(portArg > 0 ? Number(process.argv[portArg + 1]) : 0, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
