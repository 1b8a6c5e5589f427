// What the page holds between events: the object URL of the audio in the player, the call on
// the timeline, whether an analysis is running, and the recording in progress.

export const state = { url: null, call: null, busy: false, recorder: null, stored: null };
