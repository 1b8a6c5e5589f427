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
export const pct = (x) => `${Math.round(100 * x)} %`;
export const color = (label) => COLORS[label] || '#4D4D4D';
export const swatch = (label) => el('span', { class: 'swatch', style: { background: color(label) }, 'aria-hidden': 'true' });
export const clock = (t) => {
  if (!isFinite(t)) return '–';
  const m = Math.floor(t / 60), s = t - 60 * m;
  return `${m}:${s.toFixed(1).padStart(4, '0')}`;
};
