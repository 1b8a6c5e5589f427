// Zooming the timeline of a long call: the lanes and the axis grow to Z times the width, inside a
// scrolling box that keeps the cursor in view as the player moves. Clicks, keys and the cursor
// keep working as they do unzoomed (they are in proportions of the lanes' own width). A new call
// on the timeline resets the zoom; calls under 20 s get no zoom.
import { $, fillAxis } from './dom.js';
import { state } from './state.js';

function keepInView() {
  const box = $('lanes-scroll'), cursor = $('cursor');
  const x = cursor.offsetLeft;
  if (x < box.scrollLeft || x > box.scrollLeft + box.clientWidth - 24) box.scrollLeft = Math.max(0, x - box.clientWidth / 4);
}

function apply(z) {
  const lanes = $('lanes'), axis = $('axis');
  const w = z > 1 ? `${100 * z}%` : '';
  lanes.style.width = w;
  axis.style.width = w;
  $('zoom-value').textContent = `${z}×`;
  const total = state.call ? state.call.duration || 0 : 0;
  fillAxis(axis, total, Math.min(4 * z, 256));
  keepInView();
}

function reset() {
  const total = state.call ? state.call.duration || 0 : 0;
  const max = Math.max(1, Math.min(64, Math.floor(total / 10)));
  const zoom = $('zoom');
  zoom.max = String(max);
  zoom.value = '1';
  $('zoom-row').hidden = max < 2;
  $('lanes').style.width = '';
  $('axis').style.width = '';
  $('zoom-value').textContent = '1×';
}

export function wireZoom() {
  $('zoom').addEventListener('input', () => apply(Number($('zoom').value)));
  new MutationObserver(reset).observe($('lane-rows'), { childList: true });
  // the cursor moved (playback, keys, clicks): keep it in view
  new MutationObserver(() => { if (Number($('zoom').value) > 1) keepInView(); })
    .observe($('cursor'), { attributes: true, attributeFilter: ['style'] });
}
