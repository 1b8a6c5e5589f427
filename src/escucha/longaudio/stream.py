"""Bounded-memory plumbing: block decoding, streaming resampling, a sliding sample buffer.

Nothing here ever holds a whole recording: :class:`BlockReader` decodes at most
``block_frames`` frames per read (into one reused buffer), :class:`StreamResampler` keeps only
soxr's filter state, and :class:`SampleBuffer` keeps the samples from a movable start index on.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import AudioError

__all__ = ["BlockReader", "StreamResampler", "SampleBuffer", "decode_pcm"]


def _first_line(e: BaseException) -> str:
    s = str(e).strip()
    return s.splitlines()[0] if s else type(e).__name__


class BlockReader:
    """Decode an audio file block by block (anything libsndfile reads: WAV PCM/mu-law/A-law,
    FLAC, OGG, MP3, ...).

    Parameters
    ----------
    path : path
        The audio file.
    block_frames : int
        Most frames decoded per read; each yielded block is ``(n, channels)`` float32 with
        ``n <= block_frames``, a view of one reused buffer (copy it to keep it).

    Attributes
    ----------
    sample_rate : int
        Hz.
    channels : int
    frames : int
        Frames announced by the header (approximate for some MP3 files).
    """

    def __init__(self, path: str | os.PathLike, *, block_frames: int = 1 << 17):
        import soundfile as sf

        from ..audio.io import check_audio_path, decode_error

        if block_frames < 1:
            raise ValueError(f"block_frames must be >= 1, got {block_frames}")
        self.path = check_audio_path(path)  # the same messages as load_audio for the same problems
        try:
            self._f = sf.SoundFile(str(self.path))
        except Exception as e:
            raise decode_error(self.path, e) from None
        self.sample_rate = int(self._f.samplerate)
        self.channels = int(self._f.channels)
        self.frames = int(self._f.frames)
        self.block_frames = int(block_frames)
        self.format = f"{self._f.format}/{self._f.subtype}"
        self.frames_read = 0
        self.max_read = 0  # largest single read, in frames (for memory checks)

    @property
    def duration(self) -> float:
        """Seconds announced by the header."""
        return self.frames / self.sample_rate if self.sample_rate else 0.0

    def __iter__(self) -> Iterator[np.ndarray]:
        buf = np.empty((self.block_frames, self.channels), dtype=np.float32)
        while True:
            try:
                block = self._f.read(self.block_frames, dtype="float32", always_2d=True, out=buf)
            except Exception as e:
                raise AudioError(f"{self.path}: cannot decode audio after {self.frames_read / self.sample_rate:.1f} s "
                                 f"({_first_line(e)})") from None
            n = len(block)
            if n == 0:
                return
            self.frames_read += n
            self.max_read = max(self.max_read, n)
            yield block
            if n < self.block_frames:
                return

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "BlockReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class StreamResampler:
    """Resample a stream of ``(n, channels)`` float32 blocks with ``soxr.ResampleStream``.

    Output sample ``k`` is aligned with input time ``k / out_rate`` (soxr compensates its own
    delay); call :meth:`flush` once at the end to get the tail.
    """

    def __init__(self, in_rate: int, out_rate: int, channels: int, *, quality: str = "HQ"):
        if in_rate <= 0 or out_rate <= 0:
            raise AudioError(f"sample rates must be positive, got {in_rate} -> {out_rate} Hz")
        self.in_rate, self.out_rate, self.channels = int(in_rate), int(out_rate), int(channels)
        self._rs = None
        if self.in_rate != self.out_rate:
            import soxr

            self._rs = soxr.ResampleStream(self.in_rate, self.out_rate, self.channels, dtype="float32",
                                           quality=quality)

    def process(self, x: np.ndarray, *, last: bool = False) -> np.ndarray:
        """``(n, channels)`` at ``in_rate`` -> ``(m, channels)`` at ``out_rate``."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self._rs is None:
            return x.copy()
        return self._rs.resample_chunk(x, last=last).reshape(-1, self.channels)

    def flush(self) -> np.ndarray:
        return self.process(np.zeros((0, self.channels), np.float32), last=True)


class SampleBuffer:
    """The samples of one channel from index :attr:`start` to :attr:`end` (absolute sample
    indices since the stream began); older samples are dropped with :meth:`discard_before`.

    Memory is ``O(end - start)``: the storage is compacted instead of growing when enough
    samples before :attr:`start` have been discarded.
    """

    def __init__(self, capacity: int = 1 << 16):
        self._data = np.zeros(max(16, int(capacity)), np.float32)
        self._off = 0      # index into _data of sample `start`
        self._n = 0        # samples held
        self.start = 0
        self.peak = 0      # most samples ever held (for memory checks)

    @property
    def end(self) -> int:
        return self.start + self._n

    def append(self, y: np.ndarray) -> None:
        y = np.asarray(y, np.float32)
        m = len(y)
        if self._off + self._n + m > len(self._data):
            if 4 * (self._n + m) <= 3 * len(self._data):
                self._data[:self._n] = self._data[self._off:self._off + self._n]   # compact
            else:
                new = np.zeros(max(2 * len(self._data), 2 * (self._n + m)), np.float32)
                new[:self._n] = self._data[self._off:self._off + self._n]
                self._data = new
            self._off = 0
        self._data[self._off + self._n:self._off + self._n + m] = y
        self._n += m
        self.peak = max(self.peak, self._n)

    def get(self, a: int, b: int) -> np.ndarray:
        """Copy of samples ``[a, b)`` (clipped to what is held)."""
        a, b = max(a, self.start), min(b, self.end)
        if b <= a:
            return np.zeros(0, np.float32)
        return self._data[self._off + a - self.start:self._off + b - self.start].copy()

    def discard_before(self, index: int) -> None:
        k = min(max(0, int(index) - self.start), self._n)
        self._off += k
        self._n -= k
        self.start += k


#: raw PCM sample formats accepted from pipes: numpy dtype and full-scale value
PCM_FORMATS = {"s16le": ("<i2", 32768.0), "s32le": ("<i4", 2147483648.0), "f32le": ("<f4", 1.0)}


def decode_pcm(data: bytes, sample_format: str, channels: int) -> tuple[np.ndarray, bytes]:
    """Interleaved raw PCM bytes -> float32 ``(n, channels)`` and the left-over bytes of an
    incomplete frame (to prepend to the next chunk)."""
    if sample_format not in PCM_FORMATS:
        raise AudioError(f"raw sample format {sample_format!r} is not supported; use one of "
                         f"{', '.join(PCM_FORMATS)}")
    dtype, scale = PCM_FORMATS[sample_format]
    width = np.dtype(dtype).itemsize * channels
    n = len(data) // width
    x = np.frombuffer(data[:n * width], dtype=dtype).reshape(n, channels).astype(np.float32)
    if scale != 1.0:
        x /= scale
    return x, data[n * width:]
