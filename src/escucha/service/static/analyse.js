// One recording, dropped, chosen or recorded: into the player, then to the server as a clip
// (one emotion) or as a call (a timeline), by its length or the mode chosen under Options.
import { CALL_SECONDS, CFG } from './config.js';
import { $ } from './dom.js';
import { ApiError, api, pollJob } from './api.js';
import { renderCall } from './call.js';
import { renderClip } from './clip.js';
import { setStatus, showError } from './messages.js';
import { state } from './state.js';

function mediaDuration(url) {
  return new Promise((resolve) => {
    const a = new Audio();
    const done = (v) => { clearTimeout(timer); resolve(v); };
    const timer = setTimeout(() => done(NaN), 4000);
    a.preload = 'metadata';
    a.addEventListener('loadedmetadata', () => done(a.duration));
    a.addEventListener('error', () => done(NaN));
    a.src = url;
  });
}

function setPlayer(blob, name) {
  if (state.url) URL.revokeObjectURL(state.url);
  state.url = URL.createObjectURL(blob);
  const p = $('player');
  p.pause();
  p.src = state.url;
  $('player-name').textContent = name;
  $('player-box').hidden = false;
}

export async function analyse(blob, name) {
  if (state.busy) return;
  showError('');
  $('clip-result').hidden = true;
  $('call-result').hidden = true;
  state.stored = null;               // the call buttons act on the call shown, never an earlier one
  $('call-actions').hidden = true;
  state.pos = 0;
  if (!blob.size) { showError(`${name}: the file is empty (0 bytes)`); return; }
  if (blob.size > CFG.max_upload_bytes) {
    showError(`${name}: ${(blob.size / 1e6).toFixed(1)} MB is larger than this server's limit of ` +
              `${(CFG.max_upload_bytes / 1e6).toFixed(0)} MB`);
    return;
  }
  state.busy = true;
  document.body.setAttribute('aria-busy', 'true');
  try {
    setPlayer(blob, name);
    const duration = await mediaDuration(state.url);
    const mode = $('mode').value;
    const split = $('split').checked;
    const asCall = mode === 'call' || (mode === 'auto' && (split || duration > CALL_SECONDS));
    const form = new FormData();
    form.append('file', blob, name);
    if (!asCall) {
      setStatus(`Listening to ${name}…`);
      const { body } = await api('/v1/predict', { method: 'POST', body: form });
      renderClip(body);
    } else {
      setStatus(`Analysing ${name} as a call…`);
      const q = new URLSearchParams({ windows: 'false', channels: split ? 'split' : 'auto' });
      if ($('transcribe').checked) q.set('transcribe', 'true');
      if ($('baseline').checked) q.set('baseline', 'true');
      const names = $('names').value.trim();
      if (split && names) q.set('channel_names', names);
      let { status, body, location } = await api(`/v1/analyze?${q}`, { method: 'POST', body: form });
      if (status === 202) body = await pollJob(body);
      renderCall(body);
      const id = location ? location.split('/').pop() : body.id;
      if (CFG.store && id) {   // kept by the server: its buttons act on this call
        state.stored = { id, file: body.file || name };
        $('call-stored').textContent = 'stored';
        $('call-actions').hidden = false;
      }
    }
    setStatus('');
  } catch (e) {
    $('player-box').hidden = true;   // a refused recording is not left in the player as if accepted
    showError(e instanceof ApiError ? e.message : `Something went wrong in the page: ${e.message}`);
  } finally {
    state.busy = false;
    document.body.removeAttribute('aria-busy');
  }
}
