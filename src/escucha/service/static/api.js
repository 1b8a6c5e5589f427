// The escucha server: requests with the access token, its errors as one-line messages, and
// polling a background analysis until its result is ready.
import { $ } from './dom.js';
import { setStatus } from './messages.js';

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

function authHeaders() {
  const t = $('token').value.trim();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

export async function api(path, options) {
  let resp;
  try {
    resp = await fetch(path, { ...options, headers: { ...authHeaders(), ...((options || {}).headers || {}) } });
  } catch (e) {
    throw new ApiError(0, `Cannot reach the escucha server (${e.message}). Is it still running?`);
  }
  let body = null;
  try { body = await resp.json(); } catch (e) { body = null; }
  if (!resp.ok) {
    let msg = body && typeof body.error === 'string' ? body.error : `the server answered ${resp.status} ${resp.statusText}`;
    if (resp.status === 401) {
      $('token-row').classList.add('needed');
      $('options').open = true;
      $('token').focus();
      msg += ' — enter the access token under Options and try again.';
    } else if (resp.status === 503) {
      const after = resp.headers.get('Retry-After');
      if (after) msg += ` (try again in ${after} s)`;
    }
    throw new ApiError(resp.status, msg);
  }
  // a call the server kept: where it is stored (Content-Location: /v1/calls/{id})
  return { status: resp.status, body, location: resp.headers.get('Content-Location') };
}

export async function pollJob(job) {
  const t0 = Date.now();
  for (;;) {
    setStatus(`Analysing the call (${job.status}, ${Math.round((Date.now() - t0) / 1000)} s)…`);
    await new Promise((r) => setTimeout(r, 1000));
    const { body } = await api(job.url);
    if (body.status === 'done') return { ...body.result, id: body.result.id || body.call };   // its stored id
    if (body.status === 'failed') throw new ApiError(body.code || 422, body.error);
    job = body;
  }
}
