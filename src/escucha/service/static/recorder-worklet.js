// escucha's microphone recorder: collects the input as mono float32 blocks for the page, which
// encodes them as a 16-bit WAV file (the server decodes WAV; browsers' own recorders give webm).
class EscuchaRecorder extends AudioWorkletProcessor {
  constructor() {
    super();
    this.block = new Float32Array(4096);
    this.n = 0;
    this.port.onmessage = (e) => {
      if (e.data === 'flush') {
        this.port.postMessage(this.block.slice(0, this.n));
        this.n = 0;
        this.port.postMessage('flushed');
      }
    };
  }

  process(inputs) {
    const chans = inputs[0];
    if (!chans || chans.length === 0) return true;
    const len = chans[0].length;
    for (let i = 0; i < len; i++) {
      let s = 0;
      for (let c = 0; c < chans.length; c++) s += chans[c][i];
      this.block[this.n++] = s / chans.length;
      if (this.n === this.block.length) {
        this.port.postMessage(this.block.slice(0));
        this.n = 0;
      }
    }
    return true;
  }
}

registerProcessor('escucha-recorder', EscuchaRecorder);
