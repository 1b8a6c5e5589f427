// The status line and the error box.
import { $ } from './dom.js';

export function setStatus(text) { $('status').textContent = text || ''; }
export function showError(text) {
  const box = $('error');
  box.textContent = text;
  box.hidden = !text;
  if (text) {
    setStatus('');
    box.scrollIntoView({ block: 'nearest' });   // said where the eye is, not below a long list
  }
}
