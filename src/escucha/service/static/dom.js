// Small helpers for building the page: elements by id, new elements, and how numbers, times and
// emotions are shown (percentages, m:ss.s clocks, colour swatches).
import { CFG } from './config.js';

const COLORS = CFG.colors || {};

export const $ = (id) => document.getElementById(id);
export const el = (tag, props, ...kids) => {
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
export const pct = (x) => `${Math.round(100 * x)}\u00a0%`;   // a no-break space: '19 %' never breaks
export const color = (label) => COLORS[label] || '#4D4D4D';
export const swatch = (label) => el('span', { class: 'swatch', style: { background: color(label) }, 'aria-hidden': 'true' });
export const clock = (t) => {
  if (!isFinite(t)) return '–';
  const m = Math.floor(t / 60), s = t - 60 * m;
  return `${m}:${s.toFixed(1).padStart(4, '0')}`;
};

// Ticks of a timeline's axis at round times (every 1, 2, 5, 10, 15, 30 s, 1, 2, 5 min, ...): about
// `target` of them over `total` seconds, each placed where its time falls on the lanes.
const STEPS = [0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120, 150, 300, 600, 900, 1200, 1800, 3600, 7200];
export function fillAxis(axis, total, target) {
  const ticks = [];
  if (total > 0) {
    const step = STEPS.find((s) => total / s <= target) || STEPS[STEPS.length - 1];
    for (let k = 0; k * step <= total + 1e-9; k++) {
      const t = k * step, at = Math.min(1, t / total);
      const s = el('span', {}, clock(t));
      s.style.left = `${100 * at}%`;
      // a label near an end is aligned inside the lanes, not cut by them
      s.style.transform = at < 0.04 ? 'none' : at > 0.94 ? 'translateX(-100%)' : 'translateX(-50%)';
      ticks.push(s);
    }
  }
  axis.replaceChildren(...ticks);
}
