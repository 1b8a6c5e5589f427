// The stored calls (when the server keeps them: escucha serve --data/--db): a list with filters,
// sorting and pages, a call opened on the timeline with its per-speaker summaries and transcript,
// an export of the list (CSV or JSON) and of one call, deleting a call, and several files queued
// at once with their progress.
import { CFG } from './config.js';
import { $, clock, el, pct, swatch } from './dom.js';
import { ApiError, api } from './api.js';
import { renderCall } from './call.js';
import { setStatus, showError } from './messages.js';
import { state } from './state.js';

const PAGE = 25;
let offset = 0;
let total = 0;

function authHeaders() {
  const t = $('token').value.trim();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

function filterParams() {
  const q = new URLSearchParams();
  const v = (id) => $(id).value.trim();
  for (const [id, key] of [['f-file', 'file'], ['f-speaker', 'speaker'], ['f-dominant', 'dominant'],
    ['f-since', 'since']]) if (v(id)) q.set(key, v(id));
  if (v('f-until')) {  // a date: up to the end of that day
    const d = new Date(`${v('f-until')}T00:00:00Z`);
    if (!isNaN(d)) q.set('until', String(d.getTime() / 1000 + 86400));
  }
  if (v('f-negative')) q.set('min_negative', String(Number(v('f-negative')) / 100));
  const change = $('f-change').value;
  if (change === 'worse') q.set('min_change', '0.05');
  if (change === 'better') q.set('max_change', '-0.05');
  q.set('sort', $('f-sort').value);
  return q;
}

function changeText(c) {
  if (c == null) return '–';
  const p = Math.round(100 * c);
  return p > 0 ? `+${p} pts` : `${p} pts`;
}

// the speaker the filter names (by name or role, as the server matches it), whose negative speech
// the list then shows: "customers who ended worse" must read the customer's change, not the call's
function filtered(c) {
  const want = $('f-speaker').value.trim().toLowerCase();   // any case, as the server matches it
  return want ? c.speakers.find((s) => s.name.toLowerCase() === want || (s.role || '').toLowerCase() === want) : null;
}

function row(c) {
  const open = el('button', { type: 'button', class: 'link', 'data-id': c.id, onclick: () => openCall(c.id) }, c.file);
  const who = c.speakers.map((s) => {
    const neg = s.negative && s.negative.share != null ? ` (${pct(s.negative.share)} negative)` : '';
    return `${s.role || s.name}: ${s.dominant || '–'}${neg}`;
  }).join(', ');
  const sp = filtered(c);
  const neg = sp ? sp.negative : c.negative;
  const dom = sp ? sp.dominant : c.dominant;   // with a speaker filter, that speaker's
  return el('tr', { 'data-id': c.id },
    el('td', {}, open),
    el('td', {}, (c.stored_at || '').replace('T', ' ').replace('Z', '')),
    el('td', {}, clock(c.duration)),
    el('td', {}, dom ? swatch(dom) : '', ' ', dom || c.outcome || '–'),
    el('td', {}, neg.share == null ? '–' : pct(neg.share)),
    el('td', {}, changeText(neg.change)),
    el('td', { class: 'who' }, who));
}

// the negative columns' heading says whose speech they measure
function negativeHeadings() {
  const want = $('f-speaker').value.trim();
  $('th-dominant').textContent = want ? `dominant (${want})` : 'dominant';
  $('th-negative').textContent = want ? `negative (${want})` : 'negative';
  $('th-change').textContent = want ? `first → last third (${want})` : 'first → last third';
}

let asked = 0;   // the latest list asked for: an older answer arriving late is dropped

export async function loadCalls() {
  const q = filterParams();
  q.set('limit', String(PAGE));
  q.set('offset', String(offset));
  const mine = ++asked;
  try {
    const { body } = await api(`/v1/calls?${q}`);
    if (mine !== asked) return;
    if ($('error').textContent.startsWith('Cannot reach the escucha server')) showError('');   // it is back
    total = body.total;
    const tbody = $('calls-table').tBodies[0];
    negativeHeadings();
    tbody.replaceChildren(...body.calls.map(row));
    $('calls-empty').hidden = body.calls.length > 0;
    $('calls-count').textContent = total ? `${offset + 1}–${offset + body.calls.length} of ${total} calls` : '';
    $('calls-prev').disabled = offset === 0;
    $('calls-next').disabled = offset + PAGE >= total;
  } catch (e) {
    showError(e instanceof ApiError ? e.message : `Something went wrong in the page: ${e.message}`);
  }
}

async function download(path, name) {
  let resp;
  try {
    resp = await fetch(path, { headers: authHeaders() });
  } catch (e) {
    showError(`Cannot reach the escucha server (${e.message}). Is it still running?`);
    return;
  }
  if (!resp.ok) {
    let msg = `the server answered ${resp.status}`;
    try { msg = (await resp.json()).error || msg; } catch (e) { /* not JSON */ }
    showError(msg);
    return;
  }
  const url = URL.createObjectURL(await resp.blob());
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export async function openCall(id) {
  showError('');
  try {
    setStatus('Opening the call…');
    const { body } = await api(`/v1/calls/${encodeURIComponent(id)}`);
    state.stored = body;
    const p = $('player');          // the store keeps no audio: the player holds none either
    p.pause();
    p.removeAttribute('src');
    p.load();
    if (state.url) { URL.revokeObjectURL(state.url); state.url = null; }
    $('player-box').hidden = true;
    body.noAudio = true;            // the timeline keeps its own position
    state.pos = 0;
    $('clip-result').hidden = true;
    renderCall(body);   // draws the transcript too (call.js), searchable
    $('call-actions').hidden = false;
    $('call-stored').textContent = `stored ${(body.stored_at || '').replace('T', ' ').replace('Z', ' UTC')}`;
    setStatus('');
    // the call is drawn below the list: bring it into view, its heading at the top
    $('call-result').scrollIntoView({ block: 'start', behavior: 'instant' });
  } catch (e) {
    showError(e instanceof ApiError ? e.message : `Something went wrong in the page: ${e.message}`);
  }
}

async function deleteCall() {
  const r = state.stored;
  if (!r || !window.confirm(`Delete the stored analysis of ${r.file}? This cannot be undone.`)) return;
  try {
    await api(`/v1/calls/${encodeURIComponent(r.id)}`, { method: 'DELETE' });
    state.stored = null;
    $('call-result').hidden = true;
    $('call-actions').hidden = true;
    setStatus(`Deleted ${r.file}.`);
    await loadCalls();
  } catch (e) {
    showError(e instanceof ApiError ? e.message : `Something went wrong in the page: ${e.message}`);
  }
}

// several files at once: each queued as a job in the store, its progress in the queue list
export async function queueFiles(files) {
  showError('');
  const split = $('split').checked;
  const names = $('names').value.trim();
  const list = $('queue');
  const pending = [];
  for (const f of files) {
    const item = el('li', {}, `${f.name}: uploading…`);
    list.append(item);
    const q = new URLSearchParams({ mode: 'job', windows: 'false', channels: split ? 'split' : 'mono' });
    if (split && names) q.set('channel_names', names);
    const form = new FormData();
    form.append('file', f, f.name);
    try {
      const { body } = await api(`/v1/analyze?${q}`, { method: 'POST', body: form });
      item.textContent = `${f.name}: queued`;
      pending.push([body, item]);
    } catch (e) {
      item.textContent = e.message.startsWith(`${f.name}:`) ? e.message : `${f.name}: ${e.message}`;
      item.className = 'failed';
    }
  }
  setStatus(`${pending.length} of ${files.length} file(s) queued.`);
  while (pending.length) {
    await new Promise((r) => setTimeout(r, 1000));
    for (let i = pending.length - 1; i >= 0; i--) {
      const [job, item] = pending[i];
      try {
        const { body } = await api(job.url);
        if (body.status === 'done' || body.status === 'failed') {
          item.textContent = body.status === 'done' ? `${job.file}: done` : `${job.file}: failed — ${body.error}`;
          item.className = body.status;
          pending.splice(i, 1);
          await loadCalls();
        } else item.textContent = `${job.file}: ${body.status}`;
      } catch (e) { item.textContent = `${job.file}: ${e.message}`; }
    }
  }
  setStatus('');
}

export function initCalls() {
  if (!CFG.store) return;
  $('calls').hidden = false;
  $('file').multiple = true;
  const dom = $('f-dominant');
  for (const label of CFG.labels) dom.append(el('option', { value: label }, label));
  $('calls-filters').addEventListener('submit', (e) => { e.preventDefault(); offset = 0; loadCalls(); });
  $('calls-filters').addEventListener('change', () => { offset = 0; loadCalls(); });
  $('calls-prev').addEventListener('click', () => { offset = Math.max(0, offset - PAGE); loadCalls(); });
  $('calls-next').addEventListener('click', () => { offset += PAGE; loadCalls(); });
  $('export-csv').addEventListener('click', () => download(`/v1/calls.csv?${filterParams()}`, 'calls.csv'));
  $('export-json').addEventListener('click', () => download(`/v1/calls.json?${filterParams()}`, 'calls.json'));
  $('call-csv').addEventListener('click', () => state.stored && download(
    `/v1/calls/${encodeURIComponent(state.stored.id)}.csv`, `${state.stored.file}.segments.csv`));
  $('call-json').addEventListener('click', () => state.stored && download(
    `/v1/calls/${encodeURIComponent(state.stored.id)}`, `${state.stored.file}.json`));
  $('call-delete').addEventListener('click', deleteCall);
  loadCalls();
}
