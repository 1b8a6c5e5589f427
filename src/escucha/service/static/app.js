// escucha's page: upload or record audio, show the emotion (a clip) or a timeline (a call).
// No libraries, no network but this server: it must work offline.
'use strict';

(function () {
  const CFG = JSON.parse(document.getElementById('escucha-config').textContent);
  const COLORS = CFG.colors || {};
  const CALL_SECONDS = 12;      // automatic mode: longer recordings get a timeline
  const MAX_RECORD_SECONDS = 120;
  const $ = (id) => document.getElementById(id);
  const el = (tag, props, ...kids) => {
    const e = document.createElement(tag);
    if (props) for (const [k, v] of Object.entries(props)) {
      if (k === 'style') Object.assign(e.style, v);
      else if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const k of kids) if (k != null) e.append(k);
    return e;
  };
  const pct = (x) => `${Math.round(100 * x)} %`;
  const color = (label) => COLORS[label] || '#4D4D4D';
  const swatch = (label) => el('span', { class: 'swatch', style: { background: color(label) }, 'aria-hidden': 'true' });
  const clock = (t) => {
    if (!isFinite(t)) return '–';
    const m = Math.floor(t / 60), s = t - 60 * m;
    return `${m}:${s.toFixed(1).padStart(4, '0')}`;
  };

  const state = { url: null, call: null, busy: false, recorder: null };

  // -- messages ------------------------------------------------------------------------------
  function setStatus(text) { $('status').textContent = text || ''; }
  function showError(text) {
    const box = $('error');
    box.textContent = text;
    box.hidden = !text;
    if (text) setStatus('');
  }
  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  // -- the server ----------------------------------------------------------------------------
  function authHeaders() {
    const t = $('token').value.trim();
    return t ? { Authorization: `Bearer ${t}` } : {};
  }

  async function api(path, options) {
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
    return { status: resp.status, body };
  }

  async function pollJob(job) {
    const t0 = Date.now();
    for (;;) {
      setStatus(`Analysing the call (${job.status}, ${Math.round((Date.now() - t0) / 1000)} s)…`);
      await new Promise((r) => setTimeout(r, 1000));
      const { body } = await api(job.url);
      if (body.status === 'done') return body.result;
      if (body.status === 'failed') throw new ApiError(body.code || 422, body.error);
      job = body;
    }
  }

  // -- input ---------------------------------------------------------------------------------
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

  async function analyse(blob, name) {
    if (state.busy) return;
    showError('');
    $('clip-result').hidden = true;
    $('call-result').hidden = true;
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
        const q = new URLSearchParams({ windows: 'false', channels: split ? 'split' : 'mono' });
        const names = $('names').value.trim();
        if (split && names) q.set('channel_names', names);
        let { status, body } = await api(`/v1/analyze?${q}`, { method: 'POST', body: form });
        if (status === 202) body = await pollJob(body);
        renderCall(body);
      }
      setStatus('');
    } catch (e) {
      showError(e instanceof ApiError ? e.message : `Something went wrong in the page: ${e.message}`);
    } finally {
      state.busy = false;
      document.body.removeAttribute('aria-busy');
    }
  }

  // -- a clip --------------------------------------------------------------------------------
  function renderBars(list, probabilities, top) {
    list.replaceChildren();
    const entries = Object.entries(probabilities).sort((a, b) => b[1] - a[1]);
    for (const [label, p] of entries) {
      list.append(el('li', { class: label === top ? 'top' : '', 'data-label': label },
        el('span', { class: 'name' }, swatch(label), label),
        el('span', { class: 'track', role: 'img', 'aria-label': `${label} ${pct(p)}` },
          el('span', { class: 'fill', style: { width: `${(100 * p).toFixed(1)}%`, background: color(label) } })),
        el('span', { class: 'pct' }, pct(p))));
    }
  }

  function renderClip(r) {
    const box = $('clip-result');
    const title = $('clip-title');
    title.replaceChildren();
    if (r.label == null) {
      title.append(`No emotion: ${r.outcome}`);
      $('clip-meta').textContent = `${r.file}: ${r.reason}`;
      $('bars').replaceChildren();
    } else {
      title.append(swatch(r.label), ' ', el('span', { id: 'clip-label' }, r.label), ` · ${pct(r.confidence)}${r.long ? ' of the speech' : ''}`);
      const dur = r.duration != null ? `${r.duration.toFixed(1)} s` : '';
      $('clip-meta').textContent = r.long
        ? `${r.file}, ${dur}: long recording, scored over its speech; the bars are shares of speech time. ` +
          'Choose "a call" under Options for the timeline.'
        : `${r.file}, ${dur}`;
      renderBars($('bars'), r.long ? r.speech_share : r.probabilities, r.label);
    }
    box.hidden = false;
    title.setAttribute('tabindex', '-1');
    title.focus({ preventScroll: true });
  }

  // -- a call --------------------------------------------------------------------------------
  function shareStack(shares) {
    const s = el('div', { class: 'stack', role: 'img' });
    const parts = [];
    for (const [label, v] of Object.entries(shares || {})) {
      if (v <= 0) continue;
      s.append(el('span', { style: { width: `${100 * v}%`, background: color(label) }, title: `${label} ${pct(v)}` }));
      parts.push(`${label} ${pct(v)}`);
    }
    s.setAttribute('aria-label', parts.length ? parts.join(', ') : 'no speech');
    return s;
  }

  function summaryBlock(name, b) {
    const shares = Object.entries(b.emotion_share).filter(([, v]) => v > 0).sort((x, y) => y[1] - x[1]);
    const first = b.first_third.dominant, last = b.last_third.dominant;
    const chip = (label) => label ? el('strong', {}, swatch(label), ' ', label) : el('span', {}, 'no speech');
    return el('div', { class: 'block', 'data-channel': name },
      el('h4', {}, name),
      el('div', { class: 'stack-row' }, el('span', {}, 'whole call'), shareStack(b.emotion_share)),
      el('div', { class: 'stack-row' }, el('span', {}, 'first third'), shareStack(b.first_third.emotion_share)),
      el('div', { class: 'stack-row' }, el('span', {}, 'last third'), shareStack(b.last_third.emotion_share)),
      el('p', { class: 'shares' }, shares.length ? shares.map(([l, v]) => `${l} ${pct(v)}`).join(', ') : 'no speech found'),
      el('p', { class: 'change' }, 'first third ', chip(first), ' → last third ', chip(last),
        ` · ${b.speech_seconds.toFixed(1)} s of speech in ${b.segments} segments`));
  }

  function renderCall(r) {
    state.call = r;
    const channels = r.channels;
    const total = r.duration || 0;
    const s = r.summary;
    const title = $('call-title');
    title.replaceChildren();
    if (r.outcome) title.append(`No emotion: ${r.outcome}`);
    else title.append('Mostly ', swatch(s.dominant), ' ', el('span', { id: 'call-label' }, s.dominant),
                      ` · ${pct(s.emotion_share[s.dominant])} of the speech`);
    $('call-meta').textContent = `${r.file}, ${total.toFixed(1)} s, ${s.speech_seconds.toFixed(1)} s of speech ` +
      `(${pct(s.speech_ratio)}), ${s.segments} segments` + (r.reason ? `: ${r.reason}` : '');

    const names = $('track-names'), rows = $('lane-rows');
    names.replaceChildren(); rows.replaceChildren();
    const tbody = $('segments').tBodies[0];
    tbody.replaceChildren();
    const lanes = {};
    for (const ch of channels) {
      names.append(el('div', { title: ch }, ch));
      lanes[ch] = el('div', { class: 'lane', 'data-channel': ch });
      rows.append(lanes[ch]);
    }
    r.segments.forEach((g, i) => {
      const left = total ? (100 * g.start) / total : 0, width = total ? (100 * (g.end - g.start)) / total : 0;
      const seg = el('div', { class: 'seg', 'data-index': String(i), 'data-label': g.label,
        title: `${clock(g.start)}–${clock(g.end)} ${g.channel}: ${g.label} ${pct(g.confidence)}`,
        style: { left: `${left}%`, width: `max(${width}%, 2px)`, background: color(g.label) } });
      g.el = seg;
      (lanes[g.channel] || rows.firstChild).append(seg);
      tbody.append(el('tr', {},
        el('td', {}, el('button', { type: 'button', onclick: () => seek(g.start, true) }, clock(g.start))),
        el('td', {}, clock(g.end)), el('td', {}, g.channel),
        el('td', {}, swatch(g.label), ' ', g.label), el('td', {}, pct(g.confidence))));
    });
    const axis = $('axis');
    axis.replaceChildren();
    for (let k = 0; k <= 4; k++) axis.append(el('span', {}, clock((k * total) / 4)));
    const legend = $('legend');
    legend.replaceChildren();
    for (const label of CFG.labels) legend.append(el('li', {}, swatch(label), label));
    const summary = $('summary');
    summary.replaceChildren();
    if (channels.length > 1) {
      for (const ch of channels) summary.append(summaryBlock(ch, s.channels[ch]));
      summary.append(summaryBlock('all speakers', s));
    } else summary.append(summaryBlock(channels[0], s));
    $('lanes').setAttribute('aria-valuemax', total.toFixed(1));
    $('call-result').hidden = false;
    follow();
    title.setAttribute('tabindex', '-1');
    title.focus({ preventScroll: true });
  }

  // -- the player follows the timeline and the timeline the player ---------------------------
  function seek(t, play) {
    const p = $('player');
    const total = state.call ? state.call.duration : p.duration;
    p.currentTime = Math.max(0, Math.min(t, isFinite(total) ? total : t));
    follow();
    if (play) p.play().catch(() => {});
  }

  function follow() {
    const r = state.call;
    if (!r) return;
    const p = $('player');
    const t = p.currentTime || 0, total = r.duration || 1;
    $('cursor').style.left = `${Math.min(100, (100 * t) / total)}%`;
    const lanes = $('lanes');
    lanes.setAttribute('aria-valuenow', t.toFixed(1));
    const here = [];
    for (const g of r.segments) {
      const on = t >= g.start && t < g.end;
      if (g.el) g.el.classList.toggle('active', on);
      if (on) here.push(`${g.channel}: ${g.label} (${pct(g.confidence)})`);
    }
    const text = `${clock(t)} — ${here.length ? here.join(', ') : 'no speech here'}`;
    $('now').textContent = text;
    lanes.setAttribute('aria-valuetext', text);
  }

  function tick() {
    follow();
    if (!$('player').paused) requestAnimationFrame(tick);
  }

  function wireTimeline() {
    const p = $('player'), lanes = $('lanes');
    p.addEventListener('timeupdate', follow);
    p.addEventListener('seeked', follow);
    p.addEventListener('play', () => requestAnimationFrame(tick));
    lanes.addEventListener('click', (e) => {
      if (!state.call) return;
      const box = lanes.getBoundingClientRect();
      seek(((e.clientX - box.left) / box.width) * state.call.duration, false);
    });
    lanes.addEventListener('keydown', (e) => {
      if (!state.call) return;
      const t = p.currentTime || 0;
      const moves = { ArrowRight: t + 1, ArrowLeft: t - 1, PageUp: t + 10, PageDown: t - 10, Home: 0,
                      End: state.call.duration };
      if (e.key in moves) { seek(moves[e.key], false); e.preventDefault(); }
      else if (e.key === ' ' || e.key === 'Enter') {
        if (p.paused) p.play().catch(() => {}); else p.pause();
        e.preventDefault();
      }
    });
  }

  // -- the microphone ------------------------------------------------------------------------
  function wav16(chunks, rate) {
    const n = chunks.reduce((a, c) => a + c.length, 0);
    const buf = new ArrayBuffer(44 + 2 * n);
    const v = new DataView(buf);
    const text = (o, s) => { for (let i = 0; i < s.length; i++) v.setUint8(o + i, s.charCodeAt(i)); };
    text(0, 'RIFF'); v.setUint32(4, 36 + 2 * n, true); text(8, 'WAVE');
    text(12, 'fmt '); v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true);
    v.setUint32(24, rate, true); v.setUint32(28, 2 * rate, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true);
    text(36, 'data'); v.setUint32(40, 2 * n, true);
    let o = 44;
    for (const c of chunks) for (let i = 0; i < c.length; i++, o += 2) {
      const s = Math.max(-1, Math.min(1, c[i]));
      v.setInt16(o, s < 0 ? s * 0x8000 : s * 0x7fff, true);
    }
    return new Blob([buf], { type: 'audio/wav' });
  }

  async function startRecording() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      showError('This browser cannot record here (the microphone needs a secure page: https, or localhost).');
      return;
    }
    showError('');
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false,
                                                                     autoGainControl: false, channelCount: 1 } });
    } catch (e) {
      showError(`The microphone is not available (${e.name}: ${e.message}). Allow it for this page and try again.`);
      return;
    }
    const ctx = new AudioContext();
    const source = ctx.createMediaStreamSource(stream);
    const chunks = [];
    const mute = ctx.createGain();
    mute.gain.value = 0;
    mute.connect(ctx.destination);
    let node;
    if (ctx.audioWorklet) {
      await ctx.audioWorklet.addModule('/static/recorder-worklet.js');
      node = new AudioWorkletNode(ctx, 'escucha-recorder');
      node.port.onmessage = (e) => { if (e.data instanceof Float32Array) chunks.push(e.data); else if (e.data === 'flushed' && rec.onflushed) rec.onflushed(); };
    } else {  // old browsers: the deprecated ScriptProcessor
      node = ctx.createScriptProcessor(4096, 1, 1);
      node.onaudioprocess = (e) => chunks.push(new Float32Array(e.inputBuffer.getChannelData(0)));
    }
    source.connect(node);
    node.connect(mute);
    const rec = { stream, ctx, node, chunks, t0: performance.now(), timer: null, onflushed: null };
    state.recorder = rec;
    const btn = $('record');
    btn.setAttribute('aria-pressed', 'true');
    $('record-label').textContent = 'Stop';
    rec.timer = setInterval(() => {
      const s = (performance.now() - rec.t0) / 1000;
      $('rec-time').textContent = `recording ${s.toFixed(0)} s`;
      if (s >= MAX_RECORD_SECONDS) stopRecording();
    }, 250);
    setStatus('Recording… press Stop when you are done.');
  }

  async function stopRecording() {
    const rec = state.recorder;
    if (!rec) return;
    state.recorder = null;
    clearInterval(rec.timer);
    if (rec.node.port) {
      await new Promise((resolve) => { rec.onflushed = resolve; rec.node.port.postMessage('flush');
                                       setTimeout(resolve, 500); });
    }
    rec.stream.getTracks().forEach((t) => t.stop());
    const rate = rec.ctx.sampleRate;
    await rec.ctx.close();
    $('record').setAttribute('aria-pressed', 'false');
    $('record-label').textContent = 'Record';
    $('rec-time').textContent = '';
    const blob = wav16(rec.chunks, rate);
    await analyse(blob, 'recording.wav');
  }

  // -- wiring --------------------------------------------------------------------------------
  function init() {
    $('version').textContent = `escucha ${CFG.version}`;
    if (CFG.token_required) $('token-row').classList.add('needed');
    const file = $('file'), drop = $('drop');
    const pick = () => file.click();
    $('choose').addEventListener('click', pick);
    drop.addEventListener('click', pick);
    drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); pick(); } });
    file.addEventListener('change', () => { if (file.files.length) analyse(file.files[0], file.files[0].name); file.value = ''; });
    for (const t of ['dragenter', 'dragover']) {
      document.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add('over'); });
    }
    document.addEventListener('dragleave', (e) => { if (!e.relatedTarget) drop.classList.remove('over'); });
    document.addEventListener('drop', (e) => {
      e.preventDefault();
      drop.classList.remove('over');
      const f = e.dataTransfer && e.dataTransfer.files[0];
      if (f) analyse(f, f.name);
    });
    $('record').addEventListener('click', () => (state.recorder ? stopRecording() : startRecording())
      .catch((e) => showError(`Recording failed: ${e.message}`)));
    wireTimeline();
  }

  init();
})();
