// The result of a clip: its emotion, confidence and one probability bar per emotion (or, for a
// long recording scored as one clip, each emotion's share of the speech).
import { $, color, el, pct, swatch } from './dom.js';

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

export function renderClip(r) {
  const box = $('clip-result');
  const title = $('clip-title');
  title.replaceChildren();
  if (r.label == null) {
    title.append(`No emotion: ${r.outcome}`);
    $('clip-meta').textContent = `${r.file}: ${r.reason}`;
    $('bars').replaceChildren();
  } else {
    title.append(swatch(r.label), ' ', el('span', { id: 'clip-label' }, r.label), ` · ${pct(r.confidence)}${r.long ? ' of the speech' : ''}${r.uncertain ? ' · uncertain (not worth acting on)' : ''}`);
    const dur = r.duration != null ? `${r.duration.toFixed(1)} s` : '';
    const dims = r.arousal != null ? ` · high arousal ${pct(r.arousal)} · negative ${pct(r.negative)}` : '';
    $('clip-meta').textContent = (r.long
      ? `${r.file}, ${dur}: long recording, scored over its speech; the bars are shares of speech time. ` +
        'Choose "a call" under Options for the timeline.'
      : `${r.file}, ${dur}`) + dims;
    renderBars($('bars'), r.long ? r.speech_share : r.probabilities, r.label);
  }
  box.hidden = false;
  title.setAttribute('tabindex', '-1');
  title.focus({ preventScroll: true });
}
