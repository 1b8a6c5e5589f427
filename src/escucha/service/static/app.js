// escucha's page: upload or record audio, show the emotion (a clip) or a timeline (a call).
// No libraries, no network but this server: it must work offline. This module wires the page's
// controls to the modules beside it (plain ES modules, loaded by the browser as they are):
//   config.js    the server's settings written into the page, and the page's limits
//   dom.js       element helpers and how percentages, times and emotion colours are shown
//   state.js     what the page holds between events
//   messages.js  the status line and the error box
//   api.js       requests to the server, its errors, polling a background analysis
//   analyse.js   one recording into the player and to the server, as a clip or a call
//   clip.js      the result of a clip (probability bars)
//   call.js      the result of a call (timeline lanes, summary, segments table)
//   timeline.js  the player and the timeline following each other
//   recorder.js  the microphone (recorder-worklet.js), and wav.js the WAV it makes
//   calls.js     the stored calls: list, filters, open, export, delete, several files queued
//   zoom.js      zooming the timeline of a long call (scrolls with the player)
import { analyse } from './analyse.js';
import { initCalls, loadCalls, queueFiles } from './calls.js';
import { CFG } from './config.js';
import { $ } from './dom.js';
import { showError } from './messages.js';
import { startRecording, stopRecording } from './recorder.js';
import { state } from './state.js';
import { wireTimeline } from './timeline.js';
import { wireZoom } from './zoom.js';

function init() {
  $('version').textContent = `escucha ${CFG.version}`;
  if (CFG.token_required) $('token-row').classList.add('needed');
  const file = $('file'), drop = $('drop');
  const pick = () => file.click();
  $('choose').addEventListener('click', pick);
  drop.addEventListener('click', pick);
  drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); pick(); } });
  // one file: analysed and shown at once; several (when the server keeps calls): queued
  const take = (files) => {
    $('call-actions').hidden = true;
    $('transcript').hidden = true;
    if (files.length > 1 && CFG.store) queueFiles([...files]);
    else if (files.length) analyse(files[0], files[0].name).then(() => CFG.store && loadCalls());
  };
  file.addEventListener('change', () => { take(file.files); file.value = ''; });
  for (const t of ['dragenter', 'dragover']) {
    document.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add('over'); });
  }
  document.addEventListener('dragleave', (e) => { if (!e.relatedTarget) drop.classList.remove('over'); });
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    if (e.dataTransfer) take(e.dataTransfer.files);
  });
  $('record').addEventListener('click', () => (state.recorder ? stopRecording() : startRecording())
    .catch((e) => showError(`Recording failed: ${e.message}`)));
  wireTimeline();
  wireZoom();
  initCalls();
}

init();
