// The player follows the timeline and the timeline the player: the cursor, the active segments
// and the "now" line move with playback; a click or a key on the lanes moves the playback.
import { $, clock, pct } from './dom.js';
import { state } from './state.js';

// a stored call has no audio: the timeline keeps its own position (the player may still hold
// another recording, which must not drive it)
const silent = () => state.call && state.call.noAudio;
const position = () => (silent() ? state.pos || 0 : $('player').currentTime || 0);

export function seek(t, play) {
  const p = $('player');
  const total = state.call ? state.call.duration : p.duration;
  t = Math.max(0, Math.min(t, isFinite(total) ? total : t));
  if (silent()) state.pos = t;
  else p.currentTime = t;
  follow();
  if (play && !silent()) p.play().catch(() => {});
}

export function follow() {
  const r = state.call;
  if (!r) return;
  const t = position(), total = r.duration || 1;
  $('cursor').style.left = `${Math.min(100, (100 * t) / total)}%`;
  const lanes = $('lanes');
  lanes.setAttribute('aria-valuenow', t.toFixed(1));
  const here = [];
  for (const g of r.segments) {
    const on = t >= g.start && t < g.end;
    if (g.el) g.el.classList.toggle('active', on);
    if (on) here.push(`${g.channel}: ${g.label} (${pct(g.confidence)}${g.uncertain ? ', uncertain' : ''})`);
  }
  const text = `${clock(t)} — ${here.length ? here.join(', ') : 'no speech here'}`;
  $('now').textContent = text;
  lanes.setAttribute('aria-valuetext', text);
}

function tick() {
  follow();
  if (!$('player').paused) requestAnimationFrame(tick);
}

export function wireTimeline() {
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
    const t = position();
    const moves = { ArrowRight: t + 1, ArrowLeft: t - 1, PageUp: t + 10, PageDown: t - 10, Home: 0,
                    End: state.call.duration };
    if (e.key in moves) { seek(moves[e.key], false); e.preventDefault(); }
    else if ((e.key === ' ' || e.key === 'Enter') && !silent()) {
      if (p.paused) p.play().catch(() => {}); else p.pause();
      e.preventDefault();
    }
  });
}
