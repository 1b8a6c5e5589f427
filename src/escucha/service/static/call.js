// The result of a call: its dominant emotion, one timeline lane per speaker, the axis, the
// legend, the summary per speaker (whole call, first and last third) and the segments table.
import { CFG } from './config.js';
import { $, clock, color, el, fillAxis, pct, swatch } from './dom.js';
import { state } from './state.js';
import { follow, seek } from './timeline.js';

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
      ` · ${b.speech_seconds.toFixed(1)} s of speech in ${b.segments} segment${b.segments === 1 ? '' : 's'}`),
    dimensionLine(b));
}

// negative speech and high arousal: over the call, and first third against last third
function dimensionLine(b) {
  const part = (name, d) => {
    if (!d || d.share == null) return '';   // no speech: no share to give
    const trend = d.first_third != null && d.last_third != null
      ? ` (first third ${pct(d.first_third)} → last third ${pct(d.last_third)})` : '';
    return `${name} ${pct(d.share)}${trend}`;
  };
  return el('p', { class: 'dims' }, [part('negative speech', b.negative), part('high arousal', b.high_arousal)]
    .filter(Boolean).join(' · '));
}

export function renderCall(r) {
  state.call = r;
  const channels = r.channels;
  const total = r.duration || 0;
  const s = r.summary;
  const title = $('call-title');
  title.replaceChildren();
  if (r.outcome) title.append(`No emotion: ${r.outcome}`);
  else if (channels.length > 1 && s.channels) {
    // one headline per speaker: the parties' emotions are not mixed into one
    channels.forEach((ch, i) => {
      const b = s.channels[ch];
      if (i) title.append(' · ');
      title.append(`${ch}: `, b.dominant ? swatch(b.dominant) : '', ' ',
                   el('span', { class: 'call-label', 'data-channel': ch }, b.dominant || 'no speech'),
                   b.dominant ? ` ${pct(b.emotion_share[b.dominant])}` : '');
    });
    title.append(el('small', {}, ' · all together: ', el('span', { id: 'call-label' }, s.dominant)));
  } else title.append('Mostly ', swatch(s.dominant), ' ', el('span', { id: 'call-label' }, s.dominant),
                      ` · ${pct(s.emotion_share[s.dominant])} of the speech`);
  const how = r.channel_choice ? ` · ${r.channel_choice.reason}` : '';
  const n = r.speakers ? r.speakers.length : 0;
  const who = n && r.channel_mode === 'mono' ? ` · ${n} speaker${n === 1 ? '' : 's'} by voice` : '';
  const base = r.baseline && Object.keys(r.baseline).length ? ' · each speaker against their own neutral voice' : '';
  $('call-meta').textContent = `${r.file}, ${total.toFixed(1)} s, ${s.speech_seconds.toFixed(1)} s of speech ` +
    `(${pct(s.speech_ratio)}), ${s.segments} segment${s.segments === 1 ? '' : 's'}` + (r.reason ? `: ${r.reason}` : '') + how + who + base;

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
    const said = g.text ? ` “${g.text}”` : '';
    const seg = el('div', { class: 'seg', 'data-index': String(i), 'data-label': g.label,
      title: `${clock(g.start)}–${clock(g.end)} ${g.speaker || g.channel}: ${g.label} ${pct(g.confidence)}` +
        (g.overlap ? ` (overlap: ${g.overlap.join(', ')})` : '') + said,
      style: { left: `${left}%`, width: `max(${width}%, 2px)`, background: color(g.label) } });
    g.el = seg;
    (lanes[g.channel] || rows.firstChild).append(seg);
    tbody.append(el('tr', {},
      el('td', {}, el('button', { type: 'button', onclick: () => seek(g.start, true) }, clock(g.start))),
      el('td', {}, clock(g.end)), el('td', {}, g.channel),
      el('td', {}, swatch(g.label), ' ', g.label), el('td', {}, pct(g.confidence))));
  });
  renderTranscript(r);
  fillAxis($('axis'), total, 4);
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

// the words of each segment under the timeline (a segment's words play from its start); the
// search box keeps the lines holding every word typed
function renderTranscript(r) {
  const box = $('transcript'), list = $('transcript-lines'), search = $('transcript-search');
  list.replaceChildren();
  const said = r.segments.filter((g) => g.text || (g.words && g.words.length));
  box.hidden = said.length === 0;
  for (const g of said) {
    const text = g.text || g.words.map((w) => w.word || w.text || '').join(' ');
    const mood = g.text_sentiment ? el('span', { class: 'text-sentiment', title: 'lexical sentiment of the words (VADER)' },
      ` text: ${g.text_sentiment.label}`) : '';
    list.append(el('li', { 'data-text': text.toLowerCase() },
      el('button', { type: 'button', class: 'when', onclick: () => seek(g.start, true) }, clock(g.start)), ' ',
      el('strong', {}, `${g.speaker || g.role || g.channel}`), ' ', swatch(g.label), ` ${g.label} · `,
      el('span', { class: 'words' }, text || '…'), mood));
  }
  search.value = '';
  search.oninput = () => {
    const terms = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    for (const li of list.children) li.hidden = !terms.every((t) => li.dataset.text.includes(t));
  };
}
