// The microphone: record through an AudioWorklet (recorder-worklet.js; a ScriptProcessor in old
// browsers) for up to MAX_RECORD_SECONDS, then analyse the recording as a WAV file.
import { analyse } from './analyse.js';
import { loadCalls } from './calls.js';
import { CFG, MAX_RECORD_SECONDS } from './config.js';
import { $ } from './dom.js';
import { setStatus, showError } from './messages.js';
import { state } from './state.js';
import { wav16 } from './wav.js';

export async function startRecording() {
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

export async function stopRecording() {
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
  // each recording its own name (the stored calls list them by name), then the list refreshed
  const stamp = new Date().toISOString().slice(0, 19).replace(/:/g, '-');
  await analyse(blob, `recording-${stamp}.wav`);
  if (CFG.store) loadCalls();
}
