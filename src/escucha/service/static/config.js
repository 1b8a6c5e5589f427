// The server's settings for this page (labels, emotion colours, limits, version), which it writes
// into index.html as JSON; and the page's own limits.

export const CFG = JSON.parse(document.getElementById('escucha-config').textContent);
export const CALL_SECONDS = 12;      // automatic mode: longer recordings get a timeline
export const MAX_RECORD_SECONDS = 120;
